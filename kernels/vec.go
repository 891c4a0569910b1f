package kernels

// AddTo sets y[i] += x[i] for i < len(x) (AVX where available); y must be at
// least as long as x. The engine's gradient accumulation and col2im use it.
func AddTo(x, y []float32) { addTo(x, y) }

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
