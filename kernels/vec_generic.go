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
