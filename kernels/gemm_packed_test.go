package kernels

import (
	"fmt"
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
