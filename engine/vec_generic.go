//go:build !amd64 || purego

package engine

func vecRelu(x, y []float32)                                { reluGo(x, y[:len(x)]) }
func vecReluBwd(x, dy, dx []float32)                        { reluBwdGo(x, dy[:len(x)], dx[:len(x)]) }
func vecAddReluBwd(x, a, b, d []float32)                    { addReluBwdGo(x, a, b, d) }
func vecSums(x []float32, shift float32) (s, ss float32)    { return sumsGo(x, shift) }
func vecAffine(x, y []float32, mu, a, b float32, relu bool) { affineGo(x, y[:len(x)], mu, a, b, relu) }
func vecBNBwdSums(x, dy []float32, mu float32) (sdy, sdyx float32) {
	return bnBwdSumsGo(x, dy[:len(x)], mu)
}
func vecBNBwdApply(x, dy, dx []float32, mu, a, b, c float32) {
	bnBwdApplyGo(x, dy[:len(x)], dx[:len(x)], mu, a, b, c)
}

func vecBNBwdSumsRelu(x, dy []float32, mu, a, b float32) (sdy, sdyx float32) {
	return bnBwdSumsReluGo(x, dy[:len(x)], mu, a, b)
}
func vecBNBwdApplyRelu(x, dy, dx []float32, mu, a, bx, c, b float32) {
	bnBwdApplyReluGo(x, dy[:len(x)], dx[:len(x)], mu, a, bx, c, b)
}

func vecAffineClamp(x, y []float32, mu, a, b, lo, hi float32) {
	affineClampGo(x, y[:len(x)], mu, a, b, lo, hi)
}
func vecBNBwdSumsClamp(x, dy []float32, mu, a, b, lo, hi float32) (sdy, sdyx float32) {
	return bnBwdSumsClampGo(x, dy[:len(x)], mu, a, b, lo, hi)
}
func vecBNBwdApplyClamp(x, dy, dx []float32, mu, a, bx, c, b, lo, hi float32) {
	bnBwdApplyClampGo(x, dy[:len(x)], dx[:len(x)], mu, a, bx, c, b, lo, hi)
}

func vecGather(src []float32, idx []int32, dst []float32) { gatherGo(src, idx, dst[:len(idx)]) }

// max9 sets y[i] to the first maximum of taps[0][i], ..., taps[8][i] in
// that order and at[i] to b + i*sw + offs[t] for its tap t, for i < len(y).
func max9(taps *[9][]float32, y []float32, at []int32, b, sw int32, offs *[9]int32) {
	max9Go(taps, y, at[:len(y)], b, sw, offs, 0)
}

func sum64(v []float32) float64 { return sum64Go(v) }
