package kernels

import (
	"math"
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
