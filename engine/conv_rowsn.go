package engine

// Convolutions of a fused (inference) Conv on one image's small maps
// through kernels.RowsN: the filters in vectors of 16 (blocks of 64, or
// 32 for at most 32 filters), each input value of a tile of six (nine)
// positions broadcast into four (two) fused multiply-adds, over the
// output pixels' window origins in the padded input only. On 7x7 and
// 14x14 maps the other lowerings lose a large share of their work to
// edges: the implicit GEMM computes the padded layout's gap columns (a
// quarter of them at 7x7), Winograd's 4x4 tiles round a 7x7 map up to
// 8x8 and add their transforms. One thread, kernels' BenchmarkRowsN:
// 64 filters at 7x7 25.5 us against the implicit GEMM's 47.9 (the engine
// took 42 for it through Winograd, ONNX Runtime 28), 512 at 7x7 1.82 ms
// against 3.09 (resnet18's layer4 convs: 2.9 ms in the engine, 2.0 in ONNX
// Runtime), 256 at 14x14 1.53 against 1.97.

import (
	"github.com/slimgo/slimgo/kernels"
)

// useRowsN reports whether a Forward call takes the RowsN lowering: a
// fused Conv of one group on a single image, neither depthwise nor 1x1,
// with at least rowsNMinFilters filters and at most rowsNMaxPlane output
// pixels (rowsNMaxPlaneStrided when strided). Each block of filters reads
// the whole input again; a 1x1 kernel does too little with it for that
// (resnet50's 1x1 stride-2 conv from 256x56x56 took 3.18 ms through
// RowsN, 1.78 through the gather lowering), while its 3x3 stride-2 conv
// from 128x56x56 took 1.90-2.00 ms through RowsN, 2.09-2.18 otherwise. Any
// stride, pad and dilation: the image is padded with its largest pads
// (implicitLayout) and each output's position is its window's origin
// there (padLayout.origins). A batch keeps the lowerings that share the
// filters across its images' products (resnet18 at batch 8, one thread:
// its 14x14 and 7x7 convs took 9.6 and 11.4 ms through Winograd, 11.8 and
// 12.3 through RowsN in chunks of 8 images).
func useRowsN(d convDims, fused bool) bool {
	if !rowsNOn || !fused || d.n != 1 || !kernels.RowsNFits() || d.g.Group != 1 || d.depthwise ||
		d.s.KH*d.s.KW == 1 || d.m < rowsNMinFilters {
		return false
	}
	if d.g.SH == 1 && d.g.SW == 1 {
		return d.ohw <= rowsNMaxPlane
	}
	return d.ohw <= rowsNMaxPlaneStrided
}

// stridedImages reports whether a fused Conv's batch with a stride above
// 1 and an output plane of at most rowsNMaxPlaneStrided runs image by
// image, each image on one worker, as a single image would on one thread
// (useRowsNImages, or im2col and one product into its planes), instead of
// the polyphase or batched im2col lowerings of several images side by
// side.
func stridedImages(d convDims, fused bool) bool {
	return fused && d.n > 1 && (d.g.SH > 1 || d.g.SW > 1) && !d.depthwise && d.g.Group == 1 &&
		d.ohw <= rowsNMaxPlaneStrided
}

// useRowsNImages reports whether a stridedImages batch takes RowsN for
// each image (forwardRowsNImages): useRowsN's conditions for one image.
func useRowsNImages(d convDims, fused bool) bool {
	d1 := d
	d1.n = 1
	return stridedImages(d, fused) && useRowsN(d1, fused)
}

// rowsNOn lets tests route these Convs through the other lowerings;
// rowsNMinFilters is one whole block of RowsN's narrower filter blocks.
var rowsNOn = true

const (
	rowsNMinFilters = 32
	rowsNMaxPlane   = 14 * 14
	// rowsNMaxPlaneStrided is rowsNMaxPlane for strided Convs: resnet18's
	// stride-2 conv to 28x28 took 1.08 ms through Winograd's lowering of
	// the polyphase planes, 0.93 through RowsN (ONNX Runtime 0.71), while
	// its stride-1 28x28 convs took 1.50 ms either way.
	rowsNMaxPlaneStrided = 28 * 28
)

// rowsNState is a fused Conv's RowsN setup: the filters packed (from the
// weights at of), one image's padded layout, its tap offsets and output
// window origins, and per-unit scratch.
type rowsNState struct {
	of   *float32
	wp   []float32
	lay  padLayout
	off  []int
	pos  []int32
	scr  []kernels.RowsTScratch
	kk   int
	m, c int
}

// rowsN returns the Conv's RowsN state for d and weights w, building it
// on the first call for these weights and this geometry.
func (k *convKernel) rowsN(d convDims, w []float32) *rowsNState {
	st := k.rn
	lay := implicitLayout(d, 1)
	if st != nil && st.of == &w[0] && st.lay == lay && st.kk == d.kk && st.m == d.m && st.c == d.c {
		return st
	}
	if st == nil || st.of != &w[0] || st.kk != d.kk || st.m != d.m {
		st = &rowsNState{of: &w[0], kk: d.kk, m: d.m}
		st.wp = kernels.PackRowsN(nil, d.m, d.kk, w, d.kk)
	}
	st.lay, st.c = lay, d.c
	st.off = implicitOffsets(st.off[:0], lay, d.c, d.g.KH, d.g.KW, d.g.DH, d.g.DW, d.g.PadT, d.g.PadL)
	st.pos = lay.origins(st.pos[:0], 1, d.s.OH, d.s.OW, d.g.SH, d.g.SW)
	k.rn = st
	return st
}

// forwardRowsNImages is forwardRowsN for a batch (useRowsNImages): each
// image padded into its worker's buffer and all its filter blocks run
// there, then its planes finished.
func (k *convKernel) forwardRowsNImages(d convDims, x, w, y, bias, res []float32, t int) {
	chw, myhw := d.c*d.s.H*d.s.W, d.m*d.ohw
	bw := kernels.RowsNBlock(d.m)
	nblk := (d.m + bw - 1) / bw
	st := k.rowsN(d, w)
	pads := st.lay.g > 0 || st.lay.gr > 0
	if pads {
		k.cols = ensureBufs(k.cols, t, d.c*st.lay.plane+implicitSlack)
	}
	for len(st.scr) < t {
		st.scr = append(st.scr, kernels.RowsTScratch{})
	}
	runChunks(d.n, t, func(wk, img int) {
		xp := x[img*chw : (img+1)*chw]
		if pads {
			st.lay.fill(k.cols[wk], xp, d.c, 1)
			xp = k.cols[wk]
		}
		kernels.RowsNBlocks(d.m, 0, nblk, st.wp, xp, st.off, st.pos, d.ohw, d.ohw, y[img*myhw:(img+1)*myhw], myhw, &st.scr[wk])
		k.finishPlanes(d, img, 0, d.m, y, bias, res)
	})
}

// forwardRowsN computes y (bias, residual and activation included) for
// useRowsN geometries: the image padded once (read in place without
// pads), then its filter blocks (or, with one block on several workers,
// two halves of its positions) over the workers.
func (k *convKernel) forwardRowsN(d convDims, x, w, y, bias, res []float32) {
	chw, myhw := d.c*d.s.H*d.s.W, d.m*d.ohw
	bw := kernels.RowsNBlock(d.m)
	nblk := (d.m + bw - 1) / bw
	st := k.rowsN(d, w)
	units := nblk
	if nblk == 1 && kernels.Threads() > 1 {
		units = 2 // the positions in two halves of whole tiles
	}
	xp := x[:chw] // without pads, one image's layout is the image itself
	pads := st.lay.g > 0 || st.lay.gr > 0
	if pads {
		k.cols = ensureBufs(k.cols, units, d.c*st.lay.plane+implicitSlack)
		if units == nblk {
			xp = k.cols[0]
			st.lay.fill(xp, x[:chw], d.c, 1)
		}
	}
	for len(st.scr) < units {
		st.scr = append(st.scr, kernels.RowsTScratch{})
	}
	kernels.ParallelFor(units, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			if units == nblk {
				m0 := u * bw
				m1 := min(d.m, m0+bw)
				kernels.RowsNBlocks(d.m, u, u+1, st.wp, xp, st.off, st.pos, d.ohw, d.ohw, y[:myhw], myhw, &st.scr[u])
				k.finishPlanes(d, 0, m0, m1, y, bias, res)
				continue
			}
			tp := 6 // RowsN's positions a tile
			if bw == 32 {
				tp = 9
			}
			h := (d.ohw/2 + tp - 1) / tp * tp
			p0, p1 := 0, min(h, d.ohw)
			if u == 1 {
				p0, p1 = p1, d.ohw
			}
			if p0 < p1 {
				xp := xp
				if pads { // the rows of the image these positions read, into this unit's own buffer
					g := d.g
					oy0, oy1 := p0/d.s.OW, (p1-1)/d.s.OW
					r0 := oy0*g.SH - g.PadT + st.lay.gr
					xp = k.cols[u]
					st.lay.fillRows(xp, x[:chw], d.c, r0, oy1*g.SH-g.PadT+(g.KH-1)*g.DH+st.lay.gr+1)
				}
				kernels.RowsN(d.m, st.wp, xp, st.off, st.pos[p0:p1], p1-p0, d.ohw, y[p0:myhw], myhw, &st.scr[u])
				k.finishPlaneRange(d, 0, 0, d.m, p0, p1, y, bias, res)
			}
		}
	})
}
