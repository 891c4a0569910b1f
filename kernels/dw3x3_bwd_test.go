package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveDW3Backward is the backward pass of naiveDW3 (no clamp) in float64,
// straight from the forward's sum: every output's gradient goes to each
// tap's input (dx) and to the tap's filter entry (dk).
func naiveDW3Backward(x, dy []float32, h, w, s int, k []float32) (dx []float64, dk [9]float64) {
	oh, ow := (h+2-3)/s+1, (w+2-3)/s+1
	dx = make([]float64, h*w)
	for oy := range oh {
		for ox := range ow {
			g := float64(dy[oy*ow+ox])
			for ky := range 3 {
				for kx := range 3 {
					iy, ix := oy*s-1+ky, ox*s-1+kx
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						dx[iy*w+ix] += g * float64(k[ky*3+kx])
						dk[ky*3+kx] += g * float64(x[iy*w+ix])
					}
				}
			}
		}
	}
	return dx, dk
}

// TestDepthwiseBackwardMatchesNaive checks Plane3x3.DepthwiseBackward on
// both paths against the float64 reference, on the plane sizes of
// TestDepthwise3x3MatchesNaive at strides 1 and 2, with a scratch and dx
// full of NaN (a cell read but not written shows up), dk accumulating onto
// a starting value, and each gradient alone.
func TestDepthwiseBackwardMatchesNaive(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	rng := rand.New(rand.NewPCG(9, 10))
	nan := float32(math.NaN())
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, hw := range [][2]int{{1, 1}, {2, 3}, {5, 7}, {8, 8}, {9, 17}, {16, 33}, {31, 16}, {14, 14}, {28, 28}, {57, 40}} {
			for _, s := range []int{1, 2} {
				h, w := hw[0], hw[1]
				t.Run(fmt.Sprintf("asm=%v/%dx%d/s%d", asm, h, w, s), func(t *testing.T) {
					p := NewPlane3x3(h, w, s)
					oh, ow := Depthwise3x3Out(h, s), Depthwise3x3Out(w, s)
					rnd := func(n int, sd float64) []float32 {
						v := make([]float32, n)
						for i := range v {
							v[i] = float32(rng.NormFloat64() * sd)
						}
						return v
					}
					x, dy, k := rnd(h*w, 3), rnd(oh*ow, 1), rnd(9, 1)
					wantDX, wantDK := naiveDW3Backward(x, dy, h, w, s, k)
					scratch := make([]float32, p.BackwardScratch())
					for _, which := range []string{"both", "dx", "dk"} {
						for i := range scratch {
							scratch[i] = nan
						}
						var dx, dk []float32
						if which != "dk" {
							dx = make([]float32, h*w)
							for i := range dx {
								dx[i] = nan
							}
						}
						if which != "dx" {
							dk = make([]float32, 9)
							for i := range dk {
								dk[i] = 0.5
							}
						}
						p.DepthwiseBackward(x, dy, k, dx, dk, scratch)
						for i, v := range dx {
							if d := math.Abs(float64(v) - wantDX[i]); !(d <= 1e-4*(1+math.Abs(wantDX[i]))) {
								t.Fatalf("%s: dx[%d] (of %dx%d) = %g, want %g", which, i, h, w, v, wantDX[i])
							}
						}
						for i, v := range dk {
							want := 0.5 + wantDK[i]
							if d := math.Abs(float64(v) - want); !(d <= 1e-4*(1+math.Sqrt(float64(oh*ow))*3)) {
								t.Fatalf("%s: dk[%d] = %g, want %g", which, i, v, want)
							}
						}
					}
				})
			}
		}
	}
}
