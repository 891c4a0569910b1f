package kernels

// AddTo sets y[i] += x[i] for i < len(x) (AVX where available); y must be at
// least as long as x. The engine's gradient accumulation and col2im use it.
func AddTo(x, y []float32) { addTo(x, y) }

// Add sets y[i] = a[i] + b[i] for i < len(a), or max(a[i]+b[i], 0) when
// relu (NaN gives 0): the engine's Add and its fused residual Add+ReLU
// (AVX where available). b and y must be at least as long as a.
func Add(a, b, y []float32, relu bool) { add3(a, b[:len(a)], y[:len(a)], relu) }

// addRowsGo is the portable addRows: dst[r*stride+t] += src[r*stride+t]
// for r < rows, t < n.
func addRowsGo(rows, n int, src, dst []float32, stride int) {
	for r := range rows {
		s := src[r*stride : r*stride+n]
		d := dst[r*stride : r*stride+n]
		for t, v := range s {
			d[t] += v
		}
	}
}

// CopyRows copies rows runs of n floats from src (rows sstride apart) to
// dst (rows dstride apart) and writes zero zeros after each run in dst:
// dst[r*dstride+t] = src[r*sstride+t] for t < n, and 0 for n <= t <
// n+zero. The implicit convolution lowering moves images in and out of
// its padded layout with it (one call per channel plane instead of one
// copy per row). It panics if a slice is too short.
func CopyRows(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	if rows <= 0 || n+zero <= 0 {
		return
	}
	_ = dst[(rows-1)*dstride+n+zero-1]
	if n > 0 {
		_ = src[(rows-1)*sstride+n-1]
	}
	copyRows(dst, dstride, src, sstride, n, rows, zero)
}

// copyRowsGo is the portable copyRows (arguments checked by CopyRows).
func copyRowsGo(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	for r := range rows {
		d := dst[r*dstride : r*dstride+n+zero]
		copy(d, src[r*sstride:r*sstride+n])
		clear(d[n:])
	}
}

// add3Go sets y[i] = a[i] + b[i], or max(a[i]+b[i], 0) when relu (NaN
// gives 0).
func add3Go(a, b, y []float32, relu bool) {
	b, y = b[:len(a)], y[:len(a)]
	for i, v := range a {
		s := v + b[i]
		if relu && !(s > 0) {
			s = 0
		}
		y[i] = s
	}
}
