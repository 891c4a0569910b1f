package pipeline

import "testing"

// TestChooseNorm: the data set's statistics stay unless another candidate
// beats them by the margin; then the best one wins.
func TestChooseNorm(t *testing.T) {
	for _, tc := range []struct {
		scores []float64
		want   int
	}{
		{[]float64{50, 51, 40}, 0},
		{[]float64{50, 90, 94}, 2},
		{[]float64{46, 20, 94, 60}, 2},
		{[]float64{10, 10 + normGuessMargin, 9}, 1},
		{[]float64{80}, 0},
	} {
		if got := chooseNorm(tc.scores); got != tc.want {
			t.Errorf("chooseNorm(%v) = %d, want %d", tc.scores, got, tc.want)
		}
	}
	if n := len(normCandidates(1, []float32{0.5}, []float32{0.5})); n != 2 {
		t.Errorf("grey data already at [-1,1]: %d candidates, want 2 (no duplicate)", n)
	}
	if n := len(normCandidates(3, []float32{0.3, 0.3, 0.3}, []float32{0.2, 0.2, 0.2})); n != 4 {
		t.Errorf("RGB: %d candidates, want 4", n)
	}
	if got := spread(10, 4); got[0] != 0 || got[3] != 7 || len(spread(3, 8)) != 3 {
		t.Errorf("spread(10, 4) = %v", got)
	}
}
