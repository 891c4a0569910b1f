package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIm2colLDMatchesRef checks the strided lowering and its adjoint
// against Im2colRef / Col2imRef for geometries on both paths
// (same-width block copies and the general per-row one), with a row stride
// wider than one image's columns and a neighbouring image's columns that
// must stay untouched.
func TestIm2colLDMatchesRef(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    ConvShape
	}{
		{"3x3 pad1 same width", ConvShape{C: 2, H: 5, W: 4, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 1, PadL: 1, DH: 1, DW: 1}},
		{"3x3 dilation2 pad2", ConvShape{C: 2, H: 6, W: 5, KH: 3, KW: 3, SH: 1, SW: 1, PadT: 2, PadL: 2, DH: 2, DW: 2}},
		{"3x3 stride2 pad1", ConvShape{C: 3, H: 7, W: 6, KH: 3, KW: 3, SH: 2, SW: 2, PadT: 1, PadL: 1, DH: 1, DW: 1}},
		{"2x3 asym stride", ConvShape{C: 2, H: 7, W: 8, KH: 2, KW: 3, SH: 2, SW: 3, PadT: 1, PadL: 2, DH: 2, DW: 1}},
		{"5x5 pad1 narrower", ConvShape{C: 1, H: 7, W: 6, KH: 5, KW: 5, SH: 1, SW: 1, PadT: 1, PadL: 1, DH: 1, DW: 1}},
		{"1x1 stride2", ConvShape{C: 4, H: 5, W: 6, KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			s.OH = (s.H+2*s.PadT-(s.KH-1)*s.DH-1)/s.SH + 1
			s.OW = (s.W+2*s.PadL-(s.KW-1)*s.DW-1)/s.SW + 1
			rows, ohw := s.ColRows(), s.ColCols()
			ld := 2*ohw + 3
			x := randSlice(rand.New(rand.NewPCG(1, 0)), s.C*s.H*s.W)
			want := make([]float32, rows*ohw)
			Im2colRef(x, s, want)
			col := randSlice(rand.New(rand.NewPCG(2, 0)), rows*ld)
			before := append([]float32(nil), col...)
			Im2colLD(x, s, col[ohw:], ld) // the second image of a chunk
			for r := range rows {
				for p := range ld {
					got := col[r*ld+p]
					switch {
					case p >= ohw && p < 2*ohw:
						if w := want[r*ohw+p-ohw]; got != w {
							t.Fatalf("row %d col %d: %g, want %g", r, p-ohw, got, w)
						}
					case got != before[r*ld+p]:
						t.Fatalf("row %d position %d outside the image's columns was written", r, p)
					}
				}
			}
			// Adjoint: col2imLD of a random column matrix equals Col2imRef.
			dcol := randSlice(rand.New(rand.NewPCG(3, 0)), rows*ld)
			packed := make([]float32, rows*ohw)
			for r := range rows {
				copy(packed[r*ohw:(r+1)*ohw], dcol[r*ld+ohw:r*ld+2*ohw])
			}
			wantDx := randSlice(rand.New(rand.NewPCG(4, 0)), s.C*s.H*s.W)
			gotDx := append([]float32(nil), wantDx...)
			Col2imRef(packed, s, wantDx)
			Col2imLD(dcol[ohw:], ld, s, gotDx)
			for i, w := range wantDx {
				if d := math.Abs(float64(gotDx[i] - w)); d > 1e-6*(1+math.Abs(float64(w))) || math.IsNaN(d) {
					t.Fatalf("dx element %d: got %.7g, want %.7g", i, gotDx[i], w)
				}
			}
		})
	}
}

// TestIm2colRowsMatchesWhole lowers stripes of output rows with
// Im2colRowsLD and checks each against the same rows of the whole
// matrix (Im2colRef), on strides 1-2, pads 0-3, 1x1 to 7x7 kernels,
// leaving the columns past each stripe untouched.
func TestIm2colRowsMatchesWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := range 60 {
		k := []int{1, 3, 5, 7}[r.IntN(4)]
		s := ConvShape{C: 1 + r.IntN(3), H: 5 + r.IntN(12), W: 5 + r.IntN(12), KH: k, KW: k,
			SH: 1 + r.IntN(2), SW: 1 + r.IntN(2), PadT: r.IntN(4), PadL: r.IntN(4), DH: 1, DW: 1}
		s.OH = (s.H+2*s.PadT-k)/s.SH + 1
		s.OW = (s.W+2*s.PadL-k)/s.SW + 1
		if s.OH < 1 || s.OW < 1 {
			continue
		}
		x := randSlice(r, s.C*s.H*s.W)
		rows := s.ColRows()
		whole := make([]float32, rows*s.OH*s.OW)
		Im2colRef(x, s, whole)
		for oy0 := 0; oy0 < s.OH; oy0 += 1 + r.IntN(3) {
			oy1 := min(s.OH, oy0+1+r.IntN(4))
			n := (oy1 - oy0) * s.OW
			ld := n + 3
			col := make([]float32, rows*ld)
			for i := range col {
				col[i] = -7
			}
			Im2colRowsLD(x, s, col, ld, oy0, oy1)
			for rr := range rows {
				for j := range ld {
					got := col[rr*ld+j]
					want := float32(-7)
					if j < n {
						want = whole[rr*s.OH*s.OW+oy0*s.OW+j]
					}
					if got != want {
						t.Fatalf("trial %d %+v rows [%d,%d): col[%d][%d] = %g, want %g", trial, s, oy0, oy1, rr, j, got, want)
					}
				}
			}
		}
	}
}
