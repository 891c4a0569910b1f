package train

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

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

// Fit trains g (in place: the graph's parameter tensors are updated) on
// trainSet and returns per-epoch figures. testSet may be nil. The loss on
// g's first output ([N, K] logits) is softmax cross-entropy, or with a
// Teacher a distillation (newLoss); the optimizer and the Plan of rate and
// momentum come from opt, and each step is a stepper's (step.go).
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
	r, err := newRun(g, trainSet, testSet, opt)
	if err != nil {
		return nil, err
	}
	if err := r.resume(); err != nil {
		return nil, err
	}
	r.good = snapshot(g, r.optim, r.st, nil)
	for r.st.Epoch < r.opt.Epochs {
		lr, err := r.epoch()
		var stop *stopError
		switch {
		case errors.Is(err, errRetry):
			continue
		case errors.As(err, &stop):
			return r.stopped(stop)
		case err != nil:
			return nil, err
		}
		if err := r.endEpoch(lr); err != nil {
			return nil, err
		}
	}
	res := r.st.Result
	finish(&res, r.trainImgs, r.trainTime)
	return &res, nil
}

// run is one call of Fit: its typed parts (loss, optimizer, plan, step
// function), the run state a checkpoint holds, and the figures of the
// epoch in progress.
type run struct {
	opt               Options
	g                 *graph.Graph
	trainSet, testSet *data.Dataset
	optim             Optimizer
	stepper           *stepper
	plan              Plan
	pr                *progress
	ckptPath          string // "" : no checkpoints
	n, steps          int    // training examples, steps per epoch

	st   *Checkpoint // position, partial sums, finished epochs
	good *state      // the last good state, for a NaN rollback

	xbuf       *tensor.Tensor
	idx        []int
	ranThis    int // steps run by this call (StopAfterSteps)
	trainTime  time.Duration
	trainImgs  int
	epochStart time.Time
	seenHere   int // images of the current epoch trained by this call
}

// newRun checks the options and builds the run's parts.
func newRun(g *graph.Graph, trainSet, testSet *data.Dataset, opt Options) (*run, error) {
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
	exec.SetParamGradsOnly(true) // the images' gradients are never read
	loss, err := newLoss(opt, trainSet)
	if err != nil {
		return nil, err
	}
	r := &run{opt: opt, g: g, trainSet: trainSet, testSet: testSet, n: trainSet.Len(), idx: make([]int, 0, opt.Batch)}
	if r.pr, err = newProgress(opt.Progress, opt.ProgressMode); err != nil {
		return nil, err
	}
	B := opt.Batch
	r.steps = (r.n + B - 1) / B
	if r.n%B == 1 {
		r.steps = r.n / B
	}
	sc := ScheduleConfig{Name: opt.Schedule, LR: opt.LR, WarmupEpochs: opt.WarmupEpochs,
		Milestones: opt.Milestones, Gamma: opt.Gamma}
	if r.plan, err = sc.Plan(opt.Epochs, r.steps, opt.CycleMomentum); err != nil {
		return nil, err
	}
	if r.optim, err = newOptimizer(opt, g); err != nil {
		return nil, err
	}
	regs := append([]Regularizer(nil), opt.Regularizers...)
	if opt.Sparsity > 0 {
		regs = append(regs, BNSparsity{Lambda: opt.Sparsity})
	}
	r.stepper = &stepper{g: g, exec: exec, loss: loss, regs: regs, optim: r.optim}
	if opt.CheckpointDir != "" {
		r.ckptPath = filepath.Join(opt.CheckpointDir, CheckpointFile)
	}
	r.st = &Checkpoint{LRScale: 1, Seed: opt.Seed, Epochs: opt.Epochs, Batch: B, Train: r.n}
	return r, nil
}

// resume continues from the newest usable checkpoint when asked to; with
// none there yet the run starts afresh.
func (r *run) resume() error {
	if !r.opt.Resume {
		return nil
	}
	c, used, warns, err := LoadLatestCheckpoint(r.opt.CheckpointDir)
	for _, w := range warns {
		r.print("warning: " + w.Error())
	}
	switch {
	case err == nil:
		if err := resumeFrom(r.g, r.optim, r.st, c, used); err != nil {
			return err
		}
		r.st.Result.ResumedFrom = used
		r.print(fmt.Sprintf("resuming from %s at epoch %d step %d", used, c.Epoch+1, c.Step))
	case len(warns) == 0: // nothing there yet: a fresh run
	default:
		return err
	}
	return nil
}

// print writes a line of its own to the progress output, if any.
func (r *run) print(s string) {
	if r.pr != nil {
		r.pr.print(s, true)
	}
}

// errRetry is epoch's report that a bad step rolled the run back to the
// last good state: the loop starts from there again.
var errRetry = errors.New("train: retrying from the last good state")

// stopError is epoch's report that the run was cancelled or hit
// StopAfterSteps before step Step of epoch Epoch (0-based).
type stopError struct {
	Epoch, Step int
	Cause       error
}

func (e *stopError) Error() string {
	return fmt.Sprintf("stopped at epoch %d step %d: %v", e.Epoch+1, e.Step, e.Cause)
}

// epoch runs the steps left in the current epoch and returns the rate of
// the last one. It errors with errRetry after a rollback, with a
// *stopError on a stop, and on a failing or (retries spent) bad step.
func (r *run) epoch() (lr float64, err error) {
	epoch := r.st.Epoch
	perm := tensor.NewRNG(derive(r.opt.Seed, uint64(epoch))).Perm(r.n)
	r.epochStart = time.Now()
	r.seenHere = 0
	if r.pr != nil {
		r.pr.startEpoch()
	}
	for r.st.Step < r.steps {
		step := r.st.Step
		if cause := r.interrupted(); cause != nil {
			return lr, &stopError{Epoch: epoch, Step: step, Cause: cause}
		}
		b := r.batch(perm, epoch, step)
		h := r.plan.At(r.st.Global, r.st.LRScale)
		lr = h.LR
		t0 := time.Now()
		sr, err := r.stepper.step(b, h)
		if err != nil {
			return lr, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
		}
		if sr.Bad != "" {
			return lr, r.rollback(sr.Bad, fmt.Sprintf("epoch %d step %d (lr %.3g)", epoch+1, step, lr))
		}
		r.trainTime += time.Since(t0)
		r.account(sr, len(b.Index))
	}
	return lr, nil
}

// interrupted returns why the run must stop now (cancellation or
// StopAfterSteps), or nil.
func (r *run) interrupted() error {
	err := r.opt.Context.Err()
	if err == nil && r.opt.StopAfterSteps > 0 && r.ranThis >= r.opt.StopAfterSteps {
		err = fmt.Errorf("after %d steps (StopAfterSteps)", r.ranThis)
	}
	return err
}

// batch draws step's examples of the epoch's permutation, augmented from
// the stream of (Seed, epoch, step), which also drives dropout.
func (r *run) batch(perm []int, epoch, step int) Batch {
	B := r.opt.Batch
	r.idx = r.idx[:0]
	for i := step * B; i < min((step+1)*B, r.n); i++ {
		r.idx = append(r.idx, perm[i])
	}
	brng := tensor.NewRNG(derive(r.opt.Seed, uint64(epoch), uint64(step)))
	var labels []int32
	r.xbuf, labels = r.trainSet.Batch(r.idx, r.xbuf, r.opt.Augment, brng)
	r.stepper.exec.SetRNG(brng)
	return Batch{X: r.xbuf, Labels: labels, Index: r.idx}
}

// rollback restores the last good state after a bad step at where; it
// returns errRetry with the learning rate halved while retries are left,
// else the error that ends the run.
func (r *run) rollback(bad, where string) error {
	st := r.st
	restore(r.g, r.optim, st, r.good)
	if st.Retries < r.opt.MaxNaNRetries {
		st.Retries++
		st.LRScale *= 0.5
		r.print(fmt.Sprintf("warning: %s at %s; retrying from epoch %d step %d with the learning rate halved (retry %d of %d)",
			bad, where, st.Epoch+1, st.Step, st.Retries, r.opt.MaxNaNRetries))
		return errRetry
	}
	return fmt.Errorf("train: %s at %s; the model is back at its last good state (epoch %d step %d)%s",
		bad, where, st.Epoch+1, st.Step, ckptNote(r.ckptPath))
}

// account adds a good step of n images to the epoch's sums and progress.
func (r *run) account(sr stepResult, n int) {
	st := r.st
	r.trainImgs += n
	r.seenHere += n
	r.ranThis++
	st.PartLoss += sr.Loss * float64(n)
	st.PartPenalty += sr.Penalty * float64(n)
	st.PartCorrect += sr.Correct
	st.PartSeen += n
	st.Step++
	st.Global++
	if r.pr != nil {
		el := time.Since(r.epochStart)
		r.pr.step(st.Epoch+1, r.opt.Epochs, st.Step, r.steps, st.PartLoss/float64(st.PartSeen),
			float64(st.PartCorrect)/float64(st.PartSeen), float64(r.seenHere)/el.Seconds(), el)
	}
}

// endEpoch records the finished epoch (whose last rate was lr), evaluates
// on the test set when due, checkpoints and takes the new good state.
func (r *run) endEpoch(lr float64) error {
	st, epoch := r.st, r.st.Epoch
	es := EpochStats{
		Epoch:     epoch + 1,
		TrainLoss: st.PartLoss / float64(st.PartSeen),
		TrainAcc:  float64(st.PartCorrect) / float64(st.PartSeen),
		Penalty:   st.PartPenalty / float64(st.PartSeen),
		LR:        lr,
		Gamma:     ComputeGammaStats(r.g),
	}
	sec := time.Since(r.epochStart).Seconds()
	if sec > 0 {
		es.ImagesPerSec = float64(r.seenHere) / sec
	}
	if r.testSet != nil && r.testSet.Len() > 0 && ((epoch+1)%r.opt.EvalEvery == 0 || epoch+1 == r.opt.Epochs) {
		ev, err := r.evaluate()
		if err != nil {
			return fmt.Errorf("train: after epoch %d: %w", epoch+1, err)
		}
		es.Evaluated, es.TestLoss, es.TestAcc = true, ev.Loss, ev.Accuracy
	}
	es.Seconds = time.Since(r.epochStart).Seconds()
	st.Result.Epochs = append(st.Result.Epochs, es)
	st.Result.Steps = st.Global
	st.Result.NaNRetries = st.Retries
	st.Epoch++
	st.Step = 0
	st.PartLoss, st.PartPenalty, st.PartCorrect, st.PartSeen = 0, 0, 0, 0
	if r.pr != nil {
		r.pr.epochLine(es, r.opt.Epochs)
	}
	if err := r.save(); err != nil {
		return err
	}
	r.good = snapshot(r.g, r.optim, st, r.good)
	if r.opt.OnEpoch != nil {
		r.opt.OnEpoch(es)
	}
	return nil
}

// evaluate measures the model on the test set with a fresh inference
// executor (its graph holds the BN statistics as of now).
func (r *run) evaluate() (Eval, error) {
	ee, err := inferenceExecutor(r.g)
	if err != nil {
		return Eval{}, err
	}
	ev, err := evaluate(ee, r.testSet, r.opt.EvalBatch)
	// The evaluation's executor (its own optimised graph and tensor
	// pool, ~100 MB for a resnet20 at batch 256) is garbage now;
	// collecting it here keeps the next epoch's evaluation from
	// stacking on top of it until the heap doubles.
	if err == nil {
		runtime.GC()
	}
	return ev, err
}

// stopped ends a stopped run: the finished epochs, a checkpoint (when
// checkpointing) and ErrStopped wrapped with where and why.
func (r *run) stopped(s *stopError) (*Result, error) {
	res := r.st.Result
	finish(&res, r.trainImgs, r.trainTime)
	if serr := r.save(); serr != nil {
		return &res, fmt.Errorf("train: %w at epoch %d step %d (%v), and the checkpoint failed: %v", ErrStopped, s.Epoch+1, s.Step, s.Cause, serr)
	}
	return &res, fmt.Errorf("train: %w at epoch %d step %d: %v", ErrStopped, s.Epoch+1, s.Step, s.Cause)
}

// save writes the run state, the parameters and the optimizer state to
// the checkpoint file, if any.
func (r *run) save() error {
	if r.ckptPath == "" {
		return nil
	}
	c := *r.st
	c.Params = r.g.Params
	c.Opt = r.optim.State()
	return WriteCheckpoint(r.ckptPath, &c)
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
