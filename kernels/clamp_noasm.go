//go:build !amd64 || purego

package kernels

// biasClampAVX is never called without the assembly kernels.
func biasClampAVX(v *float32, n int, b, lo, hi float32) {
	panic("kernels: biasClampAVX without assembly")
}

// biasAddClampAVX is never called without the assembly kernels.
func biasAddClampAVX(v, r *float32, n int, b, lo, hi float32) {
	panic("kernels: biasAddClampAVX without assembly")
}

// hardSwishAVX is never called without the assembly kernels.
func hardSwishAVX(x, y *float32, n int) {
	panic("kernels: hardSwishAVX without assembly")
}
