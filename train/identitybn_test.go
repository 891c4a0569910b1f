package train

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

// foldedNet is x -> Conv 3x3 (with bias) -> Relu -> Conv 1x1 (with bias)
// -> Flatten -> Gemm: a BN-folded export in miniature.
func foldedNet(seed uint64) *graph.Graph {
	rng := tensor.NewRNG(seed)
	g := graph.New("folded")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 2, 4, 4}}}
	g.Outputs = []graph.Value{{Name: "y", Shape: []int{-1, 3}}}
	g.Params["w1"], g.Params["b1"] = randTensor(rng, 0.7, 4, 2, 3, 3), randTensor(rng, 0.5, 4)
	g.Params["w2"], g.Params["b2"] = randTensor(rng, 0.7, 5, 4, 1, 1), randTensor(rng, 0.5, 5)
	g.Params["fw"], g.Params["fb"] = randTensor(rng, 0.3, 3, 80), randTensor(rng, 0.1, 3)
	g.Nodes = []*graph.Node{
		{Name: "c1", Op: graph.OpConv, Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"}, Attrs: graph.Attrs{"pads": []int{1, 1, 1, 1}}},
		{Name: "r1", Op: graph.OpRelu, Inputs: []string{"c1"}, Outputs: []string{"r1"}},
		{Name: "c2", Op: graph.OpConv, Inputs: []string{"r1", "w2", "b2"}, Outputs: []string{"c2"}},
		{Name: "f", Op: graph.OpFlatten, Inputs: []string{"c2"}, Outputs: []string{"f"}, Attrs: graph.Attrs{"axis": 1}},
		{Name: "fc", Op: graph.OpGemm, Inputs: []string{"f", "fw", "fb"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}},
	}
	return g
}

// TestCalibrateIdentityBN restores BN in a folded net: the model's outputs
// do not change, each restored scale is its channel's spread (measured here
// directly on the conv outputs), and a training-mode pass over the same
// images, which normalises with batch statistics, gives the same outputs.
func TestCalibrateIdentityBN(t *testing.T) {
	g := foldedNet(3)
	rng := tensor.NewRNG(8)
	set := &data.Dataset{C: 2, H: 4, W: 4, Classes: []string{"a", "b", "c"}}
	const n = 40
	for i := range n {
		for range 32 {
			set.X = append(set.X, float32(rng.NormFloat64()*1.5+0.3))
		}
		set.Labels = append(set.Labels, int32(i%3))
	}
	x, _ := set.Batch(seqIdx(n), nil, nil, nil)
	run := func(g *graph.Graph, train bool) []float32 {
		e, err := engine.New(g)
		if err != nil {
			t.Fatal(err)
		}
		y, err := e.Forward(x, train)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), y.Data...)
	}
	want := run(g, false)
	// Channel spreads of c1's output, measured on the folded net.
	e, _ := engine.New(g)
	if _, err := e.Forward(x, false); err != nil {
		t.Fatal(err)
	}
	c1 := e.Value("c1")
	spread := make([]float64, 4)
	for ch := range 4 {
		var s, ss float64
		for b := range n {
			for _, v := range c1.Data[(b*4+ch)*16 : (b*4+ch+1)*16] {
				s += float64(v)
				ss += float64(v) * float64(v)
			}
		}
		m := s / (n * 16)
		spread[ch] = math.Sqrt(ss/(n*16) - m*m + 1e-5)
	}
	u, err := onnx.UnfoldBN(g)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, nd := range u.Nodes {
		if nd.Op == graph.OpBN {
			names = append(names, nd.Name)
		}
	}
	if len(names) != 2 {
		t.Fatalf("UnfoldBN inserted %d BNs, want 2", len(names))
	}
	if err := CalibrateIdentityBN(u, names, set, 0, 16); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got []float32) {
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s: output %d is %g, the folded net gives %g", what, i, got[i], want[i])
			}
		}
	}
	check("inference", run(u, false))
	scale := u.Params[u.Node(names[0]).Input(1)].Data
	for ch, s := range spread {
		if math.Abs(float64(scale[ch])-s) > 1e-4*s {
			t.Errorf("restored scale %d = %g, channel spread %g", ch, scale[ch], s)
		}
	}
	check("training mode, one batch of every image", run(u, true))
	if err := CalibrateIdentityBN(u, []string{"c1"}, set, 0, 16); err == nil {
		t.Error("a Conv accepted as a BN to calibrate")
	}
}

func seqIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
