package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestSgemvTMatchesRef checks SgemvT against the naive product x*B^T on
// both dot-product paths (and the eight-row AVX-512 blocks, k >= 16, a
// masked tail, rows past the last block), with beta 0 (NaN in y ignored) and beta != 0, a
// padded B stride, and a product large enough to split over threads,
// whose result must not depend on the thread count.
func TestSgemvTMatchesRef(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, path := range gemmPaths(t) {
		for ci, tc := range []struct {
			n, k, ldb   int
			alpha, beta float32
		}{{1, 1, 1, 1, 0}, {10, 37, 40, 2, 0.5}, {1000, 1280, 1280, 1, 0}, {7, 8, 8, -1, 1}, {1001, 300, 305, 1, 0}, {9, 16, 16, 1, 0}} {
			r := rand.New(rand.NewPCG(uint64(ci), 5))
			x, b, y0 := randSlice(r, tc.k), randSlice(r, (tc.n-1)*tc.ldb+tc.k), randSlice(r, tc.n)
			if tc.beta == 0 {
				for i := range y0 {
					y0[i] = float32(math.NaN())
				}
			}
			want := append([]float32(nil), y0...)
			SgemmRef(false, true, 1, tc.n, tc.k, tc.alpha, x, tc.k, b, tc.ldb, tc.beta, want, tc.n)
			var first []float32
			for _, threads := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(threads)
				got := append([]float32(nil), y0...)
				withAsm(path.asm, func() { SgemvT(tc.n, tc.k, tc.alpha, x, b, tc.ldb, tc.beta, got) })
				if e := maxRelErr(got, want, math.Abs(float64(tc.alpha))*math.Sqrt(float64(tc.k))+math.Abs(float64(tc.beta))); e > 1e-5 {
					t.Fatalf("%s case %d, %d threads: max scaled error %g", path.name, ci, threads, e)
				}
				if first == nil {
					first = got
				} else {
					for i := range got {
						if got[i] != first[i] {
							t.Fatalf("%s case %d: y[%d] differs between 1 and 2 threads", path.name, ci, i)
						}
					}
				}
			}
		}
	}
}
