package engine

// Batch lowering for Conv: the im2col matrices of several images placed
// side by side, so one GEMM covers a chunk of images. For image j of a
// chunk of nb images, column block [j*OH*OW, (j+1)*OH*OW) of every row of
// the [C*KH*KW, nb*OH*OW] matrix holds that image's columns; the row stride
// is ld = nb*OH*OW. Small feature maps (7x7, 14x14) then give GEMMs a few
// hundred columns wide instead of 49 or 196, and the weight gradient one
// product over the chunk.

import (
	"sync/atomic"

	"github.com/slimgo/slimgo/kernels"
)

// lowerTargetCols is the GEMM width a chunk of images aims for: wide
// enough to fill the 24-column register tiles and amortise packing, small
// enough that a chunk's columns stay in L2.
const lowerTargetCols = 640

// chunkImages returns how many images of ohw output pixels go into one
// lowered GEMM: about lowerTargetCols/ohw, at least 1, and small enough to
// leave every one of t workers at least two chunks of an n-image batch.
func chunkImages(n, ohw, t int) int {
	kb := max(1, lowerTargetCols/max(ohw, 1))
	if per := (n + 2*t - 1) / (2 * t); kb > per {
		kb = max(1, per)
	}
	return kb
}

// validRange returns the output columns [lo, hi) whose input column
// ox*sw + off lies inside [0, w), clamped to [0, ow) (lo == hi when none).
func validRange(off, sw, w, ow int) (lo, hi int) {
	if off < 0 {
		lo = (-off + sw - 1) / sw
	}
	if w-off > 0 {
		hi = (w - off + sw - 1) / sw
	}
	lo, hi = min(lo, ow), min(hi, ow)
	return lo, max(lo, hi)
}

// im2colLD writes the im2col matrix of one image x[C,H,W] into col with row
// stride ld >= OH*OW: row (c*KH+i)*KW+j, column oy*OW+ox at col[row*ld +
// oy*OW + ox], equal to kernels.Im2col's matrix. Only the first OH*OW
// columns of each row are written.
func im2colLD(x []float32, s kernels.ConvShape, col []float32, ld int) {
	plane := s.H * s.W
	ohw := s.OH * s.OW
	for c := range s.C {
		xc := x[c*plane : (c+1)*plane]
		for i := range s.KH {
			for j := range s.KW {
				r := (c*s.KH+i)*s.KW + j
				row := col[r*ld : r*ld+ohw]
				off := j*s.DW - s.PadL
				lo, hi := validRange(off, s.SW, s.W, s.OW)
				if sameWidth(s) {
					im2colBlock(xc, s, i, off, lo, hi, row)
					continue
				}
				for oy := range s.OH {
					dst := row[oy*s.OW : (oy+1)*s.OW]
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H || lo == hi {
						clear(dst)
						continue
					}
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
					for t := lo; t < hi; t++ {
						dst[t] = src[t*s.SW+off]
					}
				}
			}
		}
	}
}

// sameWidth reports a stride-1 geometry whose output rows are as wide as
// the input rows: each kernel tap then reads one contiguous block of the
// image plane (the 3x3 pad-1 case).
func sameWidth(s kernels.ConvShape) bool { return s.SH == 1 && s.SW == 1 && s.OW == s.W }

// tapRows returns the output rows [oy0, oy1) whose input row oy-PadT+i*DH
// lies in the image (sameWidth geometries), and the row shift dy.
func tapRows(s kernels.ConvShape, i int) (oy0, oy1, dy int) {
	dy = i*s.DH - s.PadT
	oy0, oy1 = max(0, -dy), min(s.OH, s.H-dy)
	return oy0, max(oy0, oy1), dy
}

// im2colBlock writes one im2col row of a sameWidth geometry (tap row i,
// column offset off, valid output columns [lo, hi)): one block copy of the
// tap's rows, then zeros over the padding columns and rows.
func im2colBlock(xc []float32, s kernels.ConvShape, i, off, lo, hi int, row []float32) {
	w := s.W
	oy0, oy1, dy := tapRows(s, i)
	if oy0 == oy1 || lo == hi {
		clear(row)
		return
	}
	clear(row[:oy0*w])
	clear(row[oy1*w:])
	a, b := oy0*w+lo, (oy1-1)*w+hi
	copy(row[a:b], xc[a+dy*w+off:b+dy*w+off])
	for oy := oy0; oy < oy1; oy++ {
		r := row[oy*w : (oy+1)*w]
		for t := range lo {
			r[t] = 0
		}
		for t := hi; t < w; t++ {
			r[t] = 0
		}
	}
}

// col2imBlock adds one column-gradient row of a sameWidth geometry into the
// plane dx: the padding columns of row are zeroed (row is scratch), then
// the tap's block is added at once.
func col2imBlock(row []float32, s kernels.ConvShape, i, off, lo, hi int, dx []float32) {
	w := s.W
	oy0, oy1, dy := tapRows(s, i)
	if oy0 == oy1 {
		return
	}
	for oy := oy0; oy < oy1; oy++ {
		r := row[oy*w : (oy+1)*w]
		for t := range lo {
			r[t] = 0
		}
		for t := hi; t < w; t++ {
			r[t] = 0
		}
	}
	a, b := oy0*w+lo, (oy1-1)*w+hi
	kernels.AddTo(row[a:b], dx[a+dy*w+off:b+dy*w+off])
}

// col2imLD is the adjoint of im2colLD: it adds every column element read
// from col (row stride ld) into its input position of dx[C,H,W]; padding
// positions are dropped. dx is accumulated into.
func col2imLD(col []float32, ld int, s kernels.ConvShape, dx []float32) {
	plane := s.H * s.W
	ohw := s.OH * s.OW
	for c := range s.C {
		xc := dx[c*plane : (c+1)*plane]
		for i := range s.KH {
			for j := range s.KW {
				r := (c*s.KH+i)*s.KW + j
				row := col[r*ld : r*ld+ohw]
				off := j*s.DW - s.PadL
				lo, hi := validRange(off, s.SW, s.W, s.OW)
				if lo == hi {
					continue
				}
				if sameWidth(s) {
					col2imBlock(row, s, i, off, lo, hi, xc)
					continue
				}
				for oy := range s.OH {
					y := oy*s.SH - s.PadT + i*s.DH
					if y < 0 || y >= s.H {
						continue
					}
					src := row[oy*s.OW+lo : oy*s.OW+hi]
					dst := xc[y*s.W : (y+1)*s.W]
					if s.SW == 1 {
						dst = dst[lo+off : hi+off]
						for t, v := range src {
							dst[t] += v
						}
						continue
					}
					for t, v := range src {
						dst[(lo+t)*s.SW+off] += v
					}
				}
			}
		}
	}
}

// runChunks calls f(w, c) for every chunk c in [0, nchunks) on t workers
// (w in [0, t) names the worker, for its scratch buffers). Chunks are handed
// out dynamically, so a worker delayed by other load on the machine does
// not hold the rest back; callers make results independent of which worker
// ran a chunk (per-chunk outputs, combined in chunk order).
func runChunks(nchunks, t int, f func(w, c int)) {
	t = min(t, nchunks)
	if t <= 1 {
		for c := range nchunks {
			f(0, c)
		}
		return
	}
	var next atomic.Int64
	kernels.ParallelFor(t, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			for {
				c := int(next.Add(1) - 1)
				if c >= nchunks {
					break
				}
				f(w, c)
			}
		}
	})
}

// gatherMaxCols is the largest output plane (OH*OW) lowered through a
// gather table: on small maps the per-row bookkeeping of the block copies
// costs more than one table load per element.
const gatherMaxCols = 256

// gatherSameMaxCols is the largest stride-1 same-width output plane whose
// im2col still gathers: above it (14x14) the block copies are faster, and
// their col2im is faster from 7x7 up (measured on the resnet layers).
const gatherSameMaxCols = 64

// useGather reports whether a geometry's im2col uses a gather table.
func useGather(s kernels.ConvShape) bool {
	return s.OH*s.OW <= gatherMaxCols && (!sameWidth(s) || s.OH*s.OW <= gatherSameMaxCols)
}

// useScatter reports whether a geometry's col2im uses the gather table.
func useScatter(s kernels.ConvShape) bool { return s.OH*s.OW <= gatherMaxCols && !sameWidth(s) }

// gatherTable maps every (tap, output pixel) of a geometry to the offset
// of the input pixel it reads within one channel plane: idx[(i*KW+j)*OH*OW
// + oy*OW + ox]. Taps that fall in the padding read offset 0 and are listed
// in pad[tap], the output positions to zero after the gather (and to skip,
// by zeroing their gradient first, in the scatter).
type gatherTable struct {
	s   kernels.ConvShape
	idx []int32
	pad [][]int32
}

// newGatherTable builds the table of geometry s (channel count ignored).
func newGatherTable(s kernels.ConvShape) *gatherTable {
	ohw := s.OH * s.OW
	t := &gatherTable{s: s, idx: make([]int32, s.KH*s.KW*ohw), pad: make([][]int32, s.KH*s.KW)}
	for i := range s.KH {
		for j := range s.KW {
			tap := i*s.KW + j
			row := t.idx[tap*ohw : (tap+1)*ohw]
			for oy := range s.OH {
				y := oy*s.SH - s.PadT + i*s.DH
				for ox := range s.OW {
					x := ox*s.SW - s.PadL + j*s.DW
					p := oy*s.OW + ox
					if y >= 0 && y < s.H && x >= 0 && x < s.W {
						row[p] = int32(y*s.W + x)
					} else {
						t.pad[tap] = append(t.pad[tap], int32(p))
					}
				}
			}
		}
	}
	return t
}

// matches reports whether the table was built for geometry s.
func (t *gatherTable) matches(s kernels.ConvShape) bool {
	if t == nil {
		return false
	}
	a, b := t.s, s
	a.C, b.C = 0, 0
	return a == b
}

// im2col writes the im2col matrix of one image x[C,H,W] into col with row
// stride ld (see im2colLD), gathering through the table.
func (t *gatherTable) im2col(x []float32, s kernels.ConvShape, col []float32, ld int) {
	plane := s.H * s.W
	ohw := s.OH * s.OW
	taps := s.KH * s.KW
	for c := range s.C {
		xc := x[c*plane : (c+1)*plane]
		for tap := range taps {
			r := c*taps + tap
			row := col[r*ld : r*ld+ohw]
			vecGather(xc, t.idx[tap*ohw:(tap+1)*ohw], row)
			for _, p := range t.pad[tap] {
				row[p] = 0
			}
		}
	}
}

// col2im adds the column gradients col (row stride ld) of one image into
// dx[C,H,W] through the table (the adjoint of im2col). It zeroes the
// padding positions of col, which is scratch.
func (t *gatherTable) col2im(col []float32, ld int, s kernels.ConvShape, dx []float32) {
	plane := s.H * s.W
	ohw := s.OH * s.OW
	taps := s.KH * s.KW
	for c := range s.C {
		dxc := dx[c*plane : (c+1)*plane]
		for tap := range taps {
			idx := t.idx[tap*ohw : (tap+1)*ohw]
			r := c*taps + tap
			row := col[r*ld : r*ld+ohw]
			row = row[:len(idx)]
			for _, p := range t.pad[tap] {
				row[p] = 0
			}
			for p, ix := range idx {
				dxc[ix] += row[p]
			}
		}
	}
}
