package engine

import (
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/graph"
)

// TestSmallMapMatchesNaive runs fused Convs that take the small-map
// lowering (pointwise and 3x3, stride 1 and 2, 4x4 to 8x8 outputs, filter
// counts that are and are not whole panels) through
// fusedConvMatchesNaive (every activation, with and without a residual, 1
// to 3 threads, bitwise the same on each), after checking they take it.
func TestSmallMapMatchesNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func() { rowsNOn = true }()
	rowsNOn = false // the 3x3 stride-1 cases would take RowsN
	for i, tc := range []convCase{
		{"pointwise 400 at 7x7", 1, 40, 7, 7, 400, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"3x3 100 at 7x7", 1, 20, 7, 7, 100, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 stride 2 128 from 16x16", 1, 12, 16, 16, 128, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"3x3 200 at 4x4", 1, 9, 4, 4, 200, cvGeom(3, 3, 1, 1, 1, 1), true},
	} {
		n, x, w, b := tc.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil || !useSmallMap(d, true) {
			t.Fatalf("%s: does not take the small-map lowering (%v)", tc.name, err)
		}
		fusedConvMatchesNaive(t, tc, uint64(700+10*i), uint64(800+i))
	}
}

// TestSmallMapNotForBatches checks that a 3x3 or pointwise Conv on a small
// map keeps its batched lowering at batch 3 (a fused pointwise one its
// images side by side, pointwiseBatched, checked against the naive
// convolution), and single images take the small-map one.
func TestSmallMapNotForBatches(t *testing.T) {
	d := convDims{n: 3, m: 128, ohw: 49, g: graph.ConvGeom{Group: 1}}
	if useSmallMap(d, true) {
		t.Fatal("a 3x3 Conv at batch 3 takes the small-map lowering")
	}
	d.pointwise = true
	if useSmallMap(d, true) || !pointwiseBatched(d, true) {
		t.Fatal("a fused pointwise Conv at batch 3 takes the small-map lowering, or not its images side by side")
	}
	if d.ohw = 65; pointwiseBatched(d, true) || !pointwiseBatched(d, false) {
		t.Fatal("a fused pointwise Conv on more than 64 pixels runs its images side by side (or an unfused one does not)")
	}
	d.ohw = 49
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"pointwise 130 at 7x7 batch 3", 3, 33, 7, 7, 130, cvGeom(1, 1, 1, 0, 1, 1), false},
		{"pointwise 24 at 5x6 batch 4", 4, 20, 5, 6, 24, cvGeom(1, 1, 1, 0, 1, 1), true},
	} {
		fusedConvMatchesNaive(t, tc, uint64(600+10*i), uint64(650+i))
	}
	d.pointwise, d.n = false, 1
	if !useSmallMap(d, true) {
		t.Fatal("a single image's 3x3 Conv does not take the small-map lowering")
	}
	runtime.GOMAXPROCS(2)
	d.pointwise = true
	if d.m = 256; useSmallMap(d, true) {
		t.Error("a single image's 256-filter pointwise Conv on two threads takes the small-map lowering")
	}
	if d.m = 257; !useSmallMap(d, true) {
		t.Error("a single image's 257-filter pointwise Conv on two threads does not take the small-map lowering")
	}
	runtime.GOMAXPROCS(1)
	if d.m = 96; !useSmallMap(d, true) {
		t.Error("a single image's 96-filter pointwise Conv on one thread does not take the small-map lowering")
	}
}

// TestPixelRowsMatchNaive runs fused pointwise Convs on 1x1 maps at
// batches of 2 to 8 (a squeeze-and-excitation block's convs) through
// usePixelRows's product, filter counts within one panel and over several
// (split over the workers), against the naive convolution with every
// activation, with and without a residual, on 1 to 3 threads.
func TestPixelRowsMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"576 to 144 batch 8", 8, 576, 1, 1, 144, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"16 to 8 batch 2", 2, 16, 1, 1, 8, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"40 to 97 batch 5, no bias", 5, 40, 1, 1, 97, cvGeom(1, 1, 1, 0, 1, 1), false},
	} {
		if d := tc.dims(t); !usePixelRows(d, true) || usePixelRows(d, false) {
			t.Fatalf("%s: usePixelRows fused %v, unfused %v", tc.name, usePixelRows(d, true), usePixelRows(d, false))
		}
		fusedConvMatchesNaive(t, tc, uint64(500+10*i), uint64(550+i))
	}
	d := convDims{n: 1, m: 8, c: 16, ohw: 1, pointwise: true, g: graph.ConvGeom{Group: 1}}
	if usePixelRows(d, true) {
		t.Error("a single image takes the pixel-rows product")
	}
}
