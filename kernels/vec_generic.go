//go:build !amd64 || purego

package kernels

// axpy sets y[i] += alpha*x[i] for i < len(x); y must be at least as long.
func axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, xv := range x {
		y[i] += alpha * xv
	}
}

// addTo sets y[i] += x[i] for i < len(x); y must be at least as long.
func addTo(x, y []float32) {
	y = y[:len(x)]
	for i, xv := range x {
		y[i] += xv
	}
}

// addRows sets dst[r*stride+t] += src[r*stride+t] for r < rows, t < n.
func addRows(rows, n int, src, dst []float32, stride int) {
	addRowsGo(rows, n, src, dst, stride)
}

// gatherStride2 sets dst[t] = src[2*t] for t < len(dst).
func gatherStride2(dst, src []float32) {
	for t := range dst {
		dst[t] = src[2*t]
	}
}

func copyRows(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	copyRowsGo(dst, dstride, src, sstride, n, rows, zero)
}

func add3(a, b, y []float32, relu bool) { add3Go(a, b, y, relu) }

func deinterleave2(even, odd, src []float32) { deinterleave2Go(even, odd, src) }

func interleave2(dst, even, odd []float32) { interleave2Go(dst, even, odd) }

// dot returns the sum of a[i]*b[i] for i < len(a); b must be at least as long.
func dot(a, b []float32) float32 { return dotGo(a, b) }

// dotBlock4x3 is dotBlock4x3Go.
func dotBlock4x3(a []float32, lda int, b []float32, o0, o1, o2, k int, out *[12]float32) {
	dotBlock4x3Go(a, lda, b, o0, o1, o2, k, out)
}

// allFinite reports whether no value of x is NaN or infinite.
func allFinite(x []float32) bool { return allFiniteGo(x) }

// hasDotBlock4x6 is false: dotRowsT takes 4x3 blocks.
func hasDotBlock4x6() bool { return false }

// dotBlock4x6 is dotBlock4x6Go.
func dotBlock4x6(a []float32, lda int, b []float32, o *[6]int, k int, out *[24]float32) {
	dotBlock4x6Go(a, lda, b, o, k, out)
}

func mul(a, b, y []float32)           { mulGo(a, b[:len(a)], y[:len(a)]) }
func scale(x, y []float32, s float32) { scaleGo(x, y[:len(x)], s) }

// hasGemv8 is false: SgemvT takes dot products.
func hasGemv8() bool { return false }

func gemv8AVX512(x, b *float32, ldb, k, tmask int, out *[8]float32) {
	panic("kernels: gemv8AVX512 without assembly")
}
