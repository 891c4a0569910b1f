package detect

import (
	"math/rand/v2"
	"testing"
)

// TestGIoUGrad compares GIoUGrad with GIoU and with central differences of
// GIoU on random pairs: overlapping, nested, disjoint.
func TestGIoUGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 25))
	for k := range 2000 {
		p := FromCXCYWH(rng.Float64()*40, rng.Float64()*40, 1+rng.Float64()*20, 1+rng.Float64()*20)
		q := FromCXCYWH(rng.Float64()*40, rng.Float64()*40, 1+rng.Float64()*20, 1+rng.Float64()*20)
		if k%4 == 0 { // many overlapping pairs
			q = FromCXCYWH((p.X1+p.X2)/2+rng.NormFloat64()*3, (p.Y1+p.Y2)/2+rng.NormFloat64()*3, 1+rng.Float64()*20, 1+rng.Float64()*20)
		}
		g, d := GIoUGrad(p, q)
		if !near(g, GIoU(p, q), 1e-12) {
			t.Fatalf("pair %d: GIoUGrad %g, GIoU %g", k, g, GIoU(p, q))
		}
		const h = 1e-6
		grad := [4]float64{d.X1, d.Y1, d.X2, d.Y2}
		for c := range 4 {
			lo, hi := p, p
			field := [4]*float64{&lo.X1, &lo.Y1, &lo.X2, &lo.Y2}
			*field[c] -= h
			field = [4]*float64{&hi.X1, &hi.Y1, &hi.X2, &hi.Y2}
			*field[c] += h
			num := (GIoU(hi, q) - GIoU(lo, q)) / (2 * h)
			// A kink (an edge within h of the other box's) makes the central
			// difference average the two sides; such pairs are skipped.
			if !near(num, grad[c], 1e-5) {
				if kinked(p, q, 2*h) {
					continue
				}
				t.Fatalf("pair %d (%v, %v): dGIoU/dcoord %d = %g, central difference %g", k, p, q, c, grad[c], num)
			}
		}
	}
}

// kinked reports whether an edge of p lies within h of an edge of q.
func kinked(p, q Box, h float64) bool {
	for _, a := range [2]float64{p.X1, p.X2} {
		for _, b := range [2]float64{q.X1, q.X2} {
			if a-b < h && b-a < h {
				return true
			}
		}
	}
	for _, a := range [2]float64{p.Y1, p.Y2} {
		for _, b := range [2]float64{q.Y1, q.Y2} {
			if a-b < h && b-a < h {
				return true
			}
		}
	}
	return false
}
