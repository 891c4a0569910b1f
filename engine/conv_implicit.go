package engine

// Implicit-GEMM lowering for stride-1 "same" convolutions (3x3 pad 1 and
// the like), the bulk of a ResNet's work. Instead of writing the im2col
// matrix (KH*KW copies of every input value), the chunk's images are
// copied once into a zero-padded layout in which every row of the im2col
// matrix is a contiguous run at a fixed offset, and kernels.SgemmRows reads
// those runs in place. The GEMM then produces outputs at every position of
// the padded layout, including the gap columns and rows between images,
// whose values are discarded: a waste of 1 - H*W/((H+gr)*(W+g)) of the
// multiply-adds (7% at 28x28, 13% at 14x14, 23% at 7x7 for pad 1), traded
// against the lowering copies it saves.
//
// The same layout serves the backward pass: the weight gradient is
// dY_pad * B^T (kernels.SgemmRowsT, dY_pad being dY in the padded layout
// with zero gaps), and the input gradient is the stride-1 convolution of
// dY_pad with the flipped filters (kernels.SgemmRows again), so no col2im
// scatter is needed either.

import (
	"github.com/slimgo/slimgo/kernels"
)

// implicitMinCols is the smallest output plane (OH*OW) that takes the
// implicit lowering. Even at 7x7, where a quarter of the products fall in
// the gaps, it beats the gather-table lowering (resnet20 training +6% on
// one thread), so every size does; tests raise it to keep the explicit
// paths, which single images still take, covered.
var implicitMinCols = 0

// padLayout places the channel planes of nb images of h x w side by side
// with zeros around them: channel c of image j, pixel (y, x), sits at
// c*plane + pos(j, y, x). Rows are wp = w+g floats apart, so the g zero
// columns after a row also pad the next row on the left; images are h+gr
// rows apart with gr zero rows before the first and after each image.
type padLayout struct {
	h, w, g, gr, wp int
	plane           int // floats per channel plane, sized for kb images
	q0              int // pos(0, 0, 0): column 0 of the lowered GEMM
}

// newPadLayout returns the layout of up to kb images of h x w with g zero
// columns and gr zero rows of padding.
func newPadLayout(h, w, g, gr, kb int) padLayout {
	l := padLayout{h: h, w: w, g: g, gr: gr, wp: w + g}
	l.plane = (gr+kb*(h+gr))*l.wp + g
	l.q0 = gr*l.wp + g
	return l
}

// pos returns the in-plane offset of image j's pixel (y, x).
func (l padLayout) pos(j, y, x int) int { return (l.gr+j*(l.h+l.gr)+y)*l.wp + l.g + x }

// cols returns the lowered GEMM width for nb images: every position from
// image 0's first pixel to image nb-1's last.
func (l padLayout) cols(nb int) int { return l.pos(nb-1, l.h-1, l.w-1) - l.q0 + 1 }

// gemmCols returns cols(nb) rounded up to whole 24-column register tiles:
// the forward and dX products compute the few extra (discarded) columns
// rather than pack a partial tile, reading up to implicitSlack floats past
// the last plane.
func (l padLayout) gemmCols(nb int) int {
	return (l.cols(nb) + implicitSlack - 1) / implicitSlack * implicitSlack
}

// implicitSlack is the B micro-panel width (kernels' 24-column tile): the
// padded buffers are that much longer than their planes.
const implicitSlack = 24

// fill copies nb images of ch channels (image j is src[j*ch*h*w:], NCHW)
// into dst in the layout and zeroes every gap a GEMM over cols(nb) columns
// reads.
func (l padLayout) fill(dst, src []float32, ch, nb int) {
	hw := l.h * l.w
	used := (l.gr+nb*(l.h+l.gr))*l.wp + l.g
	for c := range ch {
		p := dst[c*l.plane : c*l.plane+used]
		clear(p[:l.q0])
		for j := range nb {
			o := l.pos(j, 0, 0)
			// The rows with their gaps, then the gap rows after the image.
			kernels.CopyRows(p[o:], l.wp, src[(j*ch+c)*hw:(j*ch+c+1)*hw], l.w, l.w, l.h, l.g)
			clear(p[o+l.h*l.wp : o+(l.h+l.gr)*l.wp])
		}
	}
}

// fillRows is fill for a single image (nb 1) restricted to layout rows
// [r0, r1) (clamped to the h+2*gr rows; layout row r holds image row r-gr,
// the others are zero): it writes floats [r0*wp, r1*wp+g) of every channel
// plane (none for no rows), each row with its gap columns on both sides,
// and nothing else, so a worker that reads only those rows needs only
// those of the image.
func (l padLayout) fillRows(dst, src []float32, ch, r0, r1 int) {
	r0, r1 = max(r0, 0), min(r1, l.h+2*l.gr)
	if r0 >= r1 {
		return
	}
	hw := l.h * l.w
	y0, y1 := max(r0-l.gr, 0), min(r1-l.gr, l.h) // the image rows among them
	for c := range ch {
		p := dst[c*l.plane : c*l.plane+r1*l.wp+l.g]
		if y0 >= y1 {
			clear(p[r0*l.wp:])
			continue
		}
		clear(p[r0*l.wp : (y0+l.gr)*l.wp+l.g])
		kernels.CopyRows(p[(y0+l.gr)*l.wp+l.g:], l.wp, src[c*hw+y0*l.w:(c+1)*hw], l.w, l.w, y1-y0, l.g)
		clear(p[(y1+l.gr)*l.wp+l.g:])
	}
}

// fillPlanes is fill with image j's channel c made by plane(j, c, buf)
// into buf (h*w floats, a scratch that stays in cache) and copied from
// there.
func (l padLayout) fillPlanes(dst []float32, ch, nb int, buf []float32, plane func(j, c int, buf []float32)) {
	hw := l.h * l.w
	buf = buf[:hw]
	used := (l.gr+nb*(l.h+l.gr))*l.wp + l.g
	for c := range ch {
		p := dst[c*l.plane : c*l.plane+used]
		clear(p[:l.q0])
		for j := range nb {
			o := l.pos(j, 0, 0)
			plane(j, c, buf)
			kernels.CopyRows(p[o:], l.wp, buf, l.w, l.w, l.h, l.g)
			clear(p[o+l.h*l.wp : o+(l.h+l.gr)*l.wp])
		}
	}
}

// fillDY fills dyp, worker wk's padded output gradient of images [lo, hi):
// from dyAll, or from the running Backward's deferred BN gradient
// (k.dyg, plane by plane through the worker's scratch).
func (k *convKernel) fillDY(l padLayout, dyp, dyAll []float32, d convDims, lo, hi, wk int) {
	g := k.dyg
	if g == nil {
		l.fill(dyp, dyAll[lo*d.m*d.ohw:hi*d.m*d.ohw], d.m, hi-lo)
		return
	}
	l.fillPlanes(dyp, d.m, hi-lo, k.dyscr[wk], func(j, c int, buf []float32) { g.plane(lo+j, c, buf) })
}

// extract copies the valid outputs of nb images out of a lowered result
// lo ([ch, ld] with column q for layout position q0+q) into dst (NCHW,
// image j at dst[j*ch*h*w:]).
func (l padLayout) extract(dst, lo []float32, ld, ch, nb int) {
	hw := l.h * l.w
	for j := range nb {
		for c := range ch {
			o := c*ld + l.pos(j, 0, 0) - l.q0
			kernels.CopyRows(dst[(j*ch+c)*hw:(j*ch+c+1)*hw], l.w, lo[o:], l.wp, l.w, l.h, 0)
		}
	}
}

// useImplicit reports whether a Conv call takes the implicit lowering:
// several images, stride 1 with output as large as the input, not
// pointwise or depthwise, and a plane of at least implicitMinCols.
func useImplicit(d convDims) bool {
	return d.n > 1 && d.dxConv && d.s.OH == d.s.H && d.s.OW == d.s.W && d.ohw >= implicitMinCols
}

// implicitLayout returns the padded layout of kb images for d.
func implicitLayout(d convDims, kb int) padLayout {
	g := max(d.g.PadL, d.g.PadR)
	gr := max(d.g.PadT, d.g.PadB)
	return newPadLayout(d.s.H, d.s.W, g, gr, kb)
}

// implicitOffsets returns the row offsets of the implicit im2col matrix of
// ch channels in layout l for a kernel read at (ky*DH-padT, kx*DW-padL):
// row (c, ky, kx) starts at c*plane + q0 + (ky*DH-padT)*wp + kx*DW-padL.
func implicitOffsets(dst []int, l padLayout, ch, kh, kw, dh, dw, padT, padL int) []int {
	dst = dst[:0]
	for c := range ch {
		for ky := range kh {
			for kx := range kw {
				dst = append(dst, c*l.plane+l.q0+(ky*dh-padT)*l.wp+kx*dw-padL)
			}
		}
	}
	return dst
}

// forwardImplicit computes the outputs of images [lo, hi) into y (before
// bias and epilogue) on worker wk: fill (the phase planes of plan for a
// polyphase geometry, nil: stride 1), one SgemmRows per group (with the
// filters prepareForward packed, k.pwr), extract.
func (k *convKernel) forwardImplicit(d convDims, l padLayout, plan *polyPlan, lo, hi, wk int, x, y []float32) {
	nb := hi - lo
	chw := d.c * d.s.H * d.s.W
	xp := k.cols[wk]
	if plan != nil {
		l.fillPhases(xp, x[lo*chw:hi*chw], k.ptmp[wk], d.c, nb, plan)
	} else {
		k.fillX(l, xp, x, d, lo, hi, wk)
	}
	n := l.gemmCols(nb)
	yp := k.ybufs[wk]
	for g := range d.g.Group {
		kernels.SgemmRowsPacked(k.pwr[g], n, xp, k.offF[g*d.kk:(g+1)*d.kk], 0, yp[g*d.mg*n:], n)
	}
	l.extract(y[lo*d.m*d.ohw:hi*d.m*d.ohw], yp, n, d.m, nb)
}

// backwardImplicit computes the weight gradient (into dw, dw = dwBeta*dw
// + dW of the chunk; nil: not wanted) and the input gradient (into dx;
// nil: not wanted) of images [lo, hi) on worker wk; plan as in
// forwardImplicit (dX then per phase, backwardPolyDX).
func (k *convKernel) backwardImplicit(d convDims, l padLayout, plan *polyPlan, lo, hi, wk int, x, dyAll, dx, dw []float32, dwBeta float32) {
	nb := hi - lo
	chw := d.c * d.s.H * d.s.W
	n := l.cols(nb)
	dyp := k.dybufs[wk]
	k.fillDY(l, dyp, dyAll, d, lo, hi, wk)
	if dw != nil {
		xp := k.cols[wk]
		if plan != nil {
			l.fillPhases(xp, x[lo*chw:hi*chw], k.ptmp[wk], d.c, nb, plan)
		} else {
			k.fillX(l, xp, x, d, lo, hi, wk)
		}
		if k.dwT {
			pos := k.dwPos[:nb*d.ohw]
			kernels.RowsT(d.m, dyp[l.q0:], l.plane, xp, k.offF, pos, dw, dwBeta != 0, &k.dwtScr[wk])
		} else {
			for g := range d.g.Group {
				kernels.SgemmRowsT(d.mg, d.kk, n, 1, dyp[g*d.mg*l.plane+l.q0:], l.plane,
					xp, k.offF[g*d.kk:(g+1)*d.kk], dwBeta, dw[g*d.mg*d.kk:], d.kk)
			}
		}
	}
	switch {
	case dx == nil:
		return
	case plan != nil:
		k.backwardPolyDX(d, l, plan, lo, hi, wk, dyp, dx, k.ptmp[wk])
		return
	case k.wx != nil:
		k.winoRun(k.wx, l, nb, dyp, k.wpk, dx[lo*chw:hi*chw], wk, nil, 0)
	default:
		kx := d.mg * d.s.KH * d.s.KW
		dxp := k.dxbufs[wk]
		nx := l.gemmCols(nb)
		for g := range d.g.Group {
			kernels.SgemmRowsPacked(k.pwx[g], nx, dyp, k.offX[g*kx:(g+1)*kx], 0, dxp[g*d.cg*nx:], nx)
		}
		l.extract(dx[lo*chw:hi*chw], dxp, nx, d.c, nb)
	}
	if k.gatherIn {
		k.inBN.gatherPlanes(dx, lo*d.c, hi*d.c)
	}
}

// useRowsT reports whether the implicit lowering's weight gradient of d
// (filter taps at offsets off) goes through kernels.RowsT: one group, at
// most 64 filters, taps in runs of three, and at least rowsTMinCols
// products a position (below, the transposition of dY costs more than it
// saves: an RGB stem's 27 columns ran 15-30% slower than SgemmRowsT's dot
// blocks, 144 columns 1.5x faster). rowsTOn lets tests compare with
// SgemmRowsT.
func useRowsT(d convDims, off []int) bool {
	return rowsTOn && d.g.Group == 1 && d.kk >= rowsTMinCols && kernels.RowsTFits(d.m, off)
}

var rowsTOn = true

// rowsTMinCols is the fewest weight-gradient columns (C*KH*KW) for which
// useRowsT takes kernels.RowsT.
const rowsTMinCols = 45

// origins appends to dst, for kb images of oh x ow outputs at strides
// sh, sw, each output's window origin in the layout (input pixel (oy*sh,
// ox*sw), relative to q0), image-major then row-major: the tap offsets of
// implicitOffsets added to it reach the window's taps, padding gaps
// included. At stride 1 over the whole plane these are the columns of a
// lowered product that are not gaps.
func (l padLayout) origins(dst []int32, kb, oh, ow, sh, sw int) []int32 {
	for j := range kb {
		for oy := range oh {
			for ox := range ow {
				dst = append(dst, int32(l.pos(j, oy*sh, ox*sw)-l.q0))
			}
		}
	}
	return dst
}
