package engine

// Winograd F(2x2, 3x3) lowering for 3x3 stride-1 pad-1 convolutions on
// small maps (kernels/winograd.go). On a 7x7 or 14x14 map the implicit
// GEMM spends a quarter to a third of its multiply-adds on the padded
// layout's gap columns and rows and on taps that read the zero padding;
// Winograd computes each 2x2 output tile from its 4x4 input patch with 16
// multiplies instead of 36, so even with the tiles that overhang the map
// it does 4-5 multiply-adds per output and channel pair where the
// implicit GEMM does 11-14.
//
// It reuses the implicit lowering's padded layout (conv_implicit.go): the
// zero rows and columns around every image are exactly the patches' pad,
// so the input transform needs no edge cases. The forward pass transforms
// X's patches, multiplies by the transformed filters (16 GEMMs, M x C by
// C x tiles) and writes Y directly; the input gradient is the same
// computation on dY's padded layout with the rotated, transposed filters.
// The weight gradient stays with the implicit GEMM: computed in the
// Winograd domain (sum over tiles of (A dY A^T) times the input patches'
// transforms, then G^T dU G) it does 2.25x fewer products, but as 16
// GEMMs of M x C over the tiles, whose packing costs about as much as
// their products at 32-64 channels; resnet20 training was no faster.

import (
	"fmt"

	"github.com/slimgo/slimgo/kernels"
)

// winogradMaxPlane is the largest output plane (OH*OW) that takes the
// Winograd lowering; above it the implicit GEMM's overhead is small and
// its larger GEMMs win. A variable so tests can route any size through it.
var winogradMaxPlane = 14 * 14

// winoTargetTiles is the tile count a forward chunk aims for: the width
// of its 16 GEMMs.
const winoTargetTiles = 384

// useWinograd reports whether a Conv call takes the Winograd lowering:
// the implicit lowering's conditions, one group, a 3x3 kernel, no
// dilation, pad 1 on every side and a plane of at most winogradMaxPlane.
func useWinograd(d convDims) bool {
	return useImplicit(d) && winoGeometry(d) && d.ohw <= winogradMaxPlane
}

// winoGeometry reports whether a Conv is 3x3, stride 1, pad 1 on every
// side, undilated, with one group.
func winoGeometry(d convDims) bool {
	g := d.g
	return g.Group == 1 && g.KH == 3 && g.KW == 3 && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 &&
		g.PadT == 1 && g.PadL == 1 && g.PadB == 1 && g.PadR == 1
}

// winogradMaxPlane1 is winogradMaxPlane for the forward pass of a single
// image (its stages split over the workers when intraOp) and of an
// inference-only fused Conv (engine.Optimize, its transformed filters
// kept): against im2col and one GEMM, or the implicit lowering, Winograd
// won up to 56x56 at inference (resnet18 at 224, batch 1 and 8; resnet8
// and resnet20 at 28x28, batch 64; loaded machine, CPU time per image). A
// variable so tests can route any size through it.
var winogradMaxPlane1 = 56 * 56

// useWinogradForward reports whether a Forward call takes the Winograd
// lowering: useWinograd, or a single image or a fused Conv (fused) of a
// Winograd geometry with a plane of at most winogradMaxPlane1.
func useWinogradForward(d convDims, fused bool) bool {
	return useWinograd(d) || ((d.n == 1 || fused) && d.dxConv && winoGeometry(d) && d.ohw <= winogradMaxPlane1 && d.ohw >= implicitMinCols)
}

// winoTiles returns the tile rows of an h x w map and the tiles per row
// the lowering computes: ceil(w/2) rounded up to 4 (two rows then share a
// group of 8) or to a multiple of 8.
func winoTiles(h, w int) (th, twp int) {
	th, tw := (h+1)/2, (w+1)/2
	if tw <= 4 {
		return th, 4
	}
	return th, (tw + 7) / 8 * 8
}

// winoChunkBytes bounds the V and M matrices of a forward chunk (16 x
// (C + M) floats a tile), so that they stay in L2 between the input
// transform, the 16 products and the output transform: 64 channels at
// 7x7, batch 64, took 1.38 ms in chunks of 384 or 256 tiles (3.1 and 2.1
// MB), 1.14-1.16 in chunks of 96 or 48.
const winoChunkBytes = 1 << 20

// winoChunk returns the images per forward chunk: about winoTargetTiles
// tiles and at least two chunks per worker; when the transformed filters
// are small (16 x C x M floats within a quarter of winoChunkBytes), V and
// M within winoChunkBytes, preferably a multiple of 48 tiles (whole column
// pairs of the wide GEMM kernel: 96 tiles ran 1.14 ms where 80 and 112
// ran 1.28-1.37); two chunks a worker when they have 48 tiles or more,
// else one. Larger filters are read again by every chunk and need
// wide products more than an L2-sized V and M: resnet50's 512-channel 7x7
// convs at batch 8 took 18 ms in chunks of one or two images (16, 32
// tiles), 10 in chunks of 3-8.
func winoChunk(d convDims, t int) int {
	th, twp := winoTiles(d.s.H, d.s.W)
	per := th * twp
	kb := max(1, winoTargetTiles/per)
	if 16*d.c*d.m*4 <= winoChunkBytes/4 {
		kb = max(1, min(kb, winoChunkBytes/(16*(d.c+d.m)*4*per)))
		for k := kb; 2*k > kb; k-- {
			if k*per%48 == 0 {
				kb = k
				break
			}
		}
	}
	if two := (d.n + 2*t - 1) / (2 * t); kb > two {
		// Two chunks a worker, unless that makes the products narrower
		// than one 48-column pair of the wide kernel; then one a worker:
		// resnet18's 512-channel 7x7 convs at batch 8 on two threads took
		// 7.2 ms in chunks of two images (32 tiles), 4.4 in chunks of four.
		if one := (d.n + t - 1) / t; two*per < 48 {
			kb = min(kb, one)
		} else {
			kb = max(1, two)
		}
	}
	return balanceChunk(d.n, kb, t)
}

// winoPlanKey identifies a plan: the padded layout, the images of the
// chunk and the output channels (images are outCh planes apart in Y).
type winoPlanKey struct {
	l         padLayout
	nb, outCh int
}

// winoPlan returns (building once) the tile groups of nb images of
// layout l whose outputs go to NCHW planes of outCh channels.
func (k *convKernel) winoPlan(l padLayout, nb, outCh int) *kernels.WinoPlan {
	key := winoPlanKey{l, nb, outCh}
	for _, e := range k.winoPlans {
		if e.key == key {
			return e.plan
		}
	}
	p, err := kernels.NewWinoPlan(winoGroups(l, nb, outCh), l.wp, l.w)
	if err != nil {
		panic(fmt.Sprintf("engine: Winograd plan: %v", err)) // offsets come from the layout
	}
	if len(k.winoPlans) >= 16 { // batch sizes keep changing: start over
		k.winoPlans = k.winoPlans[:0]
	}
	k.winoPlans = append(k.winoPlans, winoPlanEntry{key, p})
	return p
}

// winoPlanEntry is one cached plan.
type winoPlanEntry struct {
	key  winoPlanKey
	plan *kernels.WinoPlan
}

// winoGroups lists the tile groups of nb images of layout l: per row of
// tiles, halves of 4 tiles; with 4 tiles per row, two rows form a group
// (an odd last row gets a half that stores nothing).
func winoGroups(l padLayout, nb, outCh int) []kernels.WinoGroup {
	th, twp := winoTiles(l.h, l.w)
	ohw := l.h * l.w
	type half struct{ in, out, n0, n1 int32 }
	mk := func(j, ty, tx0 int) half {
		n0 := min(max(l.w-2*tx0, 0), 8)
		n1 := n0
		if 2*ty+1 >= l.h {
			n1 = 0
		}
		out := j*outCh*ohw + 2*ty*l.w + 2*tx0
		if n0 == 0 {
			out = 0
		}
		return half{int32(l.pos(j, 2*ty-1, 2*tx0-1)), int32(out), int32(n0), int32(n1)}
	}
	var halves []half
	for j := range nb {
		for ty := range th {
			for tx0 := 0; tx0 < twp; tx0 += 4 {
				halves = append(halves, mk(j, ty, tx0))
			}
		}
	}
	if len(halves)%2 == 1 {
		h := halves[len(halves)-1]
		halves = append(halves, half{in: h.in})
	}
	groups := make([]kernels.WinoGroup, 0, len(halves)/2)
	for i := 0; i < len(halves); i += 2 {
		a, b := halves[i], halves[i+1]
		groups = append(groups, kernels.WinoGroup{
			InA: a.in, InB: b.in, OutA: a.out, OutB: b.out,
			NA0: a.n0, NA1: a.n1, NB0: b.n0, NB1: b.n1,
		})
	}
	return groups
}

// winoFilters sets u ([16][m][c]) to the transformed filters of w ([M,
// C, 3, 3]). The input-gradient pass multiplies by the same matrices,
// transposed and with their elements permuted (packWino's rot): the
// transform of the rotated filter (c, m) is that of W[m][c] permuted by
// kernels.WinoRot, bit for bit.
func winoFilters(u, w []float32, m, c int) []float32 {
	u = growBuf(u, 16*m*c)
	kernels.WinoFilters(w, m*c, u)
	return u
}

// forwardFilters returns the transformed filters of w ([m, c, 3, 3]) that
// the last Forward computed, transforming them now if it did not (or for
// other weights or sizes): Backward's input gradient uses the forward's
// transform, as the weights may not change between a Forward and its
// Backward.
func (k *convKernel) forwardFilters(w []float32, m, c int) []float32 {
	if k.wuFor != &w[0] || k.wuM != m || k.wuC != c || len(k.wu) != 16*m*c {
		k.wu = winoFilters(k.wu, w, m, c)
		k.wuFor, k.wuM, k.wuC = &w[0], m, c
	}
	return k.wu
}

// winoPass is the Winograd lowering of one pass (forward or input
// gradient) over chunks of kb images: the plans of a full and of the last
// chunk, the V/M column stride ld that worker buffers are sized for, and
// the input and output channels.
type winoPass struct {
	full, last *kernels.WinoPlan
	kb, ld     int
	cin, cout  int
}

// preparePass builds the pass over n images in chunks of kb in layout l,
// cin input and cout output channels, and sizes t workers' V and M
// buffers and their padded-input buffers (*in, so the transforms' reads
// past the last plane stay inside).
func (k *convKernel) preparePass(l padLayout, n, kb, cin, cout, t int, in *[][]float32) winoPass {
	nch := (n + kb - 1) / kb
	ps := winoPass{full: k.winoPlan(l, kb, cout), last: k.winoPlan(l, n-(nch-1)*kb, cout), kb: kb, cin: cin, cout: cout}
	ps.ld = winoLd(ps.full)
	*in = ensureBufs(*in, t, max(cin*l.plane+implicitSlack, (cin-1)*l.plane+ps.full.InputNeed()))
	k.wv = ensureBufs(k.wv, t, 16*winoMat(cin, ps.ld))
	k.wm = ensureBufs(k.wm, t, 16*winoMat(cout, ps.ld))
	return ps
}

// winoMat returns the distance in floats between the 16 V (or M)
// matrices of rows x ld floats: rows*ld rounded up to an odd number of
// 64-byte lines. The transforms write (read) one vector in each of the 16
// matrices in turn; a distance of a multiple of 4 KiB (64 channels of 384
// tiles: 96 KiB) put all 16 in one L1 set, and every access missed.
func winoMat(rows, ld int) int {
	s := (rows*ld + 15) / 16
	return (s | 1) * 16
}

// winoLd returns the V/M column stride of a plan: its tiles rounded up to
// whole 24-column GEMM panels.
func winoLd(p *kernels.WinoPlan) int { return (p.Tiles() + 23) / 24 * 24 }

// winoFin is the bias, residual and clamp that the output transform
// applies as it stores (kernels.WinoEpi) in place of a finishing pass over
// the output: bias per output channel or nil, res the whole output's
// residual (offsets as in y) or nil.
type winoFin struct {
	bias, res []float32
	lo, hi    float32
}

// winoFinish returns the output transform's epilogue for a Forward with
// bias (nil: none) and residual res (nil: none), or nil when there is
// nothing to finish or the activation is not a clamp (HardSwish keeps
// its finishing pass).
func (k *convKernel) winoFinish(bias, res []float32) *winoFin {
	if k.hswish || (bias == nil && !k.fused) {
		return nil
	}
	lo, hi := k.actBounds()
	return &winoFin{bias: bias, res: res, lo: lo, hi: hi}
}

// output runs p's output transform of output channel co from m (its 16
// matrices ms apart) into dst, the channel's plane, which starts at
// offset off of the whole output; with f not nil, bias, residual and
// clamp included.
func (f *winoFin) output(p *kernels.WinoPlan, m []float32, ms int, dst []float32, co, off int) {
	if f == nil {
		p.Output(m, ms, dst)
		return
	}
	e := kernels.WinoEpi{Lo: f.lo, Hi: f.hi}
	if f.bias != nil {
		e.B = f.bias[co]
	}
	if f.res != nil {
		e.Res = f.res[off:]
	}
	p.OutputEpi(m, ms, dst, e)
}

// winoRun computes the convolution of nb images' padded planes xp (ps.cin
// channels of layout l, filled) with the pass's transformed filters, pu
// (its 16 matrices packed by packWino), into dst (the chunk's NCHW
// output, ps.cout channels, at offset base of the whole output) on worker
// wk's buffers, finished by fin (nil: not).
func (k *convKernel) winoRun(ps *winoPass, l padLayout, nb int, xp []float32, pu []*kernels.PackedA, dst []float32, wk int, fin *winoFin, base int) {
	p := ps.full
	if nb != ps.kb {
		p = ps.last
	}
	v, m := k.wv[wk], k.wm[wk]
	cin, cout, ld := ps.cin, ps.cout, ps.ld
	vs, ms := winoMat(cin, ld), winoMat(cout, ld)
	for c := range cin {
		p.Input(xp[c*l.plane:], v[c*ld:], vs)
	}
	n := p.Tiles() // the lanes past the tiles (up to ld) are not computed
	for xi := range 16 {
		kernels.SgemmPacked(pu[xi], false, n, v[xi*vs:], ld, 0, m[xi*ms:], ld)
	}
	ohw := l.h * l.w
	for co := range cout {
		fin.output(p, m[co*ld:], ms, dst[co*ohw:], co, base+co*ohw)
	}
}

// forwardWinograd is Forward for useWinograd geometries: chunks of
// winoChunk images on t workers, bias and epilogue per image after.
func (k *convKernel) forwardWinograd(d convDims, x, w, y, bias, res []float32, t int) {
	kb := winoChunk(d, t)
	l := implicitLayout(d, kb)
	ps := k.preparePass(l, d.n, kb, d.c, d.m, t, &k.cols)
	// A training Conv transforms its filters on every call (the weights
	// change between steps) and packs them once for all its chunks; an
	// inference-only fused Conv (engine.Optimize: its weights do not
	// change while its executor lives) transforms and packs them once.
	pu := k.wpu
	switch {
	case !k.fused:
		k.wuFor = nil
		k.wu = k.forwardFilters(w, d.m, d.c)
		k.wpk = packWino(k.wpk, k.wu, d.m, d.c, false)
		pu = k.wpk
	case k.wuOf != &w[0] || k.wpu == nil || k.wpu[0].Rows() != d.m || k.wpu[0].Cols() != d.c:
		// keeping only the packed copy
		k.wpu = packWino(nil, winoFilters(nil, w, d.m, d.c), d.m, d.c, false)
		k.wuOf, k.wu, k.wuFor, pu = &w[0], nil, nil, k.wpu
	}
	myhw := d.m * d.ohw
	if k.fused && kb == 1 {
		if parts := k.winoSplitParts(l, d, intraOp(d)); parts != nil {
			k.forwardWinoParts(d, l, parts, x, pu, y, bias, res, t)
			return
		}
	}
	if intraOp(d) && k.fused && d.m >= 2*winoRowsMin && d.c*d.m <= winoRowsMaxCM {
		k.winoRunRows(d, &ps, l, x, w, y, bias, res)
		return
	}
	fin := k.winoFinish(bias, res)
	if intraOp(d) {
		k.winoRunIntra(&ps, l, x, pu, y, fin)
		if fin == nil {
			k.finishImage(d, 0, y, bias, res)
		}
		return
	}
	runChunks((d.n+kb-1)/kb, t, func(wk, ci int) {
		lo, hi := ci*kb, min((ci+1)*kb, d.n)
		k.fillX(l, k.cols[wk], x, d, lo, hi, wk)
		k.winoRun(&ps, l, hi-lo, k.cols[wk], pu, y[lo*myhw:hi*myhw], wk, fin, lo*myhw)
		for j := lo; j < hi && fin == nil; j++ {
			k.finishImage(d, j, y, bias, res)
		}
		k.chunkStats(lo, hi)
	})
}

// winoPartBytes bounds the V and M matrices of one part of an image's
// Winograd pass (winoSplitParts): 512 KiB, so that they stay in L2
// between the input transform, the 16 products and the output transform.
// A 64-channel 56x56 conv's whole-image V and M are 3.2 MB each. A
// variable so tests can split small maps.
var winoPartBytes = 512 << 10

// winoPart is one part of an image's Winograd pass: the plan of its tile
// groups and the output rows [r0, r1) they cover.
type winoPart struct {
	plan   *kernels.WinoPlan
	r0, r1 int
}

// winoSplitParts returns (building once per layout and channels) the
// parts of one image of layout l of a fused Conv's Winograd forward pass:
// contiguous rows of tiles (two at a time when a row has 4 tiles, as they
// share a group of 8), as few parts as keep each one's V and M within
// winoPartBytes and, for an intra-op call (spread) whose map has at least
// winoBandMinTiles tiles a worker, at least one per worker (bands of
// rows, forwardWinoParts); nil when one part would do (the whole-image
// pass: a small map on several workers then splits its filters,
// winoRunRows) or when the
// transformed filters alone (16 x C x M floats) exceed winoPartBytes:
// each part reads all of them, and resnet18's 128-channel 28x28 convs ran
// 1.53 -> 1.96 ms at 1 thread in 4 parts, its 256-channel 14x14 ones
// 1.51 -> 3.11 (the 64-channel 56x56 ones 2.16 -> 1.79).
func (k *convKernel) winoSplitParts(l padLayout, d convDims, spread bool) []winoPart {
	th, twp := winoTiles(l.h, l.w)
	rowsPer, groupsPer := 1, twp/8 // tile rows and groups of a unit
	if twp == 4 {
		rowsPer, groupsPer = 2, 1
	}
	if 16*d.c*d.m*4 > winoPartBytes {
		return nil // every part would read the 16 filter matrices again
	}
	units := (th + rowsPer - 1) / rowsPer
	unitBytes := 16 * (d.c + d.m) * 8 * groupsPer * 4
	n := (units*unitBytes + winoPartBytes - 1) / winoPartBytes
	if t := kernels.Threads(); spread && (n > 1 || th*twp >= t*winoBandMinTiles) {
		n = max(n, t)
	}
	n = min(n, units)
	if n <= 1 {
		return nil
	}
	key := winoSplitKey{l, d.m, n}
	if k.wsplit.parts != nil && k.wsplit.key == key {
		return k.wsplit.parts
	}
	groups := winoGroups(l, 1, d.m)
	parts := make([]winoPart, n)
	for q := range n {
		u0, u1 := q*units/n, (q+1)*units/n
		p, err := kernels.NewWinoPlan(groups[u0*groupsPer:u1*groupsPer], l.wp, l.w)
		if err != nil {
			panic(fmt.Sprintf("engine: Winograd plan: %v", err)) // offsets come from the layout
		}
		parts[q] = winoPart{p, min(l.h, 2*u0*rowsPer), min(l.h, 2*u1*rowsPer)}
	}
	k.wsplit.key, k.wsplit.parts = key, parts
	return parts
}

// winoBandMinTiles is the fewest tiles a worker's band of a single image
// takes (a 28x28 map's 224 tiles on two workers: 112 each); below, the
// image's filters are split instead (winoRunRows), the bands' products
// being too narrow.
const winoBandMinTiles = 96

// winoSplitKey identifies a cached split: the layout, output channels
// and number of parts.
type winoSplitKey struct {
	l    padLayout
	m, n int
}

// forwardWinoParts is forwardWinograd for a fused Conv whose images are
// computed in parts (winoSplitParts): each image padded into one worker's
// buffer, then each part's input transform, 16 products and output
// transform, bias, residual and activation on that worker's own V and M.
// A single image on several threads gives each worker a band of
// contiguous parts, for which it pads only the image rows its tiles read
// (resnet20's 16-channel 28x28 convs on two threads 27-29 -> 26-28 us,
// the model +1-5%, resnet8 +4-8%: the input stays on the core that wrote
// it); a batch hands out images. Every output is the same sum as
// winoRun's.
func (k *convKernel) forwardWinoParts(d convDims, l padLayout, parts []winoPart, x []float32, pu []*kernels.PackedA, y, bias, res []float32, t int) {
	ld := 0
	for _, pt := range parts {
		ld = max(ld, winoLd(pt.plan))
	}
	nw := max(t, kernels.Threads())
	k.wv = ensureBufs(k.wv, nw, 16*winoMat(d.c, ld))
	k.wm = ensureBufs(k.wm, nw, 16*winoMat(d.m, ld))
	chw, myhw := d.c*d.s.H*d.s.W, d.m*d.ohw
	fin := k.winoFinish(bias, res)
	part := func(wk, img, q int, xp []float32) {
		pt := parts[q]
		p, ld := pt.plan, winoLd(pt.plan)
		v, m := k.wv[wk], k.wm[wk]
		vs, ms := winoMat(d.c, ld), winoMat(d.m, ld)
		for c := range d.c {
			p.Input(xp[c*l.plane:], v[c*ld:], vs)
		}
		for xi := range 16 {
			kernels.SgemmPacked(pu[xi], false, p.Tiles(), v[xi*vs:], ld, 0, m[xi*ms:], ld)
		}
		yi := y[img*myhw : (img+1)*myhw]
		for co := range d.m {
			fin.output(p, m[co*ld:], ms, yi[co*d.ohw:], co, img*myhw+co*d.ohw)
		}
		if fin == nil {
			k.finishPlaneRange(d, img, 0, d.m, pt.r0*l.w, pt.r1*l.w, y, bias, res)
		}
	}
	if intraOp(d) {
		// Worker wk's band: from the row above its first output row to
		// the one below its last (its tiles' 4x4 patches; a patch's last
		// row only enters its tile's second output row, and a tile past
		// the right edge, whose outputs are not stored, reads on into the
		// next row).
		tw := min(kernels.Threads(), len(parts))
		k.cols = ensureBufs(k.cols, tw, len(k.cols[0]))
		runChunks(tw, tw, func(_, wk int) {
			q0, q1 := wk*len(parts)/tw, (wk+1)*len(parts)/tw
			xp := k.cols[wk]
			l.fillRows(xp, x, d.c, l.gr+parts[q0].r0-1, l.gr+parts[q1-1].r1+1)
			for q := q0; q < q1; q++ {
				part(wk, 0, q, xp)
			}
		})
		return
	}
	runChunks(d.n, t, func(wk, img int) {
		xp := k.cols[wk]
		l.fill(xp, x[img*chw:(img+1)*chw], d.c, 1)
		for q := range parts {
			part(wk, img, q, xp)
		}
	})
}

// winoRowsMin is the fewest filters a worker of winoRunRows takes, and
// winoRowsMaxCM the most input times output channels it is used for:
// above, every worker's own padding and input transform of all the
// channels cost more than the stages' traffic (resnet18's 128-channel
// 28x28 convs went 0.79-0.86 -> 0.97-0.98 ms on two threads).
const (
	winoRowsMin   = 4
	winoRowsMaxCM = 64 * 64
)

// winoRunRows is the Winograd forward pass of a fused Conv's single image
// (layout l, pass ps) into y, bias, residual and activation included,
// split over the workers by filters: each worker pads the image and
// transforms all of its patches into its own V, multiplies V by its rows
// of the 16 filter matrices into its own M, transforms those outputs and
// finishes those planes. The padding and input transform are done by
// every worker, but nothing one worker writes is read by another: split
// by stage instead (winoRunIntra: input channels, then Winograd elements,
// then filters), V and M went from core to core between the stages, and
// resnet20's 16-channel 28x28 convs ran no faster on two threads than on
// one (38 us against 41; split by filters 34, the model at batch 1 on 2
// threads 1525-1605 -> 1649-1849 images/s). Every output is the same sum
// as winoRun's.
func (k *convKernel) winoRunRows(d convDims, ps *winoPass, l padLayout, x, w, y, bias, res []float32) {
	t := min(kernels.Threads(), d.m/winoRowsMin)
	packs := k.winoRowPacks(d, w, t)
	p, ld := ps.full, ps.ld
	n := p.Tiles()
	k.cols = ensureBufs(k.cols, t, len(k.cols[0]))
	vs := winoMat(d.c, ld)
	k.wv = ensureBufs(k.wv, t, 16*vs)
	k.wm = ensureBufs(k.wm, t, 16*winoMat(d.m, ld))
	fin := k.winoFinish(bias, res)
	runChunks(t, t, func(wk, q int) {
		co0, co1 := pwRowRange(d.m, q, t)
		xp, v, m := k.cols[wk], k.wv[wk], k.wm[wk]
		l.fill(xp, x, d.c, 1)
		for c := range d.c {
			p.Input(xp[c*l.plane:], v[c*ld:], vs)
		}
		ms := winoMat(co1-co0, ld)
		for xi := range 16 {
			kernels.SgemmPacked(packs[q][xi], false, n, v[xi*vs:], ld, 0, m[xi*ms:], ld)
		}
		for co := co0; co < co1; co++ {
			fin.output(p, m[(co-co0)*ld:], ms, y[co*d.ohw:], co, co*d.ohw)
		}
		if fin == nil {
			k.finishPlanes(d, 0, co0, co1, y, bias, res)
		}
	})
}

// winoRowPacks returns a fused Conv's 16 transformed filter matrices
// packed in t ranges of rows (pwRowRange), packing them on the first
// call for these weights and this t.
func (k *convKernel) winoRowPacks(d convDims, w []float32, t int) [][]*kernels.PackedA {
	if k.wrOf == &w[0] && len(k.wr) == t && k.wr[0][0].Cols() == d.c {
		return k.wr
	}
	u := winoFilters(nil, w, d.m, d.c)
	k.wr = make([][]*kernels.PackedA, t)
	for q := range t {
		co0, co1 := pwRowRange(d.m, q, t)
		k.wr[q] = make([]*kernels.PackedA, 16)
		for xi := range 16 {
			k.wr[q][xi] = kernels.PackA(false, co1-co0, d.c, 1, u[xi*d.m*d.c+co0*d.c:], d.c)
		}
	}
	k.wrOf = &w[0]
	return k.wr
}

// winoRunIntra is winoRun for a single image (ps over one image of layout
// l, worker 0's buffers) with each stage split over the workers: the
// padded copy and input transform by input channel, the 16 GEMMs by
// Winograd element, the output transform by output channel. Every stage
// computes what winoRun computes, element for element, finished by fin
// (nil: not).
func (k *convKernel) winoRunIntra(ps *winoPass, l padLayout, x []float32, pu []*kernels.PackedA, dst []float32, fin *winoFin) {
	p := ps.full
	xp, v, m := k.cols[0], k.wv[0], k.wm[0]
	cin, cout, ld := ps.cin, ps.cout, ps.ld
	vs, ms := winoMat(cin, ld), winoMat(cout, ld)
	hw := l.h * l.w
	kernels.ParallelFor(cin, func(lo, hi int) {
		l.fill(xp[lo*l.plane:], x[lo*hw:hi*hw], hi-lo, 1)
		for c := lo; c < hi; c++ {
			p.Input(xp[c*l.plane:], v[c*ld:], vs)
		}
	})
	n := p.Tiles()
	kernels.ParallelFor(16, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			kernels.SgemmPacked(pu[xi], false, n, v[xi*vs:], ld, 0, m[xi*ms:], ld)
		}
	})
	kernels.ParallelFor(cout, func(lo, hi int) {
		for co := lo; co < hi; co++ {
			fin.output(p, m[co*ld:], ms, dst[co*hw:], co, co*hw)
		}
	})
}

// packWino packs the 16 transformed filter matrices u ([16][m][c]) as the
// left operands of a pass's GEMMs, into dst's storage where it fits: for
// the forward pass U[xi] (m x c); with rot, for the input gradient, the
// transpose of U[kernels.WinoRot(xi)] (c x m), which is the transform of
// the rotated, transposed filters. The 16 are packed in parallel.
func packWino(dst []*kernels.PackedA, u []float32, m, c int, rot bool) []*kernels.PackedA {
	if len(dst) != 16 {
		dst = make([]*kernels.PackedA, 16)
	}
	kernels.ParallelFor(16, func(lo, hi int) {
		for xi := lo; xi < hi; xi++ {
			if rot {
				dst[xi] = kernels.PackAInto(dst[xi], true, c, m, 1, u[kernels.WinoRot(xi)*m*c:], c)
			} else {
				dst[xi] = kernels.PackAInto(dst[xi], false, m, c, 1, u[xi*m*c:], c)
			}
		}
	})
	return dst
}
