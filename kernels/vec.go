package kernels

// AddTo sets y[i] += x[i] for i < len(x) (AVX where available); y must be at
// least as long as x. The engine's gradient accumulation and col2im use it.
func AddTo(x, y []float32) { addTo(x, y) }

// Add sets y[i] = a[i] + b[i] for i < len(a), or max(a[i]+b[i], 0) when
// relu (NaN gives 0): the engine's Add and its fused residual Add+ReLU
// (AVX where available). b and y must be at least as long as a.
func Add(a, b, y []float32, relu bool) { add3(a, b[:len(a)], y[:len(a)], relu) }

// dotGo is the portable dot (the sum of a[i]*b[i] for i < len(a); b at
// least as long): a sequential float32 sum. The AVX2 dot keeps eight-lane
// partial sums, so the rounding differs.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

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

// CopyRows copies rows runs of n floats from src (rows sstride apart) to
// dst (rows dstride apart) and writes zero zeros after each run in dst:
// dst[r*dstride+t] = src[r*sstride+t] for t < n, and 0 for n <= t <
// n+zero. The implicit convolution lowering moves images in and out of
// its padded layout with it (one call per channel plane instead of one
// copy per row). It panics if a slice is too short.
func CopyRows(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	if rows <= 0 || n+zero <= 0 {
		return
	}
	_ = dst[(rows-1)*dstride+n+zero-1]
	if n > 0 {
		_ = src[(rows-1)*sstride+n-1]
	}
	copyRows(dst, dstride, src, sstride, n, rows, zero)
}

// copyRowsGo is the portable copyRows (arguments checked by CopyRows).
func copyRowsGo(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	for r := range rows {
		d := dst[r*dstride : r*dstride+n+zero]
		copy(d, src[r*sstride:r*sstride+n])
		clear(d[n:])
	}
}

// Deinterleave2 splits src into its even and odd elements: even[t] =
// src[2t], odd[t] = src[2t+1] for t < len(even). The polyphase lowering of
// stride-2 convolutions splits image rows into column phases with it. It
// panics unless len(odd) == len(even) and len(src) >= 2*len(even).
func Deinterleave2(even, odd, src []float32) {
	if len(odd) != len(even) || len(src) < 2*len(even) {
		panic("kernels: Deinterleave2 needs len(odd) == len(even) and len(src) >= 2*len(even)")
	}
	deinterleave2(even, odd, src[:2*len(even)])
}

// Interleave2 is Deinterleave2's inverse: dst[2t] = even[t], dst[2t+1] =
// odd[t] for t < len(even). It panics unless len(odd) == len(even) and
// len(dst) >= 2*len(even).
func Interleave2(dst, even, odd []float32) {
	if len(odd) != len(even) || len(dst) < 2*len(even) {
		panic("kernels: Interleave2 needs len(odd) == len(even) and len(dst) >= 2*len(even)")
	}
	interleave2(dst[:2*len(even)], even, odd)
}

// GatherEven sets dst[t] = src[2t] for t < len(dst): the even elements
// alone, where Deinterleave2 would also write the odd ones. It panics
// unless len(src) >= 2*len(dst)-1.
func GatherEven(dst, src []float32) {
	if len(dst) > 0 && len(src) < 2*len(dst)-1 {
		panic("kernels: GatherEven needs len(src) >= 2*len(dst)-1")
	}
	gatherStride2(dst, src)
}

func deinterleave2Go(even, odd, src []float32) {
	odd = odd[:len(even)]
	src = src[:2*len(even)]
	for t := range even {
		even[t], odd[t] = src[2*t], src[2*t+1]
	}
}

func interleave2Go(dst, even, odd []float32) {
	odd = odd[:len(even)]
	dst = dst[:2*len(even)]
	for t, v := range even {
		dst[2*t], dst[2*t+1] = v, odd[t]
	}
}

// add3Go sets y[i] = a[i] + b[i], or max(a[i]+b[i], 0) when relu (NaN
// gives 0).
func add3Go(a, b, y []float32, relu bool) {
	b, y = b[:len(a)], y[:len(a)]
	for i, v := range a {
		s := v + b[i]
		if relu && !(s > 0) {
			s = 0
		}
		y[i] = s
	}
}

// AllFinite reports whether no value of x is NaN or ±Inf: one pass that
// sums x[i]-x[i] (0 for a finite value, NaN otherwise), eight lanes at a
// time on amd64.
func AllFinite(x []float32) bool { return allFinite(x) }

// allFiniteGo is AllFinite's portable body.
func allFiniteGo(x []float32) bool {
	for _, v := range x {
		if v-v != 0 { // NaN or ±Inf
			return false
		}
	}
	return true
}

// Mul sets y[i] = a[i] * b[i] for i < len(a); b and y must be at least as
// long (y may be a or b). Vector steps of 8 in assembly when UseAsm, the
// same products as the Go loop.
func Mul(a, b, y []float32) { mul(a, b, y) }

// Scale sets y[i] = x[i] * s for i < len(x); y must be at least as long
// (it may be x). Vector steps of 8 in assembly when UseAsm, the same
// products as the Go loop.
func Scale(x, y []float32, s float32) { scale(x, y, s) }

func mulGo(a, b, y []float32) {
	for i, v := range a {
		y[i] = v * b[i]
	}
}

func scaleGo(x, y []float32, s float32) {
	for i, v := range x {
		y[i] = v * s
	}
}
