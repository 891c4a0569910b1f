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

import (
	"math"

	"github.com/slimgo/slimgo/kernels"
)

// pwBlockFloats bounds one block of outputs: 256 KiB, well inside a
// 2 MiB L2 with the block's input columns. Each block writes a run of
// its columns in every output plane and reads the residual's there, one
// memory stream per plane: with 128 KiB blocks a 64-to-256 expansion at
// 56x56 (resnet50's layer1, a residual added) wrote and read runs of 384
// bytes in 256 planes, too many streams for the prefetchers, and took
// 1.4-2.0 ms at 1 thread against ONNX Runtime's 0.63 (the product alone:
// 0.71); with 256 KiB blocks resnet50 ran 13.4-13.6 -> 13.9-14.0 images/s
// at batch 8 on 1 thread, mobilenet_v2 94-99 -> 105-109 (512 KiB: about
// the same).
const pwBlockFloats = 64 << 10

// pwBlockCols returns the columns of one block of a pointwise product
// with m filters over ohw pixels: all of them when the [m, ohw] output
// fits pwBlockFloats, else the most whole pairs of 24-column GEMM panels
// that do (at least one pair: the wide AVX-512 kernel takes two panels at
// a time, and a lone panel runs at about two thirds of its speed).
func pwBlockCols(m, ohw int) int {
	if m*ohw <= pwBlockFloats {
		return ohw
	}
	return min(ohw, max(48, pwBlockFloats/m/48*48))
}

// usePointwiseBlocks reports whether a Forward chunk of f takes the
// column-block path: a pointwise Conv of one group with filters packed
// (fused, one image per chunk).
func usePointwiseBlocks(d convDims, f *convFwd) bool {
	return d.pointwise && d.g.Group == 1 && f.pw != nil && f.kb == 1
}

// forwardPointwise computes image img of f. An intra-op call gives each
// worker one range of filters (rows), which it computes block by block of
// columns, when there are at least pwRowSplitMin filters per worker, or
// when the planes are not a whole number of cache lines (see below);
// otherwise it hands the column blocks out to the workers, at least two
// each (with one 256 KiB block, a 192-to-32 projection at 28x28 ran on
// one thread: 68 us on one thread, 89 on two; split by rows, each worker
// reads all of the input: 63-82; by columns 42-60). Column
// blocks of one row range written by two workers at once share a cache
// line at every block edge whenever a plane is not a whole number of
// lines (14x14, 7x7): the lines went back and forth between the cores
// and a 96-to-576 expansion at 14x14 ran no faster on two threads than on
// one, 183 us against 103 us split by rows (mobilenet_v2 at batch 1 on
// 2 threads: 160-174 images/s, 219-238 split by rows).
func (k *convKernel) forwardPointwise(f *convFwd, img int) {
	d := f.d
	blk := pwBlockCols(d.m, d.ohw)
	nb := (d.ohw + blk - 1) / blk
	t := kernels.Threads()
	// Column blocks are 48 floats wide: their edges fall on cache-line
	// boundaries only when a plane is a whole number of lines.
	aligned := d.ohw%16 == 0
	switch {
	case intraOp(d) && (d.m >= pwRowSplitMin*t || !aligned && d.m >= 4*t):
		packs := k.rowPacks(d, f.w, t)
		runChunks(t, t, func(_, p int) { k.pointwiseRows(f, img, p, t, packs[p]) })
	case intraOp(d) && d.ohw >= 2*48:
		if nb < 2*t { // at least two blocks a worker, of whole 48-column pairs of panels
			blk = max(48, (d.ohw+2*t*48-1)/(2*t*48)*48)
			nb = (d.ohw + blk - 1) / blk
		}
		runChunks(nb, t, func(_, bi int) { k.pointwiseBlock(f, img, bi*blk, blk) })
	default:
		for bi := range nb {
			k.pointwiseBlock(f, img, bi*blk, blk)
		}
	}
}

// pwRowSplitMin is the fewest filters per worker for which a row split
// is taken on planes of whole cache lines.
const pwRowSplitMin = 32

// pwRowRange returns filters [lo, hi) of part p of t: whole 4-row GEMM
// tiles except for the last part.
func pwRowRange(m, p, t int) (lo, hi int) {
	lo, hi = p*m/t/4*4, (p+1)*m/t/4*4
	if p == t-1 {
		hi = m
	}
	return lo, hi
}

// rowPacks returns a fused Conv's filters [M, K] packed in t row ranges
// (pwRowRange), packing them on the first call for these weights and
// this t (pointwise row splits and forwardRowSplit).
func (k *convKernel) rowPacks(d convDims, w []float32, t int) []*kernels.PackedA {
	if k.prOf == &w[0] && len(k.pr) == t && k.pr[0].Cols() == d.kk {
		return k.pr
	}
	k.pr = make([]*kernels.PackedA, t)
	for p := range t {
		lo, hi := pwRowRange(d.m, p, t)
		k.pr[p] = kernels.PackA(false, hi-lo, d.kk, 1, w[lo*d.kk:], d.kk)
	}
	k.prOf = &w[0]
	return k.pr
}

// pointwiseRows computes filters pwRowRange(M, p, t) of image img over
// every pixel (pa: those filters packed), in column blocks sized for
// these rows (pwBlockCols), applying the bias, residual and activation to
// each block while it is in cache. Each output is the same sum as the
// column blocks' (the GEMM's reduction blocks depend on C only).
func (k *convKernel) pointwiseRows(f *convFwd, img, p, t int, pa *kernels.PackedA) {
	d := f.d
	lo, hi := pwRowRange(d.m, p, t)
	base := img * d.m * d.ohw
	blk := pwBlockCols(hi-lo, d.ohw)
	for j0 := 0; j0 < d.ohw; j0 += blk {
		w := min(blk, d.ohw-j0)
		kernels.SgemmPacked(pa, false, w, f.x[img*d.c*d.ohw+j0:], d.ohw, 0, f.y[base+lo*d.ohw+j0:], d.ohw)
		k.finishRows(f, base, lo, hi, j0, w)
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
	k.finishRows(f, base, 0, d.m, j0, w)
}

// finishRows applies the bias, residual and activation to columns [j0,
// j0+w) of output planes [m0, m1) of the image at f.y[base:].
func (k *convKernel) finishRows(f *convFwd, base, m0, m1, j0, w int) {
	d := f.d
	if f.bias == nil && !k.fused {
		return
	}
	for m := m0; m < m1; m++ {
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
	if k.hswish {
		if res != nil {
			kernels.BiasAddClamp(row, res, b, float32(math.Inf(-1)), float32(math.Inf(1)))
		} else if b != 0 {
			vecAffine(row, row, 0, 1, b, false)
		}
		kernels.HardSwish(row, row)
		return
	}
	if k.clip && res == nil {
		kernels.BiasClamp(row, b, k.lo, k.hi)
		return
	}
	if res != nil && k.fused { // bias, residual and activation in one pass
		lo, hi := k.actBounds()
		kernels.BiasAddClamp(row, res, b, lo, hi)
		return
	}
	if b != 0 || (k.relu && res == nil) {
		vecAffine(row, row, 0, 1, b, k.relu && res == nil)
	}
	if res != nil {
		k.epilogue(row, res)
	}
}
