package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// rowsTCase builds a 3x3 convolution's weight-gradient operands in a
// padded layout: m output-gradient rows lda apart, c input planes whose 9
// taps are runs of three consecutive offsets, and the positions of an
// h x h map (wp = h+1 apart), nb images, or every position up to k.
func rowsTCase(r *rand.Rand, m, c, h, nb int, gaps bool) (a []float32, lda int, b []float32, off []int, pos []int32) {
	wp := h + 1
	k := nb * (h + 1) * wp
	lda = k + 2*wp + 5
	plane := k + 2*wp + 3
	for ch := range c {
		for t := range 9 {
			off = append(off, ch*plane+(t/3)*wp+t%3)
		}
	}
	for j := range nb {
		for y := range h {
			for x := range wp {
				if x < h || !gaps {
					pos = append(pos, int32((j*(h+1)+y)*wp+x))
				}
			}
		}
	}
	return randSlice(r, m*lda), lda, randSlice(r, c*plane), off, pos
}

func TestRowsTMatchesNaive(t *testing.T) {
	if !hasRowsT() {
		if RowsTFits(16, []int{0, 1, 2}) {
			t.Fatal("RowsTFits true without the kernels")
		}
		t.Skip("no AVX-512 kernels: RowsT is never called")
	}
	r := rand.New(rand.NewPCG(3, 9))
	var s RowsTScratch
	for _, m := range []int{1, 5, 16, 17, 32, 40, 64} {
		for _, c := range []int{1, 2, 3, 4, 5, 16} {
			for _, g := range []struct{ h, nb int }{{1, 1}, {3, 2}, {7, 3}} {
				for _, trim := range []int{0, 3, 6} { // runs left over
					a, lda, b, off, pos := rowsTCase(r, m, c, g.h, g.nb, trim == 3)
					if trim >= len(off) {
						continue
					}
					off = off[:len(off)-trim]
					n, mw := len(off), RowsTWidth(m)
					for _, accum := range []bool{false, true} {
						name := fmt.Sprintf("m%d_n%d_k%d_accum%v", m, n, len(pos), accum)
						got, want := randSlice(r, n*mw), make([]float32, n*mw)
						copy(want, got)
						RowsT(m, a, lda, b, off, pos, got, accum, &s)
						rowsTGo(m, a, lda, b, off, pos, want, accum)
						for i := range got {
							if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*float64(len(pos)) || i%mw >= m && got[i] != want[i] {
								t.Fatalf("%s: acc[%d] = %v, want %v", name, i, got[i], want[i])
							}
						}
						ldc := n + 2
						cm := make([]float32, m*ldc)
						RowsTStore(m, n, got, cm, ldc)
						for i := range m {
							for j := range n {
								if cm[i*ldc+j] != got[j*mw+i] {
									t.Fatalf("%s: store C[%d][%d] = %v, want %v", name, i, j, cm[i*ldc+j], got[j*mw+i])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRowsTGapsExact checks that leaving out positions where A is zero
// (a padded layout's gaps) changes no bit.
func TestRowsTGapsExact(t *testing.T) {
	if !hasRowsT() {
		t.Skip("no AVX-512 kernels")
	}
	r := rand.New(rand.NewPCG(5, 1))
	var s RowsTScratch
	for _, m := range []int{16, 32, 64} {
		a, lda, b, off, all := rowsTCase(r, m, 3, 7, 2, false)
		_, _, _, _, valid := rowsTCase(r, 1, 1, 7, 2, true)
		in := map[int32]bool{}
		for _, p := range valid {
			in[p] = true
		}
		for i := range m {
			for _, p := range all {
				if !in[p] {
					a[i*lda+int(p)] = 0
				}
			}
		}
		mw := RowsTWidth(m)
		full, part := make([]float32, len(off)*mw), make([]float32, len(off)*mw)
		RowsT(m, a, lda, b, off, all, full, false, &s)
		RowsT(m, a, lda, b, off, valid, part, false, &s)
		for i := range full {
			if full[i] != part[i] {
				t.Fatalf("m=%d: acc[%d] %v over every position, %v over the valid ones", m, i, full[i], part[i])
			}
		}
	}
}

func TestRowsTFits(t *testing.T) {
	if !hasRowsT() {
		t.Skip("no AVX-512 kernels")
	}
	for _, tc := range []struct {
		m    int
		off  []int
		want bool
	}{
		{16, []int{0, 1, 2}, true},
		{64, []int{0, 1, 2}, true},
		{65, []int{0, 1, 2}, false},
		{0, []int{0, 1, 2}, false},
		{16, []int{0, 1}, false},
		{16, []int{0, 1, 3}, false},
		{16, []int{0, 2, 4, 5, 6, 7}, false},
		{8, []int{4, 5, 6, 0, 1, 2}, true},
	} {
		if got := RowsTFits(tc.m, tc.off); got != tc.want {
			t.Errorf("RowsTFits(%d, %v) = %v, want %v", tc.m, tc.off, got, tc.want)
		}
	}
}

// BenchmarkRowsTBroadcast puts RowsT (A transposed, B broadcast, gaps left out)
// beside SgemmRowsT (dot blocks for 16 rows, else the packed GEMM) on the
// weight gradients of resnet20's 3x3 convs over one chunk: 16 channels
// at 28x28 (1 image), 32 at 14x14 (3), 64 at 7x7 (13), and a grayscale
// stem. GFLOP/s count the valid positions only.
func BenchmarkRowsTBroadcast(b *testing.B) {
	if !hasRowsT() {
		b.Skip("no AVX-512 kernels")
	}
	for _, g := range []struct{ m, c, h, nb int }{{16, 1, 28, 1}, {16, 3, 28, 1}, {32, 3, 28, 1}, {16, 16, 28, 1}, {32, 32, 14, 3}, {64, 64, 7, 13}} {
		r := rand.New(rand.NewPCG(1, 1))
		a, lda, bb, off, pos := rowsTCase(r, g.m, g.c, g.h, g.nb, true)
		n, mw := len(off), RowsTWidth(g.m)
		k := g.nb * (g.h + 1) * (g.h + 1)
		acc, c := make([]float32, n*mw), make([]float32, g.m*n)
		var s RowsTScratch
		flops := 2 * float64(g.m) * float64(n) * float64(len(pos))
		b.Run(fmt.Sprintf("rowsT_M%d_N%d_K%d", g.m, n, len(pos)), func(b *testing.B) {
			for b.Loop() {
				RowsT(g.m, a, lda, bb, off, pos, acc, false, &s)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("sgemmRowsT_M%d_N%d_K%d", g.m, n, k), func(b *testing.B) {
			for b.Loop() {
				SgemmRowsT(g.m, n, k, 1, a, lda, bb, off, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
