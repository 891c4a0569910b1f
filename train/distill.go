package train

import (
	"fmt"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/tensor"
)

// Distillation is knowledge distillation from a teacher (SoftmaxDistill):
// the hard labels' cross-entropy weighted 1-Weight, the teacher's soft
// targets at temperature Temp weighted Weight.
type Distillation struct {
	Weight, Temp float64
	Teacher      TeacherSource
}

// Loss implements Loss.
func (d Distillation) Loss(logits *tensor.Tensor, b Batch, grad *tensor.Tensor) (float64, int, error) {
	t, err := d.Teacher.TeacherLogits(b)
	if err != nil {
		return 0, 0, fmt.Errorf("the teacher: %w", err)
	}
	return SoftmaxDistill(logits, t, b.Labels, d.Weight, d.Temp, grad)
}

// TeacherSource gives a teacher's logits [N, K] of a training batch.
type TeacherSource interface {
	TeacherLogits(b Batch) (*tensor.Tensor, error)
}

// cachedTeacher looks the batch's rows up in the teacher's logits of the
// whole training set, computed once (valid when no augmentation changes
// the images between epochs).
type cachedTeacher struct {
	all *tensor.Tensor // [trainSet.Len(), K]
	buf *tensor.Tensor // the batch's rows, reused
}

func (c *cachedTeacher) TeacherLogits(b Batch) (*tensor.Tensor, error) {
	c.buf = gatherRows(c.all, b.Index, c.buf)
	return c.buf, nil
}

// onlineTeacher runs the teacher in inference mode on every batch as it
// is (augmented) this step.
type onlineTeacher struct{ e *engine.Executor }

func (o onlineTeacher) TeacherLogits(b Batch) (*tensor.Tensor, error) {
	return o.e.Forward(b.X, false)
}

// newLoss builds the loss Options ask for: CrossEntropy, or with
// opt.Teacher a Distillation whose teacher is an inference executor run on
// every batch or, when the training images are never augmented (so each
// has the same teacher logits in every epoch), those logits for the whole
// training set, [N, K]: opt.TeacherLogits or computed once here.
func newLoss(opt Options, trainSet *data.Dataset) (Loss, error) {
	if opt.Teacher == nil {
		return CrossEntropy{Smoothing: opt.LabelSmoothing}, nil
	}
	if err := checkInput(opt.Teacher, trainSet); err != nil {
		return nil, fmt.Errorf("train: the teacher: %w", err)
	}
	d := Distillation{Weight: opt.DistillW, Temp: opt.DistillTemp}
	if !opt.Augment.Changes() {
		soft := opt.TeacherLogits
		if soft == nil {
			var err error
			if soft, err = DatasetLogits(opt.Teacher, trainSet, opt.EvalBatch); err != nil {
				return nil, fmt.Errorf("train: the teacher: %w", err)
			}
		}
		if len(soft.Shape) != 2 || soft.Shape[0] != trainSet.Len() {
			return nil, fmt.Errorf("train: the teacher's logits have shape %v, not [%d, K]", soft.Shape, trainSet.Len())
		}
		d.Teacher = &cachedTeacher{all: soft}
		return d, nil
	}
	e, err := inferenceExecutor(opt.Teacher)
	if err != nil {
		return nil, fmt.Errorf("train: the teacher: %w", err)
	}
	d.Teacher = onlineTeacher{e: e}
	return d, nil
}

// gatherRows copies rows idx of the matrix src [N, K] into dst [len(idx), K],
// reusing dst when it has that shape.
func gatherRows(src *tensor.Tensor, idx []int, dst *tensor.Tensor) *tensor.Tensor {
	k := src.Shape[1]
	if dst == nil || !tensor.SameShape(dst.Shape, []int{len(idx), k}) {
		dst = tensor.New(len(idx), k)
	}
	for b, i := range idx {
		copy(dst.Data[b*k:(b+1)*k], src.Data[i*k:(i+1)*k])
	}
	return dst
}
