package train

import (
	"errors"
	"fmt"
	"math"
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
	loss, err := newLoss(opt, trainSet)
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
	sc := ScheduleConfig{Name: opt.Schedule, LR: opt.LR, WarmupEpochs: opt.WarmupEpochs,
		Milestones: opt.Milestones, Gamma: opt.Gamma}
	plan, err := sc.Plan(opt.Epochs, steps, opt.CycleMomentum)
	if err != nil {
		return nil, err
	}
	optim, err := newOptimizer(opt, g)
	if err != nil {
		return nil, err
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
			hyper := plan.At(st.Global, st.LRScale)
			lr = hyper.LR
			t0 := time.Now()
			out, err := exec.Forward(xbuf, true)
			if err != nil {
				return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
			}
			if grad == nil || !tensor.SameShape(grad.Shape, out.Shape) {
				grad = tensor.New(out.Shape...)
			}
			value, correct, err := loss.Loss(out, Batch{X: xbuf, Labels: labels, Index: idx}, grad)
			if err != nil {
				return nil, fmt.Errorf("train: epoch %d step %d: %w", epoch+1, step, err)
			}
			bad := ""
			if math.IsNaN(value) || math.IsInf(value, 0) {
				bad = fmt.Sprintf("loss is %g", value)
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
				hyper.Apply(optim)
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
			st.PartLoss += value * float64(len(idx))
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
