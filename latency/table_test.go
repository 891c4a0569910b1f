package latency

import (
	"os"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/prune"
)

// TestInterpolationMonotone: between measured widths the estimate is
// linear, so on a grid that grows with both widths it never falls as
// either width grows; it passes through the measured points and holds at
// the ends.
func TestInterpolationMonotone(t *testing.T) {
	l := &Layer{In: []int{4, 8, 16}, Out: []int{8, 12, 32},
		Ms: [][]float64{{1, 1, 3}, {2, 4, 4}, {2, 5, 9}}}
	for i, in := range l.In {
		for j, out := range l.Out {
			if got := l.at(in, out); got != l.Ms[i][j] {
				t.Fatalf("at(%d, %d) = %g, want the measured %g", in, out, got, l.Ms[i][j])
			}
		}
	}
	for in := 1; in <= 20; in++ {
		for out := 1; out <= 40; out++ {
			v := l.at(in, out)
			if l.at(in+1, out) < v || l.at(in, out+1) < v {
				t.Fatalf("estimate falls from (%d, %d)", in, out)
			}
		}
	}
	if l.at(1, 1) != 1 || l.at(99, 99) != 9 || l.at(6, 8) != 1.5 {
		t.Fatalf("ends or midpoint wrong: %g %g %g", l.at(1, 1), l.at(99, 99), l.at(6, 8))
	}
	if got := pick([]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, 4); !slices.Equal(got, []int{1, 8, 16, 17}) {
		t.Fatalf("pick (aligned) = %v", got)
	}
	if got := pick([]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, 2); !slices.Equal(got, []int{1, 9}) {
		t.Fatalf("pick (ends) = %v", got)
	}
	if got := pick([]int{3, 5, 7, 9, 11, 13, 15, 17, 19}, 4); !slices.Equal(got, []int{3, 9, 13, 19}) {
		t.Fatalf("pick (spaced) = %v", got)
	}
}

// TestBuildTinyWithORT builds the table of resnet8 on 32x32 images in
// ONNX Runtime: every Conv is covered with the widths prune's rounding
// allows, a second build finds every entry in the cache, the calibrated
// estimate of the model is its measured time and falls as the model is
// pruned harder.
func TestBuildTinyWithORT(t *testing.T) {
	if !ort.Available() {
		t.Skip("node is not installed: ONNX Runtime timing skipped")
	}
	g, err := nn.Build("resnet8", []int{1, 32, 32}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Prune: prune.Options{MinChannels: 1, RoundTo: 8, RoundMin: 32}, CacheDir: t.TempDir(), MaxWidths: 3}
	tb, err := Build(g, o)
	if err != nil {
		t.Fatal(err)
	}
	convs := 0
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			convs++
			l := tb.Layers[n.Name]
			if l == nil {
				t.Fatalf("conv %s not covered", n.Name)
			}
			if l.In[len(l.In)-1] != l.FullIn || l.Out[len(l.Out)-1] != l.FullOut || len(l.Out) > 3 {
				t.Fatalf("%s: widths %v x %v, full %d x %d", n.Name, l.In, l.Out, l.FullIn, l.FullOut)
			}
		}
	}
	// 16-channel groups are not rounded (RoundMin 32): 4..16 kept at
	// ratio <= 0.8, of which 4, 8 and 16 are measured.
	if l := tb.Layers["s1.b0.conv1"]; !slices.Equal(l.Out, []int{4, 8, 16}) {
		t.Fatalf("s1.b0.conv1 widths %v, want [4 8 16]", l.Out)
	}
	if tb.Measured == 0 || tb.OverheadMs <= 0 {
		t.Fatalf("measured %d entries, overhead %g ms", tb.Measured, tb.OverheadMs)
	}
	if _, err := os.Stat(tb.CacheFile); err != nil {
		t.Fatal(err)
	}
	again, err := Build(g, o)
	if err != nil || again.Measured != 0 || again.Cached != tb.Measured {
		t.Fatalf("second build: %v, measured %d, cached %d (want %d)", err, again.Measured, again.Cached, tb.Measured)
	}
	ms, err := MeasureGraph(g)
	if err != nil || !(ms > 0) {
		t.Fatalf("measured %g ms: %v", ms, err)
	}
	tb.Calibrate(ms)
	var est []float64
	for _, r := range []float64{0.8, 0} {
		groups, _ := prune.Groups(g)
		ratios := make([]float64, len(groups))
		for j := range ratios {
			ratios[j] = r
		}
		plan, err := prune.PlanByRatios(g, groups, ratios, o.Prune)
		if err != nil {
			t.Fatal(err)
		}
		p, err := prune.Apply(g, plan)
		if err != nil {
			t.Fatal(err)
		}
		e, err := tb.Estimate(p)
		if err != nil {
			t.Fatal(err)
		}
		est = append(est, e)
	}
	if !(est[0] < est[1]) {
		t.Fatalf("estimate at ratio 0.8 is %g ms, not below the unpruned %g", est[0], est[1])
	}
	if d := est[1] - ms; d > 1e-9 || d < -1e-9 {
		t.Fatalf("calibrated estimate of the unpruned model %g ms, measured %g", est[1], ms)
	}
}
