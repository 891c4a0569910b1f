//go:build amd64 && !purego

package kernels

// dwTapsAVX512 is dwTaps for n >= 1 outputs and taps >= 1 with AVX-512,
// tail = 1<<(n%16)-1 (dwkxk_amd64.s).
//
//go:noescape
func dwTapsAVX512(y *float32, n int, x *float32, off *int, w *float32, taps int, bias, lo, hi float32, tail int)
