package engine

// BatchNormalization over the channel axis 1 of X[N,C,...] (4-D NCHW, 2-D
// [N,C] and any rank >= 2 alike; statistics are taken over N and every axis
// after C):
//
//	X, scale[C], B[C], mean[C], var[C] -> Y with the shape of X
//	Y = scale * (X - mu) / sqrt(sigma2 + epsilon) + B
//
// In training mode mu and sigma2 are the batch mean and biased batch
// variance, and the running statistics in[3] and in[4] are updated in place
// with ONNX momentum: running = momentum*running + (1-momentum)*batch, using
// the unbiased batch variance for the running variance as PyTorch does. In
// inference mode mu and sigma2 are the running statistics. Sums are taken
// in float32 within one (image, channel) plane (vec.go, AVX2 on amd64) and
// in float64 across planes, channel by channel, split over kernels.ParallelFor workers (each
// channel is reduced by one worker in a fixed order, so results do not
// depend on the thread count).

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// bnParallelMin is the element count of X above which channels are split
// over workers; below it goroutine start-up costs more than it saves.
const bnParallelMin = 1 << 14

// bnKernel is a compiled BatchNormalization node.
type bnKernel struct {
	node     *graph.Node
	eps      float64
	momentum float64

	// relu: the executor fused the Relu reading this node's output (and
	// nothing else reads it) into the node: Y = max(BN(X), 0), and the
	// gradient arriving in Backward is that of the ReLU's output.
	relu bool
	// clip: the same for a Clip (ReLU6): Y = min(max(BN(X), lo), hi), and
	// the gradient passes where lo <= BN(X) <= hi, as in the Clip kernel.
	clip   bool
	lo, hi float32

	// From the last training-mode Forward, for Backward.
	saved  bool
	xshape []int
	mean   []float64 // batch mean per channel
	invstd []float64 // 1/sqrt(biased batch variance + eps) per channel

	// gradTo: the executor found this node's X to be the output of a
	// Conv that nothing else reads; Backward then leaves dX to that Conv
	// (bn_grad.go), in grad's coefficient buffers.
	gradTo *convKernel
	grad   bnGrad

	// outTo: the executor found this node's output read by an Add alone
	// (bn_add.go); a training Forward then leaves the output to it, in
	// fwd's buffers.
	outTo *binKernel
	fwd   bnOut
	// outConv: the same for a Conv reading the output (after the fused
	// activation) alone, as its input X (bn_conv_in.go).
	outConv *convKernel
	// part: backward sums gathered by the pass that wrote dY
	// (bn_bwd_sums.go).
	part           bnBwdPart
	gatheredImages int // images of the last Backward whose sums were gathered (for tests)
}

// deferOut prepares k.fwd for a training Forward over x and returns it;
// the caller fills the per-channel coefficients.
func (k *bnKernel) deferOut(x *tensor.Tensor) *bnOut {
	n, c, inner := bnDims(x.Shape)
	o := &k.fwd
	o.tok = &tensor.Tensor{Shape: append([]int(nil), x.Shape...)}
	o.x, o.n, o.c, o.inner = x.Data, n, c, inner
	o.mu, o.a, o.b = grow32(o.mu, c), grow32(o.a, c), grow32(o.b, c)
	o.relu, o.clip, o.lo, o.hi = k.relu, k.clip, k.lo, k.hi
	return o
}

// deferGrad prepares k.grad for a Backward over x and dy (same shapes;
// beta the BN's bias) and returns it; the caller fills the per-channel
// coefficients.
func (k *bnKernel) deferGrad(x, dy *tensor.Tensor, beta []float32) *bnGrad {
	n, c, inner := bnDims(x.Shape)
	g := &k.grad
	g.tok = &tensor.Tensor{Shape: append([]int(nil), x.Shape...)}
	g.beta = beta
	g.x, g.dy, g.n, g.c, g.inner = x.Data, dy.Data, n, c, inner
	g.mu, g.a, g.bx, g.c0 = grow32(g.mu, c), grow32(g.a, c), grow32(g.bx, c), grow32(g.c0, c)
	g.relu, g.clip, g.lo, g.hi = k.relu, k.clip, k.lo, k.hi
	return g
}

// newBN validates a BatchNormalization node: epsilon >= 0 and momentum in
// [0, 1]; training_mode is accepted and ignored (the pass's mode decides),
// spatial must be 1; other attributes are refused.
func newBN(n *graph.Node) (Kernel, error) {
	if err := rejectUnknownAttrs(n, "epsilon", "momentum", "training_mode", "spatial"); err != nil {
		return nil, err
	}
	eps := n.Attrs.Float("epsilon", 1e-5)
	mom := n.Attrs.Float("momentum", 0.9)
	if !(eps >= 0) {
		return nil, attrErrorf(n, "epsilon %g must be >= 0", eps)
	}
	if !(mom >= 0 && mom <= 1) {
		return nil, attrErrorf(n, "momentum %g must be in [0, 1]", mom)
	}
	if sp := n.Attrs.Int("spatial", 1); sp != 1 {
		return nil, attrErrorf(n, "spatial %d is not supported (only per-channel statistics)", sp)
	}
	return &bnKernel{node: n, eps: float64(eps), momentum: float64(mom)}, nil
}

// bnDims returns N, C and the number of elements per (image, channel).
func bnDims(shape []int) (n, c, inner int) {
	inner = 1
	for _, d := range shape[2:] {
		inner *= d
	}
	return shape[0], shape[1], inner
}

// check validates the five inputs of a BN call.
func (k *bnKernel) check(in []*tensor.Tensor) error {
	if len(in) < 5 {
		return fmt.Errorf("needs inputs X, scale, B, mean, var; got %d inputs", len(in))
	}
	names := []string{"X", "scale", "B", "mean", "var"}
	for i, t := range in[:5] {
		if t == nil {
			return fmt.Errorf("input %s is missing", names[i])
		}
	}
	x := in[0]
	if len(x.Shape) < 2 {
		return fmt.Errorf("input %v has no channel axis (want [N, C, ...])", x.Shape)
	}
	c := x.Shape[1]
	for i := 1; i < 5; i++ {
		if s := in[i].Shape; len(s) != 1 || s[0] != c {
			return fmt.Errorf("%s has shape %v, want [%d] for input %v", names[i], s, c, x.Shape)
		}
	}
	return nil
}

// bnForChannels runs f(c) for every channel, split over workers when the
// tensor is large.
func bnForChannels(c, size int, f func(c int)) {
	body := func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			f(ch)
		}
	}
	if size >= bnParallelMin && c > 1 {
		kernels.ParallelFor(c, body)
		return
	}
	body(0, c)
}

// Forward normalises X. It errors on missing inputs, an input of rank < 2,
// parameters that are not [C], and in training mode on a batch with a
// single value per channel (its variance is undefined).
func (k *bnKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := k.check(in); err != nil {
		return nil, err
	}
	x := in[0]
	n, c, inner := bnDims(x.Shape)
	scale, bias, rmean, rvar := in[1].Data, in[2].Data, in[3].Data, in[4].Data
	k.part.reset() // sums gathered for an earlier pass
	k.fwd.tok = nil
	// A training pass hands its output to the Add or Conv that alone
	// reads it (bn_add.go, bn_conv_in.go) instead of writing it.
	var def *bnOut
	var y *tensor.Tensor
	if ctx.Train && (k.outTo != nil && fuseBNAdd || k.outConv != nil && fuseBNConvIn) {
		def = k.deferOut(x)
	} else {
		y = ctx.allocRaw(x.Shape...) // every element is written below
	}
	cstride := c * inner
	// apply writes y = (x-mu)*a + b over channel ch; subtracting the mean
	// first keeps precision when it is large against the spread.
	apply := func(ch int, mu, a, b float32) {
		for img := range n {
			off := img*cstride + ch*inner
			ys := y.Data[off : off+inner]
			if k.clip {
				vecAffineClamp(x.Data[off:off+inner], ys, mu, a, b, k.lo, k.hi)
			} else {
				vecAffine(x.Data[off:off+inner], ys, mu, a, b, k.relu)
			}
		}
	}
	if !ctx.Train {
		k.saved = false
		bnForChannels(c, len(x.Data), func(ch int) {
			inv := 1 / math.Sqrt(float64(rvar[ch])+k.eps)
			a := float64(scale[ch]) * inv
			apply(ch, rmean[ch], float32(a), bias[ch])
		})
		return []*tensor.Tensor{y}, nil
	}
	m := n * inner
	if m < 2 {
		return nil, fmt.Errorf("training needs more than one value per channel, input is %v", x.Shape)
	}
	if cap(k.mean) < c {
		k.mean, k.invstd = make([]float64, c), make([]float64, c)
	}
	k.mean, k.invstd = k.mean[:c], k.invstd[:c]
	k.xshape = append(k.xshape[:0], x.Shape...)
	// The per-plane sums the Conv before gathered (bn_stats.go), if any.
	st := statsFor(k.gradTo, x.Data, n, c, inner)
	if st != nil {
		defer func() { st.valid = false }()
	}
	bnForChannels(c, len(x.Data), func(ch int) {
		// Sums shifted by a sample of the channel, k: with s = sum(x-k)
		// and ss = sum((x-k)^2), mean = k + s/m and the variance
		// (ss - s*s/m)/m cancel only as far as |mean-k| exceeds the
		// spread. A sample is rarely far from its mean, so one pass
		// usually suffices; when it is more than 8 standard deviations
		// away, a second pass shifts by the mean found.
		sums := func(shift float32) (s, ss float64) {
			for img := range n {
				ps, pss := st.planeSums(x.Data, img, ch, c, inner, shift)
				s += float64(ps)
				ss += float64(pss)
			}
			return s, ss
		}
		shift := x.Data[ch*inner]
		s2, ss := sums(shift)
		mu := float64(shift) + s2/float64(m)
		if d := s2 / float64(m); d*d > 64*max(ss/float64(m)-d*d, 0) {
			shift = float32(mu)
			s2, ss = sums(shift)
			mu = float64(shift) + s2/float64(m)
		}
		ss = max(ss-s2*s2/float64(m), 0)
		v := ss / float64(m)
		inv := 1 / math.Sqrt(v+k.eps)
		k.mean[ch], k.invstd[ch] = mu, inv
		a := float64(scale[ch]) * inv
		if def != nil {
			def.mu[ch], def.a[ch], def.b[ch] = float32(mu), float32(a), bias[ch]
		} else {
			apply(ch, float32(mu), float32(a), bias[ch])
		}
		rmean[ch] = float32(k.momentum*float64(rmean[ch]) + (1-k.momentum)*mu)
		rvar[ch] = float32(k.momentum*float64(rvar[ch]) + (1-k.momentum)*ss/float64(m-1))
	})
	k.saved = true
	if def != nil {
		if k.outTo != nil {
			k.outTo.pendIn = def
		} else {
			k.outConv.pendX = def
		}
		return []*tensor.Tensor{def.tok}, nil
	}
	return []*tensor.Tensor{y}, nil
}

// Backward returns dX (need[0]), dScale (need[1]) and dB (need[2]) through
// the batch statistics of the last training-mode Forward; the running mean
// and variance get no gradient. With xhat = (X-mu)*invstd and m values per
// channel:
//
//	dB = sum dY, dScale = sum dY*xhat,
//	dX = scale*invstd * (dY - dB/m - xhat*dScale/m).
//
// It errors if the last Forward was not in training mode or had a different
// input shape.
func (k *bnKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if err := k.check(in); err != nil {
		return nil, err
	}
	if len(gout) < 1 || gout[0] == nil {
		return gin, nil
	}
	x, dy := in[0], gout[0]
	if !k.saved || !tensor.SameShape(k.xshape, x.Shape) {
		return nil, fmt.Errorf("backward needs a training-mode forward pass on input %v first", x.Shape)
	}
	if !tensor.SameShape(dy.Shape, x.Shape) {
		return nil, fmt.Errorf("output gradient %v, want %v", dy.Shape, x.Shape)
	}
	needX := len(need) > 0 && need[0]
	needS := len(need) > 1 && need[1]
	needB := len(need) > 2 && need[2]
	if !needX && !needS && !needB {
		return gin, nil
	}
	n, c, inner := bnDims(x.Shape)
	m := float64(n * inner)
	cstride := c * inner
	scale := in[1].Data
	var dx, ds, db *tensor.Tensor
	var dg *bnGrad
	switch {
	case needX && k.gradTo != nil && fuseBNGrads:
		dg = k.deferGrad(x, dy, in[2].Data)
	case needX:
		dx = ctx.allocRaw(x.Shape...) // every element is written below
	}
	// With a fused ReLU, dz = dY masked by Y > 0 replaces dY; the loops
	// below recompute the mask from X and the forward's coefficients (the
	// vecBN*Relu variants, vecBN*Clamp for a fused Clip) rather than
	// write dz in a pass of its own.
	if needS {
		ds = ctx.Alloc(c)
	}
	if needB {
		db = ctx.Alloc(c)
	}
	bnForChannels(c, len(x.Data), func(ch int) {
		mu, inv := k.mean[ch], k.invstd[ch]
		// sdyx = sum dy*xhat; the float32 pass centres on mu32, and
		// sdy*(mu32-mu) moves it to the exact mean.
		mu32 := float32(mu)
		// The forward's affine coefficients, for the fused ReLU's mask.
		a := float64(scale[ch]) * inv
		a32, beta := float32(a), in[2].Data[ch]
		var sdy, sdyx float64
		for img := range n {
			off := img*cstride + ch*inner
			s, sx := k.gathered(dy.Data, img, ch, x.Data[off:off+inner], dy.Data[off:off+inner], mu32, a32, beta)
			sdy += float64(s)
			sdyx += float64(sx)
		}
		sdyx = (sdyx + sdy*(float64(mu32)-mu)) * inv
		if needS {
			ds.Data[ch] = float32(sdyx)
		}
		if needB {
			db.Data[ch] = float32(sdy)
		}
		if !needX {
			return
		}
		// dx = a*dy + bx*(x-mu) + c0 with the per-channel constants folded;
		// x-mu is formed first so a large channel mean does not cancel.
		bx := -a * inv * sdyx / m
		c0 := -a * sdy / m
		b32, c32 := float32(bx), float32(c0)
		if dg != nil {
			dg.mu[ch], dg.a[ch], dg.bx[ch], dg.c0[ch] = mu32, a32, b32, c32
			return
		}
		for img := range n {
			off := img*cstride + ch*inner
			bnApplyPlane(x.Data[off:off+inner], dy.Data[off:off+inner], dx.Data[off:off+inner],
				mu32, a32, b32, c32, beta, k.relu, k.clip, k.lo, k.hi)
		}
	})
	k.gatheredImages = k.part.images(dy.Data)
	k.part.reset()
	if dg != nil {
		dx = dg.tok
		k.gradTo.pend = dg
	}
	gin[0] = dx
	if needS {
		gin[1] = ds
	}
	if needB {
		gin[2] = db
	}
	return gin, nil
}

func init() { Register(graph.OpBN, newBN) }
