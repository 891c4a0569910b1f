package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecHelpers checks axpy and addTo against scalar loops for lengths
// around the 8-wide vector body, on both paths, and that elements past
// len(x) are untouched.
func TestVecHelpers(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 67} {
			t.Run(fmt.Sprintf("%s/n%d", path.name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 17))
				x, y := randSlice(r, n), randSlice(r, n+3)
				ya, yb := append([]float32(nil), y...), append([]float32(nil), y...)
				withAsm(path.asm, func() {
					axpy(-1.5, x, ya)
					addTo(x, yb)
				})
				for i := range y {
					wantA, wantB := y[i], y[i]
					if i < n {
						wantA = float32(float64(y[i]) - 1.5*float64(x[i]))
						wantB = y[i] + x[i]
					}
					if math.Abs(float64(ya[i]-wantA)) > 1e-6 {
						t.Fatalf("axpy y[%d] = %v, want %v", i, ya[i], wantA)
					}
					if yb[i] != wantB {
						t.Fatalf("addTo y[%d] = %v, want %v", i, yb[i], wantB)
					}
				}
			})
		}
	}
}
