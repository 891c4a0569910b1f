package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRenormaliseMatchesDirect: pixels normalised one way and then
// renormalised read as if normalised the other way directly, per channel
// and with one value repeated; bad statistics are errors that leave x as is.
func TestRenormaliseMatchesDirect(t *testing.T) {
	const c, hw, n = 3, 5, 4
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]float32, n*c*hw)
	for i := range raw {
		raw[i] = rng.Float32()
	}
	norm := func(mean, std []float32) []float32 {
		out := make([]float32, len(raw))
		for i, p := range raw {
			ch := (i / hw) % c
			m, s := mean[0], std[0]
			if len(mean) == c {
				m = mean[ch]
			}
			if len(std) == c {
				s = std[ch]
			}
			out[i] = (p - m) / s
		}
		return out
	}
	fromM, fromS := []float32{0.2, 0.3, 0.4}, []float32{0.25, 0.3, 0.35}
	toM, toS := []float32{0.5}, []float32{0.5}
	x := norm(fromM, fromS)
	if err := Renormalise(x, c, hw, fromM, fromS, toM, toS); err != nil {
		t.Fatal(err)
	}
	want := norm(toM, toS)
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-5 {
			t.Fatalf("value %d: %g, want %g", i, x[i], want[i])
		}
	}
	before := append([]float32(nil), x...)
	for _, bad := range []struct {
		c, hw    int
		mean, sd []float32
	}{
		{c, hw, []float32{0.1, 0.2}, toS},
		{c, hw, toM, []float32{0}},
		{c, 7, toM, toS},
		{0, hw, toM, toS},
	} {
		if err := Renormalise(x, bad.c, bad.hw, fromM, fromS, bad.mean, bad.sd); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	for i := range x {
		if x[i] != before[i] {
			t.Fatalf("a failed call changed value %d", i)
		}
	}
}
