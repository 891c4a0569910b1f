package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
)

// Options tune channel selection. The zero value means: BNMean, at least one
// channel per group, no rounding.
type Options struct {
	Criterion   Criterion
	MinChannels int // channels every group keeps at least; values < 1 mean 1
	// RoundTo, when > 1, rounds every pruned group's kept count up to a
	// multiple of RoundTo (capped at the group's size), for hardware that
	// prefers channel counts in multiples of 8 or 16.
	RoundTo int
	// RoundMin, when > 0, exempts groups of fewer than RoundMin channels
	// from RoundTo: a 16-channel group rounded to 8 has only two possible
	// sizes, and small layers gain little speed from aligned widths.
	RoundMin int
}

// RoundFor is the rounding a group of n channels gets: RoundTo, or 1 when
// n is below RoundMin.
func (o Options) RoundFor(n int) int {
	if o.RoundMin > 0 && n < o.RoundMin {
		return 1
	}
	return o.RoundTo
}

// KeepCount returns how many of n channels to keep when removing the fraction
// ratio (0 keeps all, 1 removes all it may): n - floor(ratio*n), raised to
// minCh (at least 1), rounded up to a multiple of roundTo (when > 1), and
// capped at n.
func KeepCount(n int, ratio float64, minCh, roundTo int) int {
	if n <= 0 {
		return 0
	}
	ratio = math.Max(0, math.Min(1, ratio))
	k := n - int(math.Floor(ratio*float64(n)+1e-9))
	return clampKeep(k, n, minCh, roundTo)
}

func clampKeep(k, n, minCh, roundTo int) int {
	k = max(k, minCh, 1)
	if roundTo > 1 {
		k = (k + roundTo - 1) / roundTo * roundTo
	}
	return min(k, n)
}

// KeepByRatio returns the sorted indices of the channels to keep: the
// KeepCount(len(importance), ratio, minCh, roundTo) most important ones
// (ties keep the lower index).
func KeepByRatio(importance []float64, ratio float64, minCh, roundTo int) []int {
	return topK(importance, KeepCount(len(importance), ratio, minCh, roundTo))
}

// topK returns the sorted indices of the k largest scores.
func topK(imp []float64, k int) []int {
	idx := make([]int, len(imp))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(imp[b], imp[a]) })
	keep := slices.Clone(idx[:k])
	slices.Sort(keep)
	return keep
}

// PlanByRatios keeps, in each group i, the highest-importance channels after
// removing the fraction ratios[i] (see KeepByRatio with opt's MinChannels and
// RoundFor). It errors when len(ratios) != len(groups) or a ratio is outside
// [0,1].
func PlanByRatios(g *graph.Graph, groups []*Group, ratios []float64, opt Options) (Plan, error) {
	if len(ratios) != len(groups) {
		return nil, fmt.Errorf("prune: %d ratios for %d groups", len(ratios), len(groups))
	}
	plan := Plan{}
	for i, grp := range groups {
		r := ratios[i]
		if math.IsNaN(r) || r < 0 || r > 1 {
			return nil, fmt.Errorf("prune: group %d (%s): ratio %g outside [0,1]", grp.ID, firstNode(grp), r)
		}
		imp, err := Importance(g, grp, opt.Criterion)
		if err != nil {
			return nil, err
		}
		plan[grp] = KeepByRatio(imp, r, opt.MinChannels, opt.RoundFor(len(imp)))
	}
	return plan, nil
}

// PruneByRatios analyses g, keeps in group i the highest-importance channels
// after removing the fraction ratios[i], and returns the pruned graph with
// the groups it used (len(ratios) must equal their number).
func PruneByRatios(g *graph.Graph, ratios []float64, opt Options) (*graph.Graph, []*Group, error) {
	groups, err := Groups(g)
	if err != nil {
		return nil, nil, err
	}
	plan, err := PlanByRatios(g, groups, ratios, opt)
	if err != nil {
		return nil, nil, err
	}
	out, err := Apply(g, plan)
	return out, groups, err
}

// scored is one candidate channel of a global ranking.
type scored struct {
	grp   int
	ch    int
	score float64
}

// ranking scores every channel of the groups a global threshold may cut:
// with a BN criterion only groups with a BN (the others keep every channel,
// since L1 norms and gammas are not comparable); with L1 every group.
func ranking(g *graph.Graph, groups []*Group, c Criterion) ([]scored, [][]float64, error) {
	var all []scored
	imps := make([][]float64, len(groups))
	for i, grp := range groups {
		if c != L1 && !grp.HasBN() {
			continue
		}
		imp, err := Importance(g, grp, c)
		if err != nil {
			return nil, nil, err
		}
		imps[i] = imp
		for j, v := range imp {
			all = append(all, scored{i, j, v})
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.grp, b.grp), cmp.Compare(a.ch, b.ch))
	})
	return all, imps, nil
}

// planCut removes the n lowest-ranked channels, subject to the minimum and
// rounding of opt (a group never loses so many that it would drop below
// them; rounding keeps the group's best channels).
func planCut(groups []*Group, all []scored, imps [][]float64, n int, opt Options) Plan {
	cut := make([]int, len(groups))
	for _, s := range all[:n] {
		cut[s.grp]++
	}
	plan := Plan{}
	for i, grp := range groups {
		if imps[i] == nil {
			continue
		}
		k := clampKeep(grp.Size-cut[i], grp.Size, opt.MinChannels, opt.RoundFor(grp.Size))
		plan[grp] = topK(imps[i], k)
	}
	return plan
}

// SlimPlan is network slimming's global threshold: rank every prunable
// channel of every group by Importance (opt.Criterion) and remove the lowest
// fraction ratio of them, each group keeping at least opt.MinChannels and a
// multiple of opt.RoundTo (so slightly fewer than ratio may go). With a BN
// criterion, groups without a BN keep all channels. It errors on a ratio
// outside [0,1].
func SlimPlan(g *graph.Graph, groups []*Group, ratio float64, opt Options) (Plan, error) {
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return nil, fmt.Errorf("prune: slimming ratio %g outside [0,1]", ratio)
	}
	all, imps, err := ranking(g, groups, opt.Criterion)
	if err != nil {
		return nil, err
	}
	n := int(math.Floor(ratio*float64(len(all)) + 1e-9))
	return planCut(groups, all, imps, n, opt), nil
}

// SlimPlanParams searches (by bisection over the global ranking of SlimPlan)
// for the fewest channel removals that bring the pruned graph to at most
// targetParams parameters (graph.Stats.Params), and returns that plan with
// the resulting parameter count. It errors when even the largest cut allowed
// by opt stays above the target.
func SlimPlanParams(g *graph.Graph, groups []*Group, targetParams int, opt Options) (Plan, int, error) {
	all, imps, err := ranking(g, groups, opt.Criterion)
	if err != nil {
		return nil, 0, err
	}
	params := func(n int) (Plan, int, error) {
		plan := planCut(groups, all, imps, n, opt)
		pg, err := Apply(g, plan)
		if err != nil {
			return nil, 0, err
		}
		st, err := pg.ComputeStats()
		if err != nil {
			return nil, 0, err
		}
		return plan, st.Params, nil
	}
	_, p, err := params(len(all))
	if err != nil {
		return nil, 0, err
	}
	if p > targetParams {
		return nil, 0, fmt.Errorf("prune: cannot reach %d parameters: pruning every prunable channel leaves %d", targetParams, p)
	}
	lo, hi := 0, len(all) // invariant: params(hi) <= target
	for lo < hi {
		mid := (lo + hi) / 2
		_, pm, err := params(mid)
		if err != nil {
			return nil, 0, err
		}
		if pm <= targetParams {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return params(hi)
}
