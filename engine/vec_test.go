package engine

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// TestVecLoops compares the vectorised loops of vec.go (AVX2 on amd64)
// with naive float64 references over lengths that exercise the 16-wide
// body, the 8-wide tail and the Go tail.
func TestVecLoops(t *testing.T) {
	rng := tensor.NewRNG(7)
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 49, 196, 785} {
		x := make([]float32, n)
		dy := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())*3 + 1
			dy[i] = float32(rng.NormFloat64())
		}
		if n > 3 {
			x[1], x[2], x[3] = float32(math.NaN()), float32(math.Copysign(0, -1)), 0
		}
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(n + 1))
		}
		checkVecGather(t, n, x, idx)
		y, dx := checkVecRelu(t, n, x, dy)
		checkVecAdd(t, n, x, dy, y)
		checkVecAddReluBwd(t, n, x, dy, y)
		if n > 3 {
			x[1] = 0.5 // the sums below need finite input
		}
		checkSum64(t, n, x)
		checkVecBN(t, n, x, dy, y, dx)
		checkVecBNRelu(t, n, x, dy, y, dx)
		checkVecBNClamp(t, n, x, dy, dx)
	}
}

// The constants of the BN loops' checks.
const vecMu, vecA, vecB, vecC = 0.75, 1.5, -0.25, 0.125

func checkVecGather(t *testing.T, n int, x []float32, idx []int32) {
	t.Helper()
	src := append(append([]float32(nil), x...), 42)
	gathered := make([]float32, n)
	vecGather(src, idx, gathered)
	for i, ix := range idx {
		if math.Float32bits(gathered[i]) != math.Float32bits(src[ix]) {
			t.Errorf("n=%d: gather[%d] = %g, want src[%d] = %g", n, i, gathered[i], ix, src[ix])
		}
	}
}

// checkVecRelu checks ReLU forward and backward and returns the y and dx
// buffers it used.
func checkVecRelu(t *testing.T, n int, x, dy []float32) (y, dx []float32) {
	t.Helper()
	y = make([]float32, n)
	for i := range y {
		y[i] = 99 // must be overwritten
	}
	vecRelu(x, y)
	dx = make([]float32, n)
	for i := range dx {
		dx[i] = 99
	}
	vecReluBwd(x, dy, dx)
	for i, v := range x {
		want, wantD := float32(0), float32(0)
		if v > 0 {
			want, wantD = v, dy[i]
		}
		if y[i] != want || math.Signbit(float64(y[i])) || dx[i] != wantD {
			t.Errorf("n=%d i=%d x=%g: relu %g (want %g), relu backward %g (want %g)", n, i, v, y[i], want, dx[i], wantD)
		}
	}
	return y, dx
}

func checkVecAdd(t *testing.T, n int, x, dy, y []float32) {
	t.Helper()
	for _, relu := range []bool{false, true} {
		kernels.Add(x, dy, y, relu)
		for i, v := range x {
			want := v + dy[i]
			if relu && !(want > 0) {
				want = 0
			}
			if math.Float32bits(y[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(y[i]))) {
				t.Errorf("n=%d i=%d relu=%v: add %g + %g = %g, want %g", n, i, relu, v, dy[i], y[i], want)
			}
		}
	}
}

// checkVecAddReluBwd checks the masked sum of two gradients against
// reluBwdGo of their sum, bit for bit (mask x with NaN and both zeros).
func checkVecAddReluBwd(t *testing.T, n int, x, a, b []float32) {
	t.Helper()
	sum := make([]float32, n)
	for i := range sum {
		sum[i] = a[i] + b[i]
	}
	want := make([]float32, n)
	reluBwdGo(x, sum, want)
	d := make([]float32, n)
	for i := range d {
		d[i] = 99
	}
	vecAddReluBwd(x, a, b, d)
	for i := range d {
		if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
			t.Errorf("n=%d i=%d x=%g: masked sum %g + %g = %g, want %g", n, i, x[i], a[i], b[i], d[i], want[i])
		}
	}
}

func checkVecBN(t *testing.T, n int, x, dy, y, dx []float32) {
	t.Helper()
	const mu, a, b, c = vecMu, vecA, vecB, vecC
	var ws, wss, wsdy, wsdyx float64
	for i, v := range x {
		d := float64(v) - mu
		ws += d
		wss += d * d
		wsdy += float64(dy[i])
		wsdyx += float64(dy[i]) * d
	}
	s, ss := vecSums(x, mu)
	sdy, sdyx := vecBNBwdSums(x, dy, mu)
	close := func(got float32, want, scale float64) bool {
		return math.Abs(float64(got)-want) <= 1e-5*(scale+1)
	}
	if !close(s, ws, wss) || !close(ss, wss, wss) || !close(sdy, wsdy, wss) || !close(sdyx, wsdyx, wss) {
		t.Errorf("n=%d: sums %g %g %g %g, want %g %g %g %g", n, s, ss, sdy, sdyx, ws, wss, wsdy, wsdyx)
	}
	vecAffine(x, y, mu, a, b, false)
	vecBNBwdApply(x, dy, dx, mu, a, b, c)
	for i, v := range x {
		d := float64(v) - mu
		if wa := d*a + b; math.Abs(float64(y[i])-wa) > 1e-5*(math.Abs(wa)+1) {
			t.Errorf("n=%d i=%d: affine %g, want %g", n, i, y[i], wa)
		}
		if wb := a*float64(dy[i]) + b*d + c; math.Abs(float64(dx[i])-wb) > 1e-5*(math.Abs(wb)+1) {
			t.Errorf("n=%d i=%d: BN backward apply %g, want %g", n, i, dx[i], wb)
		}
	}
}

// checkVecBNRelu: the fused BN+ReLU loops against the unfused sequence.
func checkVecBNRelu(t *testing.T, n int, x, dy, y, dx []float32) {
	t.Helper()
	const mu, a, b, c = vecMu, vecA, vecB, vecC
	// The fused BN+ReLU backward loops must equal, bit for bit, the
	// unfused sequence: the forward's affine + ReLU, the ReLU backward
	// mask, then the plain BN backward loops.
	const beta = 0.3
	vecAffine(x, y, mu, a, beta, false)
	vecRelu(y, y)
	// The fused forward equals affine then ReLU bit for bit (x holds
	// a NaN and a -0 at n > 3; y was written whole just above).
	fy := make([]float32, n)
	if n > 3 {
		x[1] = float32(math.NaN())
	}
	for i := range fy {
		fy[i] = 99
	}
	vecAffine(x, fy, mu, a, beta, true)
	ny := make([]float32, n)
	vecAffine(x, ny, mu, a, beta, false)
	vecRelu(ny, ny)
	for i := range fy {
		if math.Float32bits(fy[i]) != math.Float32bits(ny[i]) {
			t.Errorf("n=%d i=%d x=%g: fused affine+ReLU %g, unfused %g", n, i, x[i], fy[i], ny[i])
		}
	}
	if n > 3 {
		x[1] = 0.5
	}
	g := make([]float32, n)
	vecReluBwd(y, dy, g)
	masked := 0
	for i := range g {
		if g[i] != dy[i] {
			masked++
		}
	}
	if n >= 16 && (masked == 0 || masked == n) {
		t.Fatalf("n=%d: %d of %d masked: the case does not exercise the mask", n, masked, n)
	}
	ws1, ws2 := vecBNBwdSums(x, g, mu)
	gs1, gs2 := vecBNBwdSumsRelu(x, dy, mu, a, beta)
	if math.Float32bits(gs1) != math.Float32bits(ws1) || math.Float32bits(gs2) != math.Float32bits(ws2) {
		t.Errorf("n=%d: fused sums %g %g, unfused %g %g", n, gs1, gs2, ws1, ws2)
	}
	want := make([]float32, n)
	vecBNBwdApply(x, g, want, mu, a, b, c)
	vecBNBwdApplyRelu(x, dy, dx, mu, a, b, c, beta)
	for i := range dx {
		if math.Float32bits(dx[i]) != math.Float32bits(want[i]) {
			t.Errorf("n=%d i=%d: fused apply %g, unfused %g", n, i, dx[i], want[i])
		}
	}
}

// checkVecBNClamp: the fused BN+Clip loops against the unfused sequence
// (the forward's affine, the Clip kernel's clamp and mask, the plain BN
// backward loops), bit for bit, and the forward against float64.
func checkVecBNClamp(t *testing.T, n int, x, dy, dx []float32) {
	t.Helper()
	const mu, a, b, c, beta, lo, hi = vecMu, vecA, vecB, vecC, 0.3, -0.5, 2
	if n > 3 {
		x[1] = float32(math.NaN())
	}
	pre := make([]float32, n)
	vecAffine(x, pre, mu, a, beta, false)
	fy := make([]float32, n)
	vecAffineClamp(x, fy, mu, a, beta, lo, hi)
	below, above := 0, 0
	for i, v := range pre {
		want := min(max(v, lo), hi)
		if math.Float32bits(fy[i]) != math.Float32bits(want) {
			t.Errorf("n=%d i=%d x=%g: fused affine+clamp %g, unfused %g", n, i, x[i], fy[i], want)
		}
		ref := math.Min(math.Max((float64(x[i])-mu)*a+beta, lo), hi)
		if math.IsNaN(ref) != math.IsNaN(float64(fy[i])) || math.Abs(float64(fy[i])-ref) > 1e-5*(math.Abs(ref)+1) {
			t.Errorf("n=%d i=%d x=%g: affine+clamp %g, want %g", n, i, x[i], fy[i], ref)
		}
		if v < lo {
			below++
		}
		if v > hi {
			above++
		}
	}
	if n >= 16 && (below == 0 || above == 0) {
		t.Fatalf("n=%d: %d below, %d above the bounds: the case does not exercise both", n, below, above)
	}
	if n > 3 {
		x[1] = 0.5
		vecAffine(x, pre, mu, a, beta, false)
	}
	g := make([]float32, n)
	for i, v := range pre {
		if clampPass(v, lo, hi) {
			g[i] = dy[i]
		}
	}
	ws1, ws2 := vecBNBwdSums(x, g, mu)
	gs1, gs2 := vecBNBwdSumsClamp(x, dy, mu, a, beta, lo, hi)
	if math.Float32bits(gs1) != math.Float32bits(ws1) || math.Float32bits(gs2) != math.Float32bits(ws2) {
		t.Errorf("n=%d: fused clamp sums %g %g, unfused %g %g", n, gs1, gs2, ws1, ws2)
	}
	want := make([]float32, n)
	vecBNBwdApply(x, g, want, mu, a, b, c)
	vecBNBwdApplyClamp(x, dy, dx, mu, a, b, c, beta, lo, hi)
	for i := range dx {
		if math.Float32bits(dx[i]) != math.Float32bits(want[i]) {
			t.Errorf("n=%d i=%d: fused clamp apply %g, unfused %g", n, i, dx[i], want[i])
		}
	}
}

// TestMax9AgreesWithGo checks max9 (the AVX2 body on the multiples of 8
// where available) against the scalar loop on every length to 40, with
// ties, signed zeros and NaNs in every tap: values bit for bit and plane
// indices.
func TestMax9AgreesWithGo(t *testing.T) {
	rng := tensor.NewRNG(31)
	for n := range 41 {
		var taps [9][]float32
		for k := range taps {
			taps[k] = make([]float32, n)
			for i := range taps[k] {
				switch v := rng.IntN(12); v {
				case 0:
					taps[k][i] = float32(math.NaN())
				case 1:
					taps[k][i] = float32(math.Copysign(0, -1))
				default:
					taps[k][i] = float32(v%4) - 1
				}
			}
		}
		y, want := make([]float32, n), make([]float32, n)
		at, wantAt := make([]int32, n), make([]int32, n)
		offs := [9]int32{0, 1, 2, 50, 51, 52, 100, 101, 102}
		b, sw := int32(rng.IntN(1000)), int32(1+rng.IntN(2))
		max9(&taps, y, at, b, sw, &offs)
		max9Go(&taps, want, wantAt, b, sw, &offs, 0)
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(want[i]) || at[i] != wantAt[i] {
				t.Fatalf("n %d, %d: %g at %d, want %g at %d", n, i, y[i], at[i], want[i], wantAt[i])
			}
		}
	}
}

// checkSum64 checks sum64 (the assembly where it runs) against sum64Go
// bit for bit, and both against a plain float64 sum.
func checkSum64(t *testing.T, n int, x []float32) {
	t.Helper()
	// Sums of floats of like size are exact in float64 in any order;
	// magnitudes 2^-40..2^40 apart make the order show in the bits.
	wide := make([]float32, n)
	for i, v := range x {
		wide[i] = float32(math.Ldexp(float64(v), (i*37)%81-40))
	}
	if got, ref := sum64(wide), sum64Go(wide); math.Float64bits(got) != math.Float64bits(ref) {
		t.Errorf("n=%d, wide magnitudes: sum64 %v, sum64Go %v", n, got, ref)
	}
	got, ref := sum64(x), sum64Go(x)
	if math.Float64bits(got) != math.Float64bits(ref) {
		t.Errorf("n=%d: sum64 %v, sum64Go %v", n, got, ref)
	}
	plain, mag := 0.0, 0.0
	for _, v := range x {
		plain += float64(v)
		mag += math.Abs(float64(v))
	}
	if math.Abs(got-plain) > 1e-12*(mag+1) {
		t.Errorf("n=%d: sum64 %v, plain sum %v", n, got, plain)
	}
}
