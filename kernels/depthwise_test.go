package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// dwRefForward is the per-element definition of DepthwiseConv2D.
func dwRefForward(x []float32, s ConvShape, w, bias, y []float32) {
	for c := range s.C {
		for oy := range s.OH {
			for ox := range s.OW {
				var acc float64
				if bias != nil {
					acc = float64(bias[c])
				}
				for i := range s.KH {
					for j := range s.KW {
						iy, ix := oy*s.SH-s.PadT+i*s.DH, ox*s.SW-s.PadL+j*s.DW
						if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
							acc += float64(w[(c*s.KH+i)*s.KW+j]) * float64(x[(c*s.H+iy)*s.W+ix])
						}
					}
				}
				y[(c*s.OH+oy)*s.OW+ox] = float32(acc)
			}
		}
	}
}

// dwRefBackward is the per-element definition of the depthwise gradients
// (accumulating, like DepthwiseConv2DBackward).
func dwRefBackward(x []float32, s ConvShape, w, dy, dx, dw, dbias []float32) {
	for c := range s.C {
		for oy := range s.OH {
			for ox := range s.OW {
				g := dy[(c*s.OH+oy)*s.OW+ox]
				dbias[c] += g
				for i := range s.KH {
					for j := range s.KW {
						iy, ix := oy*s.SH-s.PadT+i*s.DH, ox*s.SW-s.PadL+j*s.DW
						if iy >= 0 && iy < s.H && ix >= 0 && ix < s.W {
							dx[(c*s.H+iy)*s.W+ix] += w[(c*s.KH+i)*s.KW+j] * g
							dw[(c*s.KH+i)*s.KW+j] += x[(c*s.H+iy)*s.W+ix] * g
						}
					}
				}
			}
		}
	}
}

func closeSlices(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestDepthwiseMatchesRef checks forward and backward against the
// per-element definitions over the im2col geometry table.
func TestDepthwiseMatchesRef(t *testing.T) {
	for gi, g := range im2colGeoms() {
		t.Run(g.name, func(t *testing.T) {
			s := g.s
			r := rand.New(rand.NewPCG(uint64(gi), 11))
			x := randSlice(r, s.C*s.H*s.W)
			w := randSlice(r, s.C*s.KH*s.KW)
			bias := randSlice(r, s.C)
			y := make([]float32, s.C*s.OH*s.OW)
			for i := range y {
				y[i] = float32(math.NaN())
			}
			want := make([]float32, len(y))
			if err := DepthwiseConv2D(x, s, w, bias, y); err != nil {
				t.Fatal(err)
			}
			dwRefForward(x, s, w, bias, want)
			closeSlices(t, "y", y, want, 1e-5)

			dy := randSlice(r, len(y))
			dx, dw, db := randSlice(r, len(x)), randSlice(r, len(w)), randSlice(r, len(bias))
			rdx, rdw, rdb := append([]float32(nil), dx...), append([]float32(nil), dw...), append([]float32(nil), db...)
			dxOnly, dwOnly := append([]float32(nil), dx...), append([]float32(nil), dw...)
			if err := DepthwiseConv2DBackward(x, s, w, dy, dx, dw, db); err != nil {
				t.Fatal(err)
			}
			dwRefBackward(x, s, w, dy, rdx, rdw, rdb)
			closeSlices(t, "dx", dx, rdx, 1e-5)
			closeSlices(t, "dw", dw, rdw, 1e-4)
			closeSlices(t, "dbias", db, rdb, 1e-4)

			// Requesting one gradient alone must give the same values.
			if err := DepthwiseConv2DBackward(nil, s, w, dy, dxOnly, nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := DepthwiseConv2DBackward(x, s, nil, dy, nil, dwOnly, nil); err != nil {
				t.Fatal(err)
			}
			for i := range dx {
				if dxOnly[i] != dx[i] {
					t.Fatalf("dx-only dx[%d] = %v, full call gave %v", i, dxOnly[i], dx[i])
				}
			}
			for i := range dw {
				if dwOnly[i] != dw[i] {
					t.Fatalf("dw-only dw[%d] = %v, full call gave %v", i, dwOnly[i], dw[i])
				}
			}
			if err := DepthwiseConv2D(x, s, w, nil, y); err != nil {
				t.Fatal(err)
			}
			dwRefForward(x, s, w, nil, want)
			closeSlices(t, "y_nobias", y, want, 1e-5)
		})
	}
}

// TestDepthwiseErrors checks inconsistent lengths and geometry are errors
// naming the operand.
func TestDepthwiseErrors(t *testing.T) {
	s := convGeom(2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
	x, w, y := make([]float32, 32), make([]float32, 18), make([]float32, 32)
	bad := s
	bad.SH = 0
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"short_x", "x has 31", DepthwiseConv2D(x[:31], s, w, nil, y)},
		{"short_w", "w has 17", DepthwiseConv2D(x, s, w[:17], nil, y)},
		{"bad_bias", "bias has 3", DepthwiseConv2D(x, s, w, make([]float32, 3), y)},
		{"long_y", "y has 33", DepthwiseConv2D(x, s, w, nil, make([]float32, 33))},
		{"zero_stride", "invalid geometry", DepthwiseConv2D(x, bad, w, nil, y)},
		{"bwd_short_dy", "dy has 5", DepthwiseConv2DBackward(x, s, w, y[:5], nil, nil, nil)},
		{"bwd_dw_needs_x", "x has 0", DepthwiseConv2DBackward(nil, s, w, y, nil, make([]float32, 18), nil)},
		{"bwd_dx_needs_w", "w has 0", DepthwiseConv2DBackward(x, s, nil, y, make([]float32, 32), nil, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
}
