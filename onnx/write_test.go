package onnx

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// allOpsGraph builds a graph using every canonical op, with attributes away
// from their defaults where ONNX spellings differ (grouped dilated conv,
// Clip with one bound, pools with asymmetric pads, ceil_mode and
// count_include_pad, Silu, Resize, Reshape with 0 and -1, Gemm with and
// without transB).
func allOpsGraph() *graph.Graph {
	rng := tensor.NewRNG(11)
	g := graph.New("allops")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 4, 8, 8}}}
	g.Outputs = []graph.Value{{Name: "y", Shape: []int{-1, 4}}}
	param := func(name string, shape ...int) string {
		t := tensor.New(shape...)
		t.FillNormal(rng, 0, 0.5)
		g.Params[name] = t
		return name
	}
	pos := func(name string, shape ...int) string {
		t := tensor.New(shape...)
		t.FillUniform(rng, 0.5, 2)
		g.Params[name] = t
		return name
	}
	add := func(name, op string, in []string, attrs graph.Attrs) {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
	}
	add("c1", graph.OpConv, []string{"x", param("w1", 8, 4, 3, 3), param("b1", 8)}, graph.Attrs{"pads": []int{1, 1, 1, 1}})
	add("bn1", graph.OpBN, []string{"c1", pos("g1", 8), param("be1", 8), param("m1", 8), pos("v1", 8)}, graph.Attrs{"epsilon": float32(1e-3), "momentum": float32(0.9)})
	add("l1", graph.OpLeakyRelu, []string{"bn1"}, graph.Attrs{"alpha": float32(0.2)})
	add("c2", graph.OpConv, []string{"l1", param("w2", 8, 2, 3, 3)}, graph.Attrs{"group": 4, "dilations": []int{2, 2}, "pads": []int{2, 2, 2, 2}})
	add("s2", graph.OpSilu, []string{"c2"}, nil)
	add("a", graph.OpAdd, []string{"l1", "s2"}, nil)
	add("m", graph.OpMul, []string{"a", param("p", 1, 8, 1, 1)}, nil)
	add("cl", graph.OpClip, []string{"m"}, graph.Attrs{"min": float32(-1), "max": float32(1.5)})
	add("cl2", graph.OpClip, []string{"m"}, graph.Attrs{"min": float32(0), "max": float32(math.Inf(1))})
	add("cat", graph.OpConcat, []string{"cl", "cl2"}, graph.Attrs{"axis": 1})
	add("mp", graph.OpMaxPool, []string{"cat"}, graph.Attrs{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "pads": []int{1, 1, 1, 1}, "ceil_mode": 1})
	add("ap", graph.OpAveragePool, []string{"mp"}, graph.Attrs{"kernel_shape": []int{2, 2}, "pads": []int{0, 0, 1, 1}, "count_include_pad": 1})
	add("ap2", graph.OpAveragePool, []string{"mp"}, graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "pads": []int{1, 1, 0, 0}})
	add("r", graph.OpResize, []string{"ap2"}, graph.Attrs{"scales": []float32{1, 1, 2, 2}, "mode": "nearest"})
	add("sg", graph.OpSigmoid, []string{"r"}, nil)
	add("gp", graph.OpGlobalAvg, []string{"sg"}, nil)
	add("rl", graph.OpRelu, []string{"ap"}, nil)
	add("gp2", graph.OpGlobalAvg, []string{"rl"}, nil)
	add("cat2", graph.OpConcat, []string{"gp", "gp2"}, graph.Attrs{"axis": 1})
	add("fl", graph.OpFlatten, []string{"cat2"}, graph.Attrs{"axis": 1})
	add("d", graph.OpDropout, []string{"fl"}, graph.Attrs{"ratio": float32(0.3)})
	add("id", graph.OpIdentity, []string{"d"}, nil)
	add("fc1", graph.OpGemm, []string{"id", param("wf1", 32, 10), param("bf1", 10)}, nil)
	add("rs", graph.OpReshape, []string{"fc1"}, graph.Attrs{"shape": []int{0, 2, 5}})
	add("rs2", graph.OpReshape, []string{"rs"}, graph.Attrs{"shape": []int{-1, 10}})
	add("y", graph.OpGemm, []string{"rs2", param("wf2", 4, 10)}, graph.Attrs{"transB": 1})
	return g
}

// TestExportAllOpsORT: every canonical op, exported at opsets 11 to 21 (and
// with FoldBN), runs in ONNX Runtime and matches slimgo's engine.
func TestExportAllOpsORT(t *testing.T) {
	g := allOpsGraph()
	if _, err := g.InferShapes(nil); err != nil {
		t.Fatal(err)
	}
	needORT(t)
	x := inputFor(g, 5)
	// Silu is written as Sigmoid then Mul, and re-imports as those two.
	wantOps := countOps(g)
	wantOps[graph.OpSigmoid] += wantOps[graph.OpSilu]
	wantOps[graph.OpMul] += wantOps[graph.OpSilu]
	delete(wantOps, graph.OpSilu)
	var jobs []ort.Job
	var labels []string
	for _, o := range []WriteOptions{{Opset: 11}, {Opset: 13}, {Opset: 17}, {Opset: 21}, {FoldBN: true}} {
		p := writeModel(t, g, o, fmt.Sprintf("allops_%d_%v.onnx", o.Opset, o.FoldBN))
		jobs = append(jobs, ort.Job{Model: p, X: x})
		labels = append(labels, fmt.Sprintf("%+v", o))
		h, err := ReadFile(p)
		if err != nil {
			t.Fatalf("%+v: re-import: %v", o, err)
		}
		if !o.FoldBN && fmt.Sprint(countOps(h)) != fmt.Sprint(wantOps) {
			t.Errorf("%+v: re-imported ops %v, want %v", o, countOps(h), wantOps)
		}
	}
	outs, err := ort.RunBatch(jobs)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(outs); i++ {
		checkClose(t, "ORT "+labels[i]+" vs "+labels[0], outs[i], outs[0], 1e-5)
	}
	needEngine(t, g)
	checkClose(t, "engine vs ORT", runEngine(t, g, x), outs[0], ortTol)
}

func TestExportErrors(t *testing.T) {
	base := func() *graph.Graph {
		g := graph.New("e")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, 2}}}
		g.Outputs = []graph.Value{{Name: "y", Shape: []int{1, 2}}}
		g.Nodes = []*graph.Node{{Name: "r", Op: graph.OpRelu, Inputs: []string{"x"}, Outputs: []string{"y"}}}
		return g
	}
	tests := []struct {
		name string
		edit func(g *graph.Graph)
		want string
	}{
		{"unknown op", func(g *graph.Graph) { g.Nodes[0].Op = "Einsum" }, `node "r" (Einsum)`},
		{"unknown attribute", func(g *graph.Graph) { g.Nodes[0].Attrs = graph.Attrs{"alpha": float32(1)} }, `node "r" (Relu): attribute alpha cannot be exported`},
		{"bad resize mode", func(g *graph.Graph) {
			g.Nodes[0].Op = graph.OpResize
			g.Nodes[0].Attrs = graph.Attrs{"scales": []float32{1, 1}, "mode": "linear"}
		}, `mode "linear" cannot be exported`},
		{"no outputs", func(g *graph.Graph) { g.Outputs = nil }, "needs at least one input and one output"},
		{"dangling input", func(g *graph.Graph) { g.Nodes[0].Inputs[0] = "nope" }, `reads "nope", which nothing provides`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := base()
			tc.edit(g)
			_, err := Marshal(g, WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "onnx: ") {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "x.onnx"), base(), WriteOptions{Opset: 22}); err == nil {
		t.Fatal("opset 22 accepted")
	}
}

// TestBuiltinArchsORT: each built-in architecture of package nn exports to a
// file ONNX Runtime runs with the engine's output, BN kept and folded.
func TestBuiltinArchsORT(t *testing.T) {
	needORT(t)
	for _, arch := range nn.Archs() {
		t.Run(arch, func(t *testing.T) {
			g, err := nn.Build(arch, []int{3, 16, 16}, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Non-trivial BN statistics so that folding really changes weights.
			rng := tensor.NewRNG(2)
			for _, n := range g.Nodes {
				if n.Op == graph.OpBN {
					g.Params[n.Inputs[3]].FillNormal(rng, 0, 0.2)
					g.Params[n.Inputs[4]].FillUniform(rng, 0.5, 2)
				}
			}
			x := inputFor(g, 8)
			kept := writeModel(t, g, WriteOptions{}, "kept.onnx")
			folded := writeModel(t, g, WriteOptions{FoldBN: true}, "folded.onnx")
			h, err := ReadFile(kept)
			if err != nil {
				t.Fatal(err)
			}
			if h.Meta[nn.MetaArch] != arch {
				t.Errorf("metadata %v lost the architecture", h.Meta)
			}
			outs, err := ort.RunBatch([]ort.Job{{Model: kept, X: x}, {Model: folded, X: x}})
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "ORT folded vs kept", outs[1], outs[0], ortTol)
			needEngine(t, g)
			checkClose(t, "engine vs ORT", runEngine(t, g, x), outs[0], ortTol)
		})
	}
}
