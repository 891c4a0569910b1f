package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDepthwiseKxKMatchesNaive runs PlaneKxK.Depthwise on both paths over
// random planes (1-20 rows and columns), kernels of odd sides 1-7 (square
// or not), strides 1 and 2 and clamps, against a float64 direct
// convolution with "same" padding; the paths agree to rounding, every
// output is written, and a NaN input reaches the outputs whose windows
// hold it and no others.
func TestDepthwiseKxKMatchesNaive(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	r := rand.New(rand.NewPCG(21, 22))
	for trial := range 300 {
		h, w := 1+r.IntN(20), 1+r.IntN(20)
		kh, kw := 1+2*r.IntN(4), 1+2*r.IntN(4)
		stride := 1 + r.IntN(2)
		p := NewPlaneKxK(h, w, kh, kw, stride)
		oh, ow := p.Out()
		x := randSlice(r, h*w)
		nanAt := -1
		if trial%5 == 0 {
			nanAt = r.IntN(h * w)
			x[nanAt] = float32(math.NaN())
		}
		wts := randSlice(r, kh*kw)
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if trial%3 == 1 {
			lo, hi = 0, 1.5
		}
		for _, asm := range dw3Paths(t) {
			UseAsm = asm
			y := make([]float32, oh*ow+5)
			for i := range y {
				y[i] = 99
			}
			scratch := randSlice(r, p.Scratch()) // stale scratch must not matter
			p.Depthwise(x, wts, 0.3, lo, hi, y[:oh*ow], scratch)
			for i := oh * ow; i < len(y); i++ {
				if y[i] != 99 {
					t.Fatalf("trial %d: float %d past the plane written", trial, i)
				}
			}
			for oy := range oh {
				for ox := range ow {
					s, hasNaN := 0.3, false
					for ky := range kh {
						for kx := range kw {
							iy, ix := oy*stride-(kh-1)/2+ky, ox*stride-(kw-1)/2+kx
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							if iy*w+ix == nanAt {
								hasNaN = true
							}
							s += float64(wts[ky*kw+kx]) * float64(x[iy*w+ix])
						}
					}
					got := y[oy*ow+ox]
					if hasNaN {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("trial %d asm=%v: output (%d,%d) = %g, its window holds the NaN", trial, asm, oy, ox, got)
						}
						continue
					}
					want := math.Min(math.Max(s, float64(lo)), float64(hi))
					if math.IsNaN(float64(got)) || math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want))*float64(kh*kw) {
						t.Fatalf("trial %d asm=%v %dx%d k%dx%d s%d: output (%d,%d) = %g, want %g", trial, asm, h, w, kh, kw, stride, oy, ox, got, want)
					}
				}
			}
		}
	}
}

// TestDwTapsPaths runs rows of 1 to 150 outputs with 1 to 49 taps through
// both paths of dwTaps: the same values to rounding, and nothing written
// past the row (the assembly's last block is masked).
func TestDwTapsPaths(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{1, 5, 15, 16, 17, 63, 64, 65, 100, 150} {
		for _, taps := range []int{1, 9, 25, 49} {
			off := make([]int, taps)
			for i := range off {
				off[i] = r.IntN(40)
			}
			x, w := randSlice(r, n+40), randSlice(r, taps)
			var out [2][]float32
			for p, asm := range dw3Paths(t) {
				UseAsm = asm
				out[p] = make([]float32, n+20)
				for i := range out[p] {
					out[p][i] = 42
				}
				dwTaps(out[p][:n], x, off, w, 0.5, -2, 3)
				for i := n; i < n+20; i++ {
					if out[p][i] != 42 {
						t.Fatalf("n=%d taps=%d asm=%v: float %d past the row written", n, taps, asm, i)
					}
				}
			}
			if out[1] == nil {
				continue
			}
			for i := range n {
				if a, b := out[0][i], out[1][i]; math.Abs(float64(a-b)) > 1e-5*float64(taps)*(1+math.Abs(float64(a))) {
					t.Fatalf("n=%d taps=%d: output %d Go %g, asm %g", n, taps, i, a, b)
				}
			}
		}
	}
}

func BenchmarkDepthwiseKxK(b *testing.B) {
	for _, c := range []struct{ h, k, s int }{{14, 5, 1}, {14, 5, 2}, {7, 5, 1}, {28, 5, 1}} {
		b.Run(fmt.Sprintf("%dx%d/k%d/s%d", c.h, c.h, c.k, c.s), func(b *testing.B) {
			p := NewPlaneKxK(c.h, c.h, c.k, c.k, c.s)
			oh, ow := p.Out()
			x, y := make([]float32, c.h*c.h), make([]float32, oh*ow)
			scr, k := make([]float32, p.Scratch()), make([]float32, c.k*c.k)
			for b.Loop() {
				p.Depthwise(x, k, 0, 0, 6, y, scr)
			}
		})
	}
}
