package engine

import (
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// fanOutGraph reads x twice: y = Identity(x) + Mul(x, s) with s a parameter
// of x's shape, so dy/dx = 1 + s element-wise and dy/ds = x.
func fanOutGraph(shape []int, s *tensor.Tensor) *graph.Graph {
	g := graph.New("fanout")
	g.Inputs = []graph.Value{{Name: "x", Shape: append([]int{-1}, shape[1:]...)}}
	g.Params["s"] = s
	g.Nodes = []*graph.Node{
		{Name: "id", Op: graph.OpIdentity, Inputs: []string{"x"}, Outputs: []string{"a"}},
		{Name: "scale", Op: graph.OpMul, Inputs: []string{"x", "s"}, Outputs: []string{"b"}},
		{Name: "sum", Op: graph.OpAdd, Inputs: []string{"a", "b"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	return g
}

func TestExecutorFanOutAccumulates(t *testing.T) {
	shape := []int{2, 3, 4}
	x, s := ewRand(1, shape...), ewRand(2, shape...)
	g := fanOutGraph(shape, s)
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
		t.Fatal(err)
	}
	dy := ewRand(3, shape...)
	in, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
	if err != nil {
		t.Fatal(err)
	}
	gx := in["x"]
	if gx == nil {
		t.Fatal("no gradient for x")
	}
	for i := range gx.Data {
		if want := dy.Data[i] * (1 + s.Data[i]); abs32(gx.Data[i]-want) > 1e-6 {
			t.Fatalf("dx[%d] = %g, want dy*(1+s) = %g (both paths summed)", i, gx.Data[i], want)
		}
		if want := dy.Data[i] * x.Data[i]; abs32(e.Grads["s"].Data[i]-want) > 1e-6 {
			t.Fatalf("ds[%d] = %g, want dy*x = %g", i, e.Grads["s"].Data[i], want)
		}
	}
	// A second backward of the same pass adds into the parameter gradients.
	if _, err := e.Backward(map[string]*tensor.Tensor{"y": dy}); err != nil {
		t.Fatal(err)
	}
	for i := range dy.Data {
		if want := 2 * dy.Data[i] * x.Data[i]; abs32(e.Grads["s"].Data[i]-want) > 1e-5 {
			t.Fatalf("after two Backward calls ds[%d] = %g, want %g", i, e.Grads["s"].Data[i], want)
		}
	}
	if err := CheckGraph(g, map[string]*tensor.Tensor{"x": x}, GradCheck{}); err != nil {
		t.Fatal(err)
	}
}

// The same value read twice by one node: y = x + x, y = x * x.
func TestExecutorSameValueTwiceInOneNode(t *testing.T) {
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		t.Run(op, func(t *testing.T) {
			g := graph.New("twice")
			g.Inputs = []graph.Value{{Name: "x", Shape: []int{3, 4}}}
			g.Nodes = []*graph.Node{{Name: "n", Op: op, Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}
			g.Outputs = []graph.Value{{Name: "y"}}
			x := ewRand(4, 3, 4)
			e, _ := New(g)
			if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
				t.Fatal(err)
			}
			dy := ewRand(5, 3, 4)
			in, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
			if err != nil {
				t.Fatal(err)
			}
			for i := range dy.Data {
				want := 2 * dy.Data[i] // d(x+x)/dx = 2
				if op == graph.OpMul {
					want *= x.Data[i] // d(x*x)/dx = 2x
				}
				if abs32(in["x"].Data[i]-want) > 1e-6 {
					t.Fatalf("dx[%d] = %g, want %g", i, in["x"].Data[i], want)
				}
			}
		})
	}
}

func TestExecutorBackwardNeedsTrainingRun(t *testing.T) {
	shape := []int{1, 2}
	g := fanOutGraph(shape, ewRand(1, shape...))
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	dy := map[string]*tensor.Tensor{"y": tensor.New(shape...)}
	if _, err := e.Backward(dy); err == nil {
		t.Fatal("Backward before any Run: want an error")
	}
	if _, err := e.Run(map[string]*tensor.Tensor{"x": tensor.New(shape...)}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Backward(dy); err == nil || !strings.Contains(err.Error(), "training") {
		t.Fatalf("Backward after an inference Run: want an error about training mode, got %v", err)
	}
}

func TestExecutorInputErrors(t *testing.T) {
	g := fanOutGraph([]int{1, 3, 4}, ewRand(1, 1, 3, 4))
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   []string
	}{
		{"missing", map[string]*tensor.Tensor{"other": tensor.New(1, 3, 4)}, []string{"missing", `"x"`}},
		{"wrong_rank", map[string]*tensor.Tensor{"x": tensor.New(3, 4)}, []string{`"x"`, "[3 4]", "[-1 3 4]"}},
		{"wrong_dim", map[string]*tensor.Tensor{"x": tensor.New(2, 3, 5)}, []string{`"x"`, "[2 3 5]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Run(tc.inputs, false)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	// The dynamic batch dimension accepts any size (s [1,3,4] broadcasts).
	if _, err := e.Run(map[string]*tensor.Tensor{"x": tensor.New(5, 3, 4)}, false); err != nil {
		t.Fatalf("batch 5 on a [-1,3,4] input: %v", err)
	}
}

func TestExecutorUnsupportedOpNamesNode(t *testing.T) {
	g := graph.New("t")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, 2}}}
	g.Nodes = []*graph.Node{
		{Name: "ok", Op: graph.OpRelu, Inputs: []string{"x"}, Outputs: []string{"a"}},
		{Name: "weird_node", Op: "FancyOp", Inputs: []string{"a"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	_, err := New(g)
	if err == nil || !strings.Contains(err.Error(), "weird_node") || !strings.Contains(err.Error(), "FancyOp") {
		t.Fatalf("want an error naming weird_node and FancyOp, got %v", err)
	}
}

// A failing kernel's error is wrapped with the node's name and op.
func TestExecutorRunErrorNamesNode(t *testing.T) {
	g := graph.New("t")
	g.Inputs = []graph.Value{{Name: "a", Shape: []int{2, 3}}, {Name: "b", Shape: []int{2, 4}}}
	g.Nodes = []*graph.Node{{Name: "join", Op: graph.OpConcat, Inputs: []string{"a", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": 0}}}
	g.Outputs = []graph.Value{{Name: "y"}}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Run(map[string]*tensor.Tensor{"a": tensor.New(2, 3), "b": tensor.New(2, 4)}, false)
	if err == nil || !strings.Contains(err.Error(), `"join"`) || !strings.Contains(err.Error(), "Concat") {
		t.Fatalf("want an error naming join (Concat), got %v", err)
	}
}

// Pooled tensors are reused across passes: a second Run with different data
// must not see the first pass's values.
func TestExecutorRepeatedRuns(t *testing.T) {
	shape := []int{2, 3}
	g := fanOutGraph(shape, ewRand(1, shape...))
	e, _ := New(g)
	for seed := uint64(10); seed < 13; seed++ {
		x := ewRand(seed, shape...)
		out, err := e.Forward(x, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Data {
			if want := x.Data[i] + x.Data[i]*g.Params["s"].Data[i]; abs32(out.Data[i]-want) > 1e-6 {
				t.Fatalf("pass %d: y[%d] = %g, want %g", seed, i, out.Data[i], want)
			}
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
