package engine

import (
	"runtime"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// convCase is one Conv geometry: input [n,c,h,w], m filters of kh x kw.
type convCase struct {
	name       string
	n, c, h, w int
	m          int
	g          refGeom
	bias       bool
}

func cvGeom(kh, kw, s, pad, dil, group int) refGeom {
	return refGeom{kh: kh, kw: kw, sh: s, sw: s, padT: pad, padL: pad, padB: pad, padR: pad, dh: dil, dw: dil, group: group}
}

var convCases = []convCase{
	{"3x3 pad1", 2, 3, 6, 5, 4, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"3x3 nopad nobias", 2, 3, 7, 6, 5, cvGeom(3, 3, 1, 0, 1, 1), false},
	{"1x1 pointwise", 3, 5, 4, 3, 6, cvGeom(1, 1, 1, 0, 1, 1), true},
	{"1x1 pointwise groups2", 2, 4, 3, 5, 6, cvGeom(1, 1, 1, 0, 1, 2), false},
	{"1x1 stride2", 2, 4, 5, 5, 3, cvGeom(1, 1, 2, 0, 1, 1), true},
	{"3x3 stride2 pad1 odd", 3, 3, 9, 7, 4, cvGeom(3, 3, 2, 1, 1, 1), true},
	{"3x3 dilation2 pad2", 2, 2, 8, 9, 3, cvGeom(3, 3, 1, 2, 2, 1), true},
	{"groups2", 2, 4, 6, 6, 6, cvGeom(3, 3, 1, 1, 1, 2), true},
	{"depthwise", 3, 5, 6, 7, 5, cvGeom(3, 3, 1, 1, 1, 5), false},
	{"depthwise stride2", 2, 4, 7, 7, 4, cvGeom(3, 3, 2, 1, 1, 4), true},
	{"depthwise multiplier2", 2, 3, 5, 5, 6, cvGeom(3, 3, 1, 1, 1, 3), true},
	{"rect kernel asym pads", 2, 3, 7, 8, 4, refGeom{kh: 2, kw: 3, sh: 1, sw: 2, padT: 0, padL: 1, padB: 2, padR: 0, dh: 1, dw: 1, group: 1}, true},
	{"5x5 stride3 dil2", 1, 2, 11, 12, 3, refGeom{kh: 5, kw: 3, sh: 3, sw: 2, padT: 1, padL: 2, padB: 3, padR: 1, dh: 2, dw: 2, group: 1}, true},
	{"depthwise dilation2 asym stride", 2, 3, 8, 8, 3, refGeom{kh: 3, kw: 2, sh: 2, sw: 1, padT: 2, padL: 0, padB: 1, padR: 1, dh: 2, dw: 1, group: 3}, true},
	{"depthwise 5x5 stride2 multiplier2", 2, 2, 9, 7, 4, cvGeom(5, 5, 2, 2, 1, 2), false},
	{"depthwise 5x5 stride1 14x14", 1, 8, 14, 14, 8, cvGeom(5, 5, 1, 2, 1, 8), true},
	{"depthwise 7x7 stride1 odd plane", 2, 3, 9, 13, 3, cvGeom(7, 7, 1, 3, 1, 3), true},
	{"depthwise 3x5 stride2", 1, 4, 11, 10, 4, refGeom{kh: 3, kw: 5, sh: 2, sw: 2, padT: 1, padL: 2, padB: 1, padR: 2, dh: 1, dw: 1, group: 4}, false},
	{"depthwise stride3 wide pad", 1, 2, 7, 10, 2, refGeom{kh: 3, kw: 3, sh: 3, sw: 3, padT: 2, padL: 2, padB: 2, padR: 2, dh: 1, dw: 1, group: 2}, true},
	{"batch1", 1, 3, 6, 6, 2, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"batch larger than threads", 7, 2, 5, 4, 3, cvGeom(3, 3, 2, 1, 1, 1), true},
	{"kernel equals input", 2, 3, 3, 3, 4, cvGeom(3, 3, 1, 0, 1, 1), true},
	// Batches of 9-10 small maps go through the lowered chunks of several
	// images (chunkImages > 1, stride-1 same-width geometries), a last
	// partial chunk included; the others check that the rest stay per image.
	{"chunked 3x3 pad1", 9, 3, 5, 4, 4, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"chunked groups2 nobias", 10, 4, 4, 5, 6, cvGeom(3, 3, 1, 1, 1, 2), false},
	{"chunked 9x9 block lowering", 9, 2, 9, 9, 3, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"chunked dilation2 pad2", 9, 2, 6, 5, 3, cvGeom(3, 3, 1, 2, 2, 1), true},
	{"chunked 5x5 pad1 narrower", 9, 2, 7, 6, 3, cvGeom(5, 5, 1, 1, 1, 1), true},
	// Pointwise convs on small maps run several images side by side too
	// (pointwiseBatched), grouped or not, with a partial last chunk.
	{"chunked 1x1 pointwise", 9, 5, 4, 3, 6, cvGeom(1, 1, 1, 0, 1, 1), true},
	{"chunked 1x1 pointwise groups2", 10, 4, 3, 5, 6, cvGeom(1, 1, 1, 0, 1, 2), false},
	// Maps over gatherMaxCols output pixels take the block-copy lowerings:
	// kernels.Im2col per image, and kernels.Im2colLD for two 17x17 images a chunk.
	{"large map per image", 2, 2, 20, 20, 3, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"large map chunked", 9, 2, 17, 17, 3, cvGeom(3, 3, 1, 1, 1, 1), false},
	{"large strided map", 3, 2, 40, 36, 3, cvGeom(3, 3, 2, 1, 1, 1), true},
	{"chunked 1x1 stride2", 9, 4, 5, 6, 3, cvGeom(1, 1, 2, 0, 1, 1), false},
	// Stride-1 geometries compute dX as a convolution of dY with flipped
	// filters (convDims.dxConv); pads wider than the dilated kernel fall
	// back to col2im.
	{"chunked 3x3 nopad (dX map larger)", 9, 2, 6, 5, 3, cvGeom(3, 3, 1, 0, 1, 1), true},
	{"chunked rect stride1 asym pads", 9, 2, 6, 7, 3, refGeom{kh: 2, kw: 3, sh: 1, sw: 1, padT: 0, padL: 2, padB: 1, padR: 0, dh: 1, dw: 1, group: 1}, false},
	{"chunked same asym pads", 9, 2, 6, 7, 3, refGeom{kh: 2, kw: 3, sh: 1, sw: 1, padT: 0, padL: 1, padB: 1, padR: 1, dh: 1, dw: 1, group: 1}, true},
	{"3x3 pad3 wider than kernel", 2, 2, 5, 5, 3, cvGeom(3, 3, 1, 3, 1, 1), true},
	{"chunked rect asym dilated", 9, 2, 7, 8, 3, refGeom{kh: 2, kw: 3, sh: 2, sw: 3, padT: 1, padL: 2, padB: 0, padR: 1, dh: 2, dw: 1, group: 1}, true},
	// Stride 2 on inputs twice the output size take the polyphase lowering
	// (usePolyphase): four, two or one phases read, plane offsets -1..1.
	{"polyphase 3x3 pad1", 5, 3, 8, 6, 4, cvGeom(3, 3, 2, 1, 1, 1), true},
	{"polyphase chunked 1x1", 9, 4, 6, 8, 3, cvGeom(1, 1, 2, 0, 1, 1), false},
	{"polyphase groups2", 3, 4, 6, 6, 6, cvGeom(3, 3, 2, 1, 1, 2), false},
	{"polyphase 3x3 pads bottom-right", 4, 2, 8, 6, 3, refGeom{kh: 3, kw: 3, sh: 2, sw: 2, padT: 0, padL: 0, padB: 1, padR: 1, dh: 1, dw: 1, group: 1}, true},
	{"polyphase 2x2 nopad", 2, 3, 8, 4, 5, cvGeom(2, 2, 2, 0, 1, 1), true},
	{"polyphase 4x4 pad1 rect", 3, 2, 8, 10, 3, refGeom{kh: 4, kw: 3, sh: 2, sw: 2, padT: 1, padL: 1, padB: 1, padR: 0, dh: 1, dw: 1, group: 1}, true},
	// Narrow weight gradients (kernels.SgemmRowsT's dot-product blocks): a
	// grayscale stem on maps large enough for one image a chunk (so with
	// grouped accumulators a group sums several chunks), and one input
	// channel per group.
	{"grayscale stem large map", 6, 1, 26, 26, 3, cvGeom(3, 3, 1, 1, 1, 1), false},
	{"chunked groups one channel each", 9, 2, 5, 4, 4, cvGeom(3, 3, 1, 1, 1, 2), true},
	// Accumulators large enough that summing them is split over workers.
	{"wide weights chunked", 9, 64, 4, 4, 64, cvGeom(3, 3, 1, 1, 1, 1), false},
	// The Winograd lowering (3x3 pad 1 stride 1, planes up to 14x14):
	// two tile rows a group (4 tiles a row) with an odd number of rows,
	// 8 tiles a row with the last half partly or wholly past the map,
	// single-row and single-column maps, and a last chunk with fewer
	// images than the others.
	{"winograd 7x7 odd batch", 9, 8, 7, 7, 6, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"winograd 14x14", 5, 3, 14, 14, 4, cvGeom(3, 3, 1, 1, 1, 1), false},
	{"winograd 9x13", 3, 4, 9, 13, 5, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"winograd one row", 3, 2, 1, 10, 3, cvGeom(3, 3, 1, 1, 1, 1), false},
	{"winograd one column", 3, 2, 5, 1, 3, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"winograd 2x2 many images", 37, 3, 2, 2, 2, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"winograd 14x14 many chunks", 20, 2, 14, 14, 3, cvGeom(3, 3, 1, 1, 1, 1), false},
	// Weight gradients through kernels.RowsT (useRowsT): 16, 32 and 64
	// lanes of filters a position, several chunks.
	{"rowsT 20 filters", 5, 6, 6, 7, 20, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"rowsT 16 filters chunked", 9, 5, 5, 6, 16, cvGeom(3, 3, 1, 1, 1, 1), false},
	{"rowsT 40 filters chunked", 9, 5, 5, 4, 40, cvGeom(3, 3, 1, 1, 1, 1), false},
}

// TestPolyphaseCases checks that the polyphase cases above take that
// lowering and that a near miss (odd input) does not.
func TestPolyphaseCases(t *testing.T) {
	for _, tc := range convCases {
		want := strings.HasPrefix(tc.name, "polyphase") || tc.name == "large strided map"
		if got := usePolyphase(tc.dims(t)); got != want {
			t.Errorf("%s: usePolyphase %v, want %v", tc.name, got, want)
		}
	}
}

// TestChunkImages checks how many images one lowered GEMM takes.
func TestChunkImages(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, ohw, t, kb int
	}{
		{"28x28 one image", 128, 784, 2, 1},
		{"14x14 three", 128, 196, 2, 3},
		{"7x7 thirteen", 128, 49, 2, 13},
		{"small batch keeps two chunks per worker", 8, 49, 2, 2},
		{"single image", 1, 49, 2, 1},
		{"one worker", 9, 4, 1, 5},
		{"huge map", 4, 100000, 2, 1},
	} {
		if got := chunkImages(tc.n, tc.ohw, tc.t); got != tc.kb {
			t.Errorf("%s: chunkImages(%d, %d, %d) = %d, want %d", tc.name, tc.n, tc.ohw, tc.t, got, tc.kb)
		}
	}
}

// convNode builds the Conv node of a case and its random tensors.
// dims returns the checked sizes of the case's Conv call.
func (tc convCase) dims(t *testing.T) convDims {
	t.Helper()
	n, x, w, b := tc.build(1)
	d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (tc convCase) build(seed uint64) (*graph.Node, *tensor.Tensor, *tensor.Tensor, *tensor.Tensor) {
	x := cvRand(seed, tc.n, tc.c, tc.h, tc.w)
	w := cvRand(seed+1, tc.m, tc.c/tc.g.group, tc.g.kh, tc.g.kw)
	inputs := []string{"x", "w"}
	var b *tensor.Tensor
	if tc.bias {
		b = cvRand(seed+2, tc.m)
		inputs = append(inputs, "b")
	}
	n := &graph.Node{Name: "conv_" + tc.name, Op: graph.OpConv, Inputs: inputs, Outputs: []string{"y"}, Attrs: tc.g.attrs()}
	return n, x, w, b
}

func convIn(x, w, b *tensor.Tensor) []*tensor.Tensor {
	if b == nil {
		return []*tensor.Tensor{x, w}
	}
	return []*tensor.Tensor{x, w, b}
}

func TestConvForwardMatchesNaive(t *testing.T) { testConvForward(t) }

// TestConvExplicitLowering turns the implicit and polyphase lowerings off,
// so the cases that take them by default (several images, stride 1 with
// output as large as the input, or stride 2 on even inputs) go through im2col/col2im and the gather tables again, and
// checks forward and backward against the naive references.
func TestConvExplicitLowering(t *testing.T) {
	old := implicitMinCols
	implicitMinCols, polyphaseOff = 1<<30, true
	defer func() { implicitMinCols, polyphaseOff = old, false }()
	t.Run("forward", testConvForward)
	t.Run("backward", testConvBackward)
}

// TestConvImplicitWithoutWinograd turns the Winograd lowering off, so the
// small-map cases it takes by default run through the implicit GEMM's
// forward and input-gradient products again.
func TestConvImplicitWithoutWinograd(t *testing.T) {
	old := winogradMaxPlane
	winogradMaxPlane = 0
	defer func() { winogradMaxPlane = old }()
	t.Run("forward", testConvForward)
	t.Run("backward", testConvBackward)
}

// TestConvWinogradAnyPlane routes every plane size through the Winograd
// lowering (the 17x17 and 26x26 cases: 16 tiles a row, two groups).
func TestConvWinogradAnyPlane(t *testing.T) {
	old := winogradMaxPlane
	winogradMaxPlane = 1 << 30
	defer func() { winogradMaxPlane = old }()
	t.Run("forward", testConvForward)
	t.Run("backward", testConvBackward)
}

// TestWinogradCases checks that the Winograd cases above take that
// lowering and that near misses (a stride, a pad, a group, one image) do
// not.
func TestWinogradCases(t *testing.T) {
	for _, tc := range convCases {
		if strings.HasPrefix(tc.name, "winograd") && !useWinograd(tc.dims(t)) {
			t.Errorf("%s does not take the Winograd lowering", tc.name)
		}
	}
	for _, tc := range []convCase{
		{"stride 2", 3, 2, 8, 8, 3, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"pad 0", 3, 2, 8, 8, 3, cvGeom(3, 3, 1, 0, 1, 1), true},
		{"groups 2", 3, 2, 8, 8, 4, cvGeom(3, 3, 1, 1, 1, 2), true},
		{"dilation 2 pad 2", 3, 2, 8, 8, 4, cvGeom(3, 3, 1, 2, 2, 1), true},
		{"one image", 1, 2, 8, 8, 4, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"15x15", 2, 2, 15, 15, 4, cvGeom(3, 3, 1, 1, 1, 1), true},
	} {
		if useWinograd(tc.dims(t)) {
			t.Errorf("%s takes the Winograd lowering", tc.name)
		}
	}
}

func testConvForward(t *testing.T) {
	for i, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			n, x, w, b := tc.build(uint64(100 + 10*i))
			y := cvForward(t, cvCompile(t, n), false, convIn(x, w, b)...)
			want, shape := naiveConv(x, w, b, tc.g)
			if !tensor.SameShape(y.Shape, shape) {
				t.Fatalf("shape %v, want %v", y.Shape, shape)
			}
			if msg := cvClose(y.Data, want, 1e-4); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestConvBackwardMatchesNaiveAdjoint(t *testing.T) { testConvBackward(t) }

// TestConvBackwardWithoutRowsT turns kernels.RowsT off, so the weight
// gradients it takes by default run through SgemmRowsT again.
func TestConvBackwardWithoutRowsT(t *testing.T) {
	rowsTOn = false
	defer func() { rowsTOn = true }()
	testConvBackward(t)
}

// TestRowsTCases checks which backward cases take kernels.RowsT for
// their weight gradient (where the AVX-512 kernels run): 3x3 stride-1
// same-size geometries of several images, one group, at least five
// input channels and at most 64 filters.
func TestRowsTCases(t *testing.T) {
	if !kernels.RowsTFits(1, []int{0, 1, 2}) {
		t.Skip("no AVX-512 kernels")
	}
	want := map[string]bool{"3x3 pad1": false, "chunked 3x3 pad1": false, "winograd 7x7 odd batch": true, "rowsT 16 filters chunked": true,
		"rowsT 20 filters": true, "rowsT 40 filters chunked": true, "wide weights chunked": true,
		"chunked dilation2 pad2": false, "grayscale stem large map": false, "chunked groups2 nobias": false,
		"batch1": false, "polyphase 3x3 pad1": false}
	for _, tc := range convCases {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		n, x, wt, b := tc.build(7)
		k := cvCompile(t, n)
		in := convIn(x, wt, b)
		y := cvForward(t, k, true, in...)
		cvBackward(t, k, in, y, cvRand(8, y.Shape...), []bool{true, true, b != nil}[:len(in)])
		if got := k.(*convKernel).dwT; got != w {
			t.Errorf("%s: weight gradient through RowsT %v, want %v", tc.name, got, w)
		}
	}
}

// TestConvBackwardGroupedAccumulators reruns the backward cases with a
// weight-gradient budget small enough that several chunks share one
// accumulator.
func TestConvBackwardGroupedAccumulators(t *testing.T) {
	old := dwAccBudget
	dwAccBudget = 64
	defer func() { dwAccBudget = old }()
	testConvBackward(t)
}

// TestDWGroups checks how many weight-gradient accumulators a backward pass
// uses.
func TestDWGroups(t *testing.T) {
	for _, tc := range []struct {
		name               string
		nch, wsize, t, out int
	}{
		{"small weights: one per chunk", 128, 2304, 2, 128},
		{"vgg-sized weights: budget", 43, 512 * 512 * 9, 2, 4},
		{"budget allows 10", 100, (32 << 20) / 40, 2, 10},
		{"fewer chunks than workers", 3, 1 << 30, 4, 3},
		{"single chunk", 1, 1 << 30, 2, 1},
	} {
		if got := dwGroups(tc.nch, tc.wsize, tc.t); got != tc.out {
			t.Errorf("%s: dwGroups(%d, %d, %d) = %d, want %d", tc.name, tc.nch, tc.wsize, tc.t, got, tc.out)
		}
	}
}

func testConvBackward(t *testing.T) {
	for i, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			n, x, w, b := tc.build(uint64(300 + 10*i))
			k := cvCompile(t, n)
			in := convIn(x, w, b)
			y := cvForward(t, k, true, in...)
			dy := cvRand(uint64(301+10*i), y.Shape...)
			need := []bool{true, true, b != nil}[:len(in)]
			g := cvBackward(t, k, in, y, dy, need)
			dx, dw, db := naiveConvAdjoint(x, w, dy, tc.g)
			if msg := cvClose(g[0].Data, dx, 1e-4); msg != "" {
				t.Errorf("dX: %s", msg)
			}
			if msg := cvClose(g[1].Data, dw, 1e-4); msg != "" {
				t.Errorf("dW: %s", msg)
			}
			if b != nil {
				if msg := cvClose(g[2].Data, db, 1e-4); msg != "" {
					t.Errorf("dB: %s", msg)
				}
			}
		})
	}
}

// TestConvBackwardNeed checks that only requested gradients are computed
// and that each one alone equals the one computed with all requested.
func TestConvBackwardNeed(t *testing.T) {
	for _, ci := range []int{2, 5, 9} { // pointwise, im2col, depthwise
		tc := convCases[ci]
		t.Run(tc.name, func(t *testing.T) {
			n, x, w, b := tc.build(7)
			k := cvCompile(t, n)
			in := convIn(x, w, b)
			y := cvForward(t, k, true, in...)
			dy := cvRand(8, y.Shape...)
			all := cvBackward(t, k, in, y, dy, []bool{true, true, true})
			for _, need := range [][]bool{{false, true, true}, {true, false, false}, {false, false, true}, {false, true, false}} {
				g := cvBackward(t, k, in, y, dy, need)
				for i := range need {
					switch {
					case !need[i] && g[i] != nil:
						t.Errorf("need %v: gradient %d computed", need, i)
					case need[i] && (g[i] == nil || !cvBitEqual(g[i], all[i])):
						t.Errorf("need %v: gradient %d differs from the all-inputs pass", need, i)
					}
				}
			}
		})
	}
}

func TestConvGradCheck(t *testing.T) {
	for i, tc := range convCases {
		if tc.n*tc.c*tc.h*tc.w > 400 {
			continue // the adjoint test covers the large cases
		}
		t.Run(tc.name, func(t *testing.T) {
			n, x, w, b := tc.build(uint64(500 + 10*i))
			params := map[string]*tensor.Tensor{"w": w}
			if b != nil {
				params["b"] = b
			}
			err := CheckOp(n, map[string]*tensor.Tensor{"x": x}, params, GradCheck{MaxPerTensor: 48})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConvErrors(t *testing.T) {
	mk := func(attrs graph.Attrs) *graph.Node {
		return &graph.Node{Name: "conv1", Op: graph.OpConv, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: attrs}
	}
	factory := []struct {
		name  string
		attrs graph.Attrs
		frag  []string
	}{
		{"auto_pad same", graph.Attrs{"auto_pad": "SAME_UPPER"}, []string{`node "conv1" (Conv)`, `auto_pad "SAME_UPPER" is not supported`}},
		{"valid with pads", graph.Attrs{"auto_pad": "VALID", "pads": []int{1, 1, 1, 1}}, []string{"conv1", "VALID"}},
		{"unknown attr", graph.Attrs{"padding": 1}, []string{"conv1", "padding"}},
		{"three pads", graph.Attrs{"pads": []int{1, 1, 1}}, []string{"conv1", "pads"}},
		{"zero stride", graph.Attrs{"strides": []int{0, 1}}, []string{"conv1", "geometry"}},
		{"zero group", graph.Attrs{"group": 0}, []string{"conv1", "geometry"}},
		{"negative pad", graph.Attrs{"pads": []int{0, -1, 0, 0}}, []string{"conv1", "geometry"}},
	}
	for _, tc := range factory {
		t.Run("factory "+tc.name, func(t *testing.T) {
			_, err := Compile(mk(tc.attrs))
			cvWantErr(t, err, tc.frag...)
		})
	}
	forward := []struct {
		name  string
		attrs graph.Attrs
		in    []*tensor.Tensor
		frag  []string
	}{
		{"channel mismatch", nil, []*tensor.Tensor{tensor.New(1, 3, 5, 5), tensor.New(4, 2, 3, 3)}, []string{"input channels 3", "[4 2 3 3]"}},
		{"group mismatch", graph.Attrs{"group": 2}, []*tensor.Tensor{tensor.New(1, 4, 5, 5), tensor.New(3, 2, 3, 3)}, []string{"group 2"}},
		{"kernel larger than padded input", graph.Attrs{"pads": []int{1, 1, 1, 1}}, []*tensor.Tensor{tensor.New(1, 2, 2, 2), tensor.New(1, 2, 5, 5)}, []string{"smaller than the dilated 5x5 kernel"}},
		{"dilated kernel too large", graph.Attrs{"dilations": []int{3, 3}}, []*tensor.Tensor{tensor.New(1, 2, 6, 6), tensor.New(1, 2, 3, 3)}, []string{"dilated 7x7"}},
		{"3-D input", nil, []*tensor.Tensor{tensor.New(2, 5, 5), tensor.New(1, 2, 3, 3)}, []string{"4-D"}},
		{"bias length", nil, []*tensor.Tensor{tensor.New(1, 2, 5, 5), tensor.New(3, 2, 3, 3), tensor.New(2)}, []string{"bias [2] for 3 filters"}},
		{"missing weight", nil, []*tensor.Tensor{tensor.New(1, 2, 5, 5)}, []string{"needs inputs X and W"}},
		{"kernel_shape disagrees", graph.Attrs{"kernel_shape": []int{5, 5}}, []*tensor.Tensor{tensor.New(1, 2, 5, 5), tensor.New(3, 2, 3, 3)}, []string{"kernel_shape"}},
	}
	for _, tc := range forward {
		t.Run("forward "+tc.name, func(t *testing.T) {
			k := cvCompile(t, mk(tc.attrs))
			_, err := k.Forward(&Ctx{}, tc.in)
			cvWantErr(t, err, tc.frag...)
		})
	}
	t.Run("backward gradient shape", func(t *testing.T) {
		k := cvCompile(t, mk(nil))
		in := []*tensor.Tensor{tensor.New(1, 2, 5, 5), tensor.New(3, 2, 3, 3)}
		_, err := k.Backward(&Ctx{}, in, nil, []*tensor.Tensor{tensor.New(1, 3, 4, 4)}, []bool{true, true})
		cvWantErr(t, err, "output gradient [1 3 4 4]")
	})
	t.Run("executor names the node", func(t *testing.T) {
		g := graph.New("bad")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, 3, 5, 5}}}
		g.Params["w"] = tensor.New(4, 2, 3, 3)
		g.Nodes = []*graph.Node{{Name: "conv1", Op: graph.OpConv, Inputs: []string{"x", "w"}, Outputs: []string{"y"}}}
		g.Outputs = []graph.Value{{Name: "y"}}
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Run(map[string]*tensor.Tensor{"x": tensor.New(1, 3, 5, 5)}, false)
		cvWantErr(t, err, `node "conv1" (Conv)`, "input channels 3")
	})
}

// convGraph is a one-Conv graph for determinism and benchmarks.
func convGraph(n, c, h, w, m int, geom refGeom, seed uint64) (*graph.Graph, *tensor.Tensor) {
	g := graph.New("conv")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{n, c, h, w}}}
	g.Params["w"] = cvRand(seed, m, c/geom.group, geom.kh, geom.kw)
	g.Params["b"] = cvRand(seed+1, m)
	g.Nodes = []*graph.Node{{Name: "conv", Op: graph.OpConv, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: geom.attrs()}}
	g.Outputs = []graph.Value{{Name: "y"}}
	return g, cvRand(seed+2, n, c, h, w)
}

// TestConvDeterministic runs forward+backward twice through fresh executors
// (with 3 workers, so the batch splits unevenly) and wants identical bits.
func TestConvDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	for _, geom := range []refGeom{cvGeom(3, 3, 1, 1, 1, 1), cvGeom(1, 1, 1, 0, 1, 1), cvGeom(3, 3, 2, 1, 1, 4)} {
		type result struct{ y, dx, dw, db *tensor.Tensor }
		run := func() result {
			g, x := convGraph(7, 4, 9, 9, 8, geom, 11)
			e, err := New(g)
			if err != nil {
				t.Fatal(err)
			}
			y, err := e.Forward(x, true)
			if err != nil {
				t.Fatal(err)
			}
			dy := cvRand(12, y.Shape...)
			gi, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
			if err != nil {
				t.Fatal(err)
			}
			return result{y.Clone(), gi["x"].Clone(), e.Grads["w"].Clone(), e.Grads["b"].Clone()}
		}
		a, b := run(), run()
		if !cvBitEqual(a.y, b.y) || !cvBitEqual(a.dx, b.dx) || !cvBitEqual(a.dw, b.dw) || !cvBitEqual(a.db, b.db) {
			t.Errorf("geometry %+v: two runs differ", geom)
		}
	}
}

// benchConv measures forward+backward (dX, dW, dB) of one Conv layer.
func benchConv(b *testing.B, n, c, hw, m int, geom refGeom) {
	g, x := convGraph(n, c, hw, hw, m, geom, 1)
	e, err := New(g)
	if err != nil {
		b.Fatal(err)
	}
	y, err := e.Forward(x, true)
	if err != nil {
		b.Fatal(err)
	}
	dy := cvRand(2, y.Shape...)
	gout := map[string]*tensor.Tensor{"y": dy}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Forward(x, true); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Backward(gout); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// Resnet8-like layers at batch 128 (CIFAR-style stages after the stem).
func BenchmarkConvFwdBwd16x28x28(b *testing.B) {
	benchConv(b, 128, 16, 28, 16, cvGeom(3, 3, 1, 1, 1, 1))
}
func BenchmarkConvFwdBwd32x14x14(b *testing.B) {
	benchConv(b, 128, 32, 14, 32, cvGeom(3, 3, 1, 1, 1, 1))
}
func BenchmarkConvFwdBwd64x7x7(b *testing.B) { benchConv(b, 128, 64, 7, 64, cvGeom(3, 3, 1, 1, 1, 1)) }
func BenchmarkConvFwdBwd16to32Stride2(b *testing.B) {
	benchConv(b, 128, 16, 28, 32, cvGeom(3, 3, 2, 1, 1, 1))
}
func BenchmarkConvFwdBwdStem(b *testing.B) { benchConv(b, 128, 1, 28, 16, cvGeom(3, 3, 1, 1, 1, 1)) }
func BenchmarkConvFwdBwd1x1Stride2(b *testing.B) {
	benchConv(b, 128, 16, 28, 32, cvGeom(1, 1, 2, 0, 1, 1))
}
func BenchmarkConvFwdBwd1x1(b *testing.B) { benchConv(b, 128, 32, 14, 64, cvGeom(1, 1, 1, 0, 1, 1)) }
func BenchmarkConvFwdBwdDepthwise(b *testing.B) {
	benchConv(b, 128, 64, 14, 64, cvGeom(3, 3, 1, 1, 1, 64))
}

// TestConvBNPoolChainGradCheck checks the ops of this area composed through
// the executor: Conv (no bias) -> BatchNormalization (training) ->
// AveragePool (ceil, count_include_pad) -> depthwise Conv -> GlobalAveragePool,
// with gradients for the input and every trainable parameter.
func TestConvBNPoolChainGradCheck(t *testing.T) {
	g := graph.New("chain")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{2, 3, 7, 6}}}
	g.Params["w1"] = cvRand(1, 4, 3, 3, 3)
	g.Params["s"] = cvRand(2, 4)
	g.Params["b"] = cvRand(3, 4)
	g.Params["m"] = tensor.New(4)
	g.Params["v"] = tensor.New(4)
	g.Params["v"].Fill(1)
	g.Params["w2"] = cvRand(4, 4, 1, 3, 3)
	g.Params["b2"] = cvRand(5, 4)
	g.Nodes = []*graph.Node{
		{Name: "conv1", Op: graph.OpConv, Inputs: []string{"x", "w1"}, Outputs: []string{"c1"}, Attrs: cvGeom(3, 3, 1, 1, 1, 1).attrs()},
		{Name: "bn1", Op: graph.OpBN, Inputs: []string{"c1", "s", "b", "m", "v"}, Outputs: []string{"n1"}},
		{Name: "pool", Op: graph.OpAveragePool, Inputs: []string{"n1"}, Outputs: []string{"p"},
			Attrs: graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "pads": []int{1, 0, 1, 0}, "ceil_mode": 1, "count_include_pad": 1}},
		{Name: "dw", Op: graph.OpConv, Inputs: []string{"p", "w2", "b2"}, Outputs: []string{"d"}, Attrs: cvGeom(3, 3, 1, 1, 1, 4).attrs()},
		{Name: "gap", Op: graph.OpGlobalAvg, Inputs: []string{"d"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	x := cvRand(6, 2, 3, 7, 6)
	if err := CheckGraph(g, map[string]*tensor.Tensor{"x": x}, GradCheck{MaxPerTensor: 48}); err != nil {
		t.Fatal(err)
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, train := range []bool{false, true} {
		out, err := e.Run(map[string]*tensor.Tensor{"x": x}, train)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"c1", "n1", "p", "d", "y"} {
			if got := e.Value(name).Shape; !tensor.SameShape(got, shapes[name]) {
				t.Errorf("train=%v: %s has shape %v, graph.InferShapes says %v", train, name, got, shapes[name])
			}
		}
		if out["y"].HasNaN() {
			t.Errorf("train=%v: non-finite output", train)
		}
	}
}

// TestBalanceChunk checks the chunk sizes that even out two workers' loads.
func TestBalanceChunk(t *testing.T) {
	for _, tc := range []struct{ n, kb, t, want int }{
		{128, 24, 2, 16}, // 6 chunks: 72 vs 56 images; 8 chunks of 16: 64 each
		{128, 16, 2, 16}, // already even
		{100, 10, 2, 10}, // 50 each
		{128, 13, 2, 8},  // 65 vs 63 images; 8 chunks of 8 each: 1.5% less
		{9, 5, 1, 5},     // one worker: any size is even
		{7, 1, 2, 1},
		{3, 3, 2, 2}, // one chunk of 3 on one worker vs 2 + 1
	} {
		if got := balanceChunk(tc.n, tc.kb, tc.t); got != tc.want {
			t.Errorf("balanceChunk(%d, %d, %d) = %d, want %d", tc.n, tc.kb, tc.t, got, tc.want)
		}
	}
}

// intraOpCases are single images large enough that a Conv splits their work
// over the workers (intraOp: im2col rows, GEMM columns, output planes; the
// depthwise planes), on every lowering a batch of one takes.
var intraOpCases = []convCase{
	{"intra 3x3 pad1", 1, 8, 40, 40, 48, cvGeom(3, 3, 1, 1, 1, 1), true},
	{"intra 3x3 stride2", 1, 6, 60, 58, 80, cvGeom(3, 3, 2, 1, 1, 1), true},
	{"intra 7x7 stride2 stem", 1, 3, 64, 64, 40, cvGeom(7, 7, 2, 3, 1, 1), false},
	{"intra 1x1 pointwise", 1, 16, 40, 40, 48, cvGeom(1, 1, 1, 0, 1, 1), true},
	{"intra 1x1 groups2", 1, 16, 40, 40, 48, cvGeom(1, 1, 1, 0, 1, 2), false},
	{"intra depthwise", 1, 24, 30, 33, 24, cvGeom(3, 3, 1, 1, 1, 24), true},
	{"intra depthwise stride2", 1, 24, 31, 30, 24, cvGeom(3, 3, 2, 1, 1, 24), true},
	{"intra depthwise multiplier2", 1, 12, 30, 30, 24, cvGeom(3, 3, 1, 1, 1, 12), false},
	{"two images", 2, 8, 40, 40, 48, cvGeom(3, 3, 1, 1, 1, 1), true},
}

// TestConvIntraOp runs the intraOpCases on 1, 2 and 3 threads: the
// output matches the naive reference and is bitwise the same whatever the
// thread count (the split never changes an element's summation order).
func TestConvIntraOp(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range intraOpCases {
		t.Run(tc.name, func(t *testing.T) {
			n, x, w, b := tc.build(uint64(300 + 10*i))
			want, _ := naiveConv(x, w, b, tc.g)
			var first *tensor.Tensor
			for _, threads := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(threads)
				y := cvForward(t, cvCompile(t, n), false, convIn(x, w, b)...)
				if msg := cvClose(y.Data, want, 1e-4); msg != "" {
					t.Fatalf("%d threads: %s", threads, msg)
				}
				if first == nil {
					first = y.Clone()
				} else if !cvBitEqual(first, y) {
					t.Fatalf("%d threads: output differs bitwise from 1 thread's", threads)
				}
			}
		})
	}
}

// TestConvDepthwiseTapLoops turns kernels.Depthwise3x3 (and its backward,
// kernels.Plane3x3.DepthwiseBackward) and kernels.PlaneKxK off, so the
// depthwise cases they take run through the generic tap loops (dwForward,
// dwBackwardX/W) again.
func TestConvDepthwiseTapLoops(t *testing.T) {
	dw3x3Off = true
	defer func() { dw3x3Off = false }()
	t.Run("forward", testConvForward)
	t.Run("backward", testConvBackward)
	t.Run("intra-op", TestConvIntraOp)
}

// TestWinogradSingleImage checks that a single image of a Winograd
// geometry, and any batch of a fused one, takes that lowering up to
// winogradMaxPlane1 (and not beyond),
// and that the filters a fused Conv transforms or packs once are those of
// the weight tensor it is given: a new tensor is transformed again, while
// a plain Conv follows in-place updates of its weights.
func TestWinogradSingleImage(t *testing.T) {
	for _, tc := range []struct {
		c           convCase
		fused, want bool
	}{
		{convCase{"14x14", 1, 4, 14, 14, 4, cvGeom(3, 3, 1, 1, 1, 1), true}, false, true},
		{convCase{"56x56", 1, 2, 56, 56, 2, cvGeom(3, 3, 1, 1, 1, 1), true}, false, true},
		{convCase{"57x56", 1, 2, 57, 56, 2, cvGeom(3, 3, 1, 1, 1, 1), true}, false, false},
		{convCase{"stride 2", 1, 2, 20, 20, 2, cvGeom(3, 3, 2, 1, 1, 1), true}, false, false},
		{convCase{"groups 2", 1, 2, 20, 20, 2, cvGeom(3, 3, 1, 1, 1, 2), true}, false, false},
		{convCase{"56x56 batch 3", 3, 2, 56, 56, 2, cvGeom(3, 3, 1, 1, 1, 1), true}, false, false},
		{convCase{"56x56 batch 3 fused", 3, 2, 56, 56, 2, cvGeom(3, 3, 1, 1, 1, 1), true}, true, true},
	} {
		if got := useWinogradForward(tc.c.dims(t), tc.fused); got != tc.want {
			t.Errorf("%s: useWinogradForward %v, want %v", tc.c.name, got, tc.want)
		}
	}
	for _, tc := range []convCase{
		{"winograd", 1, 6, 12, 10, 5, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"im2col stride 2", 1, 6, 12, 10, 5, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"pointwise groups 2 batch 3", 3, 6, 12, 10, 4, cvGeom(1, 1, 1, 0, 1, 2), false},
		{"winograd batch 3", 3, 4, 20, 18, 5, cvGeom(3, 3, 1, 1, 1, 1), true},
	} {
		testConvWeightCache(t, tc)
	}
}

// testConvWeightCache runs a Conv and the same Conv fused three times,
// the fused one with a new weight tensor each time, the plain one with
// its weights changed in place, against the naive conv.
func testConvWeightCache(t *testing.T, tc convCase) {
	for _, fused := range []bool{false, true} {
		n, x, w, b := tc.build(77)
		if fused {
			n.Op = OpFusedConv
		}
		k := cvCompile(t, n)
		for step := range 3 {
			y := cvForward(t, k, false, convIn(x, w, b)...)
			want, _ := naiveConv(x, w, b, tc.g)
			if msg := cvClose(y.Data, want, 1e-4); msg != "" {
				t.Fatalf("%s: fused %v, step %d: %s", tc.name, fused, step, msg)
			}
			if fused {
				w = cvRand(uint64(90+step), w.Shape...)
			} else {
				for i := range w.Data {
					w.Data[i] *= -0.5
				}
			}
		}
	}
}

// BenchmarkConvForwardBatch1 times the inference forward pass of single
// images on resnet18/mobilenet_v2 layer shapes at 224x224 input, the
// output recycled from pass to pass as an executor's pool does; run with
// -cpu 1,2 to see the intra-op split (images/s is b.N/s).
func BenchmarkConvForwardBatch1(b *testing.B) {
	for _, tc := range []convCase{
		{"3x3 64x56x56 winograd", 1, 64, 56, 56, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 128x56x56 stride2", 1, 128, 56, 56, 128, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"1x1 96to24 56x56", 1, 96, 56, 56, 24, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 24to144 56x56", 1, 24, 56, 56, 144, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 96to576 14x14", 1, 96, 14, 14, 576, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 576to96 14x14", 1, 576, 14, 14, 96, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 160to960 7x7", 1, 160, 7, 7, 960, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 960to160 7x7", 1, 960, 7, 7, 160, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"depthwise 144x56x56", 1, 144, 56, 56, 144, cvGeom(3, 3, 1, 1, 1, 144), true},
		{"7x7 stem 3x224x224 stride2", 1, 3, 224, 224, 64, cvGeom(7, 7, 2, 3, 1, 1), true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n, x, w, bias := tc.build(1)
			n.Op = OpFusedConv
			k := cvCompile(b, n)
			in := convIn(x, w, bias)
			ctx := &Ctx{pool: NewPool()} // the output recycled, as in an executor
			for b.Loop() {
				ctx.pool.Reset()
				if _, err := k.Forward(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDepthwiseKxKPath checks which depthwise geometries take
// kernels.PlaneKxK: odd kernels with "same" padding at stride 1 or 2, not
// 3x3 pad 1 (kernels.Plane3x3), not dilated or other pads.
func TestDepthwiseKxKPath(t *testing.T) {
	for _, tc := range []struct {
		c    convCase
		want bool
	}{
		{convCase{"5x5 s1", 1, 8, 14, 14, 8, cvGeom(5, 5, 1, 2, 1, 8), true}, true},
		{convCase{"7x7 s2", 1, 8, 14, 14, 8, cvGeom(7, 7, 2, 3, 1, 8), true}, true},
		{convCase{"5x5 pad 1", 1, 8, 14, 14, 8, cvGeom(5, 5, 1, 1, 1, 8), true}, false},
		{convCase{"5x5 dilated", 1, 8, 14, 14, 8, cvGeom(5, 5, 1, 4, 2, 8), true}, false},
		{convCase{"5x5 not depthwise", 1, 8, 14, 14, 8, cvGeom(5, 5, 1, 2, 1, 1), true}, false},
	} {
		if got := isDWKxK(tc.c.dims(t)); got != tc.want {
			t.Errorf("%s: isDWKxK %v, want %v", tc.c.name, got, tc.want)
		}
	}
}
