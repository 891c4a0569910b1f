package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/train"
)

// trainOptions are the flags of `slimgo train`.
type trainOptions struct {
	Arch          string
	Model         string
	Data          dataFlags
	Epochs        int
	Batch         int
	LR            float64
	Momentum      float64
	DecayAll      bool
	CycleMomentum bool
	WD            float64
	Optimizer     string
	Schedule      string
	Sparsity      float64
	Augment       string
	Out           string
	Ckpt          string
	Resume        bool
	NaNRetries    int
	Seed          uint64
	JSON          bool
}

func parseTrain(e *env, args []string) (*trainOptions, error) {
	o := &trainOptions{}
	fs := newFlags("train", e.stderr)
	fs.StringVar(&o.Arch, "arch", "", "built-in architecture to train from scratch: "+strings.Join(nn.Archs(), ", "))
	fs.StringVar(&o.Model, "model", "", "ONNX model to fine-tune (instead of --arch)")
	o.Data.register(fs)
	fs.IntVar(&o.Epochs, "epochs", 3, "training epochs")
	fs.IntVar(&o.Batch, "batch", 128, "mini-batch size")
	fs.Float64Var(&o.LR, "lr", 0.1, "peak learning rate")
	fs.Float64Var(&o.Momentum, "momentum", 0.9, "SGD momentum (Nesterov)")
	fs.Float64Var(&o.WD, "wd", 5e-4, "weight decay")
	fs.BoolVar(&o.DecayAll, "decay-all", false, "also apply weight decay to BatchNorm scale/shift and biases (PyTorch's plain SGD does; default: weights only)")
	fs.BoolVar(&o.CycleMomentum, "cycle-momentum", false, "cycle SGD momentum 0.95 -> 0.85 -> 0.95 against the one-cycle rate, as PyTorch's OneCycleLR does by default (--momentum is then unused)")
	fs.StringVar(&o.Optimizer, "optimizer", "sgd", "sgd or adam")
	fs.StringVar(&o.Schedule, "schedule", "onecycle", "learning-rate schedule: onecycle, cosine, step, constant")
	fs.Float64Var(&o.Sparsity, "sparsity", 0, "L1 coefficient lambda on BatchNorm scale factors (sparse training; e.g. 1e-4)")
	fs.StringVar(&o.Augment, "augment", "", "augmentation: comma list of crop (random crop, pad 2) and flip (horizontal); empty: none")
	fs.StringVar(&o.Out, "out", "", "output ONNX model (required)")
	fs.StringVar(&o.Ckpt, "checkpoint-dir", "", "directory for per-epoch checkpoints (default: OUT.ckpt next to --out)")
	fs.BoolVar(&o.Resume, "resume", false, "resume from the checkpoint in --checkpoint-dir")
	fs.IntVar(&o.NaNRetries, "nan-retries", 0, "on a NaN/Inf loss or weight, restore the last good state, halve the learning rate and retry up to N times (0: stop with an error)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case (o.Arch == "") == (o.Model == ""):
		return nil, badInput("give exactly one of --arch and --model")
	case o.Out == "":
		return nil, badInput("--out is required")
	case o.Epochs < 1:
		return nil, badInput("--epochs must be >= 1, got %d", o.Epochs)
	case o.Batch <= 0:
		return nil, badInput("--batch must be > 0, got %d", o.Batch)
	case o.LR <= 0:
		return nil, badInput("--lr must be > 0, got %g", o.LR)
	case o.NaNRetries < 0:
		return nil, badInput("--nan-retries must be >= 0, got %d", o.NaNRetries)
	case o.Sparsity < 0:
		return nil, badInput("--sparsity must be >= 0, got %g", o.Sparsity)
	case o.Optimizer != "sgd" && o.Optimizer != "adam":
		return nil, badInput("--optimizer must be sgd or adam, got %q", o.Optimizer)
	}
	if o.Arch != "" && !contains(nn.Archs(), o.Arch) {
		return nil, badInput("unknown --arch %q (known: %s)", o.Arch, strings.Join(nn.Archs(), ", "))
	}
	if _, err := parseAugment(o.Augment); err != nil {
		return nil, err
	}
	if o.Ckpt == "" {
		o.Ckpt = o.Out + ".ckpt"
	}
	return o, o.Data.validate()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseAugment turns "crop,flip" into an Augment (nil for none).
func parseAugment(s string) (*data.Augment, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	a := &data.Augment{}
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "crop":
			a.CropPad = 2
		case "flip":
			a.FlipH = true
		default:
			return nil, badInput("unknown --augment item %q (want crop, flip)", p)
		}
	}
	return a, nil
}

func runTrain(e *env, args []string) error {
	o, err := parseTrain(e, args)
	if err != nil {
		return err
	}
	if err := checkOutput(o.Out); err != nil {
		return err
	}
	if err := checkOutputDir(o.Ckpt); err != nil {
		return err
	}
	var g *graph.Graph
	if o.Model != "" {
		if g, err = loadModel(o.Model); err != nil {
			return err
		}
	}
	trainSet, testSet, err := o.Data.load(e, g)
	if err != nil {
		return err
	}
	if g == nil {
		g, err = nn.Build(o.Arch, []int{trainSet.C, trainSet.H, trainSet.W}, len(trainSet.Classes), o.Seed)
		if err != nil {
			return asInput(err)
		}
	}
	if err := checkClasses(g, trainSet); err != nil {
		return err
	}
	aug, _ := parseAugment(o.Augment)
	if aug != nil {
		aug.FillC = trainSet.BlackLevel()
	}
	topt := train.Options{
		Epochs: o.Epochs, Batch: o.Batch, Optimizer: train.OptimizerKind(o.Optimizer), LR: o.LR, Momentum: o.Momentum, DecayAll: o.DecayAll, CycleMomentum: o.CycleMomentum,
		Nesterov: o.Optimizer == "sgd", WeightDecay: o.WD, Schedule: train.ScheduleKind(o.Schedule), Sparsity: o.Sparsity,
		Augment: aug, Seed: o.Seed, Progress: e.stderr, CheckpointDir: o.Ckpt, Resume: o.Resume, Context: e.ctx,
		MaxNaNRetries: o.NaNRetries,
	}
	res, err := train.Fit(g, trainSet, testSet, topt)
	if errors.Is(err, train.ErrStopped) {
		return fmt.Errorf("interrupted: %s; %s was not written; rerun the same command with --resume to continue from the checkpoint in %s",
			strings.TrimPrefix(err.Error(), "train: "), o.Out, o.Ckpt)
	}
	if errors.Is(err, train.ErrCorruptCheckpoint) {
		return badInput("%s; remove %s or train without --resume", strings.TrimPrefix(err.Error(), "train: "), o.Ckpt)
	}
	if err != nil {
		return err
	}
	stampData(g, trainSet)
	if err := onnx.WriteFile(o.Out, g, onnx.WriteOptions{}); err != nil {
		return err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s (%s)\n", filepath.Clean(o.Out), st)
	return emit(e, o.JSON, map[string]any{
		"accuracy":      100 * res.FinalAcc,
		"loss":          res.FinalLoss,
		"epochs":        o.Epochs,
		"images_per_s":  res.ImagesPerSec,
		"params":        st.Params,
		"macs":          st.MACs,
		"out":           o.Out,
		"preprocessing": trainSet.Preprocess().Summary(),
	})
}
