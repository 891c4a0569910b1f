package engine

// A BatchNormalization's input gradient handed to the convolution that
// produced its input, unwritten. In a ResNet every BN reads a Conv's
// output and is that output's only reader, so the BN's dX is read by
// exactly one pass: the Conv's backward copy of its output gradient into
// the padded layout (conv_implicit.go). Instead of writing dX (a tensor as
// large as the activation) and reading it back, the BN's Backward computes
// its per-channel coefficients only, and the Conv computes dX plane by
// plane into a small scratch as it fills its layout (convKernel.fillDY),
// with the same per-plane function (bnApplyPlane), so the gradients are
// bitwise the unfused ones. Paths of the Conv that read dY otherwise (a
// bias gradient, the im2col lowerings) materialise it first
// (bnGrad.materialize).

import (
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// bnGrad is one BN Backward's deferred input gradient: for image j and
// channel ch (planes of inner values of X and dY, NCHW with c channels),
//
//	dX = a*g + bx*(X-mu) + c0, g = dY masked as the fused activation requires
//
// (bnApplyPlane), the coefficients per channel.
type bnGrad struct {
	tok    *tensor.Tensor // the placeholder gradient the executor passes on (Shape only, no Data)
	x, dy  []float32
	n, c   int
	inner  int
	mu, a  []float32
	bx, c0 []float32
	beta   []float32 // the BN's bias, for the fused activation's mask
	relu   bool
	clip   bool
	lo, hi float32
}

// plane writes dX of image j, channel ch into dst[:inner].
func (g *bnGrad) plane(j, ch int, dst []float32) {
	off := (j*g.c + ch) * g.inner
	bnApplyPlane(g.x[off:off+g.inner], g.dy[off:off+g.inner], dst[:g.inner],
		g.mu[ch], g.a[ch], g.bx[ch], g.c0[ch], g.beta[ch], g.relu, g.clip, g.lo, g.hi)
}

// materialize writes the whole dX into a tensor from ctx's pool, planes
// split over the workers as the BN's own pass splits channels.
func (g *bnGrad) materialize(ctx *Ctx) *tensor.Tensor {
	dx := ctx.allocRaw(g.tok.Shape...) // every plane is written below
	bnForChannels(g.c, g.n*g.c*g.inner, func(ch int) {
		for j := range g.n {
			off := (j*g.c + ch) * g.inner
			g.plane(j, ch, dx.Data[off:off+g.inner])
		}
	})
	return dx
}

// bnApplyPlane writes one plane of a BN's input gradient:
// dx = a*g + bx*(x-mu) + c0 with g = dy, or dy masked by the fused ReLU
// (relu) or Clip (clip, bounds lo and hi) recomputed from x and the
// forward's coefficients a and beta.
func bnApplyPlane(xs, dys, dxs []float32, mu, a, bx, c0, beta float32, relu, clip bool, lo, hi float32) {
	switch {
	case relu:
		vecBNBwdApplyRelu(xs, dys, dxs, mu, a, bx, c0, beta)
	case clip:
		vecBNBwdApplyClamp(xs, dys, dxs, mu, a, bx, c0, beta, lo, hi)
	default:
		vecBNBwdApply(xs, dys, dxs, mu, a, bx, c0)
	}
}

// grow32 returns s with length n, reallocated only when too short.
func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// fuseBNGrads enables the deferred BN input gradient (on linked pairs);
// tests turn it off to compare against the unfused passes.
var fuseBNGrads = true

// linkBNGrads points every BatchNormalization kernel whose input X is the
// output of a (training-capable) Conv read by nothing else, not a graph
// output either, at that Conv (bnKernel.gradTo). nodes and ks are the
// executor's compiled order. It also points every BN whose output one Add
// alone reads (one BN per Add) at that Add (bnKernel.outTo, bn_add.go),
// and every BN whose output one Conv alone reads as its X at that Conv
// (bnKernel.outConv, bn_conv_in.go).
func linkBNGrads(g *graph.Graph, nodes []*graph.Node, ks []Kernel) {
	ix := graph.NewIndex(g, nodes)
	conv := map[*graph.Node]*convKernel{}
	kernelOf := map[*graph.Node]Kernel{}
	linkedAdd := map[*binKernel]bool{}
	for i, n := range nodes {
		kernelOf[n] = ks[i]
		if c, ok := ks[i].(*convKernel); ok && n.Op == graph.OpConv && !c.fused {
			conv[n] = c
		}
	}
	for i, n := range nodes {
		b, ok := ks[i].(*bnKernel)
		if !ok || len(n.Inputs) == 0 || n.Inputs[0] == "" {
			continue
		}
		if o := n.Outputs[0]; len(n.Outputs) == 1 && o != "" && ix.Readers(o) == 1 && len(ix.Consumers(o)) == 1 {
			r := ix.Consumers(o)[0]
			if r.Op == graph.OpAdd && len(r.Inputs) == 2 && r.Inputs[0] != r.Inputs[1] && !b.relu && !b.clip && fuseBNAdd {
				if a, ok := kernelOf[r].(*binKernel); ok && !a.mul && !linkedAdd[a] {
					b.outTo, linkedAdd[a], a.bnIn = a, true, b
				}
			}
			if c := conv[r]; c != nil && r.Inputs[0] == o && fuseBNConvIn {
				b.outConv, c.inBN = c, b
			}
		}
		v := n.Inputs[0]
		if c := conv[ix.Producer(v)]; c != nil && ix.Readers(v) == 1 {
			b.gradTo = c
			c.feedsBN = true
		}
	}
}
