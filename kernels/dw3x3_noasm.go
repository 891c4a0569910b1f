//go:build !amd64 || purego

package kernels

// dw3RowAVX2 is never called without the assembly kernels.
func dw3RowAVX2(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32) {
	panic("kernels: dw3RowAVX2 without assembly")
}

// max9RowAVX2 is never called without the assembly kernels.
func max9RowAVX2(y *float32, n int, x *float32, off *[9]int) {
	panic("kernels: max9RowAVX2 without assembly")
}

// deinterleaveAVX2 is never called without the assembly kernels.
func deinterleaveAVX2(src, even, odd *float32, n int) {
	panic("kernels: deinterleaveAVX2 without assembly")
}

// dw3RowAVX512 is never called without the assembly kernels.
func dw3RowAVX512(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32, tail int) {
	panic("kernels: dw3RowAVX512 without assembly")
}

// dw3SmallAVX512 is never called without the assembly kernels.
func dw3SmallAVX512(y, x *float32, h, w, oh, stride int, p *dwSmall, wts *[9]float32, bias, lo, hi float32) {
	panic("kernels: dw3SmallAVX512 without assembly")
}

// dwSmallKAVX512 is never called without the assembly kernels.
func dwSmallKAVX512(y, x *float32, h, w, oh, stride, kh, kw int, p *dwSmallK, wts *float32, bias, lo, hi float32) {
	panic("kernels: dwSmallKAVX512 without assembly")
}

// dw3WideAVX512 is never called without the assembly kernels.
func dw3WideAVX512(y, x *float32, h, w, oh, ow, stride int, p *dwWide, masks *uint64, nb int, zero *float32, wts *[9]float32, bias, lo, hi float32) {
	panic("kernels: dw3WideAVX512 without assembly")
}

// dwS1AVX512 is never called without the assembly kernels.
func dwS1AVX512(y, x *float32, h, kh, kw int, p *dwS1, wts *float32, bias, lo, hi float32, s *float32) {
	panic("kernels: dwS1AVX512 without assembly")
}
