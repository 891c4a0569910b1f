//go:build amd64 && !purego

package kernels

// biasClampAVX is BiasClamp's vector body for the first n elements (n a
// positive multiple of 8), in clamp_amd64.s (AVX).
//
//go:noescape
func biasClampAVX(v *float32, n int, b, lo, hi float32)

// biasAddClampAVX is BiasAddClamp's vector body for the first n elements
// (n a positive multiple of 8), in clamp_amd64.s (AVX).
//
//go:noescape
func biasAddClampAVX(v, r *float32, n int, b, lo, hi float32)

// hardSwishAVX is HardSwish's vector body for the first n elements (n a
// positive multiple of 8), in clamp_amd64.s (AVX).
//
//go:noescape
func hardSwishAVX(x, y *float32, n int)
