package kernels

import "fmt"

// SgemvT computes y[j] = alpha*dot(x, B row j) + beta*y[j] for j < n, B
// stored n x k with row stride ldb and x of k floats: a linear layer's
// product for a single input row (C = x*B^T), the matrix read once and
// in place, where Sgemm would first copy all of B^T into packed panels.
// With beta == 0, y is overwritten. Rows of B are split over Threads()
// goroutines when the product has more than about 256K multiply-adds (a
// 1 MiB matrix: streamed from memory, resnet18's 512-by-1000 classifier
// took 190 us on one thread, 115 on two). With AVX-512, blocks of eight
// rows are streamed side by side (gemv8AVX512: one 16-lane accumulator a
// row, another summation order than dot's, which the last n%8 rows and
// other CPUs take); the goroutines split whole blocks, so the result does
// not depend on the thread count. It panics when a slice is too short (a
// programmer error).
func SgemvT(n, k int, alpha float32, x, b []float32, ldb int, beta float32, y []float32) {
	if n < 0 || k < 0 || len(x) < k || len(y) < n {
		panic(fmt.Sprintf("kernels.SgemvT: n=%d k=%d with x of %d and y of %d floats", n, k, len(x), len(y)))
	}
	checkMatrix("SgemvT", "B", n, k, b, ldb)
	x = x[:k]
	set := func(j int, d float32) {
		v := alpha * d
		if beta != 0 {
			v += beta * y[j]
		}
		y[j] = v
	}
	// Rows go in blocks of eight (the last block short), so that every
	// row is computed the same way however the blocks are split.
	blocks := func(lo, hi int) {
		var out [8]float32
		tmask := 1<<(k%16) - 1
		for bi := lo; bi < hi; bi++ {
			j := bi * 8
			if j+8 <= n && hasGemv8() && k >= 16 {
				_ = b[(j+7)*ldb+k-1]
				gemv8AVX512(&x[0], &b[j*ldb], ldb, k, tmask, &out)
				for r, d := range out {
					set(j+r, d)
				}
				continue
			}
			for ; j < min(bi*8+8, n); j++ {
				set(j, dot(x, b[j*ldb:j*ldb+k]))
			}
		}
	}
	nb := (n + 7) / 8
	if nb > 1 && n*k >= 1<<18 {
		ParallelFor(nb, blocks)
		return
	}
	blocks(0, nb)
}
