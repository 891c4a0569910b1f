// Package kernels holds the numeric primitives the engine's hot loops call:
// single-precision GEMM and the convolution lowering helpers (im2col/col2im).
// All matrices are row-major with explicit leading dimensions.
package kernels

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(A) is m x k and
// op(B) is k x n (A is stored k x m when transA, B is stored n x k when
// transB) and C is m x n. lda, ldb, ldc are the row strides of the stored
// matrices. With beta == 0, C is overwritten (its old contents, even NaN, are
// ignored). It runs on the calling goroutine only (see SgemmParallel). It
// panics if a slice is too short (a programmer error).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmRef is the naive triple loop that defines Sgemm's result; tests
// compare every fast path against it.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
