package engine

// Element-wise loops of the activation and BatchNormalization kernels.
// vec_amd64.go runs their bulk with AVX2/FMA assembly (vec_amd64.s); the Go
// versions below are the portable forms and handle the tails (fewer than 8
// elements). The sums accumulate in float32 within one call, in a fixed
// lane order, so results are deterministic; callers keep calls to one
// (image, channel) plane and add the partial sums in float64.

// reluGo sets y[i] = x[i] where x[i] > 0 and 0 elsewhere (NaN gives 0).
func reluGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = 0
		}
	}
}

// reluBwdGo sets dx[i] = dy[i] where x[i] > 0 and 0 elsewhere.
func reluBwdGo(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// addReluBwdGo sets d[i] = x[i] > 0 ? a[i]+b[i] : 0: a gradient's last
// two contributions summed and masked by the ReLU output x in one pass,
// bitwise reluBwdGo(x, a+b, d).
func addReluBwdGo(x, a, b, d []float32) {
	a, b, d = a[:len(x)], b[:len(x)], d[:len(x)]
	for i, v := range x {
		s := a[i] + b[i]
		if !(v > 0) {
			s = 0
		}
		d[i] = s
	}
}

// sumsGo returns sum(x[i]-shift) and sum((x[i]-shift)^2).
func sumsGo(x []float32, shift float32) (s, ss float32) {
	for _, v := range x {
		d := v - shift
		s += d
		ss += d * d
	}
	return s, ss
}

// affineGo sets y[i] = (x[i]-mu)*a + b, then max(., 0) when relu (NaN
// gives 0).
func affineGo(x, y []float32, mu, a, b float32, relu bool) {
	y = y[:len(x)]
	for i, v := range x {
		r := affine1(v, mu, a, b)
		if relu && !(r > 0) {
			r = 0
		}
		y[i] = r
	}
}

// affine1 is one element of affineGo; the fused BN+ReLU backward loops
// recompute the forward's ReLU mask with it, so both must round alike.
func affine1(v, mu, a, b float32) float32 { return (v-mu)*a + b }

// bnBwdSumsReluGo is bnBwdSumsGo of g[i] = affine1(x[i], mu, a, b) > 0 ?
// dy[i] : 0, the output gradient masked by a fused ReLU.
func bnBwdSumsReluGo(x, dy []float32, mu, a, b float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	for i, v := range x {
		g := float32(0)
		if affine1(v, mu, a, b) > 0 {
			g = dy[i]
		}
		sdy += g
		sdyx += g * (v - mu)
	}
	return sdy, sdyx
}

// bnBwdApplyReluGo is bnBwdApplyGo(x, g, dx, mu, a, bx, c) with g masked
// as in bnBwdSumsReluGo (the forward's affine coefficients are a and b).
func bnBwdApplyReluGo(x, dy, dx []float32, mu, a, bx, c, b float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		g := float32(0)
		if affine1(v, mu, a, b) > 0 {
			g = dy[i]
		}
		dx[i] = a*g + bx*(v-mu) + c
	}
}

// affineClampGo sets y[i] = min(max(affine1(x[i], mu, a, b), lo), hi):
// BN's normalisation fused with the Clip (ReLU6) after it. A NaN stays
// NaN, as in the Clip kernel.
func affineClampGo(x, y []float32, mu, a, b, lo, hi float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = min(max(affine1(v, mu, a, b), lo), hi)
	}
}

// clampPass reports whether a fused Clip passes the gradient at its input
// z: lo <= z <= hi, the Clip kernel's rule.
func clampPass(z, lo, hi float32) bool { return z >= lo && z <= hi }

// bnBwdSumsClampGo is bnBwdSumsGo of g[i] = dy[i] where the fused Clip
// passes affine1(x[i], mu, a, b), else 0.
func bnBwdSumsClampGo(x, dy []float32, mu, a, b, lo, hi float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	for i, v := range x {
		g := float32(0)
		if clampPass(affine1(v, mu, a, b), lo, hi) {
			g = dy[i]
		}
		sdy += g
		sdyx += g * (v - mu)
	}
	return sdy, sdyx
}

// bnBwdApplyClampGo is bnBwdApplyGo(x, g, dx, mu, a, bx, c) with g masked
// as in bnBwdSumsClampGo.
func bnBwdApplyClampGo(x, dy, dx []float32, mu, a, bx, c, b, lo, hi float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		g := float32(0)
		if clampPass(affine1(v, mu, a, b), lo, hi) {
			g = dy[i]
		}
		dx[i] = a*g + bx*(v-mu) + c
	}
}

// bnBwdSumsGo returns sum(dy[i]) and sum(dy[i]*(x[i]-mu)).
func bnBwdSumsGo(x, dy []float32, mu float32) (sdy, sdyx float32) {
	dy = dy[:len(x)]
	for i, v := range x {
		sdy += dy[i]
		sdyx += dy[i] * (v - mu)
	}
	return sdy, sdyx
}

// bnBwdApplyGo sets dx[i] = a*dy[i] + b*(x[i]-mu) + c.
func bnBwdApplyGo(x, dy, dx []float32, mu, a, b, c float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		dx[i] = a*dy[i] + b*(v-mu) + c
	}
}

// gatherGo sets dst[i] = src[idx[i]].
func gatherGo(src []float32, idx []int32, dst []float32) {
	dst = dst[:len(idx)]
	for i, ix := range idx {
		dst[i] = src[ix]
	}
}

// max9Go is max9's portable body for i in [from, len(y)).
func max9Go(taps *[9][]float32, y []float32, at []int32, b, sw int32, offs *[9]int32, from int) {
	for i := from; i < len(y); i++ {
		best, t := taps[0][i], 0
		for k := 1; k < 9; k++ {
			if v := taps[k][i]; v > best {
				best, t = v, k
			}
		}
		y[i], at[i] = best, b+int32(i)*sw+offs[t]
	}
}
