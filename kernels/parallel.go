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
	for i := range t {
		lo, hi := i*n/t, (i+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// SgemmParallel is Sgemm split over Threads() goroutines for one large
// product (by rows of C). Ops that already parallelise over the batch call
// the single-threaded Sgemm instead.
func SgemmParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 2*Threads() || int64(m)*int64(n)*int64(k) < 1<<18 {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ParallelFor(m, func(lo, hi int) {
		var as []float32
		if transA {
			as = a[lo:]
		} else {
			as = a[lo*lda:]
		}
		Sgemm(transA, transB, hi-lo, n, k, alpha, as, lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}
