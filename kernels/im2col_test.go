package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// convGeom builds a ConvShape from input size, kernel, stride, pads
// (top, left, bottom, right) and dilation, computing OH/OW the ONNX way.
func convGeom(c, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw int) ConvShape {
	return ConvShape{C: c, H: h, W: w, KH: kh, KW: kw, SH: sh, SW: sw, PadT: pt, PadL: pl, DH: dh, DW: dw,
		OH: (h+pt+pb-dh*(kh-1)-1)/sh + 1, OW: (w+pl+pr-dw*(kw-1)-1)/sw + 1}
}

func im2colGeoms() []struct {
	name string
	s    ConvShape
} {
	return []struct {
		name string
		s    ConvShape
	}{
		{"k1_s1_p0", convGeom(3, 5, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1)},
		{"k1_s2_p0_odd", convGeom(2, 7, 9, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1)},
		{"k3_s1_p1", convGeom(4, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
		{"k3_s1_p1_odd", convGeom(3, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
		{"k3_s2_p1", convGeom(2, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)},
		{"k3_s2_p1_even", convGeom(2, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)},
		{"k3_s1_p2_d2", convGeom(2, 9, 7, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2)},
		{"k3_s2_p0_d2", convGeom(1, 11, 12, 3, 3, 2, 2, 0, 0, 0, 0, 2, 2)},
		{"k5_s1_p2", convGeom(2, 6, 9, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1)},
		{"k5_s2_p2", convGeom(3, 13, 10, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1)},
		{"k5_s1_p0", convGeom(1, 5, 5, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1)},
		{"asym_pads", convGeom(2, 6, 7, 3, 2, 1, 2, 0, 2, 2, 1, 1, 1)},
		{"pad_larger_than_kernel", convGeom(1, 3, 4, 3, 3, 1, 1, 4, 5, 4, 5, 1, 1)},
		{"rect_kernel_stride3", convGeom(2, 10, 13, 2, 4, 3, 3, 1, 0, 1, 2, 1, 1)},
		{"tiny_1x1_image", convGeom(3, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
		{"dilation_mixed", convGeom(2, 12, 9, 3, 2, 2, 1, 3, 1, 3, 1, 3, 2)},
		{"same_width_asym_pads", convGeom(2, 5, 6, 3, 3, 1, 1, 0, 2, 2, 0, 1, 1)},
		{"same_width_dilated_tall_pad", convGeom(1, 4, 7, 5, 3, 1, 1, 6, 2, 1, 2, 2, 2)},
	}
}

// TestIm2colMatchesRef checks the fast Im2col equals the per-element
// reference exactly, starting from NaN-filled output so every element
// must be written.
func TestIm2colMatchesRef(t *testing.T) {
	for gi, g := range im2colGeoms() {
		t.Run(g.name, func(t *testing.T) {
			s := g.s
			r := rand.New(rand.NewPCG(uint64(gi), 3))
			x := randSlice(r, s.C*s.H*s.W)
			got := make([]float32, s.ColRows()*s.ColCols())
			want := make([]float32, len(got))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			Im2col(x, s, got)
			Im2colRef(x, s, want)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("col[%d] = %v, want %v (shape %+v)", i, got[i], want[i], s)
				}
			}
		})
	}
}

// TestCol2imMatchesRef checks the fast Col2im accumulates exactly like the
// reference into a non-zero dx.
func TestCol2imMatchesRef(t *testing.T) {
	for gi, g := range im2colGeoms() {
		t.Run(g.name, func(t *testing.T) {
			s := g.s
			r := rand.New(rand.NewPCG(uint64(gi), 4))
			col := randSlice(r, s.ColRows()*s.ColCols())
			got := randSlice(r, s.C*s.H*s.W)
			want := append([]float32(nil), got...)
			Col2im(col, s, got)
			Col2imRef(col, s, want)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dx[%d] = %v, want %v (shape %+v)", i, got[i], want[i], s)
				}
			}
		})
	}
}

// TestCol2imIsAdjoint checks <Im2col(x), y> == <x, Col2im(y)> for random x
// and y, the property backward passes rely on.
func TestCol2imIsAdjoint(t *testing.T) {
	for gi, g := range im2colGeoms() {
		t.Run(g.name, func(t *testing.T) {
			s := g.s
			r := rand.New(rand.NewPCG(uint64(gi), 5))
			x := randSlice(r, s.C*s.H*s.W)
			y := randSlice(r, s.ColRows()*s.ColCols())
			col := make([]float32, len(y))
			Im2col(x, s, col)
			dx := make([]float32, len(x))
			Col2im(y, s, dx)
			var lhs, rhs, mag float64
			for i := range y {
				lhs += float64(col[i]) * float64(y[i])
				mag += math.Abs(float64(col[i]) * float64(y[i]))
			}
			for i := range x {
				rhs += float64(x[i]) * float64(dx[i])
			}
			if math.Abs(lhs-rhs) > 1e-5*(mag+1) {
				t.Fatalf("<Im2col(x), y> = %g but <x, Col2im(y)> = %g", lhs, rhs)
			}
		})
	}
}

// BenchmarkIm2col compares the fast and reference lowering on a
// resnet-style 3x3 pad-1 layer.
func BenchmarkIm2col(b *testing.B) {
	for _, g := range []struct {
		name string
		s    ConvShape
	}{
		{"16c_32x32_k3s1", convGeom(16, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)},
		{"32c_16x16_k3s2", convGeom(32, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)},
		{"16c_32x32_k3s2", convGeom(16, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)},
	} {
		s := g.s
		x := make([]float32, s.C*s.H*s.W)
		col := make([]float32, s.ColRows()*s.ColCols())
		for _, v := range []struct {
			name string
			f    func([]float32, ConvShape, []float32)
		}{{"fast", Im2col}, {"ref", Im2colRef}, {"col2im_fast", func(x []float32, s ConvShape, c []float32) { Col2im(c, s, x) }}, {"col2im_ref", func(x []float32, s ConvShape, c []float32) { Col2imRef(c, s, x) }}} {
			b.Run(fmt.Sprintf("%s/%s", g.name, v.name), func(b *testing.B) {
				for b.Loop() {
					v.f(x, s, col)
				}
			})
		}
	}
}
