package engine

// Stripes: a fused Conv on a large map lowered by im2col (the 7x7 stride-2
// stem of a ResNet: a 147 x 12544 matrix, 7.4 MB; a VGG's 3x3 convs at
// 224x224, 115 MB) lowers and multiplies a few output rows at a time, so
// each stripe's columns are still in L2 when the GEMM reads them, instead
// of writing the whole matrix out of cache and reading it back.

import "github.com/slimgo/slimgo/kernels"

// stripeFloats bounds one stripe's lowered columns: 512 KiB.
const stripeFloats = 128 << 10

// useStripes reports whether a Forward chunk of f takes the stripe path:
// one image, a fused Conv (filters packed) of one group, not pointwise,
// lowered by im2col (not the gather table of small maps), whose whole
// lowered matrix would exceed stripeFloats.
func useStripes(d convDims, f *convFwd, fused bool) bool {
	return fused && f.kb == 1 && d.g.Group == 1 && !d.pointwise && !f.implicit && !f.poly &&
		!useGather(d.s) && d.kk*d.ohw > stripeFloats
}

// stripeRows returns the output rows of one stripe (at least one).
func stripeRows(d convDims) int { return max(1, stripeFloats/(d.kk*d.s.OW)) }

// forwardStripes computes image img of f on worker wk stripe by stripe
// (a single image's stripes spread over every worker), adding the bias,
// residual and activation to each stripe's rows right after its product,
// while they are in L2: finishing the whole image after the last stripe
// read the 3.2 MB output of a ResNet stem back from memory.
func (k *convKernel) forwardStripes(f *convFwd, wk, img int) {
	d := f.d
	xi := f.x[img*d.c*d.s.H*d.s.W : (img+1)*d.c*d.s.H*d.s.W]
	yi := f.y[img*d.m*d.ohw : (img+1)*d.m*d.ohw]
	rb := stripeRows(d)
	ns := (d.s.OH + rb - 1) / rb
	stripe := func(w, si int) {
		oy0, oy1 := si*rb, min(d.s.OH, (si+1)*rb)
		n := (oy1 - oy0) * d.s.OW
		col := k.cols[w][:d.kk*n]
		kernels.Im2colRowsLD(xi, d.s, col, n, oy0, oy1)
		kernels.SgemmPacked(f.pw[0], false, n, col, n, 0, yi[oy0*d.s.OW:], d.ohw)
		k.finishPlaneRange(d, img, 0, d.m, oy0*d.s.OW, oy1*d.s.OW, f.y, f.bias, f.res)
	}
	if intraOp(d) {
		runChunks(ns, min(kernels.Threads(), len(k.cols)), stripe)
	} else {
		for si := range ns {
			stripe(wk, si)
		}
	}
}
