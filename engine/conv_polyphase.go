package engine

// Polyphase lowering for stride-2 convolutions on even-sized inputs (a
// ResNet's down-sampling 3x3 pad 1 and 1x1 projection convs). Input pixel
// (2i+p, 2j+q) belongs to phase (p, q); each phase is an OH x OW plane. A
// tap at row offset r = ky-PadT reads phase p = r mod 2 at plane row
// oy + (r-p)/2, so in the zero-padded layout of conv_implicit.go (one gap
// column and one gap row) every im2col row is again a contiguous run at a
// fixed offset into one phase plane. Forward and weight gradient then run
// kernels.SgemmRows / SgemmRowsT exactly as the stride-1 implicit path does,
// with the chunk's input split into phase planes instead of the gather
// lowering's 9x expanded im2col matrix. The input gradient of phase (p, q)
// is a stride-1 correlation of dY with that phase's taps (offsets -1..1),
// one SgemmRows per phase, interleaved back into dX: no col2im scatter.

import (
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
)

// polyphaseOff is a test switch: false sends stride-2 convs to the gather
// lowering, to keep that path covered.
var polyphaseOff = false

// phaseOf splits a tap's offset r into its phase p in {0, 1} and the plane
// offset a with r = 2a + p.
func phaseOf(r int) (p, a int) {
	p = r & 1
	return p, (r - p) / 2
}

// usePolyphase reports whether a Conv call takes the polyphase lowering:
// several images, not depthwise, stride 2x2 without dilation, an input
// exactly twice the output in both dimensions, and every tap within one
// plane row/column of the output position (the layout's one-pixel gaps).
func usePolyphase(d convDims) bool {
	g := d.g
	if polyphaseOff || d.n < 2 || d.depthwise || g.SH != 2 || g.SW != 2 || g.DH != 1 || g.DW != 1 ||
		d.s.H != 2*d.s.OH || d.s.W != 2*d.s.OW {
		return false
	}
	for ky := range g.KH {
		if _, a := phaseOf(ky - g.PadT); a < -1 || a > 1 {
			return false
		}
	}
	for kx := range g.KW {
		if _, b := phaseOf(kx - g.PadL); b < -1 || b > 1 {
			return false
		}
	}
	return true
}

// polyPlan is the phase structure of a polyphase geometry.
type polyPlan struct {
	slot [4]int   // storage slot of phase p*2+q among the read ones, -1: none
	n    int      // phases read by some tap
	taps [4][]int // taps (ky*KW+kx) of each phase

	// Where each phase's block starts in a group's share of k.wphase (cg x
	// mg*taps weights) and of k.offPh (mg*taps offsets), and the shares'
	// sizes.
	wOff, oOff     [4]int
	wGroup, oGroup int

	geom   graph.ConvGeom // what the plan was built for
	cg, mg int
	built  bool
}

// polyPlanFor returns the plan of d's geometry, built on the first call
// and again only when the geometry or the channel counts change.
func (k *convKernel) polyPlanFor(d convDims) *polyPlan {
	pl := &k.plan
	if pl.built && pl.geom == d.g && pl.cg == d.cg && pl.mg == d.mg {
		return pl
	}
	*pl = polyPlan{geom: d.g, cg: d.cg, mg: d.mg, built: true}
	g := d.g
	for ky := range g.KH {
		p, _ := phaseOf(ky - g.PadT)
		for kx := range g.KW {
			q, _ := phaseOf(kx - g.PadL)
			pl.taps[p*2+q] = append(pl.taps[p*2+q], ky*g.KW+kx)
		}
	}
	for ph := range 4 {
		pl.slot[ph] = -1
		if nt := len(pl.taps[ph]); nt > 0 {
			pl.slot[ph] = pl.n
			pl.n++
		}
		pl.wOff[ph], pl.oOff[ph] = pl.wGroup, pl.oGroup
		pl.wGroup += d.cg * d.mg * len(pl.taps[ph])
		pl.oGroup += d.mg * len(pl.taps[ph])
	}
	return pl
}

// polyLayout returns the padded layout of one phase plane (OH x OW, one
// gap column and row) for kb images.
func polyLayout(d convDims, kb int) padLayout { return newPadLayout(d.s.OH, d.s.OW, 1, 1, kb) }

// fillPhases splits nb images of ch channels of H x W = 2*l.h x 2*l.w
// (NCHW, image j at src[j*ch*H*W:]) into the phase planes plan reads:
// phase (p, q) of channel c at dst[(c*plan.n+slot)*l.plane:], in layout l,
// gaps zeroed as padLayout.fill does. tmp is scratch of H*W floats: each
// channel plane is split into its even and odd columns there, whose even
// or odd rows are then the phases.
func (l padLayout) fillPhases(dst, src, tmp []float32, ch, nb int, plan *polyPlan) {
	hw := 4 * l.h * l.w
	half := hw / 2
	even, odd := tmp[:half], tmp[half:hw]
	used := (l.gr+nb*(l.h+l.gr))*l.wp + l.g
	needOdd := plan.slot[1] >= 0 || plan.slot[3] >= 0
	for c := range ch {
		for _, slot := range plan.slot {
			if slot >= 0 {
				clear(dst[(c*plan.n+slot)*l.plane : (c*plan.n+slot)*l.plane+l.q0])
			}
		}
		for j := range nb {
			img := src[(j*ch+c)*hw : (j*ch+c+1)*hw]
			if needOdd {
				kernels.Deinterleave2(even, odd, img)
			} else {
				kernels.GatherEven(even, img)
			}
			for ph, slot := range plan.slot {
				if slot < 0 {
					continue
				}
				p, q := ph>>1, ph&1
				cols := even
				if q == 1 {
					cols = odd
				}
				pl := dst[(c*plan.n+slot)*l.plane : (c*plan.n+slot)*l.plane+used]
				o := l.pos(j, 0, 0)
				// Rows p, p+2, ... of the column phase, each followed by
				// the gap column, then the gap rows after the image.
				kernels.CopyRows(pl[o:], l.wp, cols[p*l.w:], 2*l.w, l.w, l.h, l.g)
				clear(pl[o+l.h*l.wp : o+(l.h+l.gr)*l.wp])
			}
		}
	}
}

// polyOffsets returns the row offsets of the implicit im2col matrix of ch
// channels for the phase planes of plan: row (c, ky, kx) reads phase (p, q)
// of channel c at plane offset (a, b), ky-PadT = 2a+p, kx-PadL = 2b+q.
func polyOffsets(dst []int, l padLayout, plan *polyPlan, g graph.ConvGeom, ch int) []int {
	dst = dst[:0]
	for c := range ch {
		for ky := range g.KH {
			p, a := phaseOf(ky - g.PadT)
			for kx := range g.KW {
				q, b := phaseOf(kx - g.PadL)
				dst = append(dst, (c*plan.n+plan.slot[p*2+q])*l.plane+l.q0+a*l.wp+b)
			}
		}
	}
	return dst
}

// preparePolyDX builds, for every group and read phase, the weights of the
// phase's dX correlation (k.wphase: cg rows, mg*taps columns, column
// m*taps+t holding W[m, c, tap t]) and the offsets of its rows into dY's
// padded layout (k.offPh: filter m's plane, shifted by minus the tap's
// plane offset).
func (k *convKernel) preparePolyDX(d convDims, l padLayout, plan *polyPlan, w []float32) {
	khw := d.g.KH * d.g.KW
	k.wphase = k.wphase[:0]
	k.offPh = k.offPh[:0]
	for g := range d.g.Group {
		for ph := range 4 {
			taps := plan.taps[ph]
			nt := len(taps)
			if nt == 0 {
				continue
			}
			for c := range d.cg {
				for m := range d.mg {
					for _, tp := range taps {
						k.wphase = append(k.wphase, w[((g*d.mg+m)*d.cg+c)*khw+tp])
					}
				}
			}
			for m := range d.mg {
				for _, tp := range taps {
					_, a := phaseOf(tp/d.g.KW - d.g.PadT)
					_, b := phaseOf(tp%d.g.KW - d.g.PadL)
					k.offPh = append(k.offPh, (g*d.mg+m)*l.plane+l.q0-a*l.wp-b)
				}
			}
		}
	}
}

// backwardPolyDX computes dX of images [lo, hi) from dyp (their dY in
// layout l) on worker wk. For each phase row p, the two column phases'
// correlations (one SgemmRows per group; zeros for a phase no tap reads)
// land in the two halves of the worker's dxbuf, and are interleaved into
// dX's rows p, p+2, ... through tmp (scratch of H*W floats).
func (k *convKernel) backwardPolyDX(d convDims, l padLayout, plan *polyPlan, lo, hi, wk int, dyp, dx, tmp []float32) {
	nb := hi - lo
	H, W := d.s.H, d.s.W
	chw := d.c * H * W
	ohw := l.h * l.w
	nx := l.gemmCols(nb)
	even, odd, rows := tmp[:ohw], tmp[ohw:2*ohw], tmp[2*ohw:2*ohw+H/2*W]
	cols := [2][]float32{even, odd}
	for p := range 2 {
		var res [2][]float32 // the column phases' results, nil: zero
		for q := range 2 {
			ph := p*2 + q
			nt := len(plan.taps[ph])
			if nt == 0 {
				continue
			}
			res[q] = k.dxbufs[wk][q*d.c*nx : (q+1)*d.c*nx]
			kx := d.mg * nt
			for g := range d.g.Group {
				wo, oo := g*plan.wGroup+plan.wOff[ph], g*plan.oGroup+plan.oOff[ph]
				kernels.SgemmRows(d.cg, nx, kx, 1, k.wphase[wo:], kx,
					dyp, k.offPh[oo:oo+kx], 0, res[q][g*d.cg*nx:], nx)
			}
		}
		for j := range nb {
			img := dx[(lo+j)*chw : (lo+j+1)*chw]
			for c := range d.c {
				for q, r := range res {
					if r == nil {
						clear(cols[q])
					} else {
						kernels.CopyRows(cols[q], l.w, r[c*nx+l.pos(j, 0, 0)-l.q0:], l.wp, l.w, l.h, 0)
					}
				}
				kernels.Interleave2(rows, even, odd)
				kernels.CopyRows(img[c*H*W+p*W:], 2*W, rows, W, W, l.h, 0)
			}
		}
	}
}
