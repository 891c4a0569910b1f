package kernels

import (
	"runtime"
	"sync"
)

// Threads returns how many goroutines parallel loops use: GOMAXPROCS.
func Threads() int { return runtime.GOMAXPROCS(0) }

// ParallelFor splits [0, n) into at most Threads() contiguous chunks and runs
// f(lo, hi) on each concurrently, returning when all are done. With one
// thread or n <= 1 it calls f(0, n) directly. Chunk boundaries depend only on
// n and Threads(), so results are reproducible for a fixed GOMAXPROCS.
func ParallelFor(n int, f func(lo, hi int)) {
	t := min(Threads(), n)
	if t <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	// The calling goroutine does the first chunk itself instead of idling.
	f(0, n/t)
	wg.Wait()
}

// SgemmParallel is Sgemm split over Threads() goroutines for one large
// product; same arguments, result and panics as Sgemm. Ops that already
// parallelise over the batch call the single-threaded Sgemm instead.
//
// C is split into contiguous column ranges of whole 24-wide register tiles
// (or, when C has fewer column tiles than row tiles and too few to go
// round, row ranges of whole 4-row tiles). Each goroutine runs the packed
// Sgemm on its range, so every part of B is packed exactly once overall and
// only the (usually small, e.g. conv weight) A operand is packed per
// goroutine. Every element is computed with the same blocking and
// summation order as Sgemm, so the result is bitwise identical to Sgemm's
// for any GOMAXPROCS. Products under about a million multiply-adds run
// serially.
func SgemmParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	t := Threads()
	if t <= 1 || int64(m)*int64(n)*int64(k) < 1<<20 {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	nt, mt := ceilDiv(n, gemmNR), ceilDiv(m, gemmMR)
	if nt >= 2*t || nt >= mt {
		parts := min(t, nt)
		ParallelFor(parts, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				j0 := min(n, p*nt/parts*gemmNR)
				j1 := min(n, (p+1)*nt/parts*gemmNR)
				if j1 <= j0 {
					continue
				}
				var bs []float32
				if transB {
					bs = b[j0*ldb:]
				} else {
					bs = b[j0:]
				}
				Sgemm(transA, transB, m, j1-j0, k, alpha, a, lda, bs, ldb, beta, c[j0:], ldc)
			}
		})
		return
	}
	parts := min(t, mt)
	ParallelFor(parts, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i0 := min(m, p*mt/parts*gemmMR)
			i1 := min(m, (p+1)*mt/parts*gemmMR)
			if i1 <= i0 {
				continue
			}
			var as []float32
			if transA {
				as = a[i0:]
			} else {
				as = a[i0*lda:]
			}
			Sgemm(transA, transB, i1-i0, n, k, alpha, as, lda, b, ldb, beta, c[i0*ldc:], ldc)
		}
	})
}
