package engine

// Conv: 2-D convolution in NCHW, lowered to GEMM per chunk of images.
//
//	X[N,C,H,W], W[M,C/group,kh,kw], B[M]? -> Y[N,M,OH,OW]
//
// For a chunk of images and group g, Y_g = W_g * col_g (+ B), where W_g is
// the [M/group, C/group*kh*kw] slice of the weight and col_g the matching
// rows of the im2col matrices of the chunk's images side by side
// (conv_lower.go): large maps take one image per chunk, small ones several,
// so every GEMM is a few hundred columns wide. A 1x1 stride-1 unpadded
// convolution skips im2col: the image itself is the [C, H*W] matrix. Chunks
// are handed to kernels.ParallelFor workers dynamically, each worker with
// its own col buffers; the backward pass computes the weight gradient of
// each fixed group of consecutive chunks (one chunk per group unless the
// accumulators would exceed dwAccBudget) into its own accumulator and sums
// them in group order, so results do not depend on the thread count or
// scheduling.
//
// Stride-1 convolutions whose output is as large as the input (3x3 pad 1,
// the bulk of a ResNet) take the implicit lowering of conv_implicit.go
// when the batch has several images: no im2col matrix is written, and the
// input gradient is a convolution of dY, not a col2im scatter. On maps of
// 14x14 and below, 3x3 pad-1 ones compute the forward pass and the input
// gradient by Winograd F(2x2,3x3) over the same padded layout instead
// (conv_winograd.go); their weight gradient stays implicit. Other
// stride-1 convolutions also compute dX as a convolution of dY with the
// flipped filters (convDims.dxConv), through im2col of dY.
//
// Depthwise convolutions (one input channel per group, any channel
// multiplier) skip the GEMM lowering, whose per-group products would be a
// single row each, and run direct per-plane loops instead.
//
// Backward recomputes im2col rather than keeping the columns of every image
// from the forward pass (memory N*C*kh*kw*OH*OW), so a Conv kernel keeps no
// state between Forward and Backward beyond its scratch buffers.

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// attrErrorf formats an error naming the node and its op, as factories and
// kernels report attribute problems: node "conv1" (Conv): ...
func attrErrorf(n *graph.Node, format string, args ...any) error {
	return fmt.Errorf("node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, args...))
}

// rejectUnknownAttrs errors on any attribute of n not in allowed, listing
// them in sorted order so the message is stable.
func rejectUnknownAttrs(n *graph.Node, allowed ...string) error {
	var bad []string
	for k := range n.Attrs {
		if !slices.Contains(allowed, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return attrErrorf(n, "unsupported attribute(s) %v (supported: %v)", bad, allowed)
	}
	return nil
}

// checkAutoPad accepts auto_pad absent, "NOTSET" or "VALID" (the latter
// only with zero pads) and refuses SAME_UPPER/SAME_LOWER: the importer is
// expected to resolve them into explicit pads.
func checkAutoPad(n *graph.Node) error {
	switch ap := n.Attrs.String("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		return nil
	case "VALID":
		for _, p := range n.Attrs.Ints("pads", nil) {
			if p != 0 {
				return attrErrorf(n, "auto_pad VALID with non-zero pads %v", n.Attrs.Ints("pads", nil))
			}
		}
		return nil
	default:
		return attrErrorf(n, "auto_pad %q is not supported (use explicit pads)", ap)
	}
}

// convShape converts a node geometry and one image of c x h x w into the
// per-image shape the kernels package works on (output size included).
func convShape(g graph.ConvGeom, c, h, w int) kernels.ConvShape {
	oh, ow := g.Out(h, w)
	return kernels.ConvShape{
		C: c, H: h, W: w,
		KH: g.KH, KW: g.KW,
		SH: g.SH, SW: g.SW,
		PadT: g.PadT, PadL: g.PadL,
		DH: g.DH, DW: g.DW,
		OH: oh, OW: ow,
	}
}

// isPointwise reports whether a geometry is a 1x1, stride-1, unpadded,
// undilated convolution, whose im2col matrix is the image itself.
func isPointwise(g graph.ConvGeom) bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 &&
		g.PadT == 0 && g.PadL == 0 && g.PadB == 0 && g.PadR == 0
}

// growBuf returns buf resized to n elements, reallocating only when too small.
// The contents are unspecified.
func growBuf(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// batchWorkers returns how many workers workerSplit should use for n items:
// min(kernels.Threads(), n), at least 1.
func batchWorkers(n int) int { return max(1, min(kernels.Threads(), n)) }

// workerSplit runs f(w, lo, hi) for t contiguous chunks [lo, hi) of [0, n)
// concurrently through kernels.ParallelFor; w is the chunk (worker) index in
// [0, t), so callers can give each worker its own scratch buffers. Chunk
// boundaries depend only on n and t, so per-worker partial results summed in
// worker order are reproducible for a fixed t.
func workerSplit(n, t int, f func(w, lo, hi int)) {
	kernels.ParallelFor(t, func(wlo, whi int) {
		for w := wlo; w < whi; w++ {
			f(w, w*n/t, (w+1)*n/t)
		}
	})
}

// convKernel is a compiled Conv node.
type convKernel struct {
	node *graph.Node

	// cached geometry for the last weight shape seen
	wshape []int
	geom   graph.ConvGeom

	cols   [][]float32 // per-worker im2col buffers
	dcols  [][]float32 // per-worker column-gradient buffers
	ybufs  [][]float32 // per-worker lowered outputs of a chunk of images
	dybufs [][]float32 // per-worker lowered output gradients of a chunk
	dxbufs [][]float32 // per-worker lowered input gradients of a chunk (dX as a convolution)
	dws    [][]float32 // per-chunk (depthwise: per-worker) weight-gradient accumulators
	// sum: the residual sum this Backward's input gradient ends in
	// (conv_sum.go), handed over by the executor; nil: none.
	sum *dxSum

	// dwT: the implicit lowering's weight gradient goes through
	// kernels.RowsT (useRowsT): the accumulators in dws are then
	// transposed ([kk][RowsTWidth(m)]), summed as such and stored once;
	// dwPos lists a chunk's valid positions (gaps left out), dwtScr is
	// each worker's scratch.
	dwT    bool
	dwPos  []int32
	dwtScr []kernels.RowsTScratch
	dwtSum []float32

	wflip  []float32 // flipped, transposed weights of the dX convolution
	gt     *gatherTable
	gtx    *gatherTable // gather table of the dX convolution's geometry
	offF   []int        // implicit lowering: row offsets of the input's im2col
	offX   []int        // implicit lowering: row offsets of dY's im2col (dX convolution)
	plan   polyPlan     // polyphase lowering: the phases of a stride-2 geometry
	wphase []float32    // polyphase lowering: per group and phase, the dX correlation's weights
	offPh  []int        // polyphase lowering: their row offsets into dY's padded layout
	ptmp   [][]float32  // polyphase lowering: per-worker phase-splitting scratch (H*W)

	// Winograd lowering (conv_winograd.go): per-worker V and M matrices,
	// the forward's transformed filters (which the input gradient reads too),
	// cached tile plans, and the input-gradient pass of the running
	// Backward call (nil: not taken).
	wv, wm   [][]float32
	wu       []float32          // the forward's transformed filters, [16][M][C]
	wuFor    *float32           // the weights wu holds the transform of (nil: none)
	wuM, wuC int                // and their sizes
	wuOf     *float32           // fused Conv: the weights wu was transformed from
	wpu      []*kernels.PackedA // fused Conv: wu's 16 matrices packed (wu then dropped)
	wpk      []*kernels.PackedA // training: the running pass's 16 matrices packed (packWino)
	pwr      []*kernels.PackedA // implicit/polyphase forward: the filters packed per group, this call's
	pwx      []*kernels.PackedA // implicit input gradient: the flipped filters packed per group, this call's

	// A fused (inference-only) Conv's filters packed per group for the
	// single-image GEMMs, and the weights they were packed from.
	pw        []*kernels.PackedA
	pwOf      *float32
	pr        []*kernels.PackedA // pointwise filters packed in row ranges (conv_pointwise.go)
	prOf      *float32
	pt        *kernels.PackedB // filters transposed and packed for small maps (conv_smallmap.go)
	ptOf      *float32
	rn        *rowsNState       // the RowsN lowering's setup (conv_rowsn.go)
	dwPlane   *kernels.Plane3x3 // depthwise 3x3 (isDW3x3): the plane geometry
	dwPlaneK  *kernels.PlaneKxK // other odd depthwise kernels (isDWKxK)
	winoPlans []winoPlanEntry
	wx        *winoPass
	wr        [][]*kernels.PackedA // winoRunRows: the 16 matrices packed per range of filters
	wrOf      *float32             // and the weights they were packed from
	wsplit    struct {             // winoSplitParts's cached parts
		key   winoSplitKey
		parts []winoPart
	}

	// pend: the deferred input gradient of the BatchNormalization reading
	// this Conv's output (bn_grad.go), handed over by its Backward for
	// the next Backward here; dyg: the one the running Backward fills
	// its padded dY from (nil: dY itself), with per-worker plane
	// scratch dyscr.
	pend  *bnGrad
	dyg   *bnGrad
	dyscr [][]float32

	// feedsBN: a BatchNormalization alone reads the output (linkBNGrads);
	// a training Forward then gathers its per-plane sums in stats
	// (bn_stats.go).
	feedsBN bool
	stats   convStats

	// pendX: the deferred output of the BatchNormalization that alone
	// feeds X (bn_conv_in.go), for the next Forward; in: what that
	// Forward read, for Backward; xfill: the running pass's fills compute
	// X from it (nil: from X), with per-worker plane scratch xscr.
	pendX *bnOut
	inBN  *bnKernel // the BN linked to hand X over (linkBNGrads)
	// gatherIn: the running Backward gathers inBN's backward sums from
	// each chunk of dX (bn_bwd_sums.go).
	gatherIn bool
	in       bnConvIn
	xfill    *bnOut
	xscr     [][]float32

	// OpFusedConv only (inference): add input 3 (a tensor of Y's shape) to
	// Y when present, then apply ReLU when relu is set, clamp to [lo, hi]
	// when clip is set (activation "clip": Clip, e.g. ReLU6), or apply
	// HardSwish when hswish is set.
	fused, relu, clip, hswish bool
	lo, hi                    float32
}

// convAttrs are the Conv spec's attributes plus auto_pad (NOTSET/VALID
// tolerated for graphs built by hand).
var convAttrs = append(graph.Spec(graph.OpConv).AttrNames(), "auto_pad")

// newConv validates a Conv node's attributes. It errors on unknown
// attributes, auto_pad SAME_*, and malformed strides/pads/dilations/group.
func newConv(n *graph.Node) (Kernel, error) {
	if err := rejectUnknownAttrs(n, convAttrs...); err != nil {
		return nil, err
	}
	if err := checkAutoPad(n); err != nil {
		return nil, err
	}
	// Validate the geometry now with a placeholder kernel size; the real one
	// comes from the weight shape at Forward.
	probe := []int{1, 1, 1, 1}
	if ks := n.Attrs.Ints("kernel_shape", nil); len(ks) == 2 {
		probe = []int{1, 1, ks[0], ks[1]}
	}
	if _, err := graph.Geom(n, probe); err != nil {
		return nil, err
	}
	return &convKernel{node: n}, nil
}

// newFusedConv validates an OpFusedConv node (see Optimize): the Conv
// attributes plus activation "", "relu", "clip" (with clip_min <=
// clip_max, defaults -Inf and +Inf) or "hardswish".
func newFusedConv(n *graph.Node) (Kernel, error) {
	act := n.Attrs.String("activation", "")
	if act != "" && act != "relu" && act != "clip" && act != "hardswish" {
		return nil, attrErrorf(n, "activation %q: want \"\", \"relu\", \"clip\" or \"hardswish\"", act)
	}
	lo := n.Attrs.Float("clip_min", float32(math.Inf(-1)))
	hi := n.Attrs.Float("clip_max", float32(math.Inf(1)))
	if act == "clip" && !(lo <= hi) {
		return nil, attrErrorf(n, "clip_min %g must not exceed clip_max %g", lo, hi)
	}
	plain := &graph.Node{Name: n.Name, Op: n.Op, Inputs: n.Inputs, Outputs: n.Outputs, Attrs: n.Attrs.Clone()}
	delete(plain.Attrs, "activation")
	delete(plain.Attrs, "clip_min")
	delete(plain.Attrs, "clip_max")
	k, err := newConv(plain)
	if err != nil {
		return nil, err
	}
	ck := k.(*convKernel)
	ck.fused, ck.relu, ck.clip, ck.hswish = true, act == "relu", act == "clip", act == "hardswish"
	ck.lo, ck.hi = lo, hi
	return ck, nil
}

// actBounds returns the clamp [lo, hi] of the kernel's fused activation:
// [0, +Inf] for ReLU, the Clip's bounds, else [-Inf, +Inf] (HardSwish
// included, which the paths that clamp apply after: epilogue, finishRow,
// forwardDepthwise).
func (k *convKernel) actBounds() (lo, hi float32) {
	switch {
	case k.relu:
		return 0, float32(math.Inf(1))
	case k.clip:
		return k.lo, k.hi
	}
	return float32(math.Inf(-1)), float32(math.Inf(1))
}

// epilogue applies a fused Conv's residual add and activation to one
// output row (res nil: no residual).
func (k *convKernel) epilogue(row, res []float32) {
	if res != nil {
		kernels.AddTo(res, row)
	}
	if k.relu {
		vecRelu(row, row)
	}
	if k.clip {
		kernels.BiasClamp(row, 0, k.lo, k.hi)
	}
	if k.hswish {
		kernels.HardSwish(row, row)
	}
}

// geometry returns the node geometry for weight shape w, caching it.
func (k *convKernel) geometry(w []int) (graph.ConvGeom, error) {
	if k.wshape != nil && slices.Equal(k.wshape, w) {
		return k.geom, nil
	}
	g, err := graph.Geom(k.node, w)
	if err != nil {
		return g, err
	}
	k.wshape, k.geom = slices.Clone(w), g
	return g, nil
}

// convDims is the checked problem size of one Conv call.
type convDims struct {
	g                  graph.ConvGeom
	s                  kernels.ConvShape // per image, all C channels
	n, c, m            int
	cg, mg             int // channels and filters per group
	kk                 int // rows of one group's col block: cg*kh*kw
	ohw                int
	hasBias, pointwise bool
	depthwise          bool // one input channel per group (or, fused, one in all): direct loops, no GEMM

	// dxConv: the input gradient is computed as a stride-1 convolution of
	// dY (shape sx: M channels of OH x OW, pads DH*(KH-1)-PadT etc., output
	// H x W) with the flipped, transposed filters, instead of W^T*dY
	// followed by a col2im scatter.
	dxConv bool
	sx     kernels.ConvShape
}

// check validates the inputs of a Conv call and returns its sizes. Errors
// name the offending shapes.
func (k *convKernel) check(in []*tensor.Tensor) (convDims, error) {
	var d convDims
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return d, fmt.Errorf("needs inputs X and W, got %d inputs", len(in))
	}
	x, w := in[0], in[1]
	if len(x.Shape) != 4 || len(w.Shape) != 4 {
		return d, fmt.Errorf("input %v and weight %v must be 4-D (NCHW and [M, C/group, kh, kw])", x.Shape, w.Shape)
	}
	g, err := k.geometry(w.Shape)
	if err != nil {
		return d, err
	}
	d.g = g
	d.n, d.c, d.m = x.Shape[0], x.Shape[1], w.Shape[0]
	if d.c != w.Shape[1]*g.Group || d.m%g.Group != 0 {
		return d, fmt.Errorf("input channels %d (input %v) do not match weight %v with group %d", d.c, x.Shape, w.Shape, g.Group)
	}
	if len(in) > 2 && in[2] != nil {
		if b := in[2].Shape; len(b) != 1 || b[0] != d.m {
			return d, fmt.Errorf("bias %v for %d filters", b, d.m)
		}
		d.hasBias = true
	}
	d.s = convShape(g, d.c, x.Shape[2], x.Shape[3])
	if d.s.OH < 1 || d.s.OW < 1 {
		return d, fmt.Errorf("input %v with pads %v is smaller than the dilated %dx%d kernel",
			x.Shape, []int{g.PadT, g.PadL, g.PadB, g.PadR}, (g.KH-1)*g.DH+1, (g.KW-1)*g.DW+1)
	}
	d.cg, d.mg = d.c/g.Group, d.m/g.Group
	d.kk = d.cg * g.KH * g.KW
	d.ohw = d.s.OH * d.s.OW
	d.pointwise = isPointwise(g)
	d.depthwise = d.cg == 1 && g.Group > 1 && !d.pointwise
	if k.fused && d.c == 1 && g.Group == 1 && !d.pointwise {
		// One input channel: every filter reads that plane, a depthwise
		// convolution with M filters per channel, which the plane kernels
		// compute without an im2col matrix of 9 rows (resnet20's 1-to-16
		// stem at 28x28: 12 us as a GEMM, 5 as planes; 824 and 324 us for
		// 64 images).
		d.depthwise = true
		d.depthwise = isDW3x3(d) || isDWKxK(d)
	}
	if !d.pointwise && !d.depthwise && g.SH == 1 && g.SW == 1 {
		ph, pw := g.DH*(g.KH-1), g.DW*(g.KW-1)
		if g.PadT <= ph && g.PadB <= ph && g.PadL <= pw && g.PadR <= pw {
			d.dxConv = true
			d.sx = kernels.ConvShape{
				C: d.m, H: d.s.OH, W: d.s.OW,
				KH: g.KH, KW: g.KW, SH: 1, SW: 1,
				PadT: ph - g.PadT, PadL: pw - g.PadL,
				DH: g.DH, DW: g.DW,
				OH: d.s.H, OW: d.s.W,
			}
		}
	}
	return d, nil
}

// gemmFor picks the single-threaded GEMM when the batch already keeps every
// worker busy, and the row-parallel one for a single image.
// gemmFunc is the signature of kernels.Sgemm.
type gemmFunc = func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)

func gemmFor(n int) gemmFunc {
	if n == 1 {
		return kernels.SgemmParallel
	}
	return kernels.Sgemm
}

// ensureBufs grows a per-worker buffer set to t buffers of size elements each.
func ensureBufs(bufs [][]float32, t, size int) [][]float32 {
	for len(bufs) < t {
		bufs = append(bufs, nil)
	}
	for i := range t {
		bufs[i] = growBuf(bufs[i], size)
	}
	return bufs
}

// convScratch holds the per-worker buffers that a fused (inference-only)
// Conv's Forward uses only while it runs: padded or lowered inputs (cols),
// Winograd's V and M (wv, wm) and lowered outputs (ybufs). An executor's
// fused Convs run one after another and share one set, which then stays
// in cache from node to node. Each Conv keeping its own, a resnet20 image
// touched 3.7 MB of them on one thread (7 MB on two), and a 16-channel
// 28x28 conv ran 47 us on cold buffers against 32 on warm ones (resnet20
// at batch 1: +12-20% with the set shared).
type convScratch struct{ cols, wv, wm, ybufs [][]float32 }

// lend hands the set to k for one Forward; takeBack takes it back, with
// whatever k grew it to.
func (s *convScratch) lend(k *convKernel) {
	k.cols, k.wv, k.wm, k.ybufs = s.cols, s.wv, s.wm, s.ybufs
}

func (s *convScratch) takeBack(k *convKernel) {
	s.cols, s.wv, s.wm, s.ybufs = k.cols, k.wv, k.wm, k.ybufs
	k.cols, k.wv, k.wm, k.ybufs = nil, nil, nil, nil
}

func (k *convKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	d, err := k.check(in)
	if err != nil {
		return nil, err
	}
	if k.fused && ctx != nil && ctx.Train {
		return nil, fmt.Errorf("%s is an inference-only fused node (engine.Optimize); train the original graph", OpFusedConv)
	}
	if k.fused && ctx != nil && ctx.conv != nil {
		ctx.conv.lend(k)
		defer ctx.conv.takeBack(k)
	}
	x, w := k.takeX(ctx, d, in[0]), in[1].Data
	defer func() { k.xfill = nil }()
	if k.xfill != nil {
		k.xscr = ensureBufs(k.xscr, max(1, kernels.Threads()), d.s.H*d.s.W)
	}
	var res []float32
	if k.fused && len(in) > 3 && in[3] != nil {
		if want := []int{d.n, d.m, d.s.OH, d.s.OW}; !tensor.SameShape(in[3].Shape, want) {
			return nil, fmt.Errorf("residual input %v, want the output shape %v", in[3].Shape, want)
		}
		res = in[3].Data
	}
	// Every path writes all of y: the GEMMs with beta 0 or over the bias,
	// the depthwise loops after setting each plane to its bias.
	y := ctx.allocRaw(d.n, d.m, d.s.OH, d.s.OW)
	k.stats.valid = false
	if k.feedsBN && fuseBNStats && ctx != nil && ctx.Train {
		k.stats.begin(y.Data, d.n, d.m, d.ohw)
	}
	var bias []float32
	if d.hasBias {
		bias = in[2].Data
	}
	if d.depthwise {
		k.forwardDepthwise(d, x, w, bias, res, y.Data)
		return []*tensor.Tensor{y}, nil
	}
	t := batchWorkers(d.n)
	if useRowsN(d, k.fused) {
		k.forwardRowsN(d, x, w, y.Data, bias, res)
		return []*tensor.Tensor{y}, nil
	}
	if useRowsNImages(d, k.fused) {
		k.forwardRowsNImages(d, x, w, y.Data, bias, res, t)
		return []*tensor.Tensor{y}, nil
	}
	if useSmallMap(d, k.fused) {
		k.forwardSmallMap(d, x, w, y.Data, bias, res)
		return []*tensor.Tensor{y}, nil
	}
	if usePixelRows(d, k.fused) {
		k.forwardPixelRows(d, x, w, y.Data, bias, res)
		return []*tensor.Tensor{y}, nil
	}
	if useWinogradForward(d, k.fused) {
		k.forwardWinograd(d, x, w, y.Data, bias, res, t)
		return []*tensor.Tensor{y}, nil
	}
	kb := k.chunk(d, t)
	nch := (d.n + kb - 1) / kb
	f := &convFwd{d: d, kb: kb, x: x, w: w, y: y.Data, bias: bias, res: res, gemm: gemmFor(d.n)}
	k.prepareForward(f, t)
	runChunks(nch, t, func(wk, ci int) {
		k.forwardChunk(f, wk, ci)
		k.chunkStats(ci*kb, min((ci+1)*kb, d.n))
	})
	return []*tensor.Tensor{y}, nil
}

// convFwd is one Forward call's lowering, shared by its chunks.
type convFwd struct {
	d              convDims
	kb             int // images per chunk
	implicit, poly bool
	lay            padLayout
	plan           *polyPlan
	x, w, y        []float32
	bias, res      []float32
	gemm           gemmFunc
	pw             []*kernels.PackedA // the weights packed per group (kb 1, fused Convs), or nil
}

// prepareForward picks the lowering of a non-depthwise, non-Winograd
// Forward and sizes the per-worker buffers for t workers.
func (k *convKernel) prepareForward(f *convFwd, t int) {
	d, kb := f.d, f.kb
	f.implicit = useImplicit(d)
	f.poly = !f.implicit && usePolyphase(d) && !stridedImages(d, k.fused)
	switch {
	case f.implicit:
		f.lay = implicitLayout(d, kb)
		k.cols = ensureBufs(k.cols, t, d.c*f.lay.plane+implicitSlack)
		k.ybufs = ensureBufs(k.ybufs, t, d.m*f.lay.gemmCols(kb))
		k.offF = implicitOffsets(k.offF, f.lay, d.c, d.g.KH, d.g.KW, d.g.DH, d.g.DW, d.g.PadT, d.g.PadL)
		k.pwr = packGroups(k.pwr, f.w, d.g.Group, d.mg, d.kk)
	case f.poly:
		f.lay, f.plan = polyLayout(d, kb), k.polyPlanFor(d)
		k.cols = ensureBufs(k.cols, t, d.c*f.plan.n*f.lay.plane+implicitSlack)
		k.ptmp = ensureBufs(k.ptmp, t, d.s.H*d.s.W)
		k.ybufs = ensureBufs(k.ybufs, t, d.m*f.lay.gemmCols(kb))
		k.offF = polyOffsets(k.offF, f.lay, f.plan, d.g, d.c)
		k.pwr = packGroups(k.pwr, f.w, d.g.Group, d.mg, d.kk)
	case useStripes(d, f, k.fused): // one stripe per worker (a single image's too), not a whole lowered image
		k.cols = ensureBufs(k.cols, max(t, kernels.Threads()), stripeRows(d)*d.s.OW*d.kk)
	case !d.pointwise || kb > 1:
		k.cols = ensureBufs(k.cols, t, d.c*d.s.KH*d.s.KW*kb*d.ohw)
	}
	if kb > 1 && !f.implicit && !f.poly {
		k.ybufs = ensureBufs(k.ybufs, t, d.m*kb*d.ohw)
	}
	if !f.implicit && !f.poly {
		k.prepareLowering(d, false)
	}
	if kb == 1 && !f.implicit && !f.poly {
		f.pw = k.packedWeights(d, f.w)
	}
}

// packedWeights returns a fused Conv's filters packed per group
// (kernels.PackA: [M/group, C/group*kh*kw] each), packing them on the
// first call for these weights; nil for a Conv that is not fused, whose
// weights may change between calls.
func (k *convKernel) packedWeights(d convDims, w []float32) []*kernels.PackedA {
	if !k.fused {
		return nil
	}
	if k.pwOf == &w[0] && len(k.pw) == d.g.Group && k.pw[0].Rows() == d.mg && k.pw[0].Cols() == d.kk {
		return k.pw
	}
	k.pw = make([]*kernels.PackedA, d.g.Group)
	for g := range d.g.Group {
		k.pw[g] = kernels.PackA(false, d.mg, d.kk, 1, w[g*d.mg*d.kk:], d.kk)
	}
	k.pwOf = &w[0]
	return k.pw
}

// forwardChunk computes the outputs of chunk ci's images on worker wk.
func (k *convKernel) forwardChunk(f *convFwd, wk, ci int) {
	d, kb, x, w, bias, res, gemm := f.d, f.kb, f.x, f.w, f.bias, f.res, f.gemm
	hw := d.s.H * d.s.W
	chw := d.c * hw
	myhw := d.m * d.ohw
	lo, hi := ci*kb, min((ci+1)*kb, d.n)
	if f.implicit || f.poly {
		k.forwardImplicit(d, f.lay, f.plan, lo, hi, wk, x, f.y)
		for j := lo; j < hi; j++ {
			k.finishImage(d, j, f.y, bias, res)
		}
		return
	}
	if usePointwiseBlocks(d, f) {
		k.forwardPointwise(f, lo)
		return
	}
	if useStripes(d, f, k.fused) {
		k.forwardStripes(f, wk, lo)
		return
	}
	if kb == 1 && useRowSplit(d, f) {
		k.forwardRowSplit(f, x[lo*chw:(lo+1)*chw])
		return
	}
	if kb == 1 {
		xi := x[lo*chw : (lo+1)*chw]
		yi := f.y[lo*myhw : (lo+1)*myhw]
		col := xi
		if !d.pointwise {
			col = k.cols[wk]
			k.im2colImage(d, xi, col)
		}
		for g := range d.g.Group {
			switch {
			case f.pw != nil && d.n == 1:
				kernels.SgemmPackedParallel(f.pw[g], false, d.ohw, col[g*d.kk*d.ohw:], d.ohw, 0, yi[g*d.mg*d.ohw:], d.ohw)
			case f.pw != nil:
				kernels.SgemmPacked(f.pw[g], false, d.ohw, col[g*d.kk*d.ohw:], d.ohw, 0, yi[g*d.mg*d.ohw:], d.ohw)
			default:
				gemm(false, false, d.mg, d.ohw, d.kk, 1,
					w[g*d.mg*d.kk:], d.kk,
					col[g*d.kk*d.ohw:], d.ohw,
					0, yi[g*d.mg*d.ohw:], d.ohw)
			}
		}
		k.finishImage(d, lo, f.y, bias, res)
		return
	}
	k.forwardBatched(f, wk, lo, hi)
}

// forwardBatched lowers images lo..hi-1 side by side, yb[M, nb*OH*OW],
// with one GEMM per group, then copies them out adding bias and epilogue.
func (k *convKernel) forwardBatched(f *convFwd, wk, lo, hi int) {
	d, x, w, bias, res := f.d, f.x, f.w, f.bias, f.res
	chw := d.c * d.s.H * d.s.W
	myhw := d.m * d.ohw
	ld := (hi - lo) * d.ohw
	col, yb := k.cols[wk], k.ybufs[wk]
	for j := range hi - lo {
		if d.pointwise {
			pointwiseCols(d, x[(lo+j)*chw:(lo+j+1)*chw], col, j, ld)
			continue
		}
		k.im2col(d, x[(lo+j)*chw:(lo+j+1)*chw], col[j*d.ohw:], ld)
	}
	for g := range d.g.Group {
		f.gemm(false, false, d.mg, ld, d.kk, 1,
			w[g*d.mg*d.kk:], d.kk,
			col[g*d.kk*ld:], ld,
			0, yb[g*d.mg*ld:], ld)
	}
	for j := range hi - lo {
		yi := f.y[(lo+j)*myhw : (lo+j+1)*myhw]
		for m := range d.m {
			dst, src := yi[m*d.ohw:(m+1)*d.ohw], yb[m*ld+j*d.ohw:m*ld+(j+1)*d.ohw]
			if k.fused { // bias, residual and activation in one pass
				copy(dst, src)
				var b float32
				if bias != nil {
					b = bias[m]
				}
				var r []float32
				if res != nil {
					r = res[(lo+j)*myhw+m*d.ohw : (lo+j)*myhw+(m+1)*d.ohw]
				}
				k.finishRow(dst, b, r)
				continue
			}
			if bias == nil {
				copy(dst, src)
			} else {
				vecAffine(src, dst, 0, 1, bias[m], false)
			}
		}
	}
}

// rowSplitMaxMACs bounds the single-image products useRowSplit takes:
// below it SgemmParallel would run them on one thread; below an eighth of
// it (resnet20's 1x1 downsampling convs) the split costs more than it
// saves.
const rowSplitMaxMACs = 1 << 21

// useRowSplit reports whether a single image's im2col product of a fused
// Conv on several threads is split by filters (forwardRowSplit): one
// group, packed filters, at least 8 filters a worker, and a small product
// (a stride-2 3x3 conv at 14x14: the lowering gathered on one thread, the
// product and the bias and ReLU too small for their parallel forms, so
// resnet20's 16-to-32 one took 29 us on one thread and 32 on two).
func useRowSplit(d convDims, f *convFwd) bool {
	t := kernels.Threads()
	macs := d.m * d.kk * d.ohw
	return intraOp(d) && f.pw != nil && d.g.Group == 1 && !d.pointwise && d.m >= 8*t &&
		macs >= rowSplitMaxMACs/8 && macs <= rowSplitMaxMACs
}

// forwardRowSplit computes the single image xi of f (useRowSplit): the
// im2col rows lowered by channel ranges on every worker, then each
// worker's range of filters (pwRowRange) multiplied, its planes finished.
func (k *convKernel) forwardRowSplit(f *convFwd, xi []float32) {
	d, t := f.d, kernels.Threads()
	col := k.cols[0][:d.kk*d.ohw]
	k.im2colImage(d, xi, col)
	packs := k.rowPacks(d, f.w, t)
	runChunks(t, t, func(_, q int) {
		m0, m1 := pwRowRange(d.m, q, t)
		kernels.SgemmPacked(packs[q], false, d.ohw, col, d.ohw, 0, f.y[m0*d.ohw:], d.ohw)
		k.finishPlanes(d, 0, m0, m1, f.y, f.bias, f.res)
	})
}

// intraOp reports whether a Conv call splits the work of its single image
// over the workers (output channels, im2col rows, GEMM columns) instead
// of handing images to them: a batch of one on more than one thread.
func intraOp(d convDims) bool { return d.n == 1 && kernels.Threads() > 1 }

// im2colImage writes the im2col matrix of the single image xi into col
// (row stride OH*OW); for an intra-op call the channels' row blocks are
// split over the workers (block copies or a gather table alike).
func (k *convKernel) im2colImage(d convDims, xi, col []float32) {
	if !intraOp(d) || d.c < 2 {
		k.im2col(d, xi, col, d.ohw)
		return
	}
	hw, rows := d.s.H*d.s.W, d.s.KH*d.s.KW*d.ohw
	kernels.ParallelFor(d.c, func(lo, hi int) {
		s := d.s
		s.C = hi - lo
		im2colWith(s, k.gt, xi[lo*hw:hi*hw], col[lo*rows:hi*rows], d.ohw)
	})
}

// finishImage adds the bias (nil: none) and, for a fused Conv, the
// residual (res nil: none) and activation to image img's output planes in
// y, plane by plane while each is in cache; an intra-op call splits the
// planes over the workers.
func (k *convKernel) finishImage(d convDims, img int, y, bias, res []float32) {
	if bias == nil && !k.fused {
		return
	}
	if intraOp(d) && d.m > 1 && d.m*d.ohw > parallelMin {
		kernels.ParallelFor(d.m, func(lo, hi int) { k.finishPlanes(d, img, lo, hi, y, bias, res) })
		return
	}
	k.finishPlanes(d, img, 0, d.m, y, bias, res)
}

// finishPlanes is finishImage for output planes [m0, m1) of image img.
func (k *convKernel) finishPlanes(d convDims, img, m0, m1 int, y, bias, res []float32) {
	k.finishPlaneRange(d, img, m0, m1, 0, d.ohw, y, bias, res)
}

// finishPlaneRange is finishPlanes for pixels [p0, p1) of each plane.
func (k *convKernel) finishPlaneRange(d convDims, img, m0, m1, p0, p1 int, y, bias, res []float32) {
	if bias == nil && !k.fused {
		return
	}
	myhw := d.m * d.ohw
	for m := m0; m < m1; m++ {
		o := img*myhw + m*d.ohw + p0
		row := y[o : o+p1-p0]
		if (k.clip && res == nil) || (k.fused && res != nil) {
			b := float32(0)
			if bias != nil {
				b = bias[m]
			}
			var r []float32
			if res != nil {
				r = res[o : o+p1-p0]
			}
			k.finishRow(row, b, r)
			continue
		}
		if bias != nil {
			vecAffine(row, row, 0, 1, bias[m], k.relu && res == nil)
			if k.relu && res == nil {
				continue
			}
		}
		if k.fused {
			var r []float32
			if res != nil {
				r = res[o : o+p1-p0]
			}
			k.epilogue(row, r)
		}
	}
}

// prepareLowering sets up the gather tables of the forward geometry and,
// when dX is computed as a convolution and backward is set, of that
// geometry; call it before the workers start.
func (k *convKernel) prepareLowering(d convDims, backward bool) {
	if !d.pointwise && (useGather(d.s) || useScatter(d.s)) && !k.gt.matches(d.s) {
		k.gt = newGatherTable(d.s)
	}
	if backward && d.dxConv && useGather(d.sx) && !k.gtx.matches(d.sx) {
		k.gtx = newGatherTable(d.sx)
	}
}

// im2colWith writes the im2col matrix of image xi (geometry s) into col with
// row stride ld: the gather table gt for small maps, kernels.Im2col for a
// single image's contiguous matrix, kernels.Im2colLD otherwise.
func im2colWith(s kernels.ConvShape, gt *gatherTable, xi, col []float32, ld int) {
	switch {
	case useGather(s):
		gt.im2col(xi, s, col, ld)
	case ld == s.OH*s.OW:
		kernels.Im2col(xi, s, col)
	default:
		kernels.Im2colLD(xi, s, col, ld)
	}
}

// im2col writes the forward im2col matrix of image xi into col with row
// stride ld.
func (k *convKernel) im2col(d convDims, xi, col []float32, ld int) {
	im2colWith(d.s, k.gt, xi, col, ld)
}

// col2im adds the column gradients col (row stride ld) of one image into
// dxi, the adjoint of im2col.
func (k *convKernel) col2im(d convDims, col []float32, ld int, dxi []float32) {
	switch {
	case useScatter(d.s):
		k.gt.col2im(col, ld, d.s, dxi)
	case ld == d.ohw:
		kernels.Col2im(col, d.s, dxi)
	default:
		kernels.Col2imLD(col, ld, d.s, dxi)
	}
}

// chunk returns how many images one lowered GEMM covers: chunkImages for
// the polyphase geometries; 1 for pointwise convolutions (their image is
// already the column matrix), single images and other large strided
// geometries (kernels.Im2col's vector gathers beat the engine's strided
// lowering there); else chunkImages.
func (k *convKernel) chunk(d convDims, t int) int {
	if stridedImages(d, k.fused) {
		return 1
	}
	if k.fused && pointwiseBatched(d, true) && t > 1 {
		// One chunk a worker rather than two: mobilenet_v2's 7x7
		// pointwise convs at batch 8 on two threads were products of 98
		// columns (2 images); in chunks of 4 the model ran 1-10% faster.
		return max(chunkImages(d.n, d.ohw, t), min((d.n+t-1)/t, lowerTargetCols/d.ohw))
	}
	if usePolyphase(d) || pointwiseBatched(d, k.fused) {
		return chunkImages(d.n, d.ohw, t)
	}
	if d.pointwise || d.n == 1 || (!sameWidth(d.s) && !useScatter(d.s)) {
		return 1
	}
	return chunkImages(d.n, d.ohw, t)
}

// pointwiseBatched reports whether a pointwise Conv runs several images
// side by side ([C, nb*H*W] columns copied from the images, as the im2col
// lowering does) instead of one GEMM per image: on maps under
// lowerTargetCols pixels (14x14 and smaller), whose per-image GEMMs are
// too thin for their packing (a 2x2 map's weight gradient is a product
// over 4 columns), in a batch; for a fused Conv only on maps of at most
// smallMapMaxPixels (larger ones keep their packed filters and column
// blocks per image): at batch 8, one thread, mobilenet's 7x7 96-to-576
// expansion took 521 us per image on the small-map lowering, 538 in
// column blocks, 472 side by side; 960-to-160 1261, 1326 and 1111;
// resnet50's 2048-to-512 6951, 8661 and 6485.
func pointwiseBatched(d convDims, fused bool) bool {
	return d.pointwise && d.n > 1 && d.ohw < lowerTargetCols && (!fused || d.ohw <= smallMapMaxPixels)
}

// pointwiseCols copies image xi ([C, H*W]) into columns j*H*W.. of the
// [C, ld] matrix col, and pointwiseUncols copies them back into dxi.
func pointwiseCols(d convDims, xi, col []float32, j, ld int) {
	kernels.CopyRows(col[j*d.ohw:], ld, xi, d.ohw, d.ohw, d.c, 0)
}

func pointwiseUncols(d convDims, col []float32, j, ld int, dxi []float32) {
	kernels.CopyRows(dxi, d.ohw, col[j*d.ohw:], ld, d.ohw, d.c, 0)
}

// forwardDepthwise runs a depthwise Conv and a fused Conv's epilogue
// (residual res, nil for none, and activation). The output planes of all
// images (image, filter) are split over the workers, so a single image
// uses every thread too. 3x3 pad-1 planes at stride 1 or 2 take
// kernels.Depthwise3x3 (bias and activation fused into its output pass),
// other geometries the direct tap loops of dwForward.
func (k *convKernel) forwardDepthwise(d convDims, x, w, bias, res, y []float32) {
	hw := d.s.H * d.s.W
	units := d.n * d.m
	t := max(1, min(kernels.Threads(), units))
	fast := isDW3x3(d)
	kxk := !fast && isDWKxK(d)
	switch {
	case fast:
		if !k.dwPlane.Matches(d.s.H, d.s.W, d.g.SH) {
			k.dwPlane = kernels.NewPlane3x3(d.s.H, d.s.W, d.g.SH)
		}
		k.cols = ensureBufs(k.cols, t, k.dwPlane.Scratch())
	case kxk:
		if !k.dwPlaneK.Matches(d.s.H, d.s.W, d.g.KH, d.g.KW, d.g.SH) {
			k.dwPlaneK = kernels.NewPlaneKxK(d.s.H, d.s.W, d.g.KH, d.g.KW, d.g.SH)
		}
		k.cols = ensureBufs(k.cols, t, k.dwPlaneK.Scratch())
	}
	lo, hi := k.actBounds()
	if res != nil { // the activation follows the residual add
		lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	workerSplit(units, t, func(wk, ulo, uhi int) {
		for u := ulo; u < uhi; u++ {
			img, m := u/d.m, u%d.m
			c := img*d.c + m/d.mg
			row := y[u*d.ohw : (u+1)*d.ohw]
			b := float32(0)
			if bias != nil {
				b = bias[m]
			}
			if fast || kxk {
				if fast {
					k.dwPlane.Depthwise(x[c*hw:(c+1)*hw], w[m*9:(m+1)*9], b, lo, hi, row, k.cols[wk])
				} else {
					k.dwPlaneK.Depthwise(x[c*hw:(c+1)*hw], w[m*d.kk:(m+1)*d.kk], b, lo, hi, row, k.cols[wk])
				}
				switch {
				case res != nil:
					k.epilogue(row, res[u*d.ohw:(u+1)*d.ohw])
				case k.hswish: // the kernels clamp only
					kernels.HardSwish(row, row)
				}
				continue
			}
			for i := range row {
				row[i] = b
			}
			dwForward(d.s, x[c*hw:(c+1)*hw], w[m*d.kk:(m+1)*d.kk], row)
			if k.fused {
				var r []float32
				if res != nil {
					r = res[u*d.ohw : (u+1)*d.ohw]
				}
				k.epilogue(row, r)
			}
		}
	})
}

// dw3x3Off turns the kernels.Depthwise3x3 and PlaneKxK paths off (tests
// compare them with the tap loops).
var dw3x3Off = false

// isDWKxK reports whether a depthwise Conv takes kernels.PlaneKxK: odd
// kernel sides, "same" padding ((K-1)/2 on every side), undilated, at
// stride 1 or 2 in both directions (the 5x5 and 7x7 depthwise layers).
func isDWKxK(d convDims) bool {
	g := d.g
	return !dw3x3Off && d.depthwise && g.KH%2 == 1 && g.KW%2 == 1 && g.DH == 1 && g.DW == 1 &&
		g.SH == g.SW && (g.SH == 1 || g.SH == 2) &&
		g.PadT == (g.KH-1)/2 && g.PadB == (g.KH-1)/2 && g.PadL == (g.KW-1)/2 && g.PadR == (g.KW-1)/2
}

// isDW3x3 reports whether a depthwise Conv is 3x3, pad 1 on every side,
// undilated, at stride 1 or 2 in both directions: kernels.Depthwise3x3.
func isDW3x3(d convDims) bool {
	g := d.g
	return !dw3x3Off && d.depthwise && g.KH == 3 && g.KW == 3 && g.DH == 1 && g.DW == 1 &&
		g.SH == g.SW && (g.SH == 1 || g.SH == 2) &&
		g.PadT == 1 && g.PadL == 1 && g.PadB == 1 && g.PadR == 1
}

// Backward returns dX (if need[0]), dW (if need[1]) and dB (if need[2] and
// the bias is present): dW = sum over chunks of dY_chunk * col_chunk^T per
// group (one product per chunk of images, into the accumulator of the
// chunk's group; the accumulators are added in group order, so dW does not
// depend on the thread count), dcol = W^T * dY scattered back with Col2im, dB = sum of dY
// over batch and pixels.
func (k *convKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	// The residual sum the executor handed over (conv_sum.go), taken
	// before any return so that none outlives this call.
	rsum := k.sum
	k.sum = nil
	gin := make([]*tensor.Tensor, len(in))
	if k.fused {
		return nil, fmt.Errorf("%s is an inference-only fused node (engine.Optimize); train the original graph", OpFusedConv)
	}
	d, err := k.check(in)
	if err != nil {
		return nil, err
	}
	if len(gout) < 1 || gout[0] == nil {
		return gin, nil
	}
	dy := gout[0]
	if !tensor.SameShape(dy.Shape, []int{d.n, d.m, d.s.OH, d.s.OW}) {
		return nil, fmt.Errorf("output gradient %v, want %v", dy.Shape, []int{d.n, d.m, d.s.OH, d.s.OW})
	}
	needX := len(need) > 0 && need[0]
	needW := len(need) > 1 && need[1]
	needB := len(need) > 2 && need[2] && d.hasBias
	dy, k.dyg = k.takeDeferred(ctx, d, dy, needB)
	x, w := k.backwardX(in[0]), in[1].Data
	defer func() { k.dyg, k.xfill = nil, nil }()
	var dx *tensor.Tensor
	poly := usePolyphase(d) // (never together with dxConv: stride 2)
	switch {
	case needX && (d.dxConv || poly || d.depthwise && dwBackwardFast(d)):
		dx = ctx.allocRaw(in[0].Shape...) // every image is written whole (beta 0; every phase; every depthwise plane)
	case needX:
		dx = ctx.Alloc(in[0].Shape...) // col2im and the depthwise loops add into dx
	}
	k.gatherIn = needX && dx != nil && k.inBN != nil && k.in.tok != nil && k.in.tok == in[0] && fuseBNBwdSums
	if k.gatherIn {
		k.inBN.part.begin(dx.Data, d.n, d.c)
	}
	// The residual sum is written by the lowered paths' chunks;
	// otherwise sumGrads does it.
	if rsum != nil && (!needX || d.depthwise || k.gatherIn) {
		rsum = nil
	}
	if rsum != nil {
		rsum.begin(dx.Data, d.n, d.c)
	}
	if needX || needW {
		t := batchWorkers(d.n)
		if d.depthwise {
			k.backwardDepthwise(ctx, d, x, w, dy.Data, dx, needX, needW, t, gin, in[1].Shape)
		} else {
			k.backwardLowered(ctx, d, in, dy.Data, dx, needX, needW, poly, t, gin, rsum)
		}
	}
	if rsum != nil {
		rsum.done = true
	}
	if needX {
		gin[0] = dx
	}
	if needB {
		gin[2] = convBiasGrad(ctx, d, dy.Data)
	}
	return gin, nil
}

// chunkStats gathers the BN sums of images [lo, hi) of a training
// Forward that collects them (bn_stats.go), once their outputs are final.
func (k *convKernel) chunkStats(lo, hi int) {
	if k.stats.valid {
		k.stats.chunk(lo, hi)
	}
}

// takeDeferred returns the output gradient to read: dy itself, or when
// dy is the placeholder of a BatchNormalization's deferred input gradient
// (bn_grad.go), the bnGrad the padded-layout fills compute it from (the
// implicit and polyphase lowerings without a bias gradient), else that
// gradient materialised. It panics on a placeholder it was not handed
// (an executor error, recovered as one).
func (k *convKernel) takeDeferred(ctx *Ctx, d convDims, dy *tensor.Tensor, needB bool) (*tensor.Tensor, *bnGrad) {
	g := k.pend
	k.pend = nil
	if g == nil || g.tok != dy {
		if dy.Data == nil {
			panic("conv backward: output gradient without data")
		}
		return dy, nil
	}
	if !d.depthwise && !needB && (useImplicit(d) || usePolyphase(d)) {
		return dy, g
	}
	return g.materialize(ctx), nil
}

// convBiasGrad sums the output gradient dy over images and pixels, per
// filter, in float64.
func convBiasGrad(ctx *Ctx, d convDims, dy []float32) *tensor.Tensor {
	myhw := d.m * d.ohw
	db := ctx.Alloc(d.m)
	for m := range d.m {
		var s float64
		for img := range d.n {
			for _, v := range dy[img*myhw+m*d.ohw : img*myhw+(m+1)*d.ohw] {
				s += float64(v)
			}
		}
		db.Data[m] = float32(s)
	}
	return db
}

// backwardLowered is Backward of a non-depthwise Conv: the gradients of the
// input (into dx) and of the weight (into gin[1]) through the implicit,
// polyphase or im2col lowering, chunk by chunk over t workers.
func (k *convKernel) backwardLowered(ctx *Ctx, d convDims, in []*tensor.Tensor, dy []float32, dx *tensor.Tensor, needX, needW, poly bool, t int, gin []*tensor.Tensor, rsum *dxSum) {
	x, w := k.backwardX(in[0]), in[1].Data
	wsize := d.m * d.kk
	k.wx = nil
	kb := k.chunk(d, t)
	if needX && useWinograd(d) {
		// Winograd's V and M for dX within winoChunkBytes (winoChunk):
		// resnet20's five 64-channel 7x7 convs' backward passes took
		// 21.2-22.5 ms a training step in chunks of 13 images (1.7 MB),
		// 20.7-21.6 in chunks of 6 (alternating runs, 2 threads).
		kb = min(kb, winoChunk(d, t))
	}
	nch := (d.n + kb - 1) / kb
	implicit := useImplicit(d)
	lay, plan := k.prepareBackward(d, w, kb, t, needX, needW, implicit, poly)
	// Chunks are grouped into ng fixed runs of consecutive chunks,
	// each with its own weight-gradient accumulator (bounded memory
	// for large weights); a group is one unit of work.
	ng := dwGroups(nch, wsize, t)
	k.dwT = needW && implicit && useRowsT(d, k.offF)
	if k.dwT {
		wsize = kernels.RowsTWidth(d.m) * d.kk
		for len(k.dwtScr) < t {
			k.dwtScr = append(k.dwtScr, kernels.RowsTScratch{})
		}
		k.dwPos = lay.origins(k.dwPos[:0], kb, lay.h, lay.w, 1, 1)
	}
	if needW {
		k.dws = ensureBufs(k.dws, ng, wsize)
	}
	if !implicit && !poly {
		k.prepareLowering(d, needX)
	}
	gemm := gemmFor(d.n)
	runChunks(ng, t, func(wk, gi int) {
		var dw []float32
		if needW {
			dw = k.dws[gi]
		}
		beta := float32(0) // the group's first chunk overwrites its accumulator
		for ci := gi * nch / ng; ci < (gi+1)*nch/ng; ci++ {
			if implicit || poly {
				var dxd []float32
				if dx != nil {
					dxd = dx.Data
				}
				k.backwardImplicit(d, lay, plan, ci*kb, min((ci+1)*kb, d.n), wk, x, dy, dxd, dw, beta)
			} else {
				k.backwardChunk(d, ci, kb, wk, x, w, dy, dx, dw, beta, gemm)
			}
			if rsum != nil {
				rsum.apply(dx.Data, d.c*d.s.H*d.s.W, d.c, ci*kb, min((ci+1)*kb, d.n))
			}
			beta = 1
		}
	})
	if needW {
		dw := ctx.Alloc(in[1].Shape...)
		// Every element sums the groups in group order, however the
		// elements are split over workers: into dw, or for RowsT's
		// accumulators in their transposed layout, stored once after.
		acc := dw.Data
		if k.dwT {
			k.dwtSum = growBuf(k.dwtSum, wsize)
			acc = k.dwtSum
		}
		sum := func(lo, hi int) {
			clear(acc[lo:hi])
			for i := range ng {
				addInto(acc[lo:hi], k.dws[i][lo:hi])
			}
		}
		if ng*wsize > parallelMin {
			kernels.ParallelFor(wsize, sum)
		} else {
			sum(0, wsize)
		}
		if k.dwT {
			kernels.RowsTStore(d.m, d.kk, k.dwtSum, dw.Data, d.kk)
		}
		gin[1] = dw
	}
}

// prepareBackward sizes the per-worker buffers of backwardLowered and
// returns the padded layout (and polyphase plan) of the implicit lowerings.
func (k *convKernel) prepareBackward(d convDims, w []float32, kb, t int, needX, needW, implicit, poly bool) (padLayout, *polyPlan) {
	colSize := d.c * d.s.KH * d.s.KW * kb * d.ohw
	if k.dyg != nil {
		k.dyscr = ensureBufs(k.dyscr, t, d.ohw)
	}
	var lay padLayout
	var plan *polyPlan
	switch {
	case implicit:
		lay = implicitLayout(d, kb)
		k.dybufs = ensureBufs(k.dybufs, t, d.m*lay.plane+implicitSlack)
		if needW {
			k.cols = ensureBufs(k.cols, t, d.c*lay.plane+implicitSlack)
			k.offF = implicitOffsets(k.offF, lay, d.c, d.g.KH, d.g.KW, d.g.DH, d.g.DW, d.g.PadT, d.g.PadL)
		}
		switch {
		case needX && useWinograd(d):
			ps := k.preparePass(lay, d.n, kb, d.m, d.c, t, &k.dybufs)
			k.wx = &ps
			k.wpk = packWino(k.wpk, k.forwardFilters(w, d.m, d.c), d.m, d.c, true)
		case needX:
			k.dxbufs = ensureBufs(k.dxbufs, t, d.c*lay.gemmCols(kb))
			k.offX = implicitOffsets(k.offX, lay, d.m, d.g.KH, d.g.KW, d.g.DH, d.g.DW, d.g.PadB, d.g.PadR)
		}
	case poly:
		lay, plan = polyLayout(d, kb), k.polyPlanFor(d)
		k.dybufs = ensureBufs(k.dybufs, t, d.m*lay.plane+implicitSlack)
		k.ptmp = ensureBufs(k.ptmp, t, d.s.H*d.s.W)
		if needW {
			k.cols = ensureBufs(k.cols, t, d.c*plan.n*lay.plane+implicitSlack)
			k.offF = polyOffsets(k.offF, lay, plan, d.g, d.c)
		}
		if needX {
			k.dxbufs = ensureBufs(k.dxbufs, t, 2*d.c*lay.gemmCols(kb)) // both column phases of a row phase
			k.preparePolyDX(d, lay, plan, w)
		}
	case !d.pointwise || kb > 1:
		if needW {
			k.cols = ensureBufs(k.cols, t, colSize)
		}
		if needX && d.dxConv {
			k.dcols = ensureBufs(k.dcols, t, d.sx.ColRows()*kb*d.s.H*d.s.W)
			if kb > 1 {
				k.dxbufs = ensureBufs(k.dxbufs, t, d.c*kb*d.s.H*d.s.W)
			}
		} else if needX {
			k.dcols = ensureBufs(k.dcols, t, colSize)
		}
	}
	if kb > 1 && !implicit && !poly {
		k.dybufs = ensureBufs(k.dybufs, t, d.m*kb*d.ohw)
	}
	if needX && d.dxConv && k.wx == nil {
		k.flipWeights(d, w)
		if implicit {
			k.pwx = packGroups(k.pwx, k.wflip, d.g.Group, d.cg, d.mg*d.s.KH*d.s.KW)
		}
	}
	return lay, plan
}

// packGroups packs the group matrices of w ([groups][rows][cols]) for the
// row-offset GEMMs of every chunk of one call (kernels.SgemmRowsPacked),
// into dst's storage where it fits.
func packGroups(dst []*kernels.PackedA, w []float32, groups, rows, cols int) []*kernels.PackedA {
	if len(dst) != groups {
		dst = make([]*kernels.PackedA, groups)
	}
	for g := range groups {
		dst[g] = kernels.PackAInto(dst[g], false, rows, cols, 1, w[g*rows*cols:], cols)
	}
	return dst
}

// dwAccBudget bounds the bytes of per-group weight-gradient accumulators
// of one Conv backward pass (a variable so tests can force grouping).
var dwAccBudget = 32 << 20

// dwGroups returns how many groups of consecutive chunks the backward pass
// uses: one per chunk when their accumulators fit dwAccBudget, else fewer
// (at least two per worker, so the dynamic hand-out still balances load).
// The grouping depends only on nch, wsize and t.
func dwGroups(nch, wsize, t int) int {
	ng := nch
	if fit := dwAccBudget / (4 * max(wsize, 1)); ng > fit {
		ng = max(fit, 2*t)
	}
	return max(1, min(ng, nch))
}

// backwardChunk runs the backward GEMMs of chunk ci (kb images from ci*kb)
// on worker wk: the weight gradient into dw (dw = dwBeta*dw + dW of the
// chunk; dw nil: not wanted) and the input gradient into dx (nil: not
// wanted).
func (k *convKernel) backwardChunk(d convDims, ci, kb, wk int, x, w, dyAll []float32, dx *tensor.Tensor, dw []float32, dwBeta float32,
	gemm func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)) {
	hw := d.s.H * d.s.W
	chw := d.c * hw
	myhw := d.m * d.ohw
	lo, hi := ci*kb, min((ci+1)*kb, d.n)
	nb := hi - lo
	ld := nb * d.ohw
	dyb := dyAll[lo*myhw : hi*myhw]
	if kb > 1 {
		dyb = k.dybufs[wk]
		for j := range nb {
			for m := range d.m {
				copy(dyb[m*ld+j*d.ohw:m*ld+(j+1)*d.ohw], dyAll[(lo+j)*myhw+m*d.ohw:])
			}
		}
	}
	if dw != nil {
		col := x[lo*chw : hi*chw]
		if !d.pointwise || kb > 1 {
			col = k.cols[wk]
			for j := range nb {
				if d.pointwise {
					pointwiseCols(d, x[(lo+j)*chw:(lo+j+1)*chw], col, j, ld)
				} else {
					k.im2col(d, x[(lo+j)*chw:(lo+j+1)*chw], col[j*d.ohw:], ld)
				}
			}
		}
		for g := range d.g.Group {
			gemm(false, true, d.mg, d.kk, ld, 1,
				dyb[g*d.mg*ld:], ld,
				col[g*d.kk*ld:], ld,
				dwBeta, dw[g*d.mg*d.kk:], d.kk)
		}
	}
	if dx != nil && d.dxConv {
		k.backwardDataConv(d, lo, hi, wk, dyAll, dx.Data, gemm)
		return
	}
	if dx != nil {
		dcol := dx.Data[lo*chw : hi*chw]
		if !d.pointwise || kb > 1 {
			dcol = k.dcols[wk]
		}
		for g := range d.g.Group {
			gemm(true, false, d.kk, ld, d.mg, 1,
				w[g*d.mg*d.kk:], d.kk,
				dyb[g*d.mg*ld:], ld,
				0, dcol[g*d.kk*ld:], ld)
		}
		for j := range nb {
			switch {
			case d.pointwise && kb > 1:
				pointwiseUncols(d, dcol, j, ld, dx.Data[(lo+j)*chw:(lo+j+1)*chw])
			case !d.pointwise:
				k.col2im(d, dcol[j*d.ohw:], ld, dx.Data[(lo+j)*chw:(lo+j+1)*chw])
			}
		}
	}
}

// flipWeights fills k.wflip with the filters of the dX convolution: per
// group g, the [C/group, M/group*KH*KW] matrix whose row c holds, for every
// filter m of the group, W[g*M/group+m][c] rotated by 180 degrees:
// wflip[g][c][m*taps+t] = W[g*M/group+m][c][taps-1-t].
func (k *convKernel) flipWeights(d convDims, w []float32) {
	taps := d.s.KH * d.s.KW
	k.wflip = growBuf(k.wflip, d.m*d.kk)
	row := d.mg * taps
	for g := range d.g.Group {
		dst := k.wflip[g*d.cg*row : (g+1)*d.cg*row]
		for m := range d.mg {
			src := w[(g*d.mg+m)*d.kk : (g*d.mg+m+1)*d.kk]
			for c := range d.cg {
				for t := range taps {
					dst[c*row+m*taps+t] = src[c*taps+taps-1-t]
				}
			}
		}
	}
}

// backwardDataConv writes the input gradient of images [lo, hi) into dx
// as a stride-1 convolution of dY (geometry d.sx) with the flipped filters
// (k.wflip): one im2col of the chunk's dY and one GEMM per group, on
// worker wk's buffers. Every element of those images is overwritten.
func (k *convKernel) backwardDataConv(d convDims, lo, hi, wk int, dyAll, dx []float32,
	gemm func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)) {
	hw := d.s.H * d.s.W
	chw := d.c * hw
	myhw := d.m * d.ohw
	nb := hi - lo
	ld := nb * hw
	kx := d.mg * d.sx.KH * d.sx.KW // rows of one group's col block
	col := k.dcols[wk]
	for j := range nb {
		im2colWith(d.sx, k.gtx, dyAll[(lo+j)*myhw:(lo+j+1)*myhw], col[j*hw:], ld)
	}
	out := dx[lo*chw : hi*chw]
	if nb > 1 {
		out = k.dxbufs[wk]
	}
	for g := range d.g.Group {
		gemm(false, false, d.cg, ld, kx, 1,
			k.wflip[g*d.cg*kx:], kx,
			col[g*kx*ld:], ld,
			0, out[g*d.cg*ld:], ld)
	}
	if nb > 1 {
		for j := range nb {
			for c := range d.c {
				copy(dx[(lo+j)*chw+c*hw:(lo+j)*chw+(c+1)*hw], out[c*ld+j*hw:c*ld+(j+1)*hw])
			}
		}
	}
}

// backwardDepthwise computes dX into dx (when needX) and dW into gin[1]
// (when needW) with the direct per-plane loops, images split over t
// workers with per-worker weight-gradient accumulators summed in worker
// order.
func (k *convKernel) backwardDepthwise(ctx *Ctx, d convDims, x, w, dy []float32, dx *tensor.Tensor, needX, needW bool, t int, gin []*tensor.Tensor, wshape []int) {
	hw := d.s.H * d.s.W
	chw := d.c * hw
	myhw := d.m * d.ohw
	if needW {
		k.dws = ensureBufs(k.dws, t, d.m*d.kk)
		for i := range t {
			clear(k.dws[i])
		}
	}
	fast := dwBackwardFast(d)
	if fast {
		if !k.dwPlane.Matches(d.s.H, d.s.W, d.g.SH) {
			k.dwPlane = kernels.NewPlane3x3(d.s.H, d.s.W, d.g.SH)
		}
		k.cols = ensureBufs(k.cols, t, k.dwPlane.BackwardScratch())
	}
	workerSplit(d.n, t, func(wk, lo, hi int) {
		for img := lo; img < hi; img++ {
			xi := x[img*chw : (img+1)*chw]
			dyi := dy[img*myhw : (img+1)*myhw]
			if fast {
				// One filter per channel: plane m of dx is written whole, once.
				for m := range d.m {
					var dxm, dwm []float32
					if needX {
						dxm = dx.Data[img*chw+m*hw : img*chw+(m+1)*hw]
					}
					if needW {
						dwm = k.dws[wk][m*9 : (m+1)*9]
					}
					k.dwPlane.DepthwiseBackward(xi[m*hw:(m+1)*hw], dyi[m*d.ohw:(m+1)*d.ohw], w[m*9:(m+1)*9], dxm, dwm, k.cols[wk])
				}
				continue
			}
			for m := range d.m {
				c := m / d.mg
				xc, dym := xi[c*hw:(c+1)*hw], dyi[m*d.ohw:(m+1)*d.ohw]
				if needW {
					dwBackwardW(d.s, xc, dym, k.dws[wk][m*d.kk:(m+1)*d.kk])
				}
				if needX {
					dwBackwardX(d.s, dym, w[m*d.kk:(m+1)*d.kk], dx.Data[img*chw+c*hw:img*chw+(c+1)*hw])
				}
			}
		}
	})
	if needW {
		dw := ctx.Alloc(wshape...)
		for i := range t {
			addInto(dw.Data, k.dws[i])
		}
		gin[1] = dw
	}
}

// dwBackwardFast reports whether a depthwise Conv's backward pass runs
// through kernels.Plane3x3.DepthwiseBackward: the forward's 3x3 shapes
// (isDW3x3) with one filter per input channel, so that every input plane's
// gradient comes from one output plane and is written whole.
func dwBackwardFast(d convDims) bool { return isDW3x3(d) && d.mg == 1 }

// dwRuns calls f for every kernel tap (ky, kx) and output row oy of one
// depthwise plane whose taps hit the image: the run of n outputs starting at
// (oy, ox0) reads input row iy from column ix0 with stride SW. Taps in the
// padding are never visited.
func dwRuns(s kernels.ConvShape, f func(tap, iy, oy, ix0, ox0, n int)) {
	for ky := range s.KH {
		oy0, oy1 := tapRange(ky*s.DH-s.PadT, s.SH, s.OH, 0, s.H)
		for kx := range s.KW {
			ox0, ox1 := tapRange(kx*s.DW-s.PadL, s.SW, s.OW, 0, s.W)
			if ox1 <= ox0 {
				continue
			}
			ix0 := ox0*s.SW - s.PadL + kx*s.DW
			for oy := oy0; oy < oy1; oy++ {
				f(ky*s.KW+kx, oy*s.SH-s.PadT+ky*s.DH, oy, ix0, ox0, ox1-ox0)
			}
		}
	}
}

// dwForward adds the depthwise convolution of one input plane x[H*W] with
// one filter w[KH*KW] into the output plane y[OH*OW].
func dwForward(s kernels.ConvShape, x, w, y []float32) {
	dwRuns(s, func(tap, iy, oy, ix0, ox0, n int) {
		wv := w[tap]
		yr := y[oy*s.OW+ox0 : oy*s.OW+ox0+n]
		xr := x[iy*s.W+ix0:]
		if s.SW == 1 {
			xr = xr[:n]
			for i := range yr {
				yr[i] += wv * xr[i]
			}
			return
		}
		for i := range yr {
			yr[i] += wv * xr[i*s.SW]
		}
	})
}

// dwBackwardX adds the input-plane gradient of one depthwise filter into dx.
func dwBackwardX(s kernels.ConvShape, dy, w, dx []float32) {
	dwRuns(s, func(tap, iy, oy, ix0, ox0, n int) {
		wv := w[tap]
		gr := dy[oy*s.OW+ox0 : oy*s.OW+ox0+n]
		xr := dx[iy*s.W+ix0:]
		for i, g := range gr {
			xr[i*s.SW] += wv * g
		}
	})
}

// dwBackwardW adds the filter gradient of one depthwise plane into dw[KH*KW].
func dwBackwardW(s kernels.ConvShape, x, dy, dw []float32) {
	dwRuns(s, func(tap, iy, oy, ix0, ox0, n int) {
		gr := dy[oy*s.OW+ox0 : oy*s.OW+ox0+n]
		xr := x[iy*s.W+ix0:]
		var acc float32
		for i, g := range gr {
			acc += g * xr[i*s.SW]
		}
		dw[tap] += acc
	})
}

func init() { Register(graph.OpConv, newConv) }
