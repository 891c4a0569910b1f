package cli

import (
	"flag"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/pipeline"
)

func parseTrain(e *env, args []string) (*pipeline.TrainOptions, error) {
	o := &pipeline.TrainOptions{}
	fs := newFlags("train", e.stderr)
	fs.StringVar(&o.Arch, "arch", "", "built-in architecture to train from scratch: "+strings.Join(nn.Archs(), ", ")+"; detector (on a YOLO-format --data): "+strings.Join(nn.DetectorArchs(), ", "))
	fs.StringVar(&o.Model, "model", "", "ONNX model to fine-tune (instead of --arch)")
	df := registerData(fs, &o.Data)
	fs.IntVar(&o.Epochs, "epochs", 3, "training epochs (a detector: 30 unless given)")
	fs.IntVar(&o.Batch, "batch", 128, "mini-batch size (a detector: 32 unless given)")
	fs.Float64Var(&o.LR, "lr", 0.1, "peak learning rate (a detector: AdamW, cosine, 8e-3 for --arch and 2e-3 for --model unless given)")
	fs.IntVar(&o.ImageSize, "imgsz", 0, "a new detector's input side, a multiple of 16 (0: the first training image's longer side rounded up to 16, at most 640)")
	fs.Float64Var(&o.Momentum, "momentum", 0.9, "SGD momentum (Nesterov)")
	fs.Float64Var(&o.WD, "wd", 5e-4, "weight decay (a detector: AdamW's decoupled decay)")
	fs.BoolVar(&o.DecayAll, "decay-all", false, "also apply weight decay to BatchNorm scale/shift and biases (PyTorch's plain SGD does; default: weights only)")
	fs.BoolVar(&o.CycleMomentum, "cycle-momentum", false, "cycle SGD momentum 0.95 -> 0.85 -> 0.95 against the one-cycle rate, as PyTorch's OneCycleLR does by default (--momentum is then unused)")
	fs.StringVar(&o.Optimizer, "optimizer", "sgd", "sgd or adam")
	fs.StringVar(&o.Schedule, "schedule", "onecycle", "learning-rate schedule: onecycle, cosine, step, constant")
	fs.Float64Var(&o.Sparsity, "sparsity", 0, "L1 coefficient lambda on BatchNorm scale factors (sparse training; e.g. 1e-4)")
	fs.StringVar(&o.Augment, "augment", "", "augmentation: comma list of crop (random crop, pad 2) and flip (horizontal), or none; empty: none for a classifier; a detector takes flip and jitter (scale and shift), empty: flip,jitter")
	fs.StringVar(&o.Out, "out", "", "output ONNX model (required)")
	fs.StringVar(&o.Ckpt, "checkpoint-dir", "", "directory for per-epoch checkpoints (default: OUT.ckpt next to --out)")
	fs.BoolVar(&o.Resume, "resume", false, "resume from the checkpoint in --checkpoint-dir")
	fs.IntVar(&o.NaNRetries, "nan-retries", 0, "on a NaN/Inf loss or weight, restore the last good state, halve the learning rate and retry up to N times (0: stop with an error)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	o.Given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.Given[f.Name] = true })
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
	case o.ImageSize < 0 || o.ImageSize%16 != 0:
		return nil, badInput("--imgsz must be a positive multiple of 16, got %d", o.ImageSize)
	case o.Optimizer != "sgd" && o.Optimizer != "adam":
		return nil, badInput("--optimizer must be sgd or adam, got %q", o.Optimizer)
	}
	if o.Arch != "" && !slices.Contains(nn.Archs(), o.Arch) && !slices.Contains(nn.DetectorArchs(), o.Arch) {
		return nil, badInput("unknown --arch %q (known: %s; detectors: %s)", o.Arch, strings.Join(nn.Archs(), ", "), strings.Join(nn.DetectorArchs(), ", "))
	}
	if _, err := pipeline.ParseAugment(o.Augment); err != nil {
		if _, _, derr := pipeline.ParseDetAugment(o.Augment); derr != nil {
			return nil, err
		} // a detector's list (jitter): the task, known later, decides
	}
	if o.Ckpt == "" {
		o.Ckpt = o.Out + ".ckpt"
	}
	return o, df.validate()
}
func runTrain(e *env, args []string) error {
	o, err := parseTrain(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Train(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
