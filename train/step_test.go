package train

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/engine"
)

// TestStepReportsBadSteps: a step whose loss, gradient or updated weights
// are not finite says so in Bad (for the caller's rollback) instead of
// erroring; a good step changes the weights and reports its figures.
func TestStepReportsBadSteps(t *testing.T) {
	set := separable(16, 1)
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	x, labels := set.Batch(idx, nil, nil, nil)
	b := Batch{X: x, Labels: labels, Index: idx}
	for _, tc := range []struct {
		name   string
		lr     float64
		poison bool // a NaN weight
		want   string
	}{
		{"good", 0.1, false, ""},
		{"nan weight", 0.1, true, "loss is NaN"},
		{"huge rate", 1e39, false, "not finite after the update"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mlp(4, 1)
			if tc.poison {
				g.Params["fc2.w"].Data[0] = float32(math.NaN())
			}
			before := flatParams(g)
			exec, err := engine.New(g)
			if err != nil {
				t.Fatal(err)
			}
			s := &stepper{g: g, exec: exec, loss: CrossEntropy{}, optim: &SGD{Momentum: 0.9}}
			r, err := s.step(b, Hyper{LR: tc.lr})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if r.Bad != "" || !(r.Loss > 0) || r.Correct < 0 || r.Correct > len(idx) {
					t.Errorf("good step: %+v", r)
				}
				if after := flatParams(g); after["fc1.w"][0] == before["fc1.w"][0] && after["fc2.w"][0] == before["fc2.w"][0] {
					t.Errorf("a good step left the weights as they were")
				}
				return
			}
			if !strings.Contains(r.Bad, tc.want) {
				t.Errorf("Bad = %q, want %q", r.Bad, tc.want)
			}
		})
	}
}
