package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestSgemmPackedMatchesSgemm checks that products with a packed A are
// bitwise Sgemm's, serial and split over 1-3 threads, on shapes with
// partial row panels and several row, depth and column blocks, both
// storages of A and B, alpha and beta, on both micro-kernels.
func TestSgemmPackedMatchesSgemm(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(21, 22))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, sh := range [][3]int{{1, 1, 1}, {5, 30, 7}, {64, 49, 576}, {150, 100, 300}, {300, 2100, 20}, {7, 3000, 5}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				name := fmt.Sprintf("asm=%v/%dx%dx%d/ta=%v/tb=%v", asm, m, n, k, tr[0], tr[1])
				a, b := fill(m*k), fill(k*n)
				lda, ldb := k, n
				if tr[0] {
					lda = m
				}
				if tr[1] {
					ldb = k
				}
				for _, beta := range []float32{0, 0.5} {
					c0 := fill(m * n)
					want := append([]float32(nil), c0...)
					Sgemm(tr[0], tr[1], m, n, k, 1.5, a, lda, b, ldb, beta, want, n)
					pa := PackA(tr[0], m, k, 1.5, a, lda)
					for _, threads := range []int{0, 1, 2, 3} {
						got := append([]float32(nil), c0...)
						if threads == 0 {
							SgemmPacked(pa, tr[1], n, b, ldb, beta, got, n)
						} else {
							runtime.GOMAXPROCS(threads)
							SgemmPackedParallel(pa, tr[1], n, b, ldb, beta, got, n)
						}
						for i := range want {
							if got[i] != want[i] {
								t.Fatalf("%s beta %g threads %d: C[%d] = %g, Sgemm %g", name, beta, threads, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

func TestPackAPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short A")
		}
	}()
	PackA(false, 4, 4, 1, make([]float32, 15), 4)
}

// TestSgemmPackedBMatchesSgemm runs products with B packed once (PackB)
// over whole and partial column ranges, both storages of A and B, beta 0
// and 1, against Sgemm on the same operands: C bitwise the same inside the
// range and untouched outside it, and close to the naive product.
func TestSgemmPackedBMatchesSgemm(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for si, s := range [][3]int{{1, 1, 1}, {7, 49, 27}, {49, 512, 300}, {64, 100, 600}, {150, 2100, 40}, {13, 24, 9}, {5, 60, 601}} {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					r := rand.New(rand.NewPCG(uint64(si), 77))
					a, b := randSlice(r, m*k), randSlice(r, k*n)
					lda, ldb := k, n
					if ta {
						lda = m
					}
					if tb {
						ldb = k
					}
					for _, beta := range []float32{0, 1} {
						c0 := randSlice(r, m*n)
						want := append([]float32(nil), c0...)
						ref := append([]float32(nil), c0...)
						withAsm(path.asm, func() { Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, want, n) })
						SgemmRef(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, ref, n)
						pb := PackB(tb, k, n, b, ldb)
						for _, rg := range [][2]int{{0, n}, {0, n / 2}, {min(24, n/24*24), n}, {n / 48 * 24, n - n/3}} {
							j0, j1 := rg[0], max(rg[0], rg[1])
							got := append([]float32(nil), c0...)
							withAsm(path.asm, func() { SgemmPackedB(ta, m, a, lda, pb, j0, j1, beta, got, n) })
							for i := range m {
								for j := range n {
									g, w := got[i*n+j], want[i*n+j]
									if j < j0 || j >= j1 {
										w = c0[i*n+j]
									}
									if g != w {
										t.Fatalf("%s %dx%dx%d ta=%v tb=%v beta=%g cols [%d,%d): C[%d][%d] = %g, want %g", path.name, m, n, k, ta, tb, beta, j0, j1, i, j, g, w)
									}
								}
							}
						}
						if e := maxRelErr(want, ref, math.Sqrt(float64(k))+1); e > 1e-5 {
							t.Fatalf("Sgemm off the naive product by %g", e)
						}
					}
				}
			}
		}
	}
}

// TestPackAIntoReuses packs a sequence of matrices of shrinking and
// growing sizes, both storages, into the previous one's storage and
// checks that every product is bitwise Sgemm's and that the storage is
// reused whenever it holds the new matrix.
func TestPackAIntoReuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	var pa *PackedA
	for i, sh := range [][2]int{{300, 600}, {150, 300}, {7, 5}, {150, 300}, {400, 700}} {
		m, k, n := sh[0], sh[1], 37
		trans := i%2 == 1
		a, b := fill(m*k), fill(k*n)
		lda := k
		if trans {
			lda = m
		}
		want, got := make([]float32, m*n), make([]float32, m*n)
		Sgemm(trans, false, m, n, k, 1, a, lda, b, n, 0, want, n)
		var old *float32
		fits := pa != nil && cap(pa.data) >= ceilDiv(m, gemmMR)*gemmMR*k
		if fits {
			old = &pa.data[:1][0]
		}
		pa = PackAInto(pa, trans, m, k, 1, a, lda)
		if fits && &pa.data[0] != old {
			t.Errorf("%dx%d: storage not reused", m, k)
		}
		SgemmPacked(pa, false, n, b, n, 0, got, n)
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("%dx%d trans %v: C[%d] = %g, Sgemm %g", m, k, trans, j, got[j], want[j])
			}
		}
	}
}
