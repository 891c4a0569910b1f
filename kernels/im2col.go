package kernels

import "fmt"

// ConvShape is the geometry of a 2-D convolution (or pooling) over one image
// of C x H x W producing OH x OW outputs per channel.
type ConvShape struct {
	C, H, W    int
	KH, KW     int
	SH, SW     int
	PadT, PadL int
	DH, DW     int
	OH, OW     int
}

// ColRows returns the rows of the im2col matrix: C*KH*KW.
func (s ConvShape) ColRows() int { return s.C * s.KH * s.KW }

// ColCols returns the columns of the im2col matrix: OH*OW.
func (s ConvShape) ColCols() int { return s.OH * s.OW }

// validCols returns the output columns [lo, hi) whose input column
// ox*sw + off lies inside [0, w), clamped to [0, ow) (lo == hi when none).
func validCols(off, sw, w, ow int) (lo, hi int) {
	if off < 0 {
		lo = ceilDiv(-off, sw)
	}
	if w-off > 0 {
		hi = ceilDiv(w-off, sw)
	}
	lo, hi = min(lo, ow), min(hi, ow)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Im2col writes the im2col matrix of one image x[C,H,W] into col, which has
// ColRows() x ColCols() elements: row (c*KH+i)*KW+j, column oy*OW+ox holds
// x[c, oy*SH-PadT+i*DH, ox*SW-PadL+j*DW], or 0 outside the image. Every
// element of col is written. It panics if x or col is shorter than the
// shape implies (a programmer error).
//
// Each output row segment is filled with at most two zero runs and one
// contiguous copy (stride 1) or strided gather, computed once per kernel
// column instead of per element; the result equals Im2colRef exactly.
func Im2col(x []float32, s ConvShape, col []float32) { Im2colLD(x, s, col, s.OH*s.OW) }

// Im2colLD is Im2col into a matrix with row stride ld >= OH*OW: row r's
// columns are col[r*ld : r*ld+OH*OW], and the rest of each row is left
// alone. Several images' matrices side by side (ld = k*OH*OW, image j at
// col[j*OH*OW:]) make one wide GEMM for small feature maps.
func Im2colLD(x []float32, s ConvShape, col []float32, ld int) {
	Im2colRowsLD(x, s, col, ld, 0, s.OH)
}

// Im2colRowsLD is Im2colLD for output rows [oy0, oy1) only: row r of col
// holds their (oy1-oy0)*OW columns, output row oy at (oy-oy0)*OW; ld >=
// that. A large map's lowering in stripes of rows stays in cache.
func Im2colRowsLD(x []float32, s ConvShape, col []float32, ld, oy0, oy1 int) {
	if oy0 < 0 || oy1 > s.OH || oy0 > oy1 {
		panic(fmt.Sprintf("kernels.Im2colRowsLD: output rows [%d, %d) of %d", oy0, oy1, s.OH))
	}
	hw := (oy1 - oy0) * s.OW
	plane := s.H * s.W
	rows := s.C * s.KH * s.KW
	if rows*hw == 0 {
		return
	}
	_ = x[:s.C*plane]
	_ = col[(rows-1)*ld+hw-1]
	whole := oy0 == 0 && oy1 == s.OH
	for c := range s.C {
		xc := x[c*plane : (c+1)*plane]
		for i := range s.KH {
			for j := range s.KW {
				r := (c*s.KH+i)*s.KW + j
				row := col[r*ld : r*ld+hw]
				off := j*s.DW - s.PadL
				lo, hi := validCols(off, s.SW, s.W, s.OW)
				if whole && s.SH == 1 && s.SW == 1 && s.OW == s.W {
					im2colSameRow(xc, s, i, off, lo, hi, row)
					continue
				}
				for oy := oy0; oy < oy1; oy++ {
					dst := row[(oy-oy0)*s.OW : (oy-oy0+1)*s.OW]
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H || lo == hi {
						clear(dst)
						continue
					}
					// The zero runs are at most a few pad columns: plain
					// loops beat memclr calls here.
					for t := range lo {
						dst[t] = 0
					}
					for t := hi; t < len(dst); t++ {
						dst[t] = 0
					}
					src := xc[y*s.W : (y+1)*s.W]
					if s.SW == 1 {
						copy(dst[lo:hi], src[lo+off:hi+off])
						continue
					}
					if s.SW == 2 {
						// The rest of the plane is passed so the vector
						// gather may read whole blocks past the row end.
						gatherStride2(dst[lo:hi], xc[y*s.W+lo*2+off:])
						continue
					}
					p := lo*s.SW + off
					for ox := lo; ox < hi; ox++ {
						dst[ox] = src[p]
						p += s.SW
					}
				}
			}
		}
	}
}

// im2colSameRow fills one im2col row (kernel tap row i, column offset off,
// valid output columns [lo, hi)) when SH == SW == 1 and OW == W: then the
// valid output rows read consecutive image rows with the same stride, so
// the whole valid block is one contiguous copy, after which the columns
// outside [lo, hi) (which picked up neighbouring rows' values) are zeroed.
func im2colSameRow(xc []float32, s ConvShape, i, off, lo, hi int, row []float32) {
	w := s.W
	oyLo := max(0, s.PadT-i*s.DH)
	oyHi := min(s.OH, s.H+s.PadT-i*s.DH)
	if oyHi <= oyLo || lo == hi {
		clear(row)
		return
	}
	clear(row[:oyLo*w])
	clear(row[oyHi*w:])
	yLo := oyLo + i*s.DH - s.PadT
	n := (oyHi-1-oyLo)*w + hi - lo
	copy(row[oyLo*w+lo:oyLo*w+lo+n], xc[yLo*w+lo+off:yLo*w+lo+off+n])
	if lo == 0 && hi == w {
		return
	}
	for oy := oyLo; oy < oyHi; oy++ {
		r := row[oy*w : (oy+1)*w]
		for t := range lo {
			r[t] = 0
		}
		for t := hi; t < w; t++ {
			r[t] = 0
		}
	}
}

// Col2im is the adjoint of Im2col: it adds each element of col into the
// image position it was read from (positions in the padding are dropped).
// dx has C*H*W elements and is accumulated into, not overwritten. It panics
// if col or dx is shorter than the shape implies (a programmer error).
//
// It visits elements in the same order as Col2imRef, so the sums are
// bitwise identical; the bounds tests are hoisted out of the inner loop and
// stride-1 rows are added with vector instructions.
func Col2im(col []float32, s ConvShape, dx []float32) { Col2imLD(col, s.OH*s.OW, s, dx) }

// Col2imLD is Col2im from a matrix with row stride ld >= OH*OW (the
// adjoint of Im2colLD).
func Col2imLD(col []float32, ld int, s ConvShape, dx []float32) {
	hw := s.OH * s.OW
	plane := s.H * s.W
	rows := s.C * s.KH * s.KW
	if rows*hw == 0 {
		return
	}
	_ = dx[:s.C*plane]
	_ = col[(rows-1)*ld+hw-1]
	for c := range s.C {
		dc := dx[c*plane : (c+1)*plane]
		for i := range s.KH {
			for j := range s.KW {
				r := (c*s.KH+i)*s.KW + j
				row := col[r*ld : r*ld+hw]
				off := j*s.DW - s.PadL
				lo, hi := validCols(off, s.SW, s.W, s.OW)
				if lo == hi {
					continue
				}
				if s.SH == 1 && s.SW == 1 && s.OW == s.W {
					// Valid output rows map to consecutive image rows
					// with the same stride: one strided block add.
					oyLo := max(0, s.PadT-i*s.DH)
					oyHi := min(s.OH, s.H+s.PadT-i*s.DH)
					if oyHi > oyLo {
						yLo := oyLo + i*s.DH - s.PadT
						addRows(oyHi-oyLo, hi-lo, row[oyLo*s.W+lo:], dc[yLo*s.W+lo+off:], s.W)
					}
					continue
				}
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H {
						continue
					}
					src := row[oy*s.OW+lo : oy*s.OW+hi]
					drow := dc[y*s.W : (y+1)*s.W]
					if s.SW == 1 {
						addTo(src, drow[lo+off:hi+off])
						continue
					}
					p := lo*s.SW + off
					for _, v := range src {
						drow[p] += v
						p += s.SW
					}
				}
			}
		}
	}
}

// Im2colRef is the per-element reference for Im2col; tests compare the
// fast path against it.
func Im2colRef(x []float32, s ConvShape, col []float32) {
	for c := range s.C {
		for i := range s.KH {
			for j := range s.KW {
				row := col[((c*s.KH+i)*s.KW+j)*s.OH*s.OW:]
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					for ox := range s.OW {
						xx := ox*s.SW - s.PadL + j*s.DW
						v := float32(0)
						if y >= 0 && y < s.H && xx >= 0 && xx < s.W {
							v = x[(c*s.H+y)*s.W+xx]
						}
						row[oy*s.OW+ox] = v
					}
				}
			}
		}
	}
}

// Col2imRef is the per-element reference for Col2im.
func Col2imRef(col []float32, s ConvShape, dx []float32) {
	for c := range s.C {
		for i := range s.KH {
			for j := range s.KW {
				row := col[((c*s.KH+i)*s.KW+j)*s.OH*s.OW:]
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H {
						continue
					}
					for ox := range s.OW {
						xx := ox*s.SW - s.PadL + j*s.DW
						if xx >= 0 && xx < s.W {
							dx[(c*s.H+y)*s.W+xx] += row[oy*s.OW+ox]
						}
					}
				}
			}
		}
	}
}
