package engine

// Pointwise (1x1, stride 1, unpadded) convolutions of a fused
// (inference-only) Conv, one image at a time, in column blocks: the GEMM
// of a block, W [M, C] times the block's columns of the image [C, H*W]
// (read in place, no copy), writes the block's columns of Y's planes,
// and the bias, residual and activation are applied to them right after,
// while they are still in the L2 cache. Computing all of W*X into Y first
// and finishing it plane by plane after read every output back from
// memory on MobileNetV2's 112x112 and 56x56 layers (96-144 planes of
// 12-50 KiB). A single image's blocks are handed out to the workers
// dynamically, so batch 1 uses every thread and a worker slowed by other
// load holds the others up by one block at most.

import "github.com/slimgo/slimgo/kernels"

// pwBlockFloats bounds one block of outputs: 128 KiB.
const pwBlockFloats = 32 << 10

// pwBlockCols returns the columns of one block of a pointwise product
// with m filters over ohw pixels: all of them when the [m, ohw] output
// fits pwBlockFloats, else the most whole 24-column GEMM panels that do
// (at least one).
func pwBlockCols(m, ohw int) int {
	if m*ohw <= pwBlockFloats {
		return ohw
	}
	return min(ohw, max(24, pwBlockFloats/m/24*24))
}

// usePointwiseBlocks reports whether a Forward chunk of f takes the
// column-block path: a pointwise Conv of one group with filters packed
// (fused, one image per chunk).
func usePointwiseBlocks(d convDims, f *convFwd) bool {
	return d.pointwise && d.g.Group == 1 && f.pw != nil && f.kb == 1
}

// forwardPointwise computes image img of f, its blocks spread over every
// worker for an intra-op call.
func (k *convKernel) forwardPointwise(f *convFwd, img int) {
	d := f.d
	blk := pwBlockCols(d.m, d.ohw)
	nb := (d.ohw + blk - 1) / blk
	if intraOp(d) && nb > 1 {
		runChunks(nb, kernels.Threads(), func(_, bi int) { k.pointwiseBlock(f, img, bi*blk, blk) })
		return
	}
	for bi := range nb {
		k.pointwiseBlock(f, img, bi*blk, blk)
	}
}

// pointwiseBlock computes output columns [j0, j0+blk) (clipped to the
// plane) of image img into f.y, then applies the bias, residual and
// activation to them.
func (k *convKernel) pointwiseBlock(f *convFwd, img, j0, blk int) {
	d := f.d
	w := min(blk, d.ohw-j0)
	base := img * d.m * d.ohw
	kernels.SgemmPacked(f.pw[0], false, w, f.x[img*d.c*d.ohw+j0:], d.ohw, 0, f.y[base+j0:], d.ohw)
	if f.bias == nil && !k.fused {
		return
	}
	for m := range d.m {
		o := base + m*d.ohw + j0
		var b float32
		if f.bias != nil {
			b = f.bias[m]
		}
		var r []float32
		if f.res != nil {
			r = f.res[o : o+w]
		}
		k.finishRow(f.y[o:o+w], b, r)
	}
}

// finishRow sets row to act(row + b + res) (res nil: none), act the fused
// Conv's activation.
func (k *convKernel) finishRow(row []float32, b float32, res []float32) {
	if k.clip && res == nil {
		kernels.BiasClamp(row, b, k.lo, k.hi)
		return
	}
	if b != 0 || (k.relu && res == nil) {
		vecAffine(row, row, 0, 1, b, k.relu && res == nil)
	}
	if res != nil {
		k.epilogue(row, res)
	}
}
