package optim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// The expected values come from PyTorch 1.13 (float64 parameters):
//
//	p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
//	for g in [[0.5, 1.0], [-1.0, 0.25], [0.125, -0.75]]:
//	    o.zero_grad(); p.grad = torch.tensor(g, dtype=torch.float64); o.step()
var stepGrads = [][]float32{{0.5, 1}, {-1, 0.25}, {0.125, -0.75}}

func TestOptimizersMatchPyTorch(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Optimizer
		want [2]float64
	}{
		{"sgd momentum", &SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}, [2]float64{1.036484749, -2.2318846979999996}},
		{"sgd nesterov", &SGD{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}, [2]float64{1.067418458191, -2.251960438182}},
		{"sgd plain", &SGD{LR: 0.1, WeightDecay: 0.01}, [2]float64{1.0345029490000002, -2.043781098}},
		{"adam", &Adam{LR: 0.1, WeightDecay: 0.01}, [2]float64{0.9551358900737605, -2.1936817717423227}},
		{"adamw", &Adam{LR: 0.1, WeightDecay: 0.01, Decoupled: true}, [2]float64{0.9547989713441234, -2.191073965740682}},
		{"adam betas eps", &Adam{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3}, [2]float64{0.9823166697809466, -2.092506154772972}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := map[string]*tensor.Tensor{"p": tensor.From([]float32{1, -2}, 2)}
			for _, g := range stepGrads {
				if err := tc.opt.Step(params, map[string]*tensor.Tensor{"p": tensor.From(append([]float32(nil), g...), 2)}); err != nil {
					t.Fatal(err)
				}
			}
			for i, w := range tc.want {
				if got := float64(params["p"].Data[i]); math.Abs(got-w) > 2e-6 {
					t.Errorf("p[%d] = %.9g, PyTorch %.9g", i, got, w)
				}
			}
		})
	}
}

// A hand computation of the first two SGD-momentum steps on one value:
// p0=1, g=0.5 then -1, lr 0.1, mu 0.9, no decay.
// step 1: buf = 0.5, p = 1 - 0.05 = 0.95.
// step 2: buf = 0.9*0.5 - 1 = -0.55, p = 0.95 + 0.055 = 1.005.
// Nesterov: step 1 d = 0.5 + 0.45 = 0.95, p = 0.905; step 2 d = -1 + 0.9*(-0.55) = -1.495, p = 1.0545.
func TestSGDByHand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nesterov bool
		want     [2]float64
	}{
		{"momentum", false, [2]float64{0.95, 1.005}},
		{"nesterov", true, [2]float64{0.905, 1.0545}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &SGD{LR: 0.1, Momentum: 0.9, Nesterov: tc.nesterov}
			p := map[string]*tensor.Tensor{"w": tensor.From([]float32{1}, 1)}
			for i, g := range []float32{0.5, -1} {
				if err := o.Step(p, map[string]*tensor.Tensor{"w": tensor.From([]float32{g}, 1)}); err != nil {
					t.Fatal(err)
				}
				if got := float64(p["w"].Data[0]); math.Abs(got-tc.want[i]) > 1e-6 {
					t.Errorf("after step %d: %.7g, want %.7g", i+1, got, tc.want[i])
				}
			}
		})
	}
}

// Adam's first step moves every coordinate by about lr (m_hat/sqrt(v_hat) = sign(g)).
func TestAdamFirstStepByHand(t *testing.T) {
	o := NewAdam(0.01)
	p := map[string]*tensor.Tensor{"w": tensor.From([]float32{1, 1, 1}, 3)}
	if err := o.Step(p, map[string]*tensor.Tensor{"w": tensor.From([]float32{3, -0.002, 0}, 3)}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0.99, 1.01, 1} {
		// |g|/(|g|+eps) differs from 1 by at most eps/|g| = 5e-6 for g = -0.002.
		if got := float64(p["w"].Data[i]); math.Abs(got-want) > 1e-6 {
			t.Errorf("w[%d] = %.8g, want %.8g", i, got, want)
		}
	}
}

func TestWeightDecayExemption(t *testing.T) {
	for _, mk := range []struct {
		name string
		opt  func(nd map[string]bool) Optimizer
	}{
		{"sgd", func(nd map[string]bool) Optimizer { return &SGD{LR: 0.1, WeightDecay: 0.5, NoDecay: nd} }},
		{"adam", func(nd map[string]bool) Optimizer { a := NewAdam(0.1); a.WeightDecay, a.NoDecay = 0.5, nd; return a }},
	} {
		t.Run(mk.name, func(t *testing.T) {
			o := mk.opt(map[string]bool{"b": true})
			p := map[string]*tensor.Tensor{"w": tensor.From([]float32{2}, 1), "b": tensor.From([]float32{2}, 1)}
			zero := map[string]*tensor.Tensor{"w": tensor.New(1), "b": tensor.New(1)}
			if err := o.Step(p, zero); err != nil {
				t.Fatal(err)
			}
			if p["b"].Data[0] != 2 {
				t.Errorf("exempt parameter moved to %g with a zero gradient", p["b"].Data[0])
			}
			if p["w"].Data[0] >= 2 {
				t.Errorf("decayed parameter did not shrink: %g", p["w"].Data[0])
			}
		})
	}
}

// Exporting state mid-way and loading it into a fresh optimizer continues
// exactly as the original would.
func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   func() Optimizer
	}{
		{"sgd", func() Optimizer { return &SGD{LR: 0.05, Momentum: 0.9, Nesterov: true} }},
		{"adam", func() Optimizer { return NewAdam(0.01) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := tensor.NewRNG(3)
			a := tc.mk()
			pa := map[string]*tensor.Tensor{"x": randTensor(rng, 1, 5), "y": randTensor(rng, 1, 2, 2)}
			grads := make([]map[string]*tensor.Tensor, 6)
			for i := range grads {
				grads[i] = map[string]*tensor.Tensor{"x": randTensor(rng, 1, 5), "y": randTensor(rng, 1, 2, 2)}
			}
			for _, g := range grads[:3] {
				a.Step(pa, g)
			}
			b := tc.mk()
			if err := b.SetState(a.State()); err != nil {
				t.Fatal(err)
			}
			pb := map[string]*tensor.Tensor{"x": pa["x"].Clone(), "y": pa["y"].Clone()}
			for _, g := range grads[3:] {
				a.Step(pa, g)
				b.Step(pb, g)
			}
			for k := range pa {
				if d := tensor.MaxAbsDiff(pa[k], pb[k]); d != 0 {
					t.Errorf("%s differs by %g after reloading state", k, d)
				}
			}
		})
	}
	if err := (&SGD{}).SetState(NewAdam(1).State()); err == nil || !strings.Contains(err.Error(), "adam") {
		t.Errorf("loading Adam state into SGD: %v", err)
	}
}

func TestOptimizerStepErrors(t *testing.T) {
	p := map[string]*tensor.Tensor{"w": tensor.New(3)}
	for _, tc := range []struct {
		name  string
		grads map[string]*tensor.Tensor
		want  string
	}{
		{"unknown param", map[string]*tensor.Tensor{"v": tensor.New(3)}, `"v", which is not a parameter`},
		{"size", map[string]*tensor.Tensor{"w": tensor.New(4)}, `"w" has 4 values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, o := range []Optimizer{&SGD{LR: 1}, NewAdam(1)} {
				if err := o.Step(p, tc.grads); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%T: error %v, want %q", o, err, tc.want)
				}
			}
		})
	}
}

func randTensor(rng *rand.Rand, std float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	t.FillNormal(rng, 0, std)
	return t
}
