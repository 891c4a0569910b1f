package pipeline

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/rl"
	"github.com/slimgo/slimgo/tensor"
)

// studyPolicy is one random policy of a reward study with its figures:
// Acc[i] the validation accuracy after StudySteps[i] episode fine-tuning
// steps (0: zero-shot), Reward[i] the episode reward that accuracy gives,
// Tuned the validation accuracy after the standard fine-tuning.
type studyPolicy struct {
	Ratios []float64 `json:"ratios"`
	Params int       `json:"params"`
	Acc    []float64 `json:"accuracy"`
	Reward []float64 `json:"reward"`
	Tuned  float64   `json:"accuracy_finetuned"`
}

// rewardStudy measures how well the DDPG episode reward predicts what the
// user gets (issue 22): d.Study random policies under the budget (uniform
// random actions through the environment's budget wall, as the warm-up
// episodes draw them), each scored as an episode would be for every entry
// of d.StudySteps (0 = zero-shot), then fine-tuned with o.Tune as prune
// would. Every number comes from the validation split carved from the
// training data; the test set is not touched. It returns the policy with
// the best fine-tuned validation accuracy, already fine-tuned, and adds
// "study" (policies, Spearman and Pearson correlations per step count) to
// summary.
func rewardStudy(e *Env, o *PruneOptions, g *graph.Graph, trainSet *data.Dataset, summary map[string]any) (*graph.Graph, error) {
	d := o.DDPG
	steps := d.StudySteps
	if len(steps) == 0 {
		steps = []int{0}
	}
	rest, val, err := trainSet.Split(min(d.ValSize, trainSet.Len()/2), tensor.NewRNG(o.Seed^0x5eed))
	if err != nil {
		return nil, AsInput(err)
	}
	env, err := rl.NewPruneEnv(g, ddpgEvaluator(rest, val, d.Calib, 128, episodeTune{}),
		rl.PruneConfig{Prune: o.pruneOpts(), B: d.B, TargetParams: o.TargetParams, TargetMACs: o.TargetMACs, RBound: d.RBound})
	if err != nil {
		return nil, AsInput(err)
	}
	tunes := make([]episodeTune, len(steps))
	for i, s := range steps {
		if tunes[i], err = newEpisodeTune(rest, s, d.episodeBatch(), d.EpisodeLR, o.Seed); err != nil {
			return nil, AsInput(err)
		}
	}
	fmt.Fprintf(e.Log, "reward study: %d random policies, %d groups, validation accuracy %.2f%% on %d training images held out; episode fine-tuning steps %v\n",
		d.Study, env.Steps(), env.BaseAcc, val.Len(), steps)
	rng := tensor.NewRNG(o.Seed ^ 0x57d7)
	var pols []studyPolicy
	var best *graph.Graph
	bestAcc := math.Inf(-1)
	start := time.Now()
	for k := range d.Study {
		ratios := make([]float64, 0, env.Steps())
		for t := range env.Steps() {
			ratios = append(ratios, env.Clamp(t, ratios, d.RBound*rng.Float64()))
		}
		p, tuned, err := studyOne(e, o, env, g, rest, val, ratios, tunes)
		if err != nil {
			return nil, err
		}
		pols = append(pols, p)
		if p.Tuned > bestAcc {
			best, bestAcc = tuned, p.Tuned
		}
		fmt.Fprintf(e.Log, "reward study policy %d/%d: %d params, accuracy %v -> %.2f%% fine-tuned (%.0f s so far)\n",
			k+1, d.Study, p.Params, roundAll(p.Acc), p.Tuned, time.Since(start).Seconds())
	}
	summary["study"] = studySummary(pols, steps, env.BaseAcc, val.Len())
	return best, nil
}

// studyOne scores one policy: the plan is applied (BN recalibrated) once;
// each short fine-tune of tunes runs on a copy, and the standard fine-tune
// on the applied model itself, which is returned.
func studyOne(e *Env, o *PruneOptions, env *rl.PruneEnv, g *graph.Graph, rest, val *data.Dataset, ratios []float64, tunes []episodeTune) (studyPolicy, *graph.Graph, error) {
	plan, err := prune.PlanByRatios(g, env.Groups, ratios, o.pruneOpts())
	if err != nil {
		return studyPolicy{}, nil, err
	}
	p := studyPolicy{Ratios: ratios}
	zero, err := applyPlan(g, plan, rest, o.DDPG.Calib, 128)
	if err != nil {
		return p, nil, err
	}
	st, err := zero.ComputeStats()
	if err != nil {
		return p, nil, err
	}
	p.Params = st.Params
	for _, tu := range tunes {
		m := zero.Clone()
		if err := tu.run(m); err != nil {
			return p, nil, err
		}
		acc, err := accuracy(m, val, evalBatch)
		if err != nil {
			return p, nil, err
		}
		p.Acc = append(p.Acc, acc)
		p.Reward = append(p.Reward, env.RewardOf(acc, st.Params))
	}
	if p.Tuned, err = finetune(e, zero, o.Tune, rest, val, o.Seed, 0, "", false); err != nil {
		return p, nil, err
	}
	return p, zero, nil
}

// studySummary is the study's JSON: the policies and, per episode
// fine-tuning step count, the rank (Spearman) and linear (Pearson)
// correlation of the episode reward with the fine-tuned accuracy.
func studySummary(pols []studyPolicy, steps []int, baseAcc float64, valN int) map[string]any {
	tuned := make([]float64, len(pols))
	for i, p := range pols {
		tuned[i] = p.Tuned
	}
	var corr []map[string]any
	for i, s := range steps {
		r := make([]float64, len(pols))
		for j, p := range pols {
			r[j] = p.Reward[i]
		}
		corr = append(corr, map[string]any{"episode_steps": s, "spearman": jsonFloat(Spearman(r, tuned)), "pearson": jsonFloat(pearson(r, tuned))})
	}
	return map[string]any{"policies": pols, "correlation": corr, "validation_accuracy": baseAcc, "validation_images": valN}
}

// jsonFloat is x, or nil where JSON has no number for it (NaN, Inf).
func jsonFloat(x float64) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return x
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Round(x*100) / 100
	}
	return out
}

// Spearman is the rank correlation of x and y (ties get their mean rank);
// NaN when either is constant or the lengths differ or are below 2.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	return pearson(ranks(x), ranks(y))
}

// ranks returns the 1-based ranks of xs, ties sharing their mean rank.
func ranks(xs []float64) []float64 {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
	r := make([]float64, len(xs))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && xs[idx[j+1]] == xs[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// pearson is the linear correlation of x and y (NaN when either is
// constant or the lengths differ).
func pearson(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
