package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBiasClampPaths checks BiasClamp on both paths against the formula,
// lengths around the vector step, NaN kept.
func TestBiasClampPaths(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, n := range []int{0, 1, 7, 8, 9, 16, 37} {
			v := make([]float32, n)
			want := make([]float64, n)
			for i := range v {
				v[i] = float32(i%11)*1.5 - 7
				want[i] = math.Min(math.Max(float64(v[i])+0.25, 0), 6)
			}
			if n > 3 {
				v[3] = float32(math.NaN())
			}
			BiasClamp(v, 0.25, 0, 6)
			for i, x := range v {
				if n > 3 && i == 3 {
					if !math.IsNaN(float64(x)) {
						t.Fatalf("asm=%v n=%d: NaN became %g", asm, n, x)
					}
					continue
				}
				if float64(x) != want[i] {
					t.Fatalf("asm=%v n=%d: v[%d] = %g, want %g", asm, n, i, x, want[i])
				}
			}
		}
	}
}

// TestBiasAddClampPaths checks BiasAddClamp on both paths against the
// float32 sums in its order ((v+b)+r, then the clamp), with ReLU, ReLU6
// and no activation bounds, and that a NaN (in v or r) stays NaN.
func TestBiasAddClampPaths(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	inf := float32(math.Inf(1))
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, bounds := range [][2]float32{{0, inf}, {0, 6}, {-inf, inf}} {
			for _, n := range []int{0, 1, 7, 8, 9, 16, 37} {
				v, r := make([]float32, n), make([]float32, n)
				want := make([]float32, n)
				for i := range v {
					v[i] = float32(i%11)*1.5 - 7.3
					r[i] = float32(i%5)*0.7 - 1.1
					want[i] = min(max((v[i]+0.25)+r[i], bounds[0]), bounds[1])
				}
				if n > 5 {
					v[3], r[5] = float32(math.NaN()), float32(math.NaN())
				}
				BiasAddClamp(v, r, 0.25, bounds[0], bounds[1])
				for i, x := range v {
					if n > 5 && (i == 3 || i == 5) {
						if !math.IsNaN(float64(x)) {
							t.Fatalf("asm=%v n=%d: NaN became %g", asm, n, x)
						}
						continue
					}
					if x != want[i] {
						t.Fatalf("asm=%v n=%d bounds %v: v[%d] = %g, want %g", asm, n, bounds, i, x, want[i])
					}
				}
			}
		}
	}
}

// TestHardSwishPaths checks HardSwish's assembly against its Go
// expression bitwise on values around the kinks (-3, 3), zeros, large
// magnitudes, infinities and NaN, in place and not.
func TestHardSwishPaths(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	r := rand.New(rand.NewPCG(31, 32))
	x := []float32{-3, 3, -2.9999998, 3.0000002, 0, float32(math.Copysign(0, -1)), -1e30, 1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1.5, -0.5}
	for len(x) < 203 {
		x = append(x, float32(r.NormFloat64()*4))
	}
	want := make([]float32, len(x))
	for i, v := range x {
		want[i] = v * min(max(v+3, 0), 6) / 6
	}
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		y := make([]float32, len(x))
		HardSwish(x, y)
		in := append([]float32(nil), x...)
		HardSwish(in, in)
		for i := range x {
			for _, got := range []float32{y[i], in[i]} {
				if math.Float32bits(got) != math.Float32bits(want[i]) && !(got != got && want[i] != want[i]) {
					t.Fatalf("asm=%v: HardSwish(%g) = %g, want %g", asm, x[i], got, want[i])
				}
			}
		}
	}
}
