package engine

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkConvForwardPruned times the inference forward pass (fused
// Conv, bias, ReLU) of resnet20's 3x3 layers at full and pruned widths,
// batch 64: the channel counts channel pruning leaves (9, 17, 34: not
// multiples of the GEMM's tiles) beside the originals (16, 32, 64) and
// the nearest multiples of 4 and 8. best-us is the fastest pass (a
// shared machine only ever slows passes down) and ns/MMAC that pass per
// million multiply-adds of the direct convolution.
func BenchmarkConvForwardPruned(b *testing.B) {
	for _, hc := range [][2]int{{28, 16}, {28, 9}, {28, 8}, {28, 12}, {14, 32}, {14, 17}, {14, 16}, {14, 20}, {7, 64}, {7, 34}, {7, 32}, {7, 36}} {
		h, c := hc[0], hc[1]
		tc := convCase{fmt.Sprintf("3x3 %dx%dx%d", c, h, h), 64, c, h, h, c, cvGeom(3, 3, 1, 1, 1, 1), true}
		b.Run(tc.name, func(b *testing.B) {
			best := benchFusedForward(b, tc)
			macs := float64(tc.n * c * c * 9 * h * h)
			b.ReportMetric(float64(best)/1e3, "best-us")
			b.ReportMetric(float64(best)/(macs/1e6), "ns/MMAC")
		})
	}
}

// BenchmarkConvForwardStrided times the inference forward pass (fused
// Conv, bias, ReLU) of resnet20's stride-2 convs at batch 64 (b64) and
// batch 1 (b1): the 3x3 first conv of a stage and the 1x1 projection of
// its shortcut, 16 -> 32 channels at 28x28 and 32 -> 64 at 14x14.
func BenchmarkConvForwardStrided(b *testing.B) {
	for _, n := range []int{64, 1} {
		for _, tc := range []convCase{
			{"3x3s2 16-32 28x28", n, 16, 28, 28, 32, cvGeom(3, 3, 2, 1, 1, 1), true},
			{"1x1s2 16-32 28x28", n, 16, 28, 28, 32, cvGeom(1, 1, 2, 0, 1, 1), true},
			{"3x3s2 32-64 14x14", n, 32, 14, 14, 64, cvGeom(3, 3, 2, 1, 1, 1), true},
			{"1x1s2 32-64 14x14", n, 32, 14, 14, 64, cvGeom(1, 1, 2, 0, 1, 1), true},
		} {
			b.Run(fmt.Sprintf("%s b%d", tc.name, n), func(b *testing.B) {
				b.ReportMetric(float64(benchFusedForward(b, tc))/1e3, "best-us")
			})
		}
	}
}

// benchFusedForward times tc as a fused Conv with bias and ReLU, forward
// only, b.N passes, and returns the fastest (a shared machine only ever
// slows passes down).
func benchFusedForward(b *testing.B, tc convCase) time.Duration {
	n, x, w, bias := tc.build(1)
	n.Op = OpFusedConv
	n.Attrs["activation"] = "relu"
	k := cvCompile(b, n)
	in := convIn(x, w, bias)
	ctx := &Ctx{}
	best := time.Hour
	for b.Loop() {
		t0 := time.Now()
		if _, err := k.Forward(ctx, in); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	return best
}
