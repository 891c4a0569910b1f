package train

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// TestRecalibrateBNAveragesBatchStats: after recalibration a BN directly on
// the input holds the mean of the per-batch means and variances.
func TestRecalibrateBNAveragesBatchStats(t *testing.T) {
	g := graph.New("bn")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 2, 2, 2}}}
	for _, p := range []string{"s", "b", "m", "v"} {
		g.Params[p] = tensor.New(2)
	}
	g.Params["s"].Fill(1)
	g.Params["v"].Fill(1)
	g.Nodes = []*graph.Node{{Name: "bn", Op: graph.OpBN, Inputs: []string{"x", "s", "b", "m", "v"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"momentum": float32(0.9)}}}
	g.Outputs = []graph.Value{{Name: "y"}}
	rng := tensor.NewRNG(4)
	set := &data.Dataset{C: 2, H: 2, W: 2, Classes: []string{"a"}}
	for i := range 12 {
		for c := range 2 {
			for range 4 {
				set.X = append(set.X, float32(float64(c*3+i%3)+rng.NormFloat64()))
			}
		}
		set.Labels = append(set.Labels, 0)
	}
	if err := RecalibrateBN(g, set, 3, 4); err != nil {
		t.Fatal(err)
	}
	for c := range 2 {
		var wantM, wantV float64
		for b := range 3 {
			var s, ss float64
			n := 0
			for i := b * 4; i < b*4+4; i++ {
				for k := range 4 {
					v := float64(set.X[(i*2+c)*4+k])
					s += v
					ss += v * v
					n++
				}
			}
			m := s / float64(n)
			wantM += m / 3
			wantV += (ss/float64(n) - m*m) * float64(n) / float64(n-1) / 3 // unbiased, as the running var
		}
		if d := math.Abs(float64(g.Params["m"].Data[c]) - wantM); d > 1e-4 {
			t.Errorf("channel %d mean %g, want %g", c, g.Params["m"].Data[c], wantM)
		}
		if d := math.Abs(float64(g.Params["v"].Data[c]) - wantV); d > 1e-3 {
			t.Errorf("channel %d var %g, want %g", c, g.Params["v"].Data[c], wantV)
		}
	}
	if got := g.Nodes[0].Attrs.Float("momentum", 0); got != 0.9 {
		t.Errorf("momentum attribute not restored: %g", got)
	}
}
