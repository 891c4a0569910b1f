package engine

import (
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/kernels"
)

// TestRowsNConvMatchesNaive runs fused single-image Convs that take the
// RowsN lowering (3x3 and 5x5 stride 1 "same", stride 2, no pad, a
// rectangular dilated kernel with asymmetric pads and strides; 7x7 and
// 14x14 and odd maps; one and several blocks of 64 filters, a partial
// last block, blocks of 32 filters)
// through fusedConvMatchesNaive (every activation, with and without a
// residual, 1 to 3 threads: filter blocks or position halves over the
// workers, bitwise the same on each), after checking they take it, and
// checks that batches, 1x1 kernels, larger and grouped Convs do not.
func TestRowsNConvMatchesNaive(t *testing.T) {
	if !kernels.RowsNFits() {
		t.Skip("no AVX-512 kernels")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"3x3 64 at 7x7", 1, 20, 7, 7, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 130 at 7x7", 1, 9, 7, 7, 130, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 96 at 14x14", 1, 6, 14, 14, 96, cvGeom(3, 3, 1, 1, 1, 1), false},
		{"3x3 64 at 5x9", 1, 7, 5, 9, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"5x5 70 at 6x6", 1, 4, 6, 6, 70, cvGeom(5, 5, 1, 2, 1, 1), true},
		{"3x3 stride 2 64 from 14x14", 1, 8, 14, 14, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"3x3 stride 2 128 from 15x13", 1, 5, 15, 13, 128, cvGeom(3, 3, 2, 1, 1, 1), false},
		{"rect stride dilation asym pads", 1, 3, 11, 12, 66, refGeom{kh: 3, kw: 2, sh: 2, sw: 3, padT: 2, padL: 0, padB: 1, padR: 1, dh: 2, dw: 1, group: 1}, true},
		{"3x3 no pad 64 at 9x9", 1, 6, 9, 9, 64, cvGeom(3, 3, 1, 0, 1, 1), false},
		{"3x3 stride 2 64 to 28x28", 1, 3, 56, 56, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"3x3 32 at 14x14 (blocks of 32)", 1, 7, 14, 14, 32, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 48 at 7x7", 1, 5, 7, 7, 48, cvGeom(3, 3, 1, 1, 1, 1), false},
	} {
		n, x, w, b := tc.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil || !useRowsN(d, true) {
			t.Fatalf("%s: does not take the RowsN lowering (%v)", tc.name, err)
		}
		fusedConvMatchesNaive(t, tc, uint64(900+10*i), uint64(950+i))
	}
	for _, tc := range []convCase{
		{"batch 2", 2, 8, 7, 7, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"31 filters", 1, 8, 7, 7, 31, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"15x15", 1, 8, 15, 15, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"stride 2 to 29x29", 1, 3, 58, 58, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"pointwise", 1, 8, 7, 7, 64, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 stride 2", 1, 8, 14, 14, 64, cvGeom(1, 1, 2, 0, 1, 1), true},
		{"groups 2", 1, 8, 7, 7, 64, cvGeom(3, 3, 1, 1, 1, 2), true},
	} {
		n, x, w, b := tc.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil || useRowsN(d, true) {
			t.Errorf("%s: takes the RowsN lowering (%v)", tc.name, err)
		}
	}
}

// TestStridedImagesMatchNaive checks the image-by-image lowering of a
// fused strided Conv's batch (stridedImages) against the naive
// convolution, with and without residual, every activation, 1-3 threads:
// through RowsN (useRowsNImages) where it fits and through one image's
// im2col product elsewhere (1x1 kernels, fewer than 32 filters); and
// that stride 1 and outputs above 28x28 keep the other lowerings.
func TestStridedImagesMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"3x3 stride 2 32 filters", 3, 6, 14, 14, 32, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"3x3 stride 2 64 filters odd map", 4, 5, 15, 13, 64, cvGeom(3, 3, 2, 1, 1, 1), false},
		{"1x1 stride 2", 3, 8, 14, 14, 32, cvGeom(1, 1, 2, 0, 1, 1), true},
		{"3x3 stride 2 12 filters", 3, 5, 12, 12, 12, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"rect stride dilation asym pads", 2, 3, 11, 12, 40, refGeom{kh: 3, kw: 2, sh: 2, sw: 3, padT: 2, padL: 0, padB: 1, padR: 1, dh: 2, dw: 1, group: 1}, true},
	} {
		d := tc.dims(t)
		if !stridedImages(d, true) {
			t.Fatalf("%s: does not run image by image", tc.name)
		}
		if want := kernels.RowsNFits() && d.m >= rowsNMinFilters && tc.g.kh*tc.g.kw > 1; useRowsNImages(d, true) != want {
			t.Errorf("%s: useRowsNImages %v, want %v", tc.name, !want, want)
		}
		fusedConvMatchesNaive(t, tc, uint64(700+10*i), uint64(750+i))
	}
	for _, tc := range []convCase{
		{"stride 1", 3, 8, 7, 7, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"one image", 1, 8, 14, 14, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"stride 2 to 29x29", 2, 3, 58, 58, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"depthwise", 2, 8, 14, 14, 8, cvGeom(3, 3, 2, 1, 1, 8), true},
	} {
		if stridedImages(tc.dims(t), true) {
			t.Errorf("%s: runs image by image", tc.name)
		}
	}
}
