package engine

// The small-map lowering of a fused (inference) Conv: on a 7x7 or 8x8
// output plane the usual product, filters [M, K] times columns [K, OH*OW],
// has 49 or 64 columns, so the GEMM reads all of the (large) filters once
// per 48 columns and again for the rest, and a 3x3 Conv's Winograd form
// reads 16 transformed copies of them; the filters, not the arithmetic,
// bound it (resnet18's 512-filter 7x7 convs ran at half ONNX Runtime's
// speed). Here the pixels are the rows: C^T [OH*OW, M] = columns^T [OH*OW,
// K] times filters^T [K, M], the filters packed once as the right operand
// (kernels.PackB) and read once per image, then C^T is transposed into the
// output planes, where finishPlanes adds the bias, residual and
// activation. A single image's filters are split over the workers in
// whole 24-column panels, and its im2col by channel ranges (lowered on
// one thread first, resnet18's 512-channel 7x7 convs took 1.73-1.81 ms
// on two threads, 1.58-1.62 so).

import "github.com/slimgo/slimgo/kernels"

// smallMapMaxPixels is the largest output plane the small-map lowering
// takes, smallMapMinFilters the fewest filters (two 48-column pairs of
// panels, so a split over two workers keeps each on the wide kernel).
const (
	smallMapMaxPixels  = 64
	smallMapMinFilters = 96
)

// smallMapOff turns the lowering off; tests compare it with the others.
var smallMapOff = false

// useSmallMap reports whether a Forward call takes the small-map
// lowering: a fused Conv of one group, not depthwise, with at most
// smallMapMaxPixels outputs per plane and smallMapMinFilters filters, on
// a single image (the other lowerings of a batch put several images'
// pixels side by side in one wide product and beat it: resnet18 at batch
// 8 lost 9% to it; so did a batch's pointwise convs on 7x7 maps,
// pointwiseBatched).
func useSmallMap(d convDims, fused bool) bool {
	return fused && !smallMapOff && d.g.Group == 1 && !d.depthwise &&
		d.ohw <= smallMapMaxPixels && d.m >= smallMapMinFilters && d.n == 1 &&
		!(d.pointwise && intraOp(d) && d.m <= smallMapSplitMinFilters*kernels.Threads())
}

// smallMapSplitMinFilters is the fewest filters a worker takes in a
// single image's pointwise product split over several workers; with
// fewer the column-block path's row split is faster (7x7 maps on two
// threads: 960-to-160 115 -> 64 us, 576-to-96 42 -> 24, 960-to-256
// 135 -> 98; 960-to-320 stays: 155 against 168).
const smallMapSplitMinFilters = 128

// forwardSmallMap computes y (every image, bias, residual and activation
// included) by the small-map lowering.
func (k *convKernel) forwardSmallMap(d convDims, x, w, y, bias, res []float32) {
	pt := k.packedWeightsT(d, w)
	t := kernels.Threads()
	chw, kk := d.c*d.s.H*d.s.W, d.kk
	if !d.pointwise {
		k.prepareLowering(d, false)
		k.cols = ensureBufs(k.cols, t, kk*d.ohw)
	}
	k.ybufs = ensureBufs(k.ybufs, t, d.ohw*d.m)
	// image img on worker wk, filters [j0, j1) (j0 a multiple of 24).
	part := func(wk, img, j0, j1 int, col []float32) {
		ct := k.ybufs[wk][:d.ohw*d.m]
		kernels.SgemmPackedB(true, d.ohw, col, d.ohw, pt, j0, j1, 0, ct, d.m)
		yi := y[img*d.m*d.ohw : (img+1)*d.m*d.ohw]
		for p := range d.ohw {
			row := ct[p*d.m : (p+1)*d.m]
			for m := j0; m < j1; m++ {
				yi[m*d.ohw+p] = row[m]
			}
		}
		k.finishPlanes(d, img, j0, j1, y, bias, res)
	}
	lower := func(wk, img int) []float32 {
		xi := x[img*chw : (img+1)*chw]
		if d.pointwise {
			return xi
		}
		col := k.cols[wk][:kk*d.ohw]
		k.im2col(d, xi, col, d.ohw)
		return col
	}
	if d.n == 1 && t > 1 {
		col := x[:chw]
		if !d.pointwise { // lowered by channel ranges on every worker
			col = k.cols[0][:kk*d.ohw]
			k.im2colImage(d, x[:chw], col)
		}
		panels := (d.m + 23) / 24
		parts := min(t, panels/2)
		runChunks(parts, parts, func(wk, q int) {
			part(wk, 0, q*panels/parts*24, min(d.m, (q+1)*panels/parts*24), col)
		})
		return
	}
	runChunks(d.n, min(t, d.n), func(wk, img int) { part(wk, img, 0, d.m, lower(wk, img)) })
}

// usePixelRows reports whether a fused pointwise Conv's batch of 1x1 maps
// (a squeeze-and-excitation block's two convs) is computed as one product
// of the images as rows, X [N, C], by the transposed filters, W^T [C, M],
// straight into Y [N, M] (forwardPixelRows): NCHW with one pixel is
// already that layout. Side by side (pointwiseBatched) the product had 8
// columns at batch 8, one panel of the masked kernel.
func usePixelRows(d convDims, fused bool) bool {
	return fused && d.pointwise && d.ohw == 1 && d.n > 1 && d.g.Group == 1
}

// forwardPixelRows computes y for usePixelRows: the product split by
// 24-filter panels over the workers, then each image's row finished (bias
// vector, residual, activation: finishRow's order).
func (k *convKernel) forwardPixelRows(d convDims, x, w, y, bias, res []float32) {
	pt := k.packedWeightsT(d, w)
	panels := (d.m + 23) / 24
	parts := max(1, min(kernels.Threads(), panels, d.m*d.c*d.n/pixelRowsMinMACs))
	runChunks(parts, parts, func(_, q int) {
		j0, j1 := q*panels/parts*24, min(d.m, (q+1)*panels/parts*24)
		kernels.SgemmPackedB(false, d.n, x, d.c, pt, j0, j1, 0, y, d.m)
		for img := range d.n {
			row := y[img*d.m+j0 : img*d.m+j1]
			if bias != nil {
				kernels.AddTo(bias[j0:j1], row)
			}
			var r []float32
			if res != nil {
				r = res[img*d.m+j0 : img*d.m+j1]
			}
			k.epilogue(row, r)
		}
	})
}

// pixelRowsMinMACs is the least work a worker of forwardPixelRows takes.
const pixelRowsMinMACs = 1 << 18

// packedWeightsT returns a fused Conv's filters [M, K] packed as the
// right operand K x M of the small-map product, packing them on the first
// call for these weights.
func (k *convKernel) packedWeightsT(d convDims, w []float32) *kernels.PackedB {
	if k.ptOf == &w[0] && k.pt.Rows() == d.kk && k.pt.Cols() == d.m {
		return k.pt
	}
	k.pt = kernels.PackB(true, d.kk, d.m, w, d.kk)
	k.ptOf = &w[0]
	return k.pt
}
