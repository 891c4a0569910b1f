package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// rowsNCase builds a 3x3 pad-1 convolution on a padded layout: c planes of
// nb h x w images (rows wp = w+1 apart, one zero row between images), the
// taps' offsets and every valid position, image-major.
func rowsNCase(r *rand.Rand, c, h, w, nb int) (b []float32, off []int, pos []int32) {
	wp := w + 1
	q0 := wp + 1
	plane := (1+nb*(h+1))*wp + 1 + 8
	b = make([]float32, c*plane)
	for ch := range c {
		for t := range 9 {
			off = append(off, ch*plane+q0+(t/3-1)*wp+t%3-1)
		}
	}
	for j := range nb {
		for y := range h {
			for x := range w {
				p := (j*(h+1)+y)*wp + x
				pos = append(pos, int32(p))
				for ch := range c {
					b[ch*plane+q0+p] = r.Float32()*2 - 1
				}
			}
		}
	}
	return b, off, pos
}

func TestRowsNMatchesNaive(t *testing.T) {
	if !RowsNFits() {
		t.Skip("no AVX-512 kernels: RowsN is never called")
	}
	r := rand.New(rand.NewPCG(7, 7))
	var s RowsTScratch
	defer func(v int) { rowsNKC = v }(rowsNKC)
	for _, kc := range []int{128, 20} { // 20: several reduction blocks, the last short
		rowsNKC = kc
		for _, m := range []int{1, 16, 40, 64, 65, 130} {
			for _, g := range []struct{ c, h, w, nb int }{{1, 1, 1, 1}, {3, 2, 5, 1}, {5, 7, 7, 3}, {2, 4, 17, 2}, {20, 3, 4, 1}} {
				b, off, pos := rowsNCase(r, g.c, g.h, g.w, g.nb)
				hw := g.h * g.w
				w := randSlice(r, m*len(off))
				wp := PackRowsN(nil, m, len(off), w, len(off))
				// Whole images, and each image's positions in two
				// groups (a split over workers): planes hw+1 apart.
				for _, split := range []bool{false, true} {
					ldPlane := hw + 1
					ld := m*ldPlane + 3
					got, want := randSlice(r, g.nb*ld), make([]float32, g.nb*ld)
					copy(want, got)
					if split && hw > 1 {
						h0 := hw / 2
						for j := range g.nb {
							for _, rng := range [][2]int{{0, h0}, {h0, hw}} {
								ps := pos[j*hw+rng[0] : j*hw+rng[1]]
								n := rng[1] - rng[0]
								RowsN(m, wp, b, off, ps, n, ldPlane, got[j*ld+rng[0]:], 0, &s)
								rowsNGo(m, w, b, off, ps, n, ldPlane, want[j*ld+rng[0]:], 0)
							}
						}
					} else {
						RowsN(m, wp, b, off, pos, hw, ldPlane, got, ld, &s)
						rowsNGo(m, w, b, off, pos, hw, ldPlane, want, ld)
					}
					for i := range got {
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*float64(len(off)) {
							t.Fatalf("kc=%d m=%d %+v split %v: y[%d] = %v, want %v (outside the planes both keep their values)", kc, m, g, split, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkRowsN puts RowsN (positions by 64 filters, valid positions
// only) beside SgemmRows (the implicit lowering's product over every
// padded column, rounded to whole tiles) on 3x3 convolutions: resnet20's
// 32- and 64-channel layers on one image, its 64-channel 7x7 on a chunk
// of 13, and resnet18's four stages on one image. GFLOP/s count the valid
// positions only.
func BenchmarkRowsN(b *testing.B) {
	if !RowsNFits() {
		b.Skip("no AVX-512 kernels")
	}
	for _, g := range []struct{ m, c, h, nb int }{{32, 32, 14, 1}, {64, 64, 7, 1}, {64, 64, 7, 13}, {64, 64, 56, 1}, {128, 128, 28, 1}, {256, 256, 14, 1}, {512, 512, 7, 1}} {
		r := rand.New(rand.NewPCG(1, 1))
		bb, off, pos := rowsNCase(r, g.c, g.h, g.h, g.nb)
		k := len(off)
		w := randSlice(r, g.m*k)
		wp := PackRowsN(nil, g.m, k, w, k)
		hw := g.h * g.h
		y := make([]float32, g.nb*g.m*hw)
		var s RowsTScratch
		flops := 2 * float64(g.m) * float64(k) * float64(len(pos))
		b.Run(fmt.Sprintf("rowsN_M%d_C%d_%dx%d_nb%d", g.m, g.c, g.h, g.h, g.nb), func(b *testing.B) {
			for b.Loop() {
				RowsN(g.m, wp, bb, off, pos, hw, hw, y, g.m*hw, &s)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		n := (g.nb*(g.h+1)*(g.h+1) + 23) / 24 * 24
		c := make([]float32, g.m*n)
		bpad := make([]float32, len(bb)+n)
		copy(bpad, bb)
		b.Run(fmt.Sprintf("sgemmRows_M%d_C%d_%dx%d_nb%d", g.m, g.c, g.h, g.h, g.nb), func(b *testing.B) {
			for b.Loop() {
				SgemmRows(g.m, n, k, 1, w, k, bpad, off, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
