package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
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

// EpochStats are the figures of one finished epoch. Accuracies are in [0, 1].
type EpochStats struct {
	Epoch        int        `json:"epoch"` // 1-based
	TrainLoss    float64    `json:"train_loss"`
	TrainAcc     float64    `json:"train_acc"`
	Penalty      float64    `json:"penalty"` // mean regulariser penalty (not in TrainLoss)
	Evaluated    bool       `json:"evaluated"`
	TestLoss     float64    `json:"test_loss"`
	TestAcc      float64    `json:"test_acc"`
	ImagesPerSec float64    `json:"images_per_s"` // training throughput
	LR           float64    `json:"lr"`           // rate of the epoch's last step
	Gamma        GammaStats `json:"gamma"`
	Seconds      float64    `json:"seconds"`
}

// Result is what Fit returns. FinalAcc and FinalLoss come from the last test
// evaluation (always run after the last epoch), or from the last epoch's
// training figures without a test set.
type Result struct {
	Epochs       []EpochStats `json:"epochs"`
	FinalAcc     float64      `json:"accuracy"`
	FinalLoss    float64      `json:"loss"`
	ImagesPerSec float64      `json:"images_per_s"` // mean training throughput
	Steps        int          `json:"steps"`
	NaNRetries   int          `json:"nan_retries"`
	ResumedFrom  string       `json:"resumed_from,omitempty"` // checkpoint file a resume started from
}

// ErrStopped is wrapped by Fit's error when the run was cancelled (Context)
// or hit StopAfterSteps; the returned Result holds the finished epochs and
// a checkpoint was written when CheckpointDir is set.
var ErrStopped = errors.New("training stopped")

// Eval is the outcome of Evaluate. Accuracy is in [0, 1]; Loss is the mean
// cross-entropy.
type Eval struct {
	Accuracy     float64 `json:"accuracy"`
	Loss         float64 `json:"loss"`
	ImagesPerSec float64 `json:"images_per_s"`
	N            int     `json:"n"`
	Correct      int     `json:"correct"`
}

// Evaluate runs g in inference mode over set in batches of batch (default
// 256) and returns accuracy and mean loss. It errors on an empty set, an
// input shape the model does not take, or a label the model cannot output.
func Evaluate(g *graph.Graph, set *data.Dataset, batch int) (Eval, error) {
	e, err := inferenceExecutor(g)
	if err != nil {
		return Eval{}, err
	}
	return evaluate(e, set, batch)
}

// inferenceExecutor compiles engine.Optimize(g) (BN folded into convs,
// ReLU and residual adds fused), the form inference runs fastest in; the
// optimised graph holds g's BN statistics as of now, so callers build it
// afresh after training steps.
func inferenceExecutor(g *graph.Graph) (*engine.Executor, error) {
	o, err := engine.Optimize(g)
	if err != nil {
		return nil, err
	}
	return engine.New(o)
}

func evaluate(e *engine.Executor, set *data.Dataset, batch int) (Eval, error) {
	if set == nil || set.Len() == 0 {
		return Eval{}, errors.New("train: evaluation on an empty data set")
	}
	if batch <= 0 {
		batch = 256
	}
	if err := checkInput(e.G, set); err != nil {
		return Eval{}, err
	}
	start := time.Now()
	var ev Eval
	idx := make([]int, 0, batch)
	var x *tensor.Tensor
	total := 0.0
	for lo := 0; lo < set.Len(); lo += batch {
		idx = idx[:0]
		for i := lo; i < min(lo+batch, set.Len()); i++ {
			idx = append(idx, i)
		}
		var labels []int32
		x, labels = set.Batch(idx, x, nil, nil)
		out, err := e.Forward(x, false)
		if err != nil {
			return Eval{}, fmt.Errorf("train: evaluating %s: %w", set.Name, err)
		}
		loss, c, err := SoftmaxCrossEntropy(out, labels, nil)
		if err != nil {
			return Eval{}, fmt.Errorf("train: evaluating %s, examples %d..%d: %w", set.Name, lo, lo+len(idx)-1, err)
		}
		total += loss * float64(len(idx))
		ev.Correct += c
		ev.N += len(idx)
	}
	ev.Accuracy = float64(ev.Correct) / float64(ev.N)
	ev.Loss = total / float64(ev.N)
	if s := time.Since(start).Seconds(); s > 0 {
		ev.ImagesPerSec = float64(ev.N) / s
	}
	return ev, nil
}

// Predict runs g in inference mode on x ([N, ...] batch first, in chunks of
// batch rows; default 256) and returns the first output for all N rows,
// [N, ...]. It errors when the model rejects the input shape.
func Predict(g *graph.Graph, x *tensor.Tensor, batch int) (*tensor.Tensor, error) {
	if x == nil || x.Dims() < 1 || x.Shape[0] == 0 {
		return nil, errors.New("train: predict needs a non-empty batch-first input")
	}
	if batch <= 0 {
		batch = 256
	}
	e, err := inferenceExecutor(g)
	if err != nil {
		return nil, err
	}
	n := x.Shape[0]
	row := x.Len() / n
	var res *tensor.Tensor
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		shape := append([]int{hi - lo}, x.Shape[1:]...)
		out, err := e.Forward(tensor.From(x.Data[lo*row:hi*row], shape...), false)
		if err != nil {
			return nil, fmt.Errorf("train: predict rows %d..%d: %w", lo, hi-1, err)
		}
		if res == nil {
			s := append([]int{n}, out.Shape[1:]...)
			res = tensor.New(s...)
		}
		orow := res.Len() / n
		if out.Len() != (hi-lo)*orow {
			return nil, fmt.Errorf("train: predict: output shape %v changes between batches", out.Shape)
		}
		copy(res.Data[lo*orow:], out.Data)
	}
	return res, nil
}

// checkInput verifies that a data set's images fit the graph's single input.
func checkInput(g *graph.Graph, set *data.Dataset) error {
	if len(g.Inputs) != 1 || len(g.Outputs) < 1 {
		return fmt.Errorf("train: model %q needs one input and an output, has %d and %d", g.Name, len(g.Inputs), len(g.Outputs))
	}
	s := g.Inputs[0].Shape
	want := []int{set.C, set.H, set.W}
	if len(s) != 4 {
		return fmt.Errorf("train: model input %q has shape %v, not [N,C,H,W] for %s images %v", g.Inputs[0].Name, s, set.Name, want)
	}
	for i, d := range s[1:] {
		if d >= 0 && d != want[i] {
			return fmt.Errorf("train: model input %q has shape %v, data set %s has images %v", g.Inputs[0].Name, s, set.Name, want)
		}
	}
	if len(set.X) != set.Len()*set.ImageSize() {
		return fmt.Errorf("train: data set %s has %d values for %d images of %v", set.Name, len(set.X), set.Len(), want)
	}
	return nil
}

// splitmix64 step, used to derive independent seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// derive returns a seed for (seed, parts...); each batch has its own stream,
// so a run resumed at any step replays exactly.
func derive(seed uint64, parts ...uint64) uint64 {
	h := mix(seed)
	for _, p := range parts {
		h = mix(h ^ mix(p+1))
	}
	return h
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
	if o.EvalEvery <= 0 {
		o.EvalEvery = 1
	}
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
	if o.Resume && o.CheckpointDir == "" {
		return errors.New("train: resume needs a checkpoint directory")
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return nil
}

// finite reports whether every value is neither NaN nor infinite.
func finite(d []float32) bool {
	for _, v := range d {
		if v-v != 0 { // NaN or ±Inf
			return false
		}
	}
	return true
}

// Fit trains g (in place: the graph's parameter tensors are updated) on
// trainSet with softmax cross-entropy on its first output ([N, K] logits)
// and returns per-epoch figures. testSet may be nil.
//
// Each epoch visits a permutation of trainSet drawn from (Seed, epoch) in
// batches of opt.Batch (a last batch of a single example is dropped, since
// BatchNormalization needs two); each batch's augmentation and dropout draw
// from a stream derived from (Seed, epoch, step). With CheckpointDir set,
// a checkpoint is written after every epoch and when the run stops; with
// Resume the run continues from it and ends with the same weights, bit for
// bit, as an uninterrupted run (for a fixed GOMAXPROCS).
//
// Errors: bad options, a model that does not take the data set's images or
// cannot be executed, labels outside the model's outputs, a non-finite loss,
// gradient or weight (naming epoch and step; the graph is restored to the
// last good state, which the checkpoint also holds), a checkpoint that does
// not match the run, and ErrStopped (wrapped) on cancellation.
func Fit(g *graph.Graph, trainSet, testSet *data.Dataset, opt Options) (*Result, error) {
	if err := opt.validate(trainSet); err != nil {
		return nil, err
	}
	if err := checkInput(g, trainSet); err != nil {
		return nil, err
	}
	if testSet != nil && testSet.Len() > 0 {
		if err := checkInput(g, testSet); err != nil {
			return nil, err
		}
	}
	exec, err := engine.New(g)
	if err != nil {
		return nil, err
	}
	teacher, soft, err := newTeacher(opt, trainSet)
	if err != nil {
		return nil, err
	}
	pr, err := newProgress(opt.Progress, opt.ProgressMode)
	if err != nil {
		return nil, err
	}
	n, B := trainSet.Len(), opt.Batch
	steps := (n + B - 1) / B
	if n%B == 1 {
		steps = n / B
	}
	total := opt.Epochs * steps
	sc := ScheduleConfig{Name: opt.Schedule, LR: opt.LR, WarmupEpochs: opt.WarmupEpochs,
		Milestones: opt.Milestones, Gamma: opt.Gamma}
	sched, err := sc.Build(opt.Epochs, steps)
	if err != nil {
		return nil, err
	}
	optim, err := newOptimizer(opt, g)
	if err != nil {
		return nil, err
	}
	var momentum Schedule
	if opt.CycleMomentum {
		momentum = OneCycleMomentum(0.85, 0.95, sc.oneCyclePct(opt.Epochs))
	}
	regs := append([]Regularizer(nil), opt.Regularizers...)
	if opt.Sparsity > 0 {
		regs = append(regs, BNSparsity{Lambda: opt.Sparsity})
	}
	ckptPath := ""
	if opt.CheckpointDir != "" {
		ckptPath = filepath.Join(opt.CheckpointDir, CheckpointFile)
	}

	st := &Checkpoint{LRScale: 1, Seed: opt.Seed, Epochs: opt.Epochs, Batch: B, Train: n}
	if opt.Resume {
		c, used, warns, err := LoadLatestCheckpoint(opt.CheckpointDir)
		for _, w := range warns {
			if pr != nil {
				pr.print("warning: "+w.Error(), true)
			}
		}
		switch {
		case err == nil:
			if err := resumeFrom(g, optim, st, c, used); err != nil {
				return nil, err
			}
			st.Result.ResumedFrom = used
			if pr != nil {
				pr.print(fmt.Sprintf("resuming from %s at epoch %d step %d", used, c.Epoch+1, c.Step), true)
			}
		case len(warns) == 0: // nothing there yet: a fresh run
		default:
			return nil, err
		}
	}
	good := snapshot(g, optim, st)
	save := func() error {
		if ckptPath == "" {
			return nil
		}
		c := *st
		c.Params = g.Params
		c.Opt = optim.State()
		return WriteCheckpoint(ckptPath, &c)
	}

	var (
		xbuf      *tensor.Tensor
		grad      *tensor.Tensor
		tbuf      *tensor.Tensor // the teacher's logits of the batch, when cached
		idx       = make([]int, 0, B)
		ranThis   int
		trainTime time.Duration
		trainImgs int
	)
	outName := g.Outputs[0].Name
epochs:
	for st.Epoch < opt.Epochs {
		epoch := st.Epoch
		perm := tensor.NewRNG(derive(opt.Seed, uint64(epoch))).Perm(n)
		epochStart := time.Now()
		seenHere := 0
		if pr != nil {
			pr.startEpoch()
		}
		lr := 0.0
		for st.Step < steps {
			step := st.Step
			if err := opt.Context.Err(); err != nil || (opt.StopAfterSteps > 0 && ranThis >= opt.StopAfterSteps) {
				if err == nil {
					err = fmt.Errorf("after %d steps (StopAfterSteps)", ranThis)
				}
				res := st.Result
				finish(&res, trainImgs, trainTime)
				if serr := save(); serr != nil {
					return &res, fmt.Errorf("train: %w at epoch %d step %d (%v), and the checkpoint failed: %v", ErrStopped, epoch+1, step, err, serr)
				}
				return &res, fmt.Errorf("train: %w at epoch %d step %d: %v", ErrStopped, epoch+1, step, err)
			}
			idx = idx[:0]
			for i := step * B; i < min((step+1)*B, n); i++ {
				idx = append(idx, perm[i])
			}
			brng := tensor.NewRNG(derive(opt.Seed, uint64(epoch), uint64(step)))
			var labels []int32
			xbuf, labels = trainSet.Batch(idx, xbuf, opt.Augment, brng)
			exec.SetRNG(brng)
			lr = sched(st.Global, total) * st.LRScale
			t0 := time.Now()
			out, err := exec.Forward(xbuf, true)
			if err != nil {
				return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
			}
			if grad == nil || !tensor.SameShape(grad.Shape, out.Shape) {
				grad = tensor.New(out.Shape...)
			}
			var loss float64
			var correct int
			if opt.Teacher != nil {
				var tout *tensor.Tensor
				if soft != nil {
					tbuf = gatherRows(soft, idx, tbuf)
					tout = tbuf
				} else if tout, err = teacher.Forward(xbuf, false); err != nil {
					return nil, fmt.Errorf("train: epoch %d step %d: the teacher: %w", epoch+1, step, err)
				}
				loss, correct, err = SoftmaxDistill(out, tout, labels, opt.DistillW, opt.DistillTemp, grad)
			} else {
				loss, correct, err = SoftmaxCrossEntropySmoothed(out, labels, opt.LabelSmoothing, grad)
			}
			if err != nil {
				return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
			}
			bad := ""
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				bad = fmt.Sprintf("loss is %g", loss)
			}
			pen := 0.0
			if bad == "" {
				exec.ZeroGrad()
				if _, err := exec.Backward(map[string]*tensor.Tensor{outName: grad}); err != nil {
					return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
				}
				for _, r := range regs {
					pen += r.Penalty(g)
					r.AddGrad(g, exec.Grads)
				}
				for k, gr := range exec.Grads {
					if !finite(gr.Data) {
						bad = fmt.Sprintf("the gradient of %q is not finite", k)
						break
					}
				}
			}
			if bad == "" {
				optim.SetLR(lr)
				if sgd, ok := optim.(*SGD); ok && momentum != nil {
					sgd.Momentum = momentum(st.Global, total)
				}
				if err := optim.Step(g.Params, exec.Grads); err != nil {
					return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
				}
				for k := range exec.Grads {
					if !finite(g.Params[k].Data) {
						bad = fmt.Sprintf("parameter %q is not finite after the update", k)
						break
					}
				}
			}
			if bad != "" {
				restore(g, optim, st, good)
				where := fmt.Sprintf("epoch %d step %d (lr %.3g)", epoch+1, step, lr)
				if st.Retries < opt.MaxNaNRetries {
					st.Retries++
					st.LRScale *= 0.5
					if pr != nil {
						pr.print(fmt.Sprintf("warning: %s at %s; retrying from epoch %d step %d with the learning rate halved (retry %d of %d)",
							bad, where, st.Epoch+1, st.Step, st.Retries, opt.MaxNaNRetries), true)
					}
					continue epochs
				}
				return nil, fmt.Errorf("train: %s at %s; the model is back at its last good state (epoch %d step %d)%s",
					bad, where, st.Epoch+1, st.Step, ckptNote(ckptPath))
			}
			trainTime += time.Since(t0)
			trainImgs += len(idx)
			seenHere += len(idx)
			ranThis++
			st.PartLoss += loss * float64(len(idx))
			st.PartPenalty += pen * float64(len(idx))
			st.PartCorrect += correct
			st.PartSeen += len(idx)
			st.Step++
			st.Global++
			if pr != nil {
				el := time.Since(epochStart)
				pr.step(epoch+1, opt.Epochs, st.Step, steps, st.PartLoss/float64(st.PartSeen),
					float64(st.PartCorrect)/float64(st.PartSeen), float64(seenHere)/el.Seconds(), el)
			}
		}
		es := EpochStats{
			Epoch:     epoch + 1,
			TrainLoss: st.PartLoss / float64(st.PartSeen),
			TrainAcc:  float64(st.PartCorrect) / float64(st.PartSeen),
			Penalty:   st.PartPenalty / float64(st.PartSeen),
			LR:        lr,
			Gamma:     ComputeGammaStats(g),
		}
		sec := time.Since(epochStart).Seconds()
		if sec > 0 {
			es.ImagesPerSec = float64(seenHere) / sec
		}
		if testSet != nil && testSet.Len() > 0 && ((epoch+1)%opt.EvalEvery == 0 || epoch+1 == opt.Epochs) {
			ee, err := inferenceExecutor(g)
			if err != nil {
				return nil, fmt.Errorf("train: after epoch %d: %w", epoch+1, err)
			}
			ev, err := evaluate(ee, testSet, opt.EvalBatch)
			if err != nil {
				return nil, fmt.Errorf("train: after epoch %d: %w", epoch+1, err)
			}
			es.Evaluated, es.TestLoss, es.TestAcc = true, ev.Loss, ev.Accuracy
			// The evaluation's executor (its own optimised graph and tensor
			// pool, ~100 MB for a resnet20 at batch 256) is garbage now;
			// collecting it here keeps the next epoch's evaluation from
			// stacking on top of it until the heap doubles.
			runtime.GC()
		}
		es.Seconds = time.Since(epochStart).Seconds()
		st.Result.Epochs = append(st.Result.Epochs, es)
		st.Result.Steps = st.Global
		st.Result.NaNRetries = st.Retries
		st.Epoch++
		st.Step = 0
		st.PartLoss, st.PartPenalty, st.PartCorrect, st.PartSeen = 0, 0, 0, 0
		if pr != nil {
			pr.epochLine(es, opt.Epochs)
		}
		if err := save(); err != nil {
			return nil, err
		}
		good = snapshot(g, optim, st)
		if opt.OnEpoch != nil {
			opt.OnEpoch(es)
		}
	}
	res := st.Result
	finish(&res, trainImgs, trainTime)
	return &res, nil
}

// newTeacher prepares opt.Teacher, if any: an inference executor to run on
// every batch or, when the training images are never augmented (so each
// has the same teacher logits in every epoch), those logits for the whole
// training set, [N, K]: opt.TeacherLogits or computed once here.
func newTeacher(opt Options, trainSet *data.Dataset) (*engine.Executor, *tensor.Tensor, error) {
	if opt.Teacher == nil {
		return nil, nil, nil
	}
	if err := checkInput(opt.Teacher, trainSet); err != nil {
		return nil, nil, fmt.Errorf("train: the teacher: %w", err)
	}
	if !opt.Augment.Changes() {
		soft := opt.TeacherLogits
		if soft == nil {
			var err error
			if soft, err = DatasetLogits(opt.Teacher, trainSet, opt.EvalBatch); err != nil {
				return nil, nil, fmt.Errorf("train: the teacher: %w", err)
			}
		}
		if len(soft.Shape) != 2 || soft.Shape[0] != trainSet.Len() {
			return nil, nil, fmt.Errorf("train: the teacher's logits have shape %v, not [%d, K]", soft.Shape, trainSet.Len())
		}
		return nil, soft, nil
	}
	e, err := inferenceExecutor(opt.Teacher)
	if err != nil {
		return nil, nil, fmt.Errorf("train: the teacher: %w", err)
	}
	return e, nil, nil
}

// DatasetLogits runs g in inference mode on every image of set, batch at a
// time (<= 0: 256), and returns its outputs, which must be logits [N, K].
// Errors: g does not take set's images, or gives another shape.
func DatasetLogits(g *graph.Graph, set *data.Dataset, batch int) (*tensor.Tensor, error) {
	if err := checkInput(g, set); err != nil {
		return nil, err
	}
	x := tensor.From(set.X, set.Len(), set.C, set.H, set.W)
	out, err := Predict(g, x, batch)
	if err != nil {
		return nil, err
	}
	if len(out.Shape) != 2 {
		return nil, fmt.Errorf("train: the model gives outputs of shape %v, not logits [N, K]", out.Shape)
	}
	return out, nil
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

func ckptNote(path string) string {
	if path == "" {
		return ""
	}
	return "; " + path + " holds the last good checkpoint"
}

// finish fills the summary fields of a result.
func finish(r *Result, imgs int, d time.Duration) {
	if n := len(r.Epochs); n > 0 {
		last := r.Epochs[n-1]
		r.FinalAcc, r.FinalLoss = last.TrainAcc, last.TrainLoss
		for i := n - 1; i >= 0; i-- {
			if r.Epochs[i].Evaluated {
				r.FinalAcc, r.FinalLoss = r.Epochs[i].TestAcc, r.Epochs[i].TestLoss
				break
			}
		}
	}
	if d > 0 {
		r.ImagesPerSec = float64(imgs) / d.Seconds()
	}
}

// state is an in-memory copy of everything a NaN retry restores.
type state struct {
	params map[string][]float32
	opt    OptimizerState
	ck     Checkpoint
}

func snapshot(g *graph.Graph, o Optimizer, st *Checkpoint) *state {
	s := &state{params: make(map[string][]float32, len(g.Params)), opt: o.State(), ck: *st}
	for k, t := range g.Params {
		s.params[k] = append([]float32(nil), t.Data...)
	}
	s.ck.Result.Epochs = append([]EpochStats(nil), st.Result.Epochs...)
	return s
}

// restore puts the snapshot back, copying into the graph's own tensors (the
// executor holds them). Retries and LRScale are kept by the caller.
func restore(g *graph.Graph, o Optimizer, st *Checkpoint, s *state) {
	for k, d := range s.params {
		copy(g.Params[k].Data, d)
	}
	o.SetState(s.opt)
	retries, scale := st.Retries, st.LRScale
	*st = s.ck
	st.Result.Epochs = append([]EpochStats(nil), s.ck.Result.Epochs...)
	st.Retries, st.LRScale = retries, scale
}

// resumeFrom loads checkpoint c (read from file) into the graph, optimizer
// and run state after checking it belongs to this run.
func resumeFrom(g *graph.Graph, o Optimizer, st, c *Checkpoint, file string) error {
	if c.Seed != st.Seed || c.Epochs != st.Epochs || c.Batch != st.Batch || c.Train != st.Train {
		return fmt.Errorf("train: checkpoint %s belongs to another run (seed %d, %d epochs, batch %d, %d examples; now seed %d, %d epochs, batch %d, %d examples): remove it or start without resume",
			file, c.Seed, c.Epochs, c.Batch, c.Train, st.Seed, st.Epochs, st.Batch, st.Train)
	}
	if len(c.Params) != len(g.Params) {
		return fmt.Errorf("train: checkpoint %s has %d parameters, the model %d", file, len(c.Params), len(g.Params))
	}
	for k, t := range g.Params {
		ct := c.Params[k]
		if ct == nil || !tensor.SameShape(ct.Shape, t.Shape) {
			var s []int
			if ct != nil {
				s = ct.Shape
			}
			return fmt.Errorf("train: checkpoint %s: parameter %q has shape %v, the model %v", file, k, s, t.Shape)
		}
	}
	if err := o.SetState(c.Opt); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", file, err)
	}
	for k, t := range g.Params {
		copy(t.Data, c.Params[k].Data)
	}
	params := st.Params
	*st = *c
	st.Params = params
	if st.LRScale == 0 {
		st.LRScale = 1
	}
	return nil
}
