package onnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// hardGraph is a small mobilenet_v3-style net: Conv -> BN -> HardSwish,
// a depthwise Conv -> HardSigmoid with ONNX's default attributes, a
// squeeze-excitation gate (GlobalAveragePool -> Conv -> Relu -> Conv ->
// HardSigmoid alpha 1/6 -> Mul) and a HardSwish classifier head.
func hardGraph() *graph.Graph {
	rng := tensor.NewRNG(21)
	g := graph.New("hard")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 8, 8}}}
	g.Outputs = []graph.Value{{Name: "y", Shape: []int{-1, 5}}}
	param := func(name string, lo, hi float64, shape ...int) string {
		t := tensor.New(shape...)
		t.FillUniform(rng, lo, hi)
		g.Params[name] = t
		return name
	}
	add := func(name, op string, in []string, attrs graph.Attrs) {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name}, Attrs: attrs})
	}
	add("c1", graph.OpConv, []string{"x", param("w1", -0.6, 0.6, 8, 3, 3, 3)}, graph.Attrs{"pads": []int{1, 1, 1, 1}})
	add("bn1", graph.OpBN, []string{"c1", param("g1", 0.5, 2, 8), param("b1", -1, 1, 8), param("m1", -0.3, 0.3, 8), param("v1", 0.5, 2, 8)}, graph.Attrs{"epsilon": float32(1e-3), "momentum": float32(0.9)})
	add("hs1", graph.OpHardSwish, []string{"bn1"}, nil)
	add("dw", graph.OpConv, []string{"hs1", param("wd", -0.6, 0.6, 8, 1, 3, 3)}, graph.Attrs{"group": 8, "pads": []int{1, 1, 1, 1}, "strides": []int{2, 2}})
	add("hg", graph.OpHardSigmoid, []string{"dw"}, graph.Attrs{"alpha": float32(0.2), "beta": float32(0.5)})
	add("se.pool", graph.OpGlobalAvg, []string{"hg"}, nil)
	add("se.fc1", graph.OpConv, []string{"se.pool", param("wf1", -0.8, 0.8, 4, 8, 1, 1), param("bf1", -0.2, 0.2, 4)}, nil)
	add("se.relu", graph.OpRelu, []string{"se.fc1"}, nil)
	add("se.fc2", graph.OpConv, []string{"se.relu", param("wf2", -2, 2, 8, 4, 1, 1), param("bf2", -1, 1, 8)}, nil)
	add("se.gate", graph.OpHardSigmoid, []string{"se.fc2"}, graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)})
	add("se.mul", graph.OpMul, []string{"se.gate", "hg"}, nil)
	add("pool", graph.OpGlobalAvg, []string{"se.mul"}, nil)
	add("fl", graph.OpFlatten, []string{"pool"}, graph.Attrs{"axis": 1})
	add("fc", graph.OpGemm, []string{"fl", param("wc", -1, 1, 6, 8), param("bc", -0.5, 0.5, 6)}, graph.Attrs{"transB": 1})
	add("hs2", graph.OpHardSwish, []string{"fc"}, nil)
	add("y", graph.OpGemm, []string{"hs2", param("wy", -1, 1, 5, 6)}, graph.Attrs{"transB": 1})
	return g
}

// TestHardActivationsRoundTrip: HardSigmoid keeps its alpha and beta and
// HardSwish stays one node from opset 14 on (before it, it is written as
// PyTorch writes it, x * HardSigmoid(x; 1/6, 1/2), and re-imports as those
// two); parameters come back bit for bit; every export runs in ONNX Runtime
// and equals the engine.
func TestHardActivationsRoundTrip(t *testing.T) {
	g := hardGraph()
	if _, err := g.InferShapes(nil); err != nil {
		t.Fatal(err)
	}
	x := inputFor(g, 13)
	for i := range x.Data {
		x.Data[i] *= 3 // reach both flat parts of the activations
	}
	opsets := []int{11, 13, 14, 17, 21}
	var jobs []ort.Job
	for _, opset := range opsets {
		p := writeModel(t, g, WriteOptions{Opset: opset}, fmt.Sprintf("hard%d.onnx", opset))
		jobs = append(jobs, ort.Job{Model: p, X: x})
		h, err := ReadFile(p)
		if err != nil {
			t.Fatalf("opset %d: re-import: %v", opset, err)
		}
		want := countOps(g)
		if opset < 14 {
			want[graph.OpHardSigmoid] += want[graph.OpHardSwish]
			want[graph.OpMul] += want[graph.OpHardSwish]
			delete(want, graph.OpHardSwish)
		}
		if fmt.Sprint(countOps(h)) != fmt.Sprint(want) {
			t.Errorf("opset %d: re-imported ops %v, want %v", opset, countOps(h), want)
		}
		for _, n := range h.Nodes {
			if n.Op != graph.OpHardSigmoid {
				continue
			}
			a, b := n.Attrs.Float("alpha", -1), n.Attrs.Float("beta", -1)
			orig := g.Node(n.Name)
			if orig == nil { // the half of a HardSwish written before opset 14
				if a != float32(1.0/6) || b != 0.5 {
					t.Errorf("opset %d: %q alpha %g beta %g, want 1/6 and 0.5", opset, n.Name, a, b)
				}
				continue
			}
			if a != orig.Attrs.Float("alpha", 0.2) || b != orig.Attrs.Float("beta", 0.5) {
				t.Errorf("opset %d: %q alpha %g beta %g changed in the round trip", opset, n.Name, a, b)
			}
		}
		for k, p := range g.Params {
			if q := h.Params[k]; q == nil || !tensor.SameShape(p.Shape, q.Shape) || tensor.MaxAbsDiff(p, q) != 0 {
				t.Errorf("opset %d: parameter %q changed in the round trip", opset, k)
			}
		}
		// The re-imported graph computes what the original computes: the
		// decomposed HardSwish differs only by float32 rounding.
		if d := relErr(t, runEngine(t, h, x), runEngine(t, g, x)); d > 1e-6 {
			t.Errorf("opset %d: engine on the re-import differs by %.3g (relative)", opset, d)
		}
	}
	needORT(t)
	outs, err := ort.RunBatch(jobs)
	if err != nil {
		t.Fatal(err)
	}
	want := runEngine(t, g, x)
	for i, o := range outs {
		checkClose(t, fmt.Sprintf("engine vs ORT at opset %d", opsets[i]), want, o, ortTol)
		t.Logf("opset %d: ORT vs engine max abs diff %.3g (outputs up to %.3g)", opsets[i], tensor.MaxAbsDiff(want, o), maxAbs(o))
	}
}

// Import: HardSigmoid without attributes takes ONNX's defaults; unknown
// attributes and non-finite alpha/beta are errors naming the node.
func TestImportHardActivations(t *testing.T) {
	spec := modelSpec{opset: 14, nodes: []*pb.NodeProto{
		node("hsig", "HardSigmoid", []string{"x"}, []string{"a"}),
		node("hsig2", "HardSigmoid", []string{"a"}, []string{"b"}, aFloat("alpha", 0.25), aFloat("beta", 0.4)),
		node("hswish", "HardSwish", []string{"b"}, []string{"y"}),
	}}
	g, err := Read(spec.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hsig HardSigmoid alpha=0.2 beta=0.5", "hsig2 HardSigmoid alpha=0.25 beta=0.4", "hswish HardSwish alpha=none beta=none"}
	for i, n := range g.Nodes {
		a, b := "none", "none"
		if _, ok := n.Attrs["alpha"]; ok {
			a = fmt.Sprint(n.Attrs.Float("alpha", 0))
		}
		if _, ok := n.Attrs["beta"]; ok {
			b = fmt.Sprint(n.Attrs.Float("beta", 0))
		}
		if got := fmt.Sprintf("%s %s alpha=%s beta=%s", n.Name, n.Op, a, b); i >= len(want) || got != want[i] {
			t.Errorf("node %d: %s", i, got)
		}
	}
	tests := []struct {
		name string
		n    *pb.NodeProto
		want string
	}{
		{"unknown attribute", node("h", "HardSigmoid", []string{"x"}, []string{"y"}, aFloat("gamma", 1)), `node "h" (HardSigmoid): attribute gamma is not supported`},
		{"NaN alpha", node("h", "HardSigmoid", []string{"x"}, []string{"y"}, aFloat("alpha", float32(math.NaN()))), `node "h" (HardSigmoid): attributes alpha=NaN and beta=0.5 must be finite`},
		{"integer beta", node("h", "HardSigmoid", []string{"x"}, []string{"y"}, aInt("beta", 1)), `node "h" (HardSigmoid): attribute beta must be a float`},
		{"HardSwish attribute", node("h", "HardSwish", []string{"x"}, []string{"y"}, aFloat("alpha", 1)), `node "h" (HardSwish): attribute alpha is not supported`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(modelSpec{opset: 14, nodes: []*pb.NodeProto{tc.n}}.bytes(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func maxAbs(t *tensor.Tensor) float64 {
	m := 0.0
	for _, v := range t.Data {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}
