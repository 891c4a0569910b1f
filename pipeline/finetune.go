package pipeline

import (
	"fmt"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// TuneOptions are the fine-tuning flags shared by prune, quantize and compress.
type TuneOptions struct {
	Epochs  int
	LR      float64
	Batch   int
	WD      float64
	Augment string // as train's --augment: "crop", "flip", "crop,flip" or ""
	// Teacher, when set (compress sets it), is distilled into the model:
	// weight DistillW on its soft targets at temperature DistillTemp
	// (train.Options.Teacher). TeacherLogits, when set, are its logits
	// of the training set (train.Options.TeacherLogits).
	Teacher               *graph.Graph
	DistillW, DistillTemp float64
	TeacherLogits         *tensor.Tensor
}

// finetune trains g in place for t.Epochs (nothing when 0) and returns the
// final test accuracy in percent (or the current one without training).
// testSet is measured once, after the last epoch: it reports, it does not
// steer (issue 22).
// ckptDir, when set, makes the run resumable.
func finetune(e *Env, g *graph.Graph, t TuneOptions, trainSet, testSet *data.Dataset, seed uint64, sparsity float64, ckptDir string, resume bool) (float64, error) {
	if t.Epochs == 0 {
		ev, err := train.Evaluate(g, testSet, 256)
		if err != nil {
			return 0, err
		}
		return 100 * ev.Accuracy, nil
	}
	aug, err := ParseAugment(t.Augment)
	if err != nil {
		return 0, err
	}
	kd := ""
	if t.Teacher != nil {
		kd = fmt.Sprintf(", distilling the teacher with weight %g at T = %g", t.DistillW, t.DistillTemp)
	}
	fmt.Fprintf(e.Log, "fine-tuning %d epochs (lr %g%s)\n", t.Epochs, t.LR, kd)
	res, err := train.Fit(g, trainSet, testSet, train.Options{
		Epochs: t.Epochs, Batch: t.Batch, Optimizer: train.OptSGD, LR: t.LR, Momentum: 0.9, Nesterov: true,
		WeightDecay: t.WD, Schedule: train.ScheduleOneCycle, Sparsity: sparsity, Augment: aug, Seed: seed, Progress: e.Log,
		CheckpointDir: ckptDir, Resume: resume, Context: e.Ctx, EvalEvery: t.Epochs,
		Teacher: t.Teacher, DistillW: t.DistillW, DistillTemp: t.DistillTemp, TeacherLogits: t.TeacherLogits,
	})
	if err != nil {
		return 0, err
	}
	return 100 * res.FinalAcc, nil
}

// Validate checks the fine-tuning settings; messages name the flags.
func (t *TuneOptions) Validate() error {
	switch {
	case t.Epochs < 0:
		return BadInput("--finetune-epochs must be >= 0, got %d", t.Epochs)
	case t.Batch <= 1:
		return BadInput("--batch must be > 1, got %d", t.Batch)
	case t.LR <= 0:
		return BadInput("--finetune-lr must be > 0, got %g", t.LR)
	case !(t.DistillW >= 0 && t.DistillW <= 1):
		return BadInput("--distill must be in [0, 1], got %g", t.DistillW)
	}
	_, err := ParseAugment(t.Augment)
	return err
}
