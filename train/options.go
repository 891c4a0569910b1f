package train

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Options configures Fit. Zero values take the defaults noted.
type Options struct {
	Epochs int // number of epochs (required, >= 1)
	Batch  int // mini-batch size (default 64)

	Optimizer   OptimizerKind // OptSGD (default), OptAdam or OptAdamW
	LR          float64       // base / peak learning rate (default 0.1 for sgd, 1e-3 for adam)
	Momentum    float64       // SGD momentum (0: plain SGD); see DefaultOptions
	Nesterov    bool
	WeightDecay float64
	DecayAll    bool // also decay BN scale/bias and biases (default: exempt, see NoDecayParams)
	// CycleMomentum cycles SGD momentum 0.95 -> 0.85 -> 0.95 against the
	// one-cycle rate, as PyTorch's OneCycleLR does by default (Momentum is
	// then unused). Only with the onecycle schedule and SGD.
	CycleMomentum bool

	Schedule     ScheduleKind // ScheduleOneCycle (default), ScheduleCosine, ScheduleStep, ScheduleConstant
	WarmupEpochs float64      // cosine warm-up; onecycle rising phase (default 30%)
	Milestones   []float64    // step schedule, in epochs (default 50% and 75% of Epochs)
	Gamma        float64      // step schedule factor (default 0.1)

	LabelSmoothing float64 // cross-entropy label smoothing in [0, 1)
	// Teacher, when set, distills it into the model (SoftmaxDistill) with
	// its logits, in inference mode, on each step's batch: computed once
	// for the whole training set when Augment changes nothing, else by
	// running the teacher on every (augmented) batch. It must take the
	// model's input and give logits of the same shape; it is not trained.
	// Not with LabelSmoothing.
	Teacher     *graph.Graph
	DistillW    float64 // weight of the teacher's soft targets, in [0, 1] (default DefaultDistillW)
	DistillTemp float64 // softmax temperature of the soft targets (default DefaultDistillTemp)
	// TeacherLogits, with Teacher and no augmentation, are the teacher's
	// logits of every training image, [trainSet.Len(), K] in the set's
	// order (DatasetLogits), used instead of computing them again: a
	// caller distilling one teacher into several models passes them on.
	TeacherLogits *tensor.Tensor

	Sparsity     float64       // > 0 adds BNSparsity{Lambda: Sparsity}
	Regularizers []Regularizer // further loss terms
	Augment      *data.Augment // training augmentation (nil: none)
	Seed         uint64        // shuffling, augmentation and dropout streams

	Progress     io.Writer    // progress bar and epoch lines (nil: silent)
	ProgressMode ProgressMode // ProgressAuto (default: in place on a terminal), ProgressBar, ProgressLines
	EvalEvery    int          // evaluate on the test set every N epochs (default 1); the last epoch always
	EvalBatch    int          // evaluation batch (default 256)

	CheckpointDir string          // write CheckpointDir/train.ckpt after every epoch and on a stop ("" : none)
	Resume        bool            // continue from the checkpoint in CheckpointDir, if any
	Context       context.Context // cancelling it stops the run after the current step, with a checkpoint
	OnEpoch       func(EpochStats)
	MaxNaNRetries int // on a non-finite loss/gradient/weight: reload the last good state, halve the LR, retry
	// StopAfterSteps > 0 stops (as a cancellation would) after that many
	// steps of this call; a test hook for interruption and resume.
	StopAfterSteps int
}

// The distillation settings Fit takes when Options leaves them 0 (Hinton et
// al.'s usual choices).
const (
	DefaultDistillW    = 0.5
	DefaultDistillTemp = 4
)

// DefaultOptions returns the settings the CLI starts from: SGD with
// Nesterov momentum 0.9, LR 0.1, weight decay 5e-4, one-cycle schedule,
// batch 128.
func DefaultOptions() Options {
	return Options{Epochs: 10, Batch: 128, Optimizer: OptSGD, LR: 0.1, Momentum: 0.9, Nesterov: true,
		WeightDecay: 5e-4, Schedule: ScheduleOneCycle, Seed: 1, EvalEvery: 1}
}

func newOptimizer(opt Options, g *graph.Graph) (Optimizer, error) {
	var nd map[string]bool
	if !opt.DecayAll {
		nd = NoDecayParams(g)
	}
	kind, err := ParseOptimizer(string(opt.Optimizer))
	if err != nil {
		return nil, err
	}
	if kind == OptSGD {
		return &SGD{LR: opt.LR, Momentum: opt.Momentum, Nesterov: opt.Nesterov, WeightDecay: opt.WeightDecay, NoDecay: nd}, nil
	}
	a := NewAdam(opt.LR)
	a.WeightDecay, a.NoDecay, a.Decoupled = opt.WeightDecay, nd, kind == OptAdamW
	return a, nil
}

func (o *Options) validate(trainSet *data.Dataset) error {
	if o.Epochs < 1 {
		return fmt.Errorf("train: %d epochs; need at least 1", o.Epochs)
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Batch < 1 {
		return fmt.Errorf("train: batch size %d", o.Batch)
	}
	if trainSet == nil || trainSet.Len() < 2 {
		return errors.New("train: the training set needs at least 2 examples")
	}
	if err := o.validateOptimizer(); err != nil {
		return err
	}
	if o.EvalEvery <= 0 {
		o.EvalEvery = 1
	}
	if err := o.validateDistill(); err != nil {
		return err
	}
	if o.Resume && o.CheckpointDir == "" {
		return errors.New("train: resume needs a checkpoint directory")
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return nil
}

// validateOptimizer fills the default rate and checks the optimizer's
// settings (with sparsity and the NaN retries, in one message).
func (o *Options) validateOptimizer() error {
	if o.LR == 0 {
		o.LR = 0.1
		if o.Optimizer.isAdam() {
			o.LR = 1e-3
		}
	}
	if o.Momentum < 0 || o.Momentum >= 1 || o.WeightDecay < 0 || o.Sparsity < 0 || o.MaxNaNRetries < 0 {
		return fmt.Errorf("train: momentum %g, weight decay %g, sparsity %g, NaN retries %d: out of range",
			o.Momentum, o.WeightDecay, o.Sparsity, o.MaxNaNRetries)
	}
	if o.Nesterov && o.Momentum == 0 && !o.CycleMomentum {
		return errors.New("train: Nesterov needs a momentum > 0")
	}
	if o.CycleMomentum && ((o.Schedule != ScheduleOneCycle && o.Schedule != "") || (o.Optimizer != OptSGD && o.Optimizer != "")) {
		return fmt.Errorf("train: momentum cycling needs SGD with the onecycle schedule, not %s with %q", o.Optimizer, o.Schedule)
	}
	return nil
}

// validateDistill fills the distillation defaults and checks them.
func (o *Options) validateDistill() error {
	if o.Teacher != nil {
		if o.DistillW == 0 {
			o.DistillW = DefaultDistillW
		}
		if o.DistillTemp == 0 {
			o.DistillTemp = DefaultDistillTemp
		}
		if !(o.DistillW > 0 && o.DistillW <= 1) || !(o.DistillTemp > 0) || o.LabelSmoothing != 0 {
			return fmt.Errorf("train: distillation needs a weight in (0, 1] (got %g), a temperature > 0 (got %g) and no label smoothing (got %g)",
				o.DistillW, o.DistillTemp, o.LabelSmoothing)
		}
	}
	if o.TeacherLogits != nil && (o.Teacher == nil || o.Augment.Changes()) {
		return errors.New("train: teacher logits need a teacher and training without augmentation")
	}
	return nil
}
