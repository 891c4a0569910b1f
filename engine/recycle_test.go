package engine

import (
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// recycleGraph has the cases buffer recycling must get right: a value
// read through a view (Flatten shares its input's buffer) and directly by
// a later node, a value read twice by one node, a graph output that a
// later node also reads, and intermediates of every size in between that
// would take a wrongly released buffer.
func recycleGraph() *graph.Graph {
	g := graph.New("recycle")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 2, 3, 4}}}
	g.Params["s"] = cvRand(1, 1, 2, 3, 4)
	g.Nodes = []*graph.Node{
		{Name: "r1", Op: graph.OpRelu, Inputs: []string{"x"}, Outputs: []string{"a"}},
		{Name: "flat", Op: graph.OpFlatten, Inputs: []string{"a"}, Outputs: []string{"v"}},
		{Name: "sig", Op: graph.OpSigmoid, Inputs: []string{"v"}, Outputs: []string{"nv"}},
		{Name: "m", Op: graph.OpMul, Inputs: []string{"x", "s"}, Outputs: []string{"b"}},
		{Name: "sq", Op: graph.OpMul, Inputs: []string{"b", "b"}, Outputs: []string{"c"}},
		{Name: "sum", Op: graph.OpAdd, Inputs: []string{"a", "c"}, Outputs: []string{"d"}},
		{Name: "r2", Op: graph.OpRelu, Inputs: []string{"d"}, Outputs: []string{"e"}},
		{Name: "sum2", Op: graph.OpAdd, Inputs: []string{"e", "b"}, Outputs: []string{"f"}},
	}
	g.Outputs = []graph.Value{{Name: "nv"}, {Name: "e"}, {Name: "f"}}
	return g
}

// TestRecycleMatchesPlainRuns runs graphs with SetRecycle against the same
// executor without it, over several passes and batch sizes (buffers then
// come back recycled from earlier passes too): every output must be
// bitwise the same. resnet8 and mobilenet-s run optimised (fused
// residuals read values twice); the recycling executor must also reuse
// buffers within a pass (fewer distinct buffers than values).
func TestRecycleMatchesPlainRuns(t *testing.T) {
	r8, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := nn.Build("mobilenet-s", []int{3, 32, 32}, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		g    *graph.Graph
		in   []int
	}{{"hand", recycleGraph(), []int{2, 3, 4}}, {"resnet8", r8, []int{1, 28, 28}}, {"mobilenet-s", mb, []int{3, 32, 32}}} {
		g := tc.g
		if tc.name != "hand" {
			if g, err = Optimize(g); err != nil {
				t.Fatal(err)
			}
		}
		plain, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := New(g)
		rec.SetRecycle(true)
		for pass, n := range []int{2, 2, 1, 3} {
			x := cvRand(uint64(40+pass), append([]int{n}, tc.in...)...)
			inputs := map[string]*tensor.Tensor{g.Inputs[0].Name: x}
			want, err := plain.Run(inputs, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rec.Run(inputs, false)
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range want {
				if !cvBitEqual(w, got[k]) {
					t.Fatalf("%s pass %d: output %q differs with recycling", tc.name, pass, k)
				}
			}
			if tc.name != "hand" && len(rec.pool.used) >= len(plain.pool.used) {
				t.Fatalf("%s: %d buffers in use at the end of a recycling pass, %d without: nothing was reused", tc.name, len(rec.pool.used), len(plain.pool.used))
			}
		}
	}
}
