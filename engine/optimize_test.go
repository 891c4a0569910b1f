package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// randomiseBN gives every BatchNormalization of g non-trivial running
// statistics, scale and shift, so folding has something to fold.
func randomiseBN(g *graph.Graph, seed uint64) {
	rng := tensor.NewRNG(seed)
	for _, n := range g.Nodes {
		if n.Op != graph.OpBN {
			continue
		}
		for i, p := range n.Inputs[1:5] {
			for j := range g.Params[p].Data {
				v := float32(rng.NormFloat64()) * 0.5
				if i == 0 || i == 3 { // scale, var
					v = 0.5 + float32(rng.Float64())
				}
				g.Params[p].Data[j] = v
			}
		}
	}
}

// optGraph is a hand-made net covering the fusion rules and their
// refusals: conv+bias+BN+ReLU, a conv read twice, an Add with a
// broadcast parameter, a depthwise conv+BN+Add+ReLU, a BN after a
// non-conv, a conv whose output is a graph output, and a conv+bias+Add
// without ReLU (a residual without activation).
func optGraph() *graph.Graph {
	g := graph.New("opt")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 6, 5}}}
	p := func(name string, seed uint64, shape ...int) string {
		g.Params[name] = cvRand(seed, shape...)
		return name
	}
	bn := func(name, in string, c int, seed uint64) string {
		p(name+".s", seed, c)
		p(name+".b", seed+1, c)
		p(name+".m", seed+2, c)
		p(name+".v", seed+3, c)
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: graph.OpBN, Inputs: []string{in, name + ".s", name + ".b", name + ".m", name + ".v"}, Outputs: []string{name + ".y"}})
		return name + ".y"
	}
	node := func(name, op string, attrs graph.Attrs, in ...string) string {
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: in, Outputs: []string{name + ".y"}, Attrs: attrs})
		return name + ".y"
	}
	a := node("c1", graph.OpConv, cvGeom(3, 3, 1, 1, 1, 1).attrs(), "x", p("w1", 1, 4, 3, 3, 3), p("b1", 2, 4))
	a = node("r1", graph.OpRelu, nil, bn("bn1", a, 4, 10))
	twice := node("c2", graph.OpConv, cvGeom(1, 1, 1, 0, 1, 1).attrs(), a, p("w2", 3, 4, 4, 1, 1))
	s := node("sum2", graph.OpAdd, nil, twice, twice)
	s = node("addp", graph.OpAdd, nil, node("c3", graph.OpConv, cvGeom(3, 3, 1, 1, 1, 1).attrs(), s, p("w3", 4, 4, 4, 3, 3)), p("bias4", 5, 1, 4, 1, 1))
	s = node("r3", graph.OpRelu, nil, s)
	d := bn("bn4", node("dw", graph.OpConv, cvGeom(3, 3, 1, 1, 1, 4).attrs(), s, p("w4", 6, 4, 1, 3, 3)), 4, 20)
	d = node("r4", graph.OpRelu, nil, node("add4", graph.OpAdd, nil, s, d))
	pool := bn("bn5", node("pool", graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{2, 2}}, d), 4, 30)
	out2 := node("c6", graph.OpConv, cvGeom(1, 1, 1, 0, 1, 1).attrs(), pool, p("w6", 7, 2, 4, 1, 1))
	// A linear bottleneck's residual: Add(conv, x) with no ReLU after it.
	lin := node("add7", graph.OpAdd, nil, node("c7", graph.OpConv, cvGeom(1, 1, 1, 0, 1, 1).attrs(), pool, p("w7", 9, 4, 4, 1, 1), p("b7", 10, 4)), pool)
	g.Outputs = []graph.Value{{Name: out2}, {Name: node("r6", graph.OpRelu, nil, out2)}, {Name: d}, {Name: lin}}
	randomiseBN(g, 8)
	return g
}

// hswishGraph is a MobileNetV3-like chain with a HardSwish after every
// Conv, one Conv for each lowering that applies the fused activation:
// stride-2 3x3 (im2col), pointwise on a 16x16 map (column blocks, or
// row ranges for a single image on several threads), depthwise 5x5
// (kernels.PlaneKxK) and 3x3 (kernels.Plane3x3), 3x3 stride 1
// (Winograd) and pointwise to 96 filters on an 8x8 map (the small-map
// lowering); BN after the first.
func hswishGraph() *graph.Graph {
	g := graph.New("hswish")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 32, 32}}}
	seed := uint64(40)
	conv := func(name, in string, c, m, k, stride, group int, bias bool) string {
		seed += 2
		g.Params[name+".w"] = cvRand(seed, m, c/group, k, k)
		in2 := []string{in, name + ".w"}
		if bias {
			g.Params[name+".b"] = cvRand(seed+1, m)
			in2 = append(in2, name+".b")
		}
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: graph.OpConv, Inputs: in2, Outputs: []string{name + ".y"}, Attrs: cvGeom(k, k, stride, (k-1)/2, 1, group).attrs()})
		return name + ".y"
	}
	hs := func(in string) string {
		out := in + ".hs"
		g.Nodes = append(g.Nodes, &graph.Node{Name: in + ".hswish", Op: graph.OpHardSwish, Inputs: []string{in}, Outputs: []string{out}})
		return out
	}
	a := conv("stem", "x", 3, 16, 3, 2, 1, false)
	for i, q := range []string{".s", ".b", ".m", ".v"} {
		g.Params["bn"+q] = cvRand(seed+uint64(10+i), 16)
	}
	g.Nodes = append(g.Nodes, &graph.Node{Name: "bn", Op: graph.OpBN, Inputs: []string{a, "bn.s", "bn.b", "bn.m", "bn.v"}, Outputs: []string{"bn.y"}})
	a = hs("bn.y")
	a = hs(conv("expand", a, 16, 48, 1, 1, 1, true))
	a = hs(conv("dw5", a, 48, 48, 5, 1, 48, true))
	a = hs(conv("dw3", a, 48, 48, 3, 2, 48, true))
	a = hs(conv("c3", a, 48, 32, 3, 1, 1, true))
	a = hs(conv("pw96", a, 32, 96, 1, 1, 1, true))
	g.Outputs = []graph.Value{{Name: a}}
	randomiseBN(g, 11)
	return g
}

func TestOptimizeMatchesOriginal(t *testing.T) {
	r8, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	randomiseBN(r8, 4)
	// mobilenet-s: every Clip (ReLU6) after a Conv, depthwise 3x3 ones
	// included, becomes the fused Conv's activation; 32x32 maps put the
	// depthwise planes on both the long-row and the row-by-row paths of
	// kernels.Depthwise3x3.
	mb, err := nn.Build("mobilenet-s", []int{3, 64, 64}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	randomiseBN(mb, 9)
	clips := 0
	for _, n := range mb.Nodes {
		if n.Op == graph.OpClip {
			clips++
		}
	}
	if clips == 0 {
		t.Fatal("mobilenet-s has no Clip to fuse")
	}
	for _, tc := range []struct {
		name    string
		g       *graph.Graph
		x       *tensor.Tensor
		wantOps map[string]int // op counts of the optimised graph
	}{
		{"resnet8 batch 3", r8, cvRand(5, 3, 1, 28, 28), map[string]int{graph.OpBN: 0, graph.OpRelu: 0, graph.OpAdd: 0, OpFusedConv: 9}},
		{"resnet8 single image", r8, cvRand(6, 1, 1, 28, 28), map[string]int{OpFusedConv: 9}},
		{"mobilenet-s batch 2", mb, cvRand(8, 2, 3, 64, 64), map[string]int{graph.OpBN: 0, graph.OpClip: 0}},
		{"mobilenet-s single image", mb, cvRand(9, 1, 3, 64, 64), map[string]int{graph.OpBN: 0, graph.OpClip: 0}},
		{"hardswish batch 2", hswishGraph(), cvRand(12, 2, 3, 32, 32), map[string]int{graph.OpHardSwish: 0, graph.OpBN: 0, OpFusedConv: 6}},
		{"hardswish single image", hswishGraph(), cvRand(13, 1, 3, 32, 32), map[string]int{graph.OpHardSwish: 0, OpFusedConv: 6}},
		{"fusion rules", optGraph(), cvRand(7, 15, 3, 6, 5), map[string]int{
			graph.OpBN: 1, graph.OpRelu: 2, graph.OpAdd: 2, graph.OpConv: 0, OpFusedConv: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.g.Clone()
			o, err := Optimize(tc.g)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]int{}
			for _, n := range o.Nodes {
				ops[n.Op]++
			}
			for op, want := range tc.wantOps {
				if ops[op] != want {
					t.Errorf("%d %s nodes after Optimize, want %d (ops %v)", ops[op], op, want, ops)
				}
			}
			if len(tc.g.Nodes) != len(before.Nodes) || len(tc.g.Params) != len(before.Params) {
				t.Fatalf("Optimize changed the input graph")
			}
			for k, p := range before.Params {
				if !cvBitEqual(p, tc.g.Params[k]) {
					t.Fatalf("Optimize changed parameter %q of the input graph", k)
				}
			}
			run := func(g *graph.Graph) map[string]*tensor.Tensor {
				e, err := New(g)
				if err != nil {
					t.Fatal(err)
				}
				out, err := e.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: tc.x}, false)
				if err != nil {
					t.Fatal(err)
				}
				res := map[string]*tensor.Tensor{}
				for k, v := range out {
					res[k] = v.Clone()
				}
				return res
			}
			want, got := run(tc.g), run(o)
			for k, w := range want {
				gv := got[k]
				if gv == nil || !tensor.SameShape(gv.Shape, w.Shape) {
					t.Fatalf("output %q missing or misshapen after Optimize", k)
				}
				scale := 0.0
				for _, v := range w.Data {
					scale = max(scale, math.Abs(float64(v)))
				}
				for i := range w.Data {
					if d := math.Abs(float64(gv.Data[i] - w.Data[i])); d > 1e-4*(scale+1) || math.IsNaN(float64(gv.Data[i])) {
						t.Fatalf("output %q[%d] = %g, original graph %g", k, i, gv.Data[i], w.Data[i])
					}
				}
			}
		})
	}
}

func TestOptimizedGraphRefusesTraining(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Optimize(g)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Forward(cvRand(1, 2, 1, 28, 28), true)
	if err == nil || !strings.Contains(err.Error(), "inference-only") {
		t.Fatalf("training-mode pass of an optimised graph: error %v, want one saying it is inference-only", err)
	}
	bad := &graph.Node{Name: "f", Op: OpFusedConv, Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"activation": "tanh"}}
	if _, err := Compile(bad); err == nil || !strings.Contains(err.Error(), "activation") {
		t.Fatalf("unknown activation: error %v", err)
	}
	for _, op := range Supported() {
		if op == OpFusedConv {
			t.Fatalf("Supported lists the internal op %s", op)
		}
	}
}

// TestFusedConvsShareScratch runs an optimised resnet8 (Winograd, RowsN,
// strided and pointwise lowerings) at batch 1, 3 and 1 again with the
// executor's shared Conv buffers and with every Conv keeping its own:
// the outputs must be the same bit for bit, the fused Convs must hold no
// buffers between runs, and the shared set must have been used.
func TestFusedConvsShareScratch(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	randomiseBN(g, 4)
	o, err := Optimize(g)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	own, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	own.ctx.conv = nil
	for i, n := range []int{1, 3, 1} {
		x := cvRand(uint64(20+i), n, 1, 28, 28)
		var outs [2]map[string]*tensor.Tensor
		for j, e := range []*Executor{shared, own} {
			out, err := e.Run(map[string]*tensor.Tensor{o.Inputs[0].Name: x}, false)
			if err != nil {
				t.Fatal(err)
			}
			outs[j] = map[string]*tensor.Tensor{}
			for k, v := range out {
				outs[j][k] = v.Clone()
			}
		}
		for k, w := range outs[1] {
			if !cvBitEqual(outs[0][k], w) {
				t.Fatalf("batch %d: output %q differs with the shared buffers", n, k)
			}
		}
		for _, k := range shared.kernels {
			if c, ok := k.(*convKernel); ok && (c.cols != nil || c.wv != nil || c.wm != nil || c.ybufs != nil) {
				t.Fatalf("batch %d: a fused Conv kept buffers after the run", n)
			}
		}
		if s := shared.ctx.conv; len(s.cols) == 0 || len(s.wv) == 0 || len(s.wm) == 0 {
			t.Fatalf("batch %d: the shared buffers were not used (%d, %d, %d)", n, len(s.cols), len(s.wv), len(s.wm))
		}
	}
}
