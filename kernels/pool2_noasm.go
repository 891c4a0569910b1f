//go:build !amd64 || purego

package kernels

func hasPool2() bool { return false }

func maxPool2RowAVX512(r0, r1, y *float32, n int, tail int) {
	panic("kernels: maxPool2RowAVX512 without assembly")
}

func maxPool3s2RowAVX512(p0, p1, p2, y *float32, nblk, tail int) {
	panic("kernels: maxPool3s2RowAVX512 without assembly")
}
