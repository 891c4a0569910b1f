package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/train"
)

// TrainOptions are the flags of `slimgo train`.
type TrainOptions struct {
	Arch          string
	Model         string
	Data          DataOptions
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
	// ImageSize is a new detector's input side (train --arch yolo-s;
	// 0: the first training image's longer side rounded up to a multiple
	// of 16, at most 640).
	ImageSize int
	// Given names the options the caller set (by flag name: epochs,
	// batch, lr, wd, optimizer). Detection training uses its own defaults
	// (train.DetectOptions: 30 epochs, batch 32, AdamW 2e-3) for the
	// others; nil means every option was given.
	Given map[string]bool
}

// given reports whether the caller set the option named by its flag.
func (o *TrainOptions) given(flag string) bool { return o.Given == nil || o.Given[flag] }

// parseAugment turns "crop,flip" into an Augment (nil for none).
func ParseAugment(s string) (*data.Augment, error) {
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
		case "jitter":
			return nil, BadInput("--augment jitter is for detectors only (a classifier takes crop, flip)")
		default:
			return nil, BadInput("unknown --augment item %q (want crop, flip)", p)
		}
	}
	return a, nil
}

// ParseDetAugment turns a detector's --augment list ("flip,jitter";
// "" or "none": nothing) into horizontal flips and data.DefaultDetJitter.
func ParseDetAugment(s string) (flip bool, jitter data.DetJitter, err error) {
	if s == "" || s == "none" {
		return false, jitter, nil
	}
	for _, p := range strings.Split(s, ",") {
		switch strings.TrimSpace(p) {
		case "flip":
			flip = true
		case "jitter":
			jitter = data.DefaultDetJitter
		default:
			return false, jitter, BadInput("--augment %q: detection training takes flip and jitter", s)
		}
	}
	return flip, jitter, nil
}

// Train trains a built-in architecture (Arch) or fine-tunes a model
// (Model) and writes it to Out with the preprocessing it used.
func Train(e *Env, o *TrainOptions) (map[string]any, error) {
	if err := CheckOutput(o.Out); err != nil {
		return nil, err
	}
	var g *graph.Graph
	var err error
	what := "--arch " + o.Arch
	if o.Model != "" {
		if g, err = loadModel(o.Model); err != nil {
			return nil, err
		}
		what = "model " + o.Model
	}
	detector := slices.Contains(nn.DetectorArchs(), o.Arch) || g != nil && IsDetector(g)
	if err := checkTask(what, detector, o.Data.Spec); err != nil {
		return nil, err
	}
	if detector {
		return trainDetector(e, o, g)
	}
	if err := CheckOutputDir(o.Ckpt); err != nil {
		return nil, err
	}
	trainSet, testSet, err := o.Data.load(e, g)
	if err != nil {
		return nil, err
	}
	if g == nil {
		g, err = nn.Build(o.Arch, []int{trainSet.C, trainSet.H, trainSet.W}, len(trainSet.Classes), o.Seed)
		if err != nil {
			return nil, AsInput(err)
		}
	}
	aug, err := ParseAugment(o.Augment)
	if err != nil {
		return nil, err
	}
	if aug != nil {
		aug.FillC = trainSet.BlackLevel()
	}
	topt := train.Options{
		Epochs: o.Epochs, Batch: o.Batch, Optimizer: train.OptimizerKind(o.Optimizer), LR: o.LR, Momentum: o.Momentum, DecayAll: o.DecayAll, CycleMomentum: o.CycleMomentum,
		Nesterov: o.Optimizer == "sgd", WeightDecay: o.WD, Schedule: train.ScheduleKind(o.Schedule), Sparsity: o.Sparsity,
		Augment: aug, Seed: o.Seed, Progress: e.Log, CheckpointDir: o.Ckpt, Resume: o.Resume, Context: e.Ctx,
		MaxNaNRetries: o.NaNRetries,
	}
	res, err := train.Fit(g, trainSet, testSet, topt)
	if errors.Is(err, train.ErrStopped) {
		return nil, fmt.Errorf("interrupted: %s; %s was not written; rerun the same command with --resume to continue from the checkpoint in %s",
			strings.TrimPrefix(err.Error(), "train: "), o.Out, o.Ckpt)
	}
	if errors.Is(err, train.ErrCorruptCheckpoint) {
		return nil, BadInput("%s; remove %s or train without --resume", strings.TrimPrefix(err.Error(), "train: "), o.Ckpt)
	}
	if err != nil {
		return nil, err
	}
	stampData(g, trainSet)
	st, err := writeTrained(e, g, o.Out)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"accuracy":      100 * res.FinalAcc,
		"loss":          res.FinalLoss,
		"epochs":        o.Epochs,
		"images_per_s":  res.ImagesPerSec,
		"params":        st.Params,
		"macs":          st.MACs,
		"out":           o.Out,
		"preprocessing": trainSet.Preprocess().Summary(),
	}, nil
}

// writeTrained writes a trained model to out as ONNX, logs it and returns
// its statistics.
func writeTrained(e *Env, g *graph.Graph, out string) (graph.Stats, error) {
	if err := onnx.WriteFile(out, g, onnx.WriteOptions{}); err != nil {
		return graph.Stats{}, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return graph.Stats{}, err
	}
	fmt.Fprintf(e.Log, "wrote %s (%s)\n", filepath.Clean(out), st)
	return st, nil
}
