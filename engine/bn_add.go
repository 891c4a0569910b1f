package engine

// A training BatchNormalization whose output only an Add reads (a
// ResNet's second BN and its residual join): the BN computes its
// statistics and per-channel coefficients but does not write its output;
// the Add normalises each plane of the BN's input into a scratch that
// stays in cache and adds the other operand from there (with its fused
// ReLU), so the BN's output is neither written nor read back. Each plane
// goes through the same vecAffine and kernels.Add as the separate passes,
// so the Add's output is bitwise theirs. The Backward passes need no
// change: the Add's uses only its output, the BN's its input.

import (
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// bnOut is one training BN Forward's deferred output: plane p (image j,
// channel ch: p = j*c+ch) of Y is vecAffine(X plane, mu[ch], a[ch], b[ch],
// relu) (vecAffineClamp for a fused Clip), as the BN computes it. An Add
// (bn_add.go) or a Conv (bn_conv_in.go) computes it.
type bnOut struct {
	tok      *tensor.Tensor // the placeholder output (Shape only, no Data)
	x        []float32
	n, c     int
	inner    int
	mu, a, b []float32
	relu     bool // the BN's fused ReLU, or
	clip     bool // Clip to [lo, hi]
	lo, hi   float32
}

// plane writes plane (j, ch) of Y into dst[:inner].
func (o *bnOut) plane(p int, dst []float32) {
	ch := p % o.c
	xs, ys := o.x[p*o.inner:(p+1)*o.inner], dst[:o.inner]
	if o.clip {
		vecAffineClamp(xs, ys, o.mu[ch], o.a[ch], o.b[ch], o.lo, o.hi)
		return
	}
	vecAffine(xs, ys, o.mu[ch], o.a[ch], o.b[ch], o.relu)
}

// materialize writes the whole output into a tensor from ctx's pool.
func (o *bnOut) materialize(ctx *Ctx) *tensor.Tensor {
	y := ctx.allocRaw(o.tok.Shape...) // every plane is written below
	forBNPlanes(o.n*o.c, o.inner, func(lo, hi int, _ []float32) {
		for p := lo; p < hi; p++ {
			o.plane(p, y.Data[p*o.inner:(p+1)*o.inner])
		}
	})
	return y
}

// forBNPlanes runs f over ranges of nplanes planes of inner values, split
// over the workers when there are more than parallelMin values, each call
// with a scratch of inner floats.
func forBNPlanes(nplanes, inner int, f func(lo, hi int, buf []float32)) {
	body := func(lo, hi int) { f(lo, hi, make([]float32, inner)) }
	if nplanes*inner > parallelMin && nplanes > 1 {
		kernels.ParallelFor(nplanes, body)
		return
	}
	body(0, nplanes)
}

// fuseBNAdd enables the deferred BN output; tests turn it off to compare
// against the separate passes.
var fuseBNAdd = true

// takeBN returns, for an Add Forward, the deferred output of the BN
// handed to it (k.pendIn) when it is one of the operands (its index j),
// or nil.
func (k *binKernel) takeBN(in []*tensor.Tensor) (*bnOut, int) {
	o := k.pendIn
	k.pendIn = nil
	switch {
	case o == nil:
		return nil, 0
	case in[0] == o.tok:
		return o, 0
	case in[1] == o.tok:
		return o, 1
	}
	return nil, 0
}

// forwardBN is Forward of an Add with operand j the deferred output o of
// a BN, the other operand of the same shape.
func (k *binKernel) forwardBN(ctx *Ctx, o *bnOut, j int, other *tensor.Tensor) *tensor.Tensor {
	y := ctx.allocRaw(o.tok.Shape...) // every plane is written below
	inner := o.inner
	forBNPlanes(o.n*o.c, inner, func(lo, hi int, buf []float32) {
		for p := lo; p < hi; p++ {
			o.plane(p, buf)
			r, yp := other.Data[p*inner:(p+1)*inner], y.Data[p*inner:(p+1)*inner]
			if j == 0 {
				kernels.Add(buf, r, yp, k.relu)
			} else {
				kernels.Add(r, buf, yp, k.relu)
			}
		}
	})
	return y
}
