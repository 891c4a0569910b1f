package graph

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

func TestFoldBNWeights(t *testing.T) {
	w := tensor.From([]float32{1, 2, 3, 4}, 2, 2, 1, 1)
	bias := tensor.From([]float32{0.5, -1}, 2)
	gamma, beta := tensor.From([]float32{2, 1}, 2), tensor.From([]float32{0, 3}, 2)
	mean, vr := tensor.From([]float32{1, 0}, 2), tensor.From([]float32{4, 1}, 2)
	nw, nb := FoldBNWeights(w, bias, gamma, beta, mean, vr, 0)
	want := []float32{1, 2, 3, 4, -0.5, 2} // s = 1 and 1
	got := append(append([]float32(nil), nw.Data...), nb.Data...)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("folded %v, want %v", got, want)
		}
	}
	if w.Data[0] != 1 || bias.Data[0] != 0.5 {
		t.Fatal("FoldBNWeights modified its inputs")
	}
}

func TestConvBNPairs(t *testing.T) {
	g := New("t")
	g.Inputs = []Value{{"x", []int{1, 1, 2, 2}}}
	for _, p := range []string{"w", "s", "b", "m", "v"} {
		g.Params[p] = tensor.New(1, 1, 1, 1)
	}
	g.Nodes = []*Node{
		{Name: "c", Op: OpConv, Inputs: []string{"x", "w"}, Outputs: []string{"y"}},
		{Name: "bn", Op: OpBN, Inputs: []string{"y", "s", "b", "m", "v"}, Outputs: []string{"z"}},
	}
	g.Outputs = []Value{{"z", nil}}
	if p := ConvBNPairs(g); len(p) != 1 || p[0].Conv.Name != "c" || p[0].BN.Name != "bn" {
		t.Fatalf("pairs %v", p)
	}
	g.Outputs = append(g.Outputs, Value{"y", nil}) // the Conv's output escapes
	if p := ConvBNPairs(g); len(p) != 0 {
		t.Fatalf("pairs %v, want none", p)
	}
	// A Conv read only as a graph output (a detector's head) pairs with
	// nothing (it used to index an empty consumer list).
	g.Nodes, g.Outputs = g.Nodes[:1], []Value{{"y", nil}}
	if p := ConvBNPairs(g); len(p) != 0 {
		t.Fatalf("pairs %v, want none", p)
	}
}
