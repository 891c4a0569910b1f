//go:build !amd64 || purego

package kernels

func hasPool2() bool { return false }

func maxPool2RowAVX512(r0, r1, y *float32, n int, tail int) {
	panic("kernels: maxPool2RowAVX512 without assembly")
}
