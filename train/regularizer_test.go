package train

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

func TestBNSparsity(t *testing.T) {
	g := convBN(4, 1)
	copy(g.Params["bn.scale"].Data, []float32{0.5, -0.25, 0, 2})
	r := BNSparsity{Lambda: 0.1}
	if got, want := r.Penalty(g), 0.1*(0.5+0.25+0+2); math.Abs(got-want) > 1e-9 {
		t.Errorf("penalty %g, want %g", got, want)
	}
	grads := map[string]*tensor.Tensor{"bn.scale": tensor.From([]float32{1, 1, 1, 1}, 4)}
	r.AddGrad(g, grads)
	for i, want := range []float32{1.1, 0.9, 1, 1.1} {
		if math.Abs(float64(grads["bn.scale"].Data[i]-want)) > 1e-6 {
			t.Errorf("grad[%d] = %g, want %g", i, grads["bn.scale"].Data[i], want)
		}
	}
	if len(grads) != 1 {
		t.Errorf("regulariser touched other parameters: %v", grads)
	}
	// A missing gradient entry is created.
	empty := map[string]*tensor.Tensor{}
	r.AddGrad(g, empty)
	if gr := empty["bn.scale"]; gr == nil || gr.Data[0] != float32(0.1) || gr.Data[1] != float32(-0.1) {
		t.Errorf("created gradient %v", gr)
	}
	// It is the subgradient: central difference of the penalty away from 0.
	for i, v := range g.Params["bn.scale"].Data {
		if v == 0 {
			continue
		}
		const h = 1e-3
		g.Params["bn.scale"].Data[i] = v + h
		lp := r.Penalty(g)
		g.Params["bn.scale"].Data[i] = v - h
		lm := r.Penalty(g)
		g.Params["bn.scale"].Data[i] = v
		if num := (lp - lm) / (2 * h); math.Abs(num-float64(empty["bn.scale"].Data[i])) > 1e-4 {
			t.Errorf("gamma %d: numeric %g, subgradient %g", i, num, empty["bn.scale"].Data[i])
		}
	}
}

func TestGammaStats(t *testing.T) {
	g := convBN(8, 1)
	copy(g.Params["bn.scale"].Data, []float32{0, 5e-5, -5e-4, 5e-3, -0.05, 0.5, 1, -3})
	st := ComputeGammaStats(g)
	if st.Count != 8 {
		t.Errorf("count %d", st.Count)
	}
	if st.ShareBelow1e2 != 4.0/8 {
		t.Errorf("share below 1e-2 = %g, want 0.5", st.ShareBelow1e2)
	}
	want := []int{2, 1, 1, 1, 1, 2}
	for i := range want {
		if st.Histogram[i] != want[i] {
			t.Errorf("histogram %v, want %v", st.Histogram, want)
			break
		}
	}
	if st.MaxAbs != 3 {
		t.Errorf("max |gamma| %g", st.MaxAbs)
	}
	if none := ComputeGammaStats(mlp(4, 1)); none.Count != 0 || none.ShareBelow1e2 != 0 {
		t.Errorf("graph without BN: %+v", none)
	}
}

// TestBNShrink: the decoupled L1 step is the soft threshold of every BN
// scale at lr*Lambda (values crossing zero stop at zero), it leaves the
// gradients alone, and its penalty is BNSparsity's.
func TestBNShrink(t *testing.T) {
	g := convBN(5, 1)
	copy(g.Params["bn.scale"].Data, []float32{0.5, -0.25, 0.01, -0.02, 2})
	r := BNShrink{Lambda: 0.5}
	if got, want := r.Penalty(g), (BNSparsity{Lambda: 0.5}).Penalty(g); got != want {
		t.Errorf("penalty %g, want %g", got, want)
	}
	grads := map[string]*tensor.Tensor{"bn.scale": tensor.From([]float32{1, 1, 1, 1, 1}, 5)}
	r.AddGrad(g, grads)
	for i, v := range grads["bn.scale"].Data {
		if v != 1 {
			t.Fatalf("AddGrad changed gradient %d to %g", i, v)
		}
	}
	var s Shrinker = r
	s.Shrink(g, 0.1) // threshold 0.05
	for i, want := range []float32{0.45, -0.2, 0, 0, 1.95} {
		if got := g.Params["bn.scale"].Data[i]; math.Abs(float64(got-want)) > 1e-6 {
			t.Errorf("gamma %d = %g after the shrink, want %g", i, got, want)
		}
	}
}
