package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// chain builds x -> conv(3x3, pad 1, stride s) -> bn -> relu -> gap -> flatten -> fc.
func chain(stride int) *Graph {
	g := New("chain")
	g.Inputs = []Value{{Name: "x", Shape: []int{-1, 3, 9, 9}}}
	g.Params["w"] = tensor.New(8, 3, 3, 3)
	for _, p := range []string{"s", "b", "m", "v"} {
		g.Params[p] = tensor.New(8)
	}
	g.Params["fw"] = tensor.New(10, 8)
	g.Params["fb"] = tensor.New(10)
	g.Nodes = []*Node{
		{Name: "fc", Op: OpGemm, Inputs: []string{"f", "fw", "fb"}, Outputs: []string{"y"}, Attrs: Attrs{"transB": 1}},
		{Name: "conv", Op: OpConv, Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attrs: Attrs{"strides": []int{stride, stride}, "pads": []int{1, 1, 1, 1}}},
		{Name: "bn", Op: OpBN, Inputs: []string{"c", "s", "b", "m", "v"}, Outputs: []string{"n"}},
		{Name: "relu", Op: OpRelu, Inputs: []string{"n"}, Outputs: []string{"r"}},
		{Name: "gap", Op: OpGlobalAvg, Inputs: []string{"r"}, Outputs: []string{"p"}},
		{Name: "flat", Op: OpFlatten, Inputs: []string{"p"}, Outputs: []string{"f"}},
	}
	g.Outputs = []Value{{Name: "y"}}
	return g
}

func TestTopoOrdersAndDetectsErrors(t *testing.T) {
	g := chain(1)
	order, err := g.Topo()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range order {
		names = append(names, n.Name)
	}
	if want := []string{"conv", "bn", "relu", "gap", "flat", "fc"}; !slices.Equal(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	cyc := chain(1)
	cyc.Node("conv").Inputs[0] = "f" // conv now reads flatten's output: a cycle
	if _, err := cyc.Topo(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: err %v", err)
	}
	missing := chain(1)
	missing.Node("bn").Inputs[1] = "nothing"
	if _, err := missing.Topo(); err == nil || !strings.Contains(err.Error(), `"bn"`) {
		t.Fatalf("missing input: err %v, want it to name node bn", err)
	}
	dup := chain(1)
	dup.Node("relu").Outputs[0] = "n"
	if _, err := dup.Topo(); err == nil || !strings.Contains(err.Error(), "produced by both") {
		t.Fatalf("double producer: err %v", err)
	}
}

func TestInferShapesAndStats(t *testing.T) {
	for _, stride := range []int{1, 2} {
		g := chain(stride)
		sh, err := g.InferShapes(map[string][]int{"x": {4, 3, 9, 9}})
		if err != nil {
			t.Fatal(err)
		}
		o := (9+2-3)/stride + 1
		if !slices.Equal(sh["c"], []int{4, 8, o, o}) || !slices.Equal(sh["y"], []int{4, 10}) {
			t.Fatalf("stride %d: conv %v, out %v", stride, sh["c"], sh["y"])
		}
		st, err := g.ComputeStats()
		if err != nil {
			t.Fatal(err)
		}
		// Trainable: conv 8*3*3*3, BN scale+bias 16 (not mean/var), fc 80+10.
		if want := 216 + 16 + 90; st.Params != want {
			t.Fatalf("params %d, want %d", st.Params, want)
		}
		if want := int64(8*o*o*27 + 80); st.MACs != want {
			t.Fatalf("stride %d: MACs %d, want %d", stride, st.MACs, want)
		}
		if st.Ops[OpConv] != 1 || st.Ops[OpBN] != 1 {
			t.Fatalf("op histogram %v", st.Ops)
		}
	}
	bad := chain(1)
	bad.Params["w"] = tensor.New(8, 4, 3, 3)
	if _, err := bad.InferShapes(nil); err == nil || !strings.Contains(err.Error(), `node "conv" (Conv)`) {
		t.Fatalf("channel mismatch: err %v, want it to name the node", err)
	}
	unknown := chain(1)
	unknown.Node("relu").Op = "Softplus"
	if _, err := unknown.InferShapes(nil); err == nil || !strings.Contains(err.Error(), "Softplus") {
		t.Fatalf("unknown op: err %v", err)
	}
}

func TestBroadcast(t *testing.T) {
	cases := []struct {
		a, b, want []int
		ok         bool
	}{
		{[]int{2, 3, 4, 4}, []int{3, 1, 1}, []int{2, 3, 4, 4}, true},
		{[]int{2, 3, 4, 4}, []int{1, 3, 1, 1}, []int{2, 3, 4, 4}, true},
		{[]int{1}, []int{5, 2}, []int{5, 2}, true},
		{[]int{5, 1}, []int{1, 6}, []int{5, 6}, true},
		{[]int{}, []int{2, 2}, []int{2, 2}, true},
		{[]int{2, 3}, []int{3, 2}, nil, false},
	}
	for _, c := range cases {
		got, err := Broadcast(c.a, c.b)
		if (err == nil) != c.ok || (c.ok && !slices.Equal(got, c.want)) {
			t.Errorf("Broadcast(%v, %v) = %v, %v; want %v ok=%v", c.a, c.b, got, err, c.want, c.ok)
		}
	}
}

func TestReshapeTarget(t *testing.T) {
	cases := []struct {
		in, shape, want []int
		ok              bool
	}{
		{[]int{2, 3, 4}, []int{0, -1}, []int{2, 12}, true},
		{[]int{2, 3, 4}, []int{-1}, []int{24}, true},
		{[]int{2, 3, 4}, []int{4, 0, 2}, []int{4, 3, 2}, true},
		{[]int{2, 3, 4}, []int{5, -1}, nil, false},
		{[]int{2, 3, 4}, []int{-1, -1}, nil, false},
		{[]int{2, 3, 4}, []int{7}, nil, false},
	}
	for _, c := range cases {
		got, err := ReshapeTarget(c.in, c.shape)
		if (err == nil) != c.ok || (c.ok && !slices.Equal(got, c.want)) {
			t.Errorf("ReshapeTarget(%v, %v) = %v, %v; want %v ok=%v", c.in, c.shape, got, err, c.want, c.ok)
		}
	}
}

// TestGeomOutMatchesPyTorch: output sizes follow PyTorch's formula,
// floor((in + pads - dil*(k-1) - 1)/s) + 1, and with ceil_mode the last
// window must start inside the input or its left padding.
func TestGeomOutMatchesPyTorch(t *testing.T) {
	for in := 1; in <= 12; in++ {
		for k := 1; k <= 3; k++ {
			for s := 1; s <= 3; s++ {
				for p := 0; p < k; p++ {
					for _, ceil := range []bool{false, true} {
						g := ConvGeom{KH: k, KW: k, SH: s, SW: s, DH: 1, DW: 1, PadT: p, PadB: p, PadL: p, PadR: p, CeilMode: ceil}
						num := in + 2*p - (k - 1) - 1
						want := 0
						if num >= 0 {
							if ceil {
								want = (num+s-1)/s + 1
								if (want-1)*s >= in+p {
									want--
								}
							} else {
								want = num/s + 1
							}
						}
						if got, _ := g.Out(in, in); got != want {
							t.Fatalf("in %d k %d s %d p %d ceil %v: out %d, want %d", in, k, s, p, ceil, got, want)
						}
					}
				}
			}
		}
	}
	if _, err := Geom(&Node{Name: "c", Op: OpConv, Attrs: Attrs{"pads": []int{1, 1}}}, []int{8, 3, 3, 3}); err == nil {
		t.Fatal("two pads accepted")
	}
	if _, err := Geom(&Node{Name: "c", Op: OpConv, Attrs: Attrs{"strides": []int{0, 1}}}, []int{8, 3, 3, 3}); err == nil {
		t.Fatal("stride 0 accepted")
	}
}

func TestCloneRemoveUnusedUniqueName(t *testing.T) {
	g := chain(1)
	c := g.Clone()
	c.Params["w"].Data[0] = 5
	c.Node("conv").Attrs["group"] = 2
	if g.Params["w"].Data[0] != 0 || g.Node("conv").Attrs.Int("group", 1) != 1 {
		t.Fatal("Clone shares parameters or attributes with the original")
	}
	g.Params["orphan"] = tensor.New(3)
	g.Nodes = append(g.Nodes, &Node{Name: "dead", Op: OpRelu, Inputs: []string{"r"}, Outputs: []string{"unused"}})
	g.RemoveUnused()
	if g.Node("dead") != nil || g.IsParam("orphan") || g.Node("conv") == nil {
		t.Fatal("RemoveUnused kept dead nodes/params or dropped live ones")
	}
	if n := g.UniqueName("conv"); n == "conv" || g.Node(n) != nil {
		t.Fatalf("UniqueName returned a used name %q", n)
	}
	if got := g.Consumers("n"); len(got) != 1 || got[0].Name != "relu" {
		t.Fatalf("Consumers(n) = %v", got)
	}
	if p := g.Producer("r"); p == nil || p.Name != "relu" {
		t.Fatalf("Producer(r) = %v", p)
	}
}
