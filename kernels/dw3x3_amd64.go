//go:build amd64 && !purego

package kernels

// dw3RowAVX2 is dw3Row for the first n outputs (n a positive multiple of
// 8), in dw3x3_amd64.s (AVX2+FMA).
//
//go:noescape
func dw3RowAVX2(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32)

// dw3RowAVX512 is dw3Row for the first n >= 1 outputs with AVX-512, tail
// = 1<<(n%16)-1 (dw3x3_avx512_amd64.s); each output bitwise as
// dw3RowAVX2 computes it.
//
//go:noescape
func dw3RowAVX512(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32, tail int)

// max9RowAVX2 is max9Row for the first n outputs (n a positive multiple
// of 8), in dw3x3_amd64.s (AVX).
//
//go:noescape
func max9RowAVX2(y *float32, n int, x *float32, off *[9]int)

// deinterleaveAVX2 sets even[j] = src[2j] and odd[j] = src[2j+1] for j < n
// (n a positive multiple of 8), in dw3x3_amd64.s (AVX2).
//
//go:noescape
func deinterleaveAVX2(src, even, odd *float32, n int)

// dw3SmallAVX512 is Plane3x3.Depthwise on a plane of width w <=
// dwSmallMaxW with AVX-512 (dw3small_avx512_amd64.s): oh >= 1 output rows
// of p's ow columns, each bitwise as dw3RowAVX512 computes it.
//
//go:noescape
func dw3SmallAVX512(y, x *float32, h, w, oh, stride int, p *dwSmall, wts *[9]float32, bias, lo, hi float32)

// dwSmallKAVX512 is PlaneKxK.Depthwise on a plane of width w <=
// dwSmallMaxW and a kernel at most dwSmallMaxK wide with AVX-512
// (dw3small_avx512_amd64.s), each output bitwise as dwTapsAVX512 computes
// it.
//
//go:noescape
func dwSmallKAVX512(y, x *float32, h, w, oh, stride, kh, kw int, p *dwSmallK, wts *float32, bias, lo, hi float32)

// dwS1AVX512 is PlaneKxK.Depthwise at stride 1 on a plane of width w <=
// dwSmallMaxW and a kernel at most dwSmallMaxK wide with AVX-512
// (dws1_avx512_amd64.s, p's lanes for w and kw), through s1Scratch(h,
// kh, kw) floats at s; each output bitwise as dwTapsAVX512 computes it.
//
//go:noescape
func dwS1AVX512(y, x *float32, h, kh, kw int, p *dwS1, wts *float32, bias, lo, hi float32, s *float32)

// dw3WideAVX512 is Plane3x3.Depthwise on a plane of any width at stride
// 1 or 2 with AVX-512 (dw3small_avx512_amd64.s): masks holds nb blocks'
// three masks (dwWide), zero at least w zero floats; each output bitwise
// as dw3RowAVX512 computes it.
//
//go:noescape
func dw3WideAVX512(y, x *float32, h, w, oh, ow, stride int, p *dwWide, masks *uint64, nb int, zero *float32, wts *[9]float32, bias, lo, hi float32)
