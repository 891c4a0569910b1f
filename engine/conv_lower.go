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

// balanceChunk returns a chunk size in [ceil(kb/2), kb] for n images on t
// workers: kb itself unless a smaller size spreads the images more evenly
// by more than 1% (chunks handed out in turn, the last one short). 128
// images in chunks of 24 on two workers are 72 against 56; in chunks of
// 16, 64 each. (The Winograd forward pass uses it: its 7x7 convs took
// 20% less time on two threads. For chunkImages' sizes it made the
// backward passes of 7x7 and 14x14 convs 2-5% slower: smaller chunks.)
func balanceChunk(n, kb, t int) int {
	busiest := func(kb int) int { // worker w takes chunks w, w+t, ...
		most := 0
		for w := range t {
			load := 0
			for c := w; c*kb < n; c += t {
				load += min(kb, n-c*kb)
			}
			most = max(most, load)
		}
		return most
	}
	best, bestLoad := kb, busiest(kb)
	for k := kb - 1; k >= (kb+1)/2; k-- {
		if l := busiest(k); float64(l) < 0.99*float64(bestLoad) {
			best, bestLoad = k, l
		}
	}
	return best
}

// sameWidth reports a stride-1 geometry whose output rows are as wide as
// the input rows: each kernel tap then reads one contiguous block of the
// image plane (the 3x3 pad-1 case).
func sameWidth(s kernels.ConvShape) bool { return s.SH == 1 && s.SW == 1 && s.OW == s.W }

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
// stride ld (see kernels.Im2colLD), gathering through the table.
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
