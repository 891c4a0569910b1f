package kernels

import "fmt"

// SgemvT computes y[j] = alpha*dot(x, B row j) + beta*y[j] for j < n, B
// stored n x k with row stride ldb and x of k floats: a linear layer's
// product for a single input row (C = x*B^T), the matrix read once and
// in place, where Sgemm would first copy all of B^T into packed panels.
// With beta == 0, y is overwritten. Rows of B are split over Threads()
// goroutines when the product has more than about 256K multiply-adds (a
// 1 MiB matrix: streamed from memory, resnet18's 512-by-1000 classifier
// took 190 us on one thread, 115 on two); every y[j] is one dot product
// either way, so the result does not depend on the thread count. It panics when a slice is too
// short (a programmer error).
func SgemvT(n, k int, alpha float32, x, b []float32, ldb int, beta float32, y []float32) {
	if n < 0 || k < 0 || len(x) < k || len(y) < n {
		panic(fmt.Sprintf("kernels.SgemvT: n=%d k=%d with x of %d and y of %d floats", n, k, len(x), len(y)))
	}
	checkMatrix("SgemvT", "B", n, k, b, ldb)
	x = x[:k]
	rows := func(lo, hi int) {
		for j := lo; j < hi; j++ {
			v := alpha * dot(x, b[j*ldb:j*ldb+k])
			if beta != 0 {
				v += beta * y[j]
			}
			y[j] = v
		}
	}
	if n > 1 && n*k >= 1<<18 {
		ParallelFor(n, rows)
		return
	}
	rows(0, n)
}
