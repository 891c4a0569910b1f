//go:build amd64 && !purego

package engine

import "github.com/slimgo/slimgo/kernels"

// AVX2/FMA bodies of the element-wise loops in vec.go (vec_amd64.s). They
// take n, a positive multiple of 8; the wrappers run the tail in Go.

//go:noescape
func reluAVX(x, y *float32, n int)

//go:noescape
func reluBwdAVX(x, dy, dx *float32, n int)

//go:noescape
func sumsAVX(x *float32, n int, shift float32, out *[2]float32)

//go:noescape
func sum64AVX(x *float32, n int) float64

//go:noescape
func affineAVX(x, y *float32, n int, mu, a, b float32, relu int)

//go:noescape
func bnBwdSumsAVX(x, dy *float32, n int, mu float32, out *[2]float32)

//go:noescape
func bnBwdApplyAVX(x, dy, dx *float32, n int, coef *[4]float32)

//go:noescape
func bnBwdSumsReluAVX(x, dy *float32, n int, coef *[4]float32, out *[2]float32)

//go:noescape
func bnBwdApplyReluAVX(x, dy, dx *float32, n int, coef *[8]float32)

// useVecAsm reports whether the assembly loops may run: the CPU has
// AVX2+FMA and kernels.UseAsm has not been switched off.
func useVecAsm() bool { return kernels.UseAsm && kernels.AsmAvailable() }

func vecRelu(x, y []float32) {
	y = y[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		reluAVX(&x[0], &y[0], v)
		x, y = x[v:], y[v:]
	}
	reluGo(x, y)
}

func vecReluBwd(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		reluBwdAVX(&x[0], &dy[0], &dx[0], v)
		x, dy, dx = x[v:], dy[v:], dx[v:]
	}
	reluBwdGo(x, dy, dx)
}

//go:noescape
func addReluBwdAVX(x, a, b, d *float32, n int)

func vecAddReluBwd(x, a, b, d []float32) {
	a, b, d = a[:len(x)], b[:len(x)], d[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		addReluBwdAVX(&x[0], &a[0], &b[0], &d[0], v)
		x, a, b, d = x[v:], a[v:], b[v:], d[v:]
	}
	addReluBwdGo(x, a, b, d)
}

func vecSums(x []float32, shift float32) (s, ss float32) {
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		var out [2]float32
		sumsAVX(&x[0], v, shift, &out)
		s, ss = out[0], out[1]
		x = x[v:]
	}
	ts, tss := sumsGo(x, shift)
	return s + ts, ss + tss
}

func vecAffine(x, y []float32, mu, a, b float32, relu bool) {
	y = y[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		r := 0
		if relu {
			r = 1
		}
		affineAVX(&x[0], &y[0], v, mu, a, b, r)
		x, y = x[v:], y[v:]
	}
	affineGo(x, y, mu, a, b, relu)
}

func vecBNBwdSums(x, dy []float32, mu float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		var out [2]float32
		bnBwdSumsAVX(&x[0], &dy[0], v, mu, &out)
		sdy, sdyx = out[0], out[1]
		x, dy = x[v:], dy[v:]
	}
	a, b := bnBwdSumsGo(x, dy, mu)
	return sdy + a, sdyx + b
}

func vecBNBwdApply(x, dy, dx []float32, mu, a, b, c float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		coef := [4]float32{mu, a, b, c}
		bnBwdApplyAVX(&x[0], &dy[0], &dx[0], v, &coef)
		x, dy, dx = x[v:], dy[v:], dx[v:]
	}
	bnBwdApplyGo(x, dy, dx, mu, a, b, c)
}

func vecBNBwdSumsRelu(x, dy []float32, mu, a, b float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		var out [2]float32
		coef := [4]float32{mu, a, b}
		bnBwdSumsReluAVX(&x[0], &dy[0], v, &coef, &out)
		sdy, sdyx = out[0], out[1]
		x, dy = x[v:], dy[v:]
	}
	s, sx := bnBwdSumsReluGo(x, dy, mu, a, b)
	return sdy + s, sdyx + sx
}

func vecBNBwdApplyRelu(x, dy, dx []float32, mu, a, bx, c, b float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		coef := [8]float32{mu, a, bx, c, b}
		bnBwdApplyReluAVX(&x[0], &dy[0], &dx[0], v, &coef)
		x, dy, dx = x[v:], dy[v:], dx[v:]
	}
	bnBwdApplyReluGo(x, dy, dx, mu, a, bx, c, b)
}

//go:noescape
func affineClampAVX(x, y *float32, n int, coef *[8]float32)

//go:noescape
func bnBwdSumsClampAVX(x, dy *float32, n int, coef *[8]float32, out *[2]float32)

//go:noescape
func bnBwdApplyClampAVX(x, dy, dx *float32, n int, coef *[8]float32)

func vecAffineClamp(x, y []float32, mu, a, b, lo, hi float32) {
	y = y[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		coef := [8]float32{mu, a, b, lo, hi}
		affineClampAVX(&x[0], &y[0], v, &coef)
		x, y = x[v:], y[v:]
	}
	affineClampGo(x, y, mu, a, b, lo, hi)
}

func vecBNBwdSumsClamp(x, dy []float32, mu, a, b, lo, hi float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		var out [2]float32
		coef := [8]float32{mu, a, b, lo, hi}
		bnBwdSumsClampAVX(&x[0], &dy[0], v, &coef, &out)
		sdy, sdyx = out[0], out[1]
		x, dy = x[v:], dy[v:]
	}
	s, sx := bnBwdSumsClampGo(x, dy, mu, a, b, lo, hi)
	return sdy + s, sdyx + sx
}

func vecBNBwdApplyClamp(x, dy, dx []float32, mu, a, bx, c, b, lo, hi float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	if v := len(x) &^ 7; v > 0 && useVecAsm() {
		coef := [8]float32{mu, a, bx, c, b, lo, hi}
		bnBwdApplyClampAVX(&x[0], &dy[0], &dx[0], v, &coef)
		x, dy, dx = x[v:], dy[v:], dx[v:]
	}
	bnBwdApplyClampGo(x, dy, dx, mu, a, bx, c, b, lo, hi)
}

//go:noescape
func gatherAVX(base *float32, idx *int32, dst *float32, n int)

// vecGather sets dst[i] = src[idx[i]] for i < len(idx). Every index must
// be in [0, len(src)) (the table builders guarantee it; the Go tail checks).
func vecGather(src []float32, idx []int32, dst []float32) {
	dst = dst[:len(idx)]
	if v := len(idx) &^ 7; v > 0 && useVecAsm() {
		gatherAVX(&src[0], &idx[0], &dst[0], v)
		idx, dst = idx[v:], dst[v:]
	}
	gatherGo(src, idx, dst)
}

//go:noescape
func max9AVX(taps *[9]*float32, n int, y *float32, at *int32, idx *[18]int32)

// max9 sets y[i] to the first maximum of taps[0][i], ..., taps[8][i] in
// that order (a later tap replaces it only when greater, so a NaN first
// tap stays and later NaNs are skipped) and at[i] to b + i*sw + offs[t]
// for its tap t (a window's plane index), for i < len(y); every tap must
// be at least len(y) long.
func max9(taps *[9][]float32, y []float32, at []int32, b, sw int32, offs *[9]int32) {
	n := len(y)
	at = at[:n]
	if n < 8 || !useVecAsm() {
		max9Go(taps, y, at, b, sw, offs, 0)
		return
	}
	// The multiples of 8, then the last 8 outputs again (each output
	// depends on its own lane only, so the overlap rewrites equal values).
	for _, from := range [2]int{0, n - 8} {
		cnt := n &^ 7
		if from > 0 {
			if n%8 == 0 {
				break
			}
			cnt = 8
		}
		var p [9]*float32
		for t := range p {
			p[t] = &taps[t][:n][from]
		}
		var idx [18]int32
		copy(idx[:8], offs[1:])
		for l := range 8 {
			idx[8+l] = b + offs[0] + int32(from+l)*sw
		}
		idx[16] = 8 * sw
		max9AVX(&p, cnt, &y[from], &at[from], &idx)
	}
}

// sum64 returns the float64 sum of v in sum64Go's order, 16 elements at
// a time in assembly.
func sum64(v []float32) float64 {
	n := len(v) &^ 15
	if n == 0 || !useVecAsm() {
		return sum64Go(v)
	}
	s := sum64AVX(&v[0], n)
	for _, x := range v[n:] {
		s += float64(x)
	}
	return s
}
