package engine

// A training BatchNormalization (with its fused ReLU or Clip) whose output
// a Conv alone reads as its input X, as a ResNet block's first BN feeds
// its second Conv: the BN does not write its output (bn_add.go's bnOut);
// the Conv's implicit lowering computes each input plane into a scratch
// that stays in cache as it fills its padded layout, in the forward pass
// and again for the weight gradient (convKernel.fillX), with the BN's own
// per-plane function, so every value is bitwise the BN's. Lowerings that
// read X otherwise get it materialised once per pass (convKernel.takeX).

import (
	"github.com/slimgo/slimgo/tensor"
)

// fuseBNConvIn enables the deferred Conv input; tests turn it off to
// compare against the separate passes.
var fuseBNConvIn = true

// bnConvIn is what a Conv's last Forward read as X when it was a BN's
// deferred output: the placeholder, and either the bnOut its fills
// compute from (src) or the output materialised (mat).
type bnConvIn struct {
	tok *tensor.Tensor
	src *bnOut
	mat *tensor.Tensor
}

// fillsX reports whether a training Conv call of dims d reads X through
// the stride-1 implicit fills alone (forward and weight gradient): the
// implicit or batched Winograd lowering.
func (k *convKernel) fillsX(d convDims) bool {
	return !k.fused && !d.depthwise && useImplicit(d) && !usePolyphase(d) && !useSmallMap(d, k.fused) && !intraOp(d)
}

// takeX returns the input data of a Forward with input tensor xt: xt's
// data, or when xt is the placeholder of the BN output handed to this
// Conv (k.pendX), nil (the fills compute it, k.xfill set) or the output
// materialised. It records the choice in k.in for Backward and panics on
// a placeholder it was not handed (an executor error, recovered as one).
func (k *convKernel) takeX(ctx *Ctx, d convDims, xt *tensor.Tensor) []float32 {
	o := k.pendX
	k.pendX, k.in, k.xfill = nil, bnConvIn{}, nil
	if o == nil || o.tok != xt {
		if xt.Data == nil {
			panic("conv forward: input without data")
		}
		return xt.Data
	}
	k.in.tok = xt
	if k.fillsX(d) {
		k.in.src, k.xfill = o, o
		return nil
	}
	k.in.mat = o.materialize(ctx)
	return k.in.mat.Data
}

// backwardX returns the input data of a Backward with input tensor xt,
// setting k.xfill when the fills compute it (see takeX).
func (k *convKernel) backwardX(xt *tensor.Tensor) []float32 {
	k.xfill = nil
	if xt != k.in.tok || xt == nil {
		return xt.Data
	}
	if k.in.mat != nil {
		return k.in.mat.Data
	}
	k.xfill = k.in.src
	return nil
}

// fillX fills xp, worker wk's padded input of images [lo, hi): from x, or
// from the deferred BN output k.xfill, plane by plane through the
// worker's scratch.
func (k *convKernel) fillX(l padLayout, xp, x []float32, d convDims, lo, hi, wk int) {
	o := k.xfill
	if o == nil {
		chw := d.c * d.s.H * d.s.W
		l.fill(xp, x[lo*chw:hi*chw], d.c, hi-lo)
		return
	}
	l.fillPlanes(xp, d.c, hi-lo, k.xscr[wk], func(j, c int, buf []float32) { o.plane((lo+j)*d.c+c, buf) })
}
