package prune

import (
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

func TestKeepCountAndKeepByRatio(t *testing.T) {
	imp := []float64{0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0}
	tests := []struct {
		name           string
		ratio          float64
		minCh, roundTo int
		want           []int
	}{
		{"none", 0, 1, 0, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"half", 0.5, 1, 0, []int{0, 2, 4, 6, 8}},
		{"0.35 removes floor(3.5)=3", 0.35, 1, 0, []int{0, 2, 3, 4, 6, 7, 8}},
		{"all but the minimum of 1", 1, 0, 0, []int{2}},
		{"min channels", 0.9, 3, 0, []int{2, 4, 6}},
		{"keep 5 rounds up to 8", 0.5, 1, 4, []int{0, 2, 3, 4, 5, 6, 7, 8}},
		{"rounding capped at size", 0.1, 1, 8, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"ratio clamped", 1.5, 2, 0, []int{2, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := KeepByRatio(imp, tc.ratio, tc.minCh, tc.roundTo)
			if !slices.Equal(got, tc.want) {
				t.Errorf("KeepByRatio(%g, %d, %d) = %v, want %v", tc.ratio, tc.minCh, tc.roundTo, got, tc.want)
			}
		})
	}
	// Ties keep the lower index.
	if got := KeepByRatio([]float64{1, 1, 1, 1}, 0.5, 1, 0); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("ties: %v", got)
	}
}

func TestImportance(t *testing.T) {
	g := resnet(1, 1)
	groups, _ := Groups(g)
	res := groups[0] // stem.bn, s1.b0.bn2
	a, b := g.Params["stem.bn.scale"].Data, g.Params["s1.b0.bn2.scale"].Data
	a[3], b[3] = -2, 0.5
	tests := []struct {
		c    Criterion
		want float64
	}{
		{BNSum, 2.5},
		{BNMean, 1.25},
		{BNMax, 2},
	}
	for _, tc := range tests {
		imp, err := Importance(g, res, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if len(imp) != 16 || math.Abs(imp[3]-tc.want) > 1e-6 {
			t.Errorf("%s: channel 3 scores %g, want %g", tc.c, imp[3], tc.want)
		}
	}
	// L1: sum of |w| over the filters of both producing convs.
	imp, err := Importance(g, res, L1)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for _, p := range []string{"stem.conv.W", "s1.b0.conv2.W"} {
		w := g.Params[p]
		per := w.Len() / w.Shape[0]
		for _, v := range w.Data[5*per : 6*per] {
			want += math.Abs(float64(v))
		}
	}
	if math.Abs(imp[5]-want) > 1e-6*want {
		t.Errorf("L1 of channel 5: %g, want %g", imp[5], want)
	}
	// A group without BN falls back to L1 under a BN criterion.
	cg, _ := Groups(concatNet(1))
	tail := cg[3]
	l1, _ := Importance(concatNet(1), tail, L1)
	bn, _ := Importance(concatNet(1), tail, BNMean)
	if !slices.Equal(l1, bn) {
		t.Errorf("BN criterion on a BN-less group: %v, want the L1 scores %v", bn, l1)
	}
	for _, s := range []string{"bn-mean", "bn-sum", "bn-max", "l1"} {
		if c, err := ParseCriterion(s); err != nil || c.String() != s {
			t.Errorf("ParseCriterion(%s) = %v, %v", s, c, err)
		}
	}
	if _, err := ParseCriterion("gamma"); err == nil {
		t.Error("ParseCriterion accepted an unknown name")
	}
}

// SlimPlan against a naive global threshold: the removed channels are
// exactly the floor(ratio*N) lowest-scoring ones when no group hits its
// minimum.
func TestSlimPlanGlobalThreshold(t *testing.T) {
	g := resnet(3, 11)
	rng := tensor.NewRNG(5)
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			g.Params[n.Inputs[1]].FillUniform(rng, 0, 1)
		}
	}
	groups, _ := Groups(g)
	for _, ratio := range []float64{0.1, 0.3, 0.5} {
		plan, err := SlimPlan(g, groups, ratio, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var all []float64
		removed := 0
		maxRemoved, minKept := math.Inf(-1), math.Inf(1)
		for _, grp := range groups {
			imp, _ := Importance(g, grp, BNMean)
			all = append(all, imp...)
			keep := plan[grp]
			removed += grp.Size - len(keep)
			for j, v := range imp {
				if slices.Contains(keep, j) {
					minKept = math.Min(minKept, v)
				} else {
					maxRemoved = math.Max(maxRemoved, v)
				}
			}
		}
		if want := int(math.Floor(ratio * float64(len(all)))); removed != want {
			t.Errorf("ratio %g: removed %d channels, want %d", ratio, removed, want)
		}
		if maxRemoved > minKept {
			t.Errorf("ratio %g: removed a channel scoring %g while keeping one scoring %g", ratio, maxRemoved, minKept)
		}
		sort.Float64s(all)
		if thr := all[removed]; minKept != thr {
			t.Errorf("ratio %g: lowest kept score %g, naive threshold %g", ratio, minKept, thr)
		}
	}
	// Ratio 1 never empties a group.
	plan, err := SlimPlan(g, groups, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, grp := range groups {
		if len(plan[grp]) != 1 {
			t.Errorf("ratio 1: group %d keeps %d channels, want the minimum 1", grp.ID, len(plan[grp]))
		}
	}
	if _, err := Apply(g, plan); err != nil {
		t.Fatal(err)
	}
	// With a BN criterion a group without BN is left whole.
	cn := concatNet(2)
	cgroups, _ := Groups(cn)
	cplan, err := SlimPlan(cn, cgroups, 0.9, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cplan[cgroups[3]]; ok || len(cplan) != 3 {
		t.Errorf("BN-less group %s was planned: %v", cgroups[3].Details(), cplan[cgroups[3]])
	}
	if _, err := SlimPlan(g, groups, 1.2, Options{}); err == nil {
		t.Error("ratio 1.2 accepted")
	}
}

func TestSlimPlanParams(t *testing.T) {
	g := resnet(1, 12)
	rng := tensor.NewRNG(6)
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			g.Params[n.Inputs[1]].FillUniform(rng, 0, 1)
		}
	}
	groups, _ := Groups(g)
	st, _ := g.ComputeStats()
	for _, frac := range []float64{1, 0.7, 0.4} {
		target := int(frac * float64(st.Params))
		plan, p, err := SlimPlanParams(g, groups, target, Options{RoundTo: 2})
		if err != nil {
			t.Fatal(err)
		}
		pg, err := Apply(g, plan)
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := pg.ComputeStats()
		if ps.Params != p || p > target {
			t.Errorf("target %d: reported %d, actual %d", target, p, ps.Params)
		}
		removed := 0
		for grp, keep := range plan {
			removed += grp.Size - len(keep)
		}
		if frac == 1 && removed != 0 {
			t.Errorf("target = current size removed %d channels", removed)
		}
		// One removal fewer in the ranking would exceed the target (the
		// search finds the smallest cut).
		if frac < 1 {
			all, imps, _ := ranking(g, groups, BNMean)
			lo := 0
			for k := range len(all) + 1 {
				pp := planCut(groups, all, imps, k, Options{RoundTo: 2})
				pgk, _ := Apply(g, pp)
				sk, _ := pgk.ComputeStats()
				if sk.Params <= target {
					lo = k
					break
				}
			}
			want := planCut(groups, all, imps, lo, Options{RoundTo: 2})
			pw, _ := Apply(g, want)
			sw, _ := pw.ComputeStats()
			if sw.Params != p {
				t.Errorf("target %d: got %d params, linear scan finds %d", target, p, sw.Params)
			}
		}
	}
	if _, _, err := SlimPlanParams(g, groups, 100, Options{}); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable target: %v", err)
	}
}

func TestPlanAndPruneByRatios(t *testing.T) {
	g := mobilenet(3)
	groups, _ := Groups(g)
	ratios := make([]float64, len(groups))
	for i := range ratios {
		ratios[i] = 0.1 * float64(i+1)
	}
	opt := Options{MinChannels: 2, RoundTo: 4}
	plan, err := PlanByRatios(g, groups, ratios, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, grp := range groups {
		if want := KeepCount(grp.Size, ratios[i], 2, 4); len(plan[grp]) != want {
			t.Errorf("group %d keeps %d, want %d", i, len(plan[grp]), want)
		}
		imp, _ := Importance(g, grp, BNMean)
		if !slices.Equal(plan[grp], KeepByRatio(imp, ratios[i], 2, 4)) {
			t.Errorf("group %d: not the most important channels", i)
		}
	}
	pg, pgroups, err := PruneByRatios(g, ratios, opt)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := Apply(g, plan)
	x := randInput(g, 1, 1)
	if d := tensor.MaxAbsDiff(forward(t, pg, x), forward(t, direct, x)); d != 0 || len(pgroups) != len(groups) {
		t.Errorf("PruneByRatios differs from PlanByRatios+Apply by %g", d)
	}
	if _, err := PlanByRatios(g, groups, ratios[1:], opt); err == nil {
		t.Error("wrong ratio count accepted")
	}
	ratios[0] = -0.1
	if _, err := PlanByRatios(g, groups, ratios, opt); err == nil || !strings.Contains(err.Error(), "group 0") {
		t.Errorf("negative ratio: %v", err)
	}
}

// TestRoundMin: groups below RoundMin channels are not rounded, so a
// 16-channel group rounded to 8 gets every width, not just 8 and 16.
func TestRoundMin(t *testing.T) {
	o := Options{RoundTo: 8, RoundMin: 32}
	if got := o.RoundFor(16); got != 1 {
		t.Errorf("RoundFor(16) = %d, want 1 (below RoundMin)", got)
	}
	if got := o.RoundFor(32); got != 8 {
		t.Errorf("RoundFor(32) = %d, want 8", got)
	}
	if got := (Options{RoundTo: 8}).RoundFor(16); got != 8 {
		t.Errorf("RoundMin 0 rounds every group: RoundFor(16) = %d, want 8", got)
	}
	widths := map[int]bool{}
	for r := 0.0; r <= 0.8; r += 0.05 {
		widths[KeepCount(16, r, 1, o.RoundFor(16))] = true
	}
	if len(widths) < 10 {
		t.Errorf("a 16-channel group has %d widths between ratios 0 and 0.8, want >= 10", len(widths))
	}
}
