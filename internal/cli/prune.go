package cli

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/slimgo/slimgo/pipeline"
)

// registerDDPG registers the DDPG search flags (prune --method ddpg).
func registerDDPG(fs *flag.FlagSet, d *pipeline.DDPGOptions) {
	fs.IntVar(&d.Episodes, "episodes", 120, "DDPG episodes, warm-up included")
	fs.IntVar(&d.Warmup, "warmup", 20, "DDPG warm-up episodes with random actions")
	fs.Float64Var(&d.B, "b", 2, "accuracy protection b: reward Accuracy = 1 - delta_acc/b, delta_acc in points")
	fs.IntVar(&d.ValSize, "val-size", 2000, "validation examples held out from the training data for the search")
	fs.Float64Var(&d.RBound, "max-ratio", 0.8, "largest pruning ratio of one layer")
	fs.IntVar(&d.Calib, "calib-batches", 8, "training batches used to recalibrate BN statistics per episode")
	fs.IntVar(&d.Hidden, "hidden", 300, "hidden units of the actor and critic")
	fs.IntVar(&d.Updates, "updates", pipeline.DefaultDDPGUpdates, "DDPG agent updates after each episode step (AMC: 1)")
	fs.IntVar(&d.EpisodeSteps, "episode-steps", d.EpisodeSteps, "fine-tune each episode's pruned model this many SGD steps before scoring it (0: zero-shot, BN recalibration only)")
	fs.IntVar(&d.EpisodeBatch, "episode-batch", 64, "batch of the episodes' short fine-tune")
	fs.Float64Var(&d.EpisodeLR, "episode-lr", d.EpisodeLR, "peak learning rate of the episodes' short fine-tune")
	fs.IntVar(&d.Study, "reward-study", 0, "instead of searching, score this many random budget policies as episodes and after fine-tuning, and report how well the reward ranks them (validation split only); writes the best one")
	fs.Func("study-steps", "comma list of episode fine-tuning step counts the reward study compares (default 0)", func(s string) error {
		v, err := parseInts(s)
		d.StudySteps = v
		return err
	})
	fs.StringVar(&d.Checkpoint, "search-checkpoint", "", "DDPG checkpoint file (default OUT.ddpg.ckpt)")
	fs.BoolVar(&d.Resume, "resume", false, "resume the search (and fine-tuning) from their checkpoints")
}

func parsePrune(e *env, args []string) (*pipeline.PruneOptions, error) {
	o := &pipeline.PruneOptions{DDPG: pipeline.DDPGOptions{EpisodeSteps: pipeline.DefaultEpisodeSteps, EpisodeLR: pipeline.DefaultEpisodeLR}}
	fs := newFlags("prune", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model to prune (required)")
	df := registerData(fs, &o.Data)
	fs.StringVar(&o.Method, "method", "slim", "slim (global BN-gamma threshold), uniform (one ratio for every layer), ddpg (per-layer ratios by DDPG), random (the best of --episodes random policies under the budget, scored as DDPG's episodes: the search's baseline) or layer (residual blocks)")
	fs.Float64Var(&o.Ratio, "ratio", 0.5, "slim: share of channels to remove")
	fs.IntVar(&o.TargetParams, "target-params", 0, "slim, uniform, ddpg: prune to at most this many parameters (0: use --ratio / the reward)")
	fs.Int64Var(&o.TargetMACs, "target-macs", 0, "ddpg: prune to at most this many multiply-accumulates per image (budget mode; may be combined with --target-params)")
	fs.Float64Var(&o.TargetLatency, "target-latency", 0, "ddpg: prune to at most this many milliseconds per image at batch 1 in ONNX Runtime (1 thread), estimated by a lookup table measured once on this machine (budget mode; may be combined with the others)")
	fs.IntVar(&o.Steps, "steps", 1, "slim: prune-and-fine-tune rounds to reach the target (claim 4's loop)")
	fs.IntVar(&o.Blocks, "blocks", 0, "layer: remove this many of the weakest removable residual blocks")
	fs.Float64Var(&o.Threshold, "threshold", 0, "layer: remove blocks whose mean |gamma| is below this")
	fs.StringVar(&o.BlockScore, "block-score", "last", "layer: which 3x3 conv's BN scores a block: last, first, mean")
	fs.StringVar(&o.Criterion, "criterion", "bn-mean", "channel importance: bn-mean, bn-sum, bn-max, l1")
	fs.IntVar(&o.MinChannels, "min-channels", 1, "channels every layer keeps at least")
	fs.IntVar(&o.RoundTo, "round-to", 1, "round kept channel counts up to a multiple of this (e.g. 8 for hardware)")
	fs.IntVar(&o.RoundMin, "round-min", 32, "layers with fewer channels than this are not rounded by --round-to")
	registerTune(fs, &o.Tune, 0)
	fs.Float64Var(&o.Tune.DistillW, "distill", 0, "fine-tune against the unpruned model's soft targets with this weight in [0, 1] (knowledge distillation; 0: labels only)")
	registerDDPG(fs, &o.DDPG)
	fs.StringVar(&o.Out, "out", "", "output ONNX model (required)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.NoORT, "no-ort", false, "do not measure ONNX Runtime speed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case o.Model == "":
		return nil, badInput("--model is required")
	case o.Out == "":
		return nil, badInput("--out is required")
	case o.Method != "slim" && o.Method != "uniform" && o.Method != "ddpg" && o.Method != "random" && o.Method != "layer":
		return nil, badInput("--method must be slim, uniform, ddpg, random or layer, got %q", o.Method)
	case o.Ratio < 0 || o.Ratio >= 1:
		return nil, badInput("--ratio must be in [0, 1), got %g", o.Ratio)
	case o.TargetParams < 0 || o.TargetMACs < 0:
		return nil, badInput("--target-params and --target-macs must be >= 0")
	case o.TargetMACs > 0 && o.Method != "ddpg" && o.Method != "random":
		return nil, badInput("--target-macs works with --method ddpg or random")
	case !(o.TargetLatency >= 0) || math.IsInf(o.TargetLatency, 0):
		return nil, badInput("--target-latency must be >= 0 milliseconds, got %g", o.TargetLatency)
	case o.TargetLatency > 0 && o.Method != "ddpg" && o.Method != "random":
		return nil, badInput("--target-latency works with --method ddpg or random")
	case o.TargetLatency > 0 && o.NoORT:
		return nil, badInput("--target-latency is measured in ONNX Runtime: drop --no-ort")
	case o.TargetLatency > 0 && o.DDPG.Study > 0:
		return nil, badInput("--target-latency does not apply to --reward-study")
	case o.Steps < 1:
		return nil, badInput("--steps must be >= 1")
	case o.Blocks < 0 || o.Threshold < 0:
		return nil, badInput("--blocks and --threshold must be >= 0")
	case o.Method == "layer" && o.Blocks == 0 && o.Threshold == 0:
		return nil, badInput("--method layer needs --blocks K or --threshold T")
	case o.MinChannels < 1 || o.RoundTo < 1 || o.RoundMin < 0:
		return nil, badInput("--min-channels and --round-to must be >= 1")
	case (o.Method == "ddpg" || o.Method == "random") && o.Data.Spec == "":
		return nil, badInput("--method %s needs --data (the reward measures accuracy)", o.Method)
	case o.Tune.Epochs > 0 && o.Data.Spec == "":
		return nil, badInput("--finetune-epochs needs --data")
	}
	if err := pipeline.ParseCriterion(o.Criterion); err != nil {
		return nil, asInput(err)
	}
	if _, err := pipeline.ParseBlockScore(o.BlockScore); err != nil {
		return nil, err
	}
	if o.DDPG.Checkpoint == "" {
		o.DDPG.Checkpoint = o.Out + ".ddpg.ckpt"
	}
	if err := o.Tune.Validate(); err != nil {
		return nil, err
	}
	if o.Method == "ddpg" || o.Method == "random" {
		if o.Method == "random" && o.DDPG.Warmup >= o.DDPG.Episodes {
			o.DDPG.Warmup = o.DDPG.Episodes - 1 // checked as a search's; random ignores it
		}
		if err := o.DDPG.Validate(); err != nil {
			return nil, err
		}
	}
	return o, df.validate()
}
func runPrune(e *env, args []string) error {
	o, err := parsePrune(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Prune(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}

// parseInts reads a comma list of integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}
