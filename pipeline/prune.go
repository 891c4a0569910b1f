package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/rl"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// PruneOptions configure Prune; Method is slim, uniform, ddpg, random
// (random search scored as DDPG's episodes) or layer.
type PruneOptions struct {
	Model        string
	Data         DataOptions
	Method       string
	Ratio        float64
	TargetParams int
	TargetMACs   int64
	// TargetLatency > 0 (ddpg, random) is a latency budget: at most this
	// many milliseconds per image at batch 1 in ONNX Runtime, estimated
	// by the lookup table (package latency) during the search.
	TargetLatency float64
	Steps         int
	Blocks        int
	Threshold     float64
	BlockScore    string
	Criterion     string
	MinChannels   int
	RoundTo       int
	RoundMin      int
	Tune          TuneOptions
	DDPG          DDPGOptions
	Out           string
	Seed          uint64
	NoORT         bool
	JSON          bool
}

// DDPGOptions configure the DDPG search (prune --method ddpg and compress).
type DDPGOptions struct {
	Episodes int
	Warmup   int
	B        float64
	ValSize  int
	RBound   float64
	Calib    int
	Hidden   int
	Updates  int // agent updates per episode step
	// EpisodeSteps > 0 fine-tunes every episode's pruned model for that
	// many SGD steps of EpisodeBatch images at EpisodeLR before it is
	// scored (0: scored zero-shot, after BN recalibration only).
	EpisodeSteps int
	EpisodeBatch int
	EpisodeLR    float64
	// Study > 0 replaces the search by a reward study (prune --method
	// ddpg only): Study random budget policies, each scored zero-shot and
	// after each of StudySteps short fine-tunes, then fine-tuned as the
	// pipeline would; the summary gives the rank correlations.
	Study      int
	StudySteps []int
	Checkpoint string
	Resume     bool
}

// DefaultDDPGUpdates is how many agent updates follow each episode step.
// AMC does 1 over hundreds of episodes; in compress's 60 the actor then
// hardly moves from its start and the best policy is often a warm-up one.
// 8 took the reference resnet20 from 93.85 / 93.78 / 93.95 % to 93.93 /
// 94.12 / 94.11 % (seeds 1-3, bench/compress/README.md) for ~0.2 s more
// per episode on an idle machine.
const DefaultDDPGUpdates = 8

// DefaultEpisodeSteps and DefaultEpisodeLR are the episodes' short
// fine-tune (DDPGOptions.EpisodeSteps; 0 scores episodes zero-shot). In
// bench/ddpg's reward study (16 random policies at 30 % of the
// parameters, validation split only) the zero-shot reward ranked
// policies against their fine-tuned accuracy on resnet20 (Spearman < 0)
// and weakly on a PyTorch-trained mobilenet_v2; 50 steps ranked them well
// on both (+0.76, +0.79) and lifted the episodes from 9-45 % to 71-85 %,
// for 3,200 training images an episode.
const (
	DefaultEpisodeSteps = 50
	DefaultEpisodeLR    = 0.01
)

// ParseBlockScore reads a layer-pruning block score name (last, first,
// mean).
func ParseBlockScore(s string) (prune.BlockScore, error) {
	switch s {
	case "last":
		return prune.LastBN3x3, nil
	case "first":
		return prune.FirstBN3x3, nil
	case "mean":
		return prune.MeanBN3x3, nil
	}
	return 0, BadInput("--block-score must be last, first or mean, got %q", s)
}

func (o *PruneOptions) pruneOpts() prune.Options {
	c, _ := prune.ParseCriterion(o.Criterion)
	return prune.Options{Criterion: c, MinChannels: o.MinChannels, RoundTo: o.RoundTo, RoundMin: o.RoundMin}
}

// Prune prunes channels (slim, uniform, ddpg) or residual blocks (layer),
// fine-tunes when asked and writes o.Out; a BN-folded model gets its BN
// restored from the data and is folded again.
func Prune(e *Env, o *PruneOptions) (map[string]any, error) {
	g, err := loadForOutput(o.Model, o.Out)
	if err != nil {
		return nil, err
	}
	if err := detectorWithoutData("prune", g, o.Data.Spec); err != nil {
		return nil, err
	}
	if o.Tune.DistillW > 0 {
		// The pruning functions return copies: g stays the unpruned teacher.
		o.Tune.Teacher, o.Tune.DistillTemp = g, train.DefaultDistillTemp
	}
	var trainSet, testSet *data.Dataset
	if o.Data.Spec != "" {
		if trainSet, testSet, err = o.Data.load(e, g); err != nil {
			return nil, err
		}
	} else if err := o.Data.Prep.stamp(e, g); err != nil {
		return nil, err
	}
	before, err := g.ComputeStats()
	if err != nil {
		return nil, AsInput(err)
	}
	summary := map[string]any{"method": o.Method, "params_before": before.Params, "macs_before": before.MACs}
	if testSet != nil {
		ev, err := train.Evaluate(g, testSet, 256)
		if err != nil {
			return nil, err
		}
		summary["accuracy_before"] = 100 * ev.Accuracy
	}
	input := g
	if !hasBN(g) {
		switch {
		case trainSet != nil:
			n := 0
			if g, n, err = restoreBN(e, g, trainSet, 128); err != nil {
				return nil, err
			}
			summary["bn_restored"] = n
		case o.Method == "slim" || o.Method == "layer":
			return nil, BadInput("%s has no BatchNormalization (BN folded at export), and --method %s ranks by BN scale factors: give --data so that slimgo can restore BN from images", o.Model, o.Method)
		}
	}
	var out *graph.Graph
	switch o.Method {
	case "slim", "uniform":
		out, err = pruneSlim(e, o, g, trainSet, testSet, summary)
	case "layer":
		out, err = pruneLayer(e, o, g, trainSet, testSet, summary)
	case "ddpg", "random":
		out, err = pruneDDPG(e, o, g, trainSet, testSet, summary)
	}
	if err != nil {
		return nil, err
	}
	if g != input { // BN was restored: deliver the model folded, as it came
		if out, err = graph.FoldBN(out); err != nil {
			return nil, err
		}
	}
	after, err := out.ComputeStats()
	if err != nil {
		return nil, err
	}
	summary["params"], summary["macs"] = after.Params, after.MACs
	if est, ok := summary["latency_ms_estimated"].(float64); ok {
		if err := latencyFigures(e, out, est, summary); err != nil {
			return nil, err
		}
	}
	out.Meta["slimgo.stage"] = "pruned-" + o.Method
	if err := onnx.WriteFile(o.Out, out, onnx.WriteOptions{}); err != nil {
		return nil, err
	}
	summary["out"] = o.Out
	summary["images_per_s"] = inferenceSpeed(out, 64)
	summary["images_per_s_before"] = inferenceSpeed(input, 64)
	if !o.NoORT {
		dir := filepath.Dir(o.Out)
		summary["ort_images_per_s_before"], summary["ort_batch1_images_per_s_before"] = ortSpeed(e, input, "", dir, 64)
		summary["ort_images_per_s"], summary["ort_batch1_images_per_s"] = ortSpeed(e, out, "", dir, 64)
	}
	fmt.Fprintf(e.Log, "wrote %s: %d -> %d params (%.1f%%), %.2f -> %.2f M MACs\n", o.Out, before.Params, after.Params,
		100*float64(after.Params)/float64(before.Params), float64(before.MACs)/1e6, float64(after.MACs)/1e6)
	if p := modelPrep(out); p != nil {
		summary["preprocessing"] = p
	}
	return summary, nil
}

// groupRatios describes what a plan did to each group, for the summary.
func groupRatios(groups []*prune.Group, plan prune.Plan) []map[string]any {
	var out []map[string]any
	for _, grp := range groups {
		kept := grp.Size
		if k, ok := plan[grp]; ok {
			kept = len(k)
		}
		out = append(out, map[string]any{
			"group": grp.ID, "layers": grp.Producers(), "channels_before": grp.Size, "channels": kept,
			"ratio": 1 - float64(kept)/float64(grp.Size),
		})
	}
	return out
}

func pruneSlim(e *Env, o *PruneOptions, g *graph.Graph, trainSet, testSet *data.Dataset, summary map[string]any) (*graph.Graph, error) {
	st0, _ := g.ComputeStats()
	cur := g
	var lastPlan prune.Plan
	var lastGroups []*prune.Group
	for step := 1; step <= o.Steps; step++ {
		groups, err := prune.Groups(cur)
		if err != nil {
			return nil, AsInput(err)
		}
		var plan prune.Plan
		switch {
		case o.TargetParams > 0:
			// Geometric steps from the original size to the target.
			target := int(float64(st0.Params) * math.Pow(float64(o.TargetParams)/float64(st0.Params), float64(step)/float64(o.Steps)))
			if o.Method == "uniform" {
				plan, err = uniformPlanParams(cur, groups, target, o.pruneOpts())
			} else {
				plan, _, err = prune.SlimPlanParams(cur, groups, target, o.pruneOpts())
			}
		case o.Method == "uniform":
			r := 1 - math.Pow(1-o.Ratio, 1/float64(o.Steps))
			plan, err = prune.PlanByRatios(cur, groups, uniform(len(groups), r), o.pruneOpts())
		default:
			r := 1 - math.Pow(1-o.Ratio, 1/float64(o.Steps))
			plan, err = prune.SlimPlan(cur, groups, r, o.pruneOpts())
		}
		if err != nil {
			return nil, AsInput(err)
		}
		next, err := applyPlan(cur, plan, trainSet, 8, 128)
		if err != nil {
			return nil, err
		}
		if trainSet != nil {
			if step == 1 {
				ev, err := train.Evaluate(next, testSet, 256)
				if err != nil {
					return nil, err
				}
				summary["accuracy_pruned"] = 100 * ev.Accuracy
			}
			ckpt := fmt.Sprintf("%s.ft%d.ckpt", o.Out, step)
			acc, err := finetune(e, next, o.Tune, trainSet, testSet, o.Seed+uint64(step), 0, ckpt, false)
			if err != nil {
				return nil, err
			}
			summary["accuracy"] = acc
			os.RemoveAll(ckpt)
		}
		st, _ := next.ComputeStats()
		fmt.Fprintf(e.Log, "slim step %d/%d: %d params\n", step, o.Steps, st.Params)
		cur, lastPlan, lastGroups = next, plan, groups
	}
	if o.Steps == 1 {
		summary["ratios"] = groupRatios(lastGroups, lastPlan)
	} else {
		summary["ratios"] = channelRatios(g, cur)
	}
	return cur, nil
}

func uniform(n int, r float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// uniformPlanParams finds, by bisection, the smallest single ratio that
// brings every group of g to at most target parameters.
func uniformPlanParams(g *graph.Graph, groups []*prune.Group, target int, opt prune.Options) (prune.Plan, error) {
	params := func(r float64) (prune.Plan, int, error) {
		plan, err := prune.PlanByRatios(g, groups, uniform(len(groups), r), opt)
		if err != nil {
			return nil, 0, err
		}
		out, err := prune.Apply(g, plan)
		if err != nil {
			return nil, 0, err
		}
		st, err := out.ComputeStats()
		return plan, st.Params, err
	}
	best, n, err := params(0.99)
	if err != nil {
		return nil, err
	}
	if n > target {
		return nil, fmt.Errorf("uniform pruning cannot reach %d params (at ratio 0.99: %d)", target, n)
	}
	lo, hi := 0.0, 0.99
	for range 30 {
		mid := (lo + hi) / 2
		plan, n, err := params(mid)
		if err != nil {
			return nil, err
		}
		if n <= target {
			hi, best = mid, plan
		} else {
			lo = mid
		}
	}
	return best, nil
}

// channelRatios compares the output channels of every Conv/Gemm of two graphs.
func channelRatios(before, after *graph.Graph) []map[string]any {
	var out []map[string]any
	for _, n := range before.Nodes {
		if n.Op != graph.OpConv && n.Op != graph.OpGemm {
			continue
		}
		m := after.Node(n.Name)
		if m == nil {
			continue
		}
		cb, ca := before.Params[n.Input(1)].Shape[0], after.Params[m.Input(1)].Shape[0]
		out = append(out, map[string]any{"layer": n.Name, "channels_before": cb, "channels": ca, "ratio": 1 - float64(ca)/float64(cb)})
	}
	return out
}

func pruneLayer(e *Env, o *PruneOptions, g *graph.Graph, trainSet, testSet *data.Dataset, summary map[string]any) (*graph.Graph, error) {
	sel, _ := ParseBlockScore(o.BlockScore)
	names, err := prune.PlanLayerPrune(g, o.Blocks, o.Threshold, sel)
	if err != nil {
		return nil, AsInput(err)
	}
	blocks, _ := prune.Blocks(g)
	var scores []map[string]any
	for _, b := range blocks {
		if !b.Removable {
			continue
		}
		s, err := prune.Score(g, b, sel)
		if err != nil {
			continue
		}
		scores = append(scores, map[string]any{"block": b.Name, "score": s, "removed": slices.Contains(names, b.Name)})
	}
	summary["block_scores"] = scores
	if names == nil {
		names = []string{}
	}
	summary["removed_blocks"] = names
	if len(names) == 0 {
		fmt.Fprintln(e.Log, "layer: no removable block qualifies; the model is unchanged")
	}
	out, err := prune.RemoveBlocks(g, names)
	if err != nil {
		return nil, err
	}
	if trainSet != nil {
		ckpt := o.Out + ".ft.ckpt"
		acc, err := finetune(e, out, o.Tune, trainSet, testSet, o.Seed, 0, ckpt, false)
		if err != nil {
			return nil, err
		}
		os.RemoveAll(ckpt)
		summary["accuracy"] = acc
	}
	return out, nil
}

// ddpgResult is what the search hands to prune's and compress's summaries.
type ddpgResult struct {
	Ratios      []float64
	Groups      []*prune.Group
	Rewards     []float64
	Episodes    []rl.Episode
	BestEpisode int
	BestReward  float64
	BestAcc     float64
	Mode        string
	Minutes     float64
	PerMinute   float64
	ValAcc      float64
	// EstLatencyMs is the lookup table's estimate of the best policy
	// (0 without a latency budget).
	EstLatencyMs float64
}

// searchDDPG runs the DDPG search on g and returns the best policy.
func searchDDPG(e *Env, g *graph.Graph, trainSet *data.Dataset, d DDPGOptions, popt prune.Options, b budget, seed uint64) (*ddpgResult, error) {
	rest, val, err := trainSet.Split(min(d.ValSize, trainSet.Len()/2), tensor.NewRNG(seed^0x5eed))
	if err != nil {
		return nil, AsInput(err)
	}
	tune, err := newEpisodeTune(rest, d.EpisodeSteps, d.episodeBatch(), d.EpisodeLR, seed)
	if err != nil {
		return nil, AsInput(err)
	}
	scoring := "zero-shot after BN recalibration"
	if tune.Steps > 0 {
		scoring = fmt.Sprintf("after %d fine-tuning steps of %d images", tune.Steps, tune.Batch)
	}
	return runDDPG(e, g, ddpgEvaluator(rest, val, d.Calib, 128, tune), "accuracy", val.Len(), scoring, d, popt, b, seed)
}

// runDDPG is the DDPG search on g with the episodes scored by ev (score
// names what ev.Accuracy measures, in percent, on valN held-out training
// images; scoring says how an episode's model is prepared).
func runDDPG(e *Env, g *graph.Graph, ev rl.Evaluator, score string, valN int, scoring string, d DDPGOptions, popt prune.Options, b budget, seed uint64) (*ddpgResult, error) {
	env, err := rl.NewPruneEnv(g, ev,
		rl.PruneConfig{Prune: popt, B: d.B, TargetParams: b.Params, TargetMACs: b.MACs, RBound: d.RBound, TargetLatency: b.LatencyMs, Latency: latencyModel(b)})
	if err != nil {
		return nil, AsInput(err)
	}
	mode := b.mode()
	// The noise width decays from 0.5 to 0.05 over the non-warm-up episodes.
	decay := math.Pow(0.1, 1/math.Max(1, float64(d.Episodes-d.Warmup)))
	ag, err := rl.NewAgent(rl.Config{StateDim: rl.StateDim, Hidden: d.Hidden, RBound: d.RBound, NoiseDecay: decay, Seed: seed})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "ddpg: %d groups, %s mode, validation %s %.2f%% on %d held-out training images, %d episodes (%d random), each scored %s\n",
		env.Steps(), mode, score, env.BaseAcc, valN, d.Episodes, d.Warmup, scoring)
	start := time.Now()
	res, err := rl.Search(env, ag, rl.SearchOptions{
		Episodes: d.Episodes, Warmup: d.Warmup, Updates: d.Updates, Checkpoint: d.Checkpoint, Resume: d.Resume, Context: e.Ctx,
		OnEpisode: func(ep, best rl.Episode) {
			el := time.Since(start).Seconds()
			fmt.Fprintf(e.Log, "\rddpg episode %d/%d reward %.4f (acc %.2f%%, %d params) best %.4f @%d  %.1f ep/min   ",
				ep.N+1, d.Episodes, ep.Reward, ep.Info["accuracy"], int(ep.Info["params"]), best.Reward, best.N+1, float64(ep.N+1)/el*60)
		},
	})
	fmt.Fprintln(e.Log)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Skipped {
		fmt.Fprintf(e.Log, "warning: %v (skipped)\n", w)
	}
	if res.Resumed > 0 {
		fmt.Fprintf(e.Log, "ddpg: resumed %d episodes from %s\n", res.Resumed, d.Checkpoint)
	}
	el := time.Since(start).Minutes()
	out := &ddpgResult{Ratios: res.Best.Actions, Groups: env.Groups, BestEpisode: res.Best.N, BestReward: res.Best.Reward,
		BestAcc: res.Best.Info["accuracy"], Mode: mode, Minutes: el, ValAcc: env.BaseAcc}
	out.Episodes = res.Episodes
	if b.Latency != nil {
		out.EstLatencyMs = env.LatencyAfter(res.Best.Actions)
	}
	for _, ep := range res.Episodes {
		out.Rewards = append(out.Rewards, ep.Reward)
	}
	if n := len(res.Episodes) - res.Resumed; n > 0 && el > 0 {
		out.PerMinute = float64(n) / el
	}
	return out, nil
}

func pruneDDPG(e *Env, o *PruneOptions, g *graph.Graph, trainSet, testSet *data.Dataset, summary map[string]any) (*graph.Graph, error) {
	if o.DDPG.Study > 0 {
		out, err := rewardStudy(e, o, g, trainSet, summary)
		if err != nil {
			return nil, err
		}
		acc, err := accuracy(out, testSet, evalBatch)
		summary["accuracy"] = acc
		return out, err
	}
	d := o.DDPG
	if o.Method == "random" {
		d.Warmup = d.Episodes // every episode random: random search
	}
	b := budget{Params: o.TargetParams, MACs: o.TargetMACs, LatencyMs: o.TargetLatency}
	if o.TargetLatency > 0 {
		tb, before, err := latencyTable(e, g, o.pruneOpts(), d.RBound)
		if err != nil {
			return nil, err
		}
		if o.TargetLatency >= before {
			return nil, BadInput("--target-latency %g ms is not below the model's %.4g ms at batch 1 in ONNX Runtime (1 thread)", o.TargetLatency, before)
		}
		b.Latency = tb
		summary["latency_ms_before"], summary["target_latency_ms"] = before, o.TargetLatency
	}
	r, err := searchDDPG(e, g, trainSet, d, o.pruneOpts(), b, o.Seed)
	if err != nil {
		return nil, err
	}
	if b.Latency != nil {
		summary["latency_ms_estimated"] = r.EstLatencyMs
	}
	plan, err := prune.PlanByRatios(g, r.Groups, r.Ratios, o.pruneOpts())
	if err != nil {
		return nil, err
	}
	out, err := applyPlan(g, plan, trainSet, o.DDPG.Calib, 128)
	if err != nil {
		return nil, err
	}
	ev, err := train.Evaluate(out, testSet, 256)
	if err != nil {
		return nil, err
	}
	summary["accuracy_pruned"] = 100 * ev.Accuracy
	ckpt := o.Out + ".ft.ckpt"
	acc, err := finetune(e, out, o.Tune, trainSet, testSet, o.Seed, 0, ckpt, o.DDPG.Resume)
	if err != nil {
		return nil, err
	}
	os.RemoveAll(ckpt)
	summary["accuracy"] = acc
	summary["ratios"] = groupRatios(r.Groups, plan)
	summary["rewards"] = r.Rewards
	summary["best_episode"] = r.BestEpisode
	summary["best_reward"] = r.BestReward
	summary["mode"] = r.Mode
	summary["episodes"] = len(r.Rewards)
	summary["episodes_per_min"] = r.PerMinute
	summary["search_minutes"] = r.Minutes
	summary["checkpoint"] = filepath.Clean(o.DDPG.Checkpoint)
	return out, nil
}

// Validate checks the search settings; messages name the prune flags.
func (d *DDPGOptions) Validate() error {
	switch {
	case d.Episodes <= 0:
		return BadInput("--episodes must be > 0, got %d", d.Episodes)
	case d.Warmup < 0 || d.Warmup >= d.Episodes:
		return BadInput("--warmup must be in [0, episodes), got %d", d.Warmup)
	case d.B <= 0:
		return BadInput("--b must be > 0, got %g", d.B)
	case d.RBound <= 0 || d.RBound >= 1:
		return BadInput("--max-ratio must be in (0, 1), got %g", d.RBound)
	case d.ValSize < 10:
		return BadInput("--val-size must be >= 10, got %d", d.ValSize)
	case d.Calib < 1:
		return BadInput("--calib-batches must be >= 1")
	case d.Updates < 1 || d.Updates > 1000:
		return BadInput("--updates must be in [1, 1000], got %d", d.Updates)
	case d.EpisodeSteps < 0 || d.EpisodeBatch < 0 || d.EpisodeBatch == 1:
		return BadInput("--episode-steps must be >= 0 and --episode-batch >= 2, got %d and %d", d.EpisodeSteps, d.EpisodeBatch)
	case d.EpisodeSteps > 0 && !(d.EpisodeLR > 0):
		return BadInput("--episode-lr must be > 0 when --episode-steps is, got %g", d.EpisodeLR)
	case d.Study < 0:
		return BadInput("--reward-study must be >= 0, got %d", d.Study)
	}
	for _, s := range d.StudySteps {
		if s < 0 {
			return BadInput("--study-steps must be >= 0, got %d", s)
		}
	}
	return nil
}

// episodeBatch is EpisodeBatch or its default, 64.
func (d *DDPGOptions) episodeBatch() int {
	if d.EpisodeBatch > 0 {
		return d.EpisodeBatch
	}
	return 64
}
