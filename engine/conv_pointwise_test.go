package engine

import (
	"math"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// TestPointwiseBlocksMatchNaive runs fused pointwise Convs whose output is
// split into several column blocks (the last one partial), ones that fit
// one block, and single images whose filters are split over the threads, with every activation and with and without a residual,
// at batch 1 and 3 on 1 to 3 threads, against the naive convolution
// followed by the residual add and activation; results must not depend
// on the thread count.
func TestPointwiseBlocksMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"40x45x45 blocks", 1, 5, 45, 45, 40, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"40x45x45 blocks batch 3", 3, 5, 45, 45, 40, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"9x7x7 one block", 1, 17, 7, 7, 9, cvGeom(1, 1, 1, 0, 1, 1), false},
		{"9x7x7 one block batch 3", 3, 17, 7, 7, 9, cvGeom(1, 1, 1, 0, 1, 1), true},
		// Batch 1 on 2 and 3 threads splits these filters into row ranges
		// (70 = 20 + 24 + 26 on 3), with and without whole column blocks.
		{"70x7x7 row split", 1, 33, 7, 7, 70, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"900x9x9 row split, blocks", 1, 6, 9, 9, 900, cvGeom(1, 1, 1, 0, 1, 1), true},
		// 24 filters on 32x32 planes (whole cache lines): batch 1 on 2
		// and 3 threads hands out column blocks, two or more a worker.
		{"24x32x32 column blocks", 1, 5, 32, 32, 24, cvGeom(1, 1, 1, 0, 1, 1), true},
		// 96 filters over 1600 pixels: on 2 threads each range of 48
		// rows takes two column blocks (1344 + 256) in turn.
		{"96x40x40 row split, blocks within rows", 1, 5, 40, 40, 96, cvGeom(1, 1, 1, 0, 1, 1), true},
	} {
		if blocks := (tc.h*tc.w + pwBlockCols(tc.m, tc.h*tc.w) - 1) / pwBlockCols(tc.m, tc.h*tc.w); (blocks > 1) != (tc.m >= 40 && tc.m != 70) {
			t.Fatalf("%s: %d column blocks", tc.name, blocks)
		}
		fusedConvMatchesNaive(t, tc, uint64(500+10*i), uint64(600+i))
	}
}

// fusedConvMatchesNaive runs the fused Conv of tc with every activation,
// with and without a residual, on 1 to 3 threads, against the naive
// convolution followed by the residual add and activation; results must
// not depend on the thread count.
func fusedConvMatchesNaive(t *testing.T, tc convCase, seed, resSeed uint64) {
	t.Helper()
	for _, act := range []string{"", "relu", "clip"} {
		for _, withRes := range []bool{false, true} {
			n, x, w, b := tc.build(seed)
			n.Op = OpFusedConv
			n.Attrs["activation"] = act
			n.Attrs["clip_min"], n.Attrs["clip_max"] = float32(-0.5), float32(0.75)
			in := convIn(x, w, b)
			conv, _ := naiveConv(x, w, b, tc.g)
			want := make([]float64, len(conv))
			g := tc.g
			oh := (tc.h+g.padT+g.padB-g.dh*(g.kh-1)-1)/g.sh + 1
			ow := (tc.w+g.padL+g.padR-g.dw*(g.kw-1)-1)/g.sw + 1
			res := cvRand(resSeed, tc.n, tc.m, oh, ow)
			for j, v := range conv {
				if withRes {
					v += float64(res.Data[j])
				}
				switch act {
				case "relu":
					v = math.Max(v, 0)
				case "clip":
					v = math.Min(math.Max(v, -0.5), 0.75)
				}
				want[j] = v
			}
			if withRes {
				if b == nil {
					in = append(in, nil)
				}
				in = append(in, res)
			}
			var first *tensor.Tensor
			for _, threads := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(threads)
				y := cvForward(t, cvCompile(t, n), false, in...)
				if msg := cvClose(y.Data, want, 1e-4); msg != "" {
					t.Fatalf("%s act %q residual %v, %d threads: %s", tc.name, act, withRes, threads, msg)
				}
				if first == nil {
					first = y.Clone()
				} else if !cvBitEqual(first, y) {
					t.Fatalf("%s act %q residual %v: %d threads differ bitwise from 1 thread", tc.name, act, withRes, threads)
				}
			}
		}
	}
}

// TestSingleChannelAsDepthwise runs fused Convs of one input channel,
// which take the depthwise plane kernels (M filters on the one plane)
// when their geometry is one those kernels take (3x3 pad 1, odd same-padded
// kernels, stride 1 or 2) and the GEMM lowerings otherwise, with every
// activation, with and without a residual, at batch 1 and 3 on 1 to 3
// threads, against the naive convolution.
func TestSingleChannelAsDepthwise(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []struct {
		c     convCase
		plane bool
	}{
		{convCase{"3x3 28x28", 1, 1, 28, 28, 16, cvGeom(3, 3, 1, 1, 1, 1), true}, true},
		{convCase{"3x3 28x28 batch 3", 3, 1, 28, 28, 16, cvGeom(3, 3, 1, 1, 1, 1), true}, true},
		{convCase{"3x3 stride 2", 1, 1, 15, 13, 8, cvGeom(3, 3, 2, 1, 1, 1), false}, true},
		{convCase{"5x5 same", 3, 1, 12, 12, 6, cvGeom(5, 5, 1, 2, 1, 1), true}, true},
		{convCase{"7x7 stride 2", 1, 1, 20, 20, 5, cvGeom(7, 7, 2, 3, 1, 1), true}, true},
		{convCase{"3x3 valid", 1, 1, 10, 10, 4, cvGeom(3, 3, 1, 0, 1, 1), true}, false},
	} {
		n, x, w, b := tc.c.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil {
			t.Fatal(err)
		}
		if d.depthwise != tc.plane {
			t.Fatalf("%s: depthwise %v, want %v", tc.c.name, d.depthwise, tc.plane)
		}
		fusedConvMatchesNaive(t, tc.c, uint64(1200+10*i), uint64(1300+i))
	}
}

// TestRowSplitMatchesNaive runs single images of fused im2col Convs that
// take forwardRowSplit on 2 and 3 threads (filters split over the
// workers, the lowering by channel ranges) through fusedConvMatchesNaive,
// after checking they take it on 2 threads.
func TestRowSplitMatchesNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"3x3 stride 2 16 to 32 from 28x28", 1, 16, 28, 28, 32, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"5x5 8 to 48 at 12x12", 1, 8, 12, 12, 48, cvGeom(5, 5, 1, 2, 1, 1), false},
	} {
		runtime.GOMAXPROCS(2)
		n, x, w, b := tc.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil {
			t.Fatal(err)
		}
		if !useRowSplit(d, &convFwd{pw: []*kernels.PackedA{nil}}) || useSmallMap(d, true) || useWinogradForward(d, true) {
			t.Fatalf("%s: does not take the row split", tc.name)
		}
		fusedConvMatchesNaive(t, tc, uint64(1400+10*i), uint64(1500+i))
	}
}
