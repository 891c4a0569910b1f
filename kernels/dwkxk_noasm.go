//go:build !amd64 || purego

package kernels

// dwTapsAVX512 is never called without the assembly kernels.
func dwTapsAVX512(y *float32, n int, x *float32, off *int, w *float32, taps int, bias, lo, hi float32, tail int) {
	panic("kernels: dwTapsAVX512 without assembly")
}
