package engine

import (
	"math"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// TestPackWinoRotMatchesRotatedFilters checks the input gradient's use of
// the forward's transforms: the product by the transposed, WinoRot-permuted
// forward transforms (packWino with rot, into storage the forward pass
// used) equals, bit for bit, Sgemm's product by the transforms of the
// rotated, transposed filters (the dX convolution's own, as they were
// computed before), for every Winograd element.
func TestPackWinoRotMatchesRotatedFilters(t *testing.T) {
	const m, c, n, ld = 13, 7, 30, 48 // forward M filters of C channels; dX: cout = C, cin = M
	w := cvRand(3, m, c, 3, 3).Data
	u := winoFilters(nil, w, m, c)
	ur := make([]float32, 16*m*c) // [16][c][m]: filter (ci, mi) = W[mi][ci] rotated
	var g [9]float32
	for ci := range c {
		for mi := range m {
			for tp := range 9 {
				g[tp] = w[(mi*c+ci)*9+8-tp]
			}
			kernels.WinoFilter(g[:], ur[ci*m+mi:], m*c)
		}
	}
	pu := packWino(packWino(nil, u, m, c, false), u, m, c, true)
	v := cvRand(4, 16*m*ld).Data
	got, want := make([]float32, 16*c*ld), make([]float32, 16*c*ld)
	for xi := range 16 {
		kernels.SgemmPacked(pu[xi], false, n, v[xi*m*ld:], ld, 0, got[xi*c*ld:], ld)
		kernels.Sgemm(false, false, c, n, m, 1, ur[xi*c*m:], m, v[xi*m*ld:], ld, 0, want[xi*c*ld:], ld)
	}
	for xi := range 16 {
		for r := range c {
			for j := range n {
				i := xi*c*ld + r*ld + j
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("element %d, row %d, column %d: %v, want %v", xi, r, j, got[i], want[i])
				}
			}
		}
	}
}

// TestWinogradBackwardFollowsWeights checks that the input gradient, which
// reuses the transformed filters of the last Forward, follows the weights:
// after an in-place update and a new Forward (a training step), and when
// Backward is given other weights than the Forward, dX is bit for bit that
// of a fresh kernel run on those weights.
func TestWinogradBackwardFollowsWeights(t *testing.T) {
	tc := convCases[0]
	for _, c := range convCases {
		if c.name == "winograd 7x7 odd batch" {
			tc = c
		}
	}
	if !useWinograd(tc.dims(t)) {
		t.Fatalf("%s does not take the Winograd lowering", tc.name)
	}
	n, x, w, b := tc.build(11)
	dy := cvRand(12, tc.n, tc.m, tc.h, tc.w)
	need := []bool{true, true, true}
	fresh := func(w *tensor.Tensor) []float32 {
		k := cvCompile(t, n)
		in := convIn(x, w, b)
		y := cvForward(t, k, true, in...)
		return cvBackward(t, k, in, y, dy, need)[0].Data
	}
	same := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: dX[%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	k := cvCompile(t, n)
	in := convIn(x, w, b)
	y := cvForward(t, k, true, in...)
	same("first step", cvBackward(t, k, in, y, dy, need)[0].Data, fresh(w))
	for i := range w.Data { // an optimizer step, in place
		w.Data[i] *= 0.75
	}
	y = cvForward(t, k, true, in...)
	same("after an in-place update", cvBackward(t, k, in, y, dy, need)[0].Data, fresh(w))
	w2 := cvRand(13, w.Shape...)
	in2 := convIn(x, w2, b)
	same("other weights", cvBackward(t, k, in2, y, dy, need)[0].Data, fresh(w2))
}

// TestWinogradPartsMatchNaive splits small maps into Winograd parts
// (winoPartBytes lowered): fused Convs with every activation, with and
// without a residual, on 1 to 3 threads and at batch 1 and 3 against the
// naive convolution, and bit for bit the whole-image pass's outputs.
func TestWinogradPartsMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(v int) { winoPartBytes = v }(winoPartBytes)
	for i, tc := range []convCase{
		{"8x20x20", 1, 8, 20, 20, 8, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"8x20x20 batch 3", 3, 8, 20, 20, 8, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"6x13x11 odd", 1, 6, 13, 11, 10, cvGeom(3, 3, 1, 1, 1, 1), false},
		{"16x7x7 two tile rows a group", 1, 16, 7, 7, 16, cvGeom(3, 3, 1, 1, 1, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dims(t)
			winoPartBytes = 16 << 10
			k := &convKernel{}
			if parts := k.winoSplitParts(implicitLayout(d, 1), d, false); len(parts) < 2 {
				t.Fatalf("%d parts at %d bytes a part", len(parts), winoPartBytes)
			}
			fusedConvMatchesNaive(t, tc, uint64(700+10*i), uint64(800+i))
			n, x, w, b := tc.build(uint64(900 + i))
			n.Op = OpFusedConv
			n.Attrs["activation"] = "relu"
			split := cvForward(t, cvCompile(t, n), false, convIn(x, w, b)...)
			winoPartBytes = 1 << 30
			whole := cvForward(t, cvCompile(t, n), false, convIn(x, w, b)...)
			if !cvBitEqual(split, whole) {
				t.Fatal("parts differ bitwise from the whole-image pass")
			}
		})
	}
}

// TestWinogradRowsMatchNaive runs single images of fused 3x3 Convs whose
// Winograd pass is split on several threads by bands of tile rows
// (forwardWinoParts: at least winoBandMinTiles tiles a worker), by
// filters (winoRunRows: 8 filters or more) or by stage (fewer), with
// every activation, with and without a residual, on 1 to 3 threads,
// against the naive convolution; the outputs do not depend on the thread
// count.
func TestWinogradRowsMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []struct {
		convCase
		bands bool // split in bands on two threads
	}{
		{convCase{"16x28x28", 1, 16, 28, 28, 16, cvGeom(3, 3, 1, 1, 1, 1), true}, true},
		{convCase{"8x27x29 odd", 1, 8, 27, 29, 12, cvGeom(3, 3, 1, 1, 1, 1), false}, true},
		{convCase{"6x9x9 to 10", 1, 6, 9, 9, 10, cvGeom(3, 3, 1, 1, 1, 1), false}, false},
		{convCase{"32x7x7", 1, 32, 7, 7, 32, cvGeom(3, 3, 1, 1, 1, 1), true}, false},
		{convCase{"5x8x8 to 6, by stage", 1, 5, 8, 8, 6, cvGeom(3, 3, 1, 1, 1, 1), true}, false},
	} {
		tc, bands := tc.convCase, tc.bands
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dims(t)
			if !useWinogradForward(d, true) {
				t.Fatal("not a Winograd geometry")
			}
			runtime.GOMAXPROCS(2)
			if parts := (&convKernel{}).winoSplitParts(implicitLayout(d, 1), d, true); (len(parts) >= 2) != bands {
				t.Fatalf("%d parts on two threads, want bands %v", len(parts), bands)
			}
			fusedConvMatchesNaive(t, tc, uint64(1000+10*i), uint64(1100+i))
		})
	}
}

// TestWinoChunk checks the forward chunk sizes: within the V/M budget on
// whole 48-tile pairs for small filters, wide chunks for large ones, two
// chunks a worker unless that leaves fewer than 48 tiles a chunk.
func TestWinoChunk(t *testing.T) {
	for _, tc := range []struct {
		c, h, n, t, want int
	}{
		{64, 7, 64, 1, 6},   // budget: 8 images, 6 for 96 tiles
		{64, 7, 64, 2, 4},   // balanced over two workers: 16 chunks of 4, not 11 of 6
		{64, 7, 8, 2, 4},    // two a worker would be 32 tiles: one a worker
		{512, 7, 8, 2, 4},   // large filters, no budget; one a worker
		{512, 7, 8, 1, 4},   // two chunks of 64 tiles on one worker
		{256, 14, 8, 2, 2},  // two a worker: 112 tiles each
		{32, 14, 128, 2, 4}, // budget: 4 images (224 tiles)
	} {
		d := convDims{n: tc.n, c: tc.c, m: tc.c}
		d.s.H, d.s.W = tc.h, tc.h
		if got := winoChunk(d, tc.t); got != tc.want {
			t.Errorf("%d channels at %dx%d, batch %d, %d workers: chunks of %d images, want %d", tc.c, tc.h, tc.h, tc.n, tc.t, got, tc.want)
		}
	}
}
