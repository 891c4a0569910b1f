package pipeline

import (
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/rl"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// evalBatch is the batch size of every accuracy measurement.
const evalBatch = 256

// applyPlan is the step every channel-pruning method shares: a copy of g
// with plan's channels removed and its BN statistics re-estimated from
// calibBatches batches of batch images of set (the pruned layers change
// what each BN sees). set nil: no recalibration (pruning without data).
// Fine-tuning, when wanted, follows (finetune, run.tune).
func applyPlan(g *graph.Graph, plan prune.Plan, set *data.Dataset, calibBatches, batch int) (*graph.Graph, error) {
	out, err := prune.Apply(g, plan)
	if err != nil {
		return nil, err
	}
	if set != nil {
		if err := train.RecalibrateBN(out, set, calibBatches, batch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// accuracy is g's top-1 accuracy on set, in percent.
func accuracy(g *graph.Graph, set *data.Dataset, batch int) (float64, error) {
	ev, err := train.Evaluate(g, set, batch)
	if err != nil {
		return 0, err
	}
	return 100 * ev.Accuracy, nil
}

// episodeTune is the short fine-tune each DDPG episode may run before it
// is scored (DDPGOptions.EpisodeSteps): Steps SGD steps of Batch images
// from Set (a fixed, seeded subset of the training images outside the
// validation split), learning rate LR on a one-cycle schedule. Steps 0:
// the episode is scored zero-shot (BN recalibration only).
type episodeTune struct {
	Steps, Batch int
	Epochs       int // passes over Set: more than 1 when Set is smaller than Steps*Batch
	LR           float64
	Set          *data.Dataset
	Seed         uint64
}

// run trains g in place for the short fine-tune; nothing when Steps is 0.
func (t episodeTune) run(g *graph.Graph) error {
	if t.Steps <= 0 || t.Set == nil {
		return nil
	}
	_, err := train.Fit(g, t.Set, nil, train.Options{
		Epochs: max(1, t.Epochs), Batch: t.Batch, Optimizer: train.OptSGD, LR: t.LR, Momentum: 0.9, Nesterov: true,
		Schedule: train.ScheduleOneCycle, Seed: t.Seed,
	})
	return err
}

// newEpisodeTune carves the short fine-tune's images from set (the
// training images outside the validation split): Steps*Batch of them,
// chosen by seed, the same for every episode so episodes compare alike
// (all of set, in as many passes as make about Steps steps, when it is
// smaller).
func newEpisodeTune(set *data.Dataset, steps, batch int, lr float64, seed uint64) (episodeTune, error) {
	t := episodeTune{Steps: steps, Batch: batch, LR: lr, Seed: seed}
	if steps <= 0 {
		return t, nil
	}
	n := min(steps*batch, set.Len())
	if n == set.Len() {
		// Fewer images than the steps need: several passes over them.
		t.Set, t.Epochs = set, max(1, (steps*batch+n/2)/n)
		return t, nil
	}
	_, sub, err := set.Split(n, tensor.NewRNG(seed^0x7e57))
	t.Set = sub
	return t, err
}

// ddpgEvaluator scores the DDPG search's episodes: applyPlan with BN
// recalibrated on calib, the episode's short fine-tune (none when
// tune.Steps is 0), accuracy on the held-out val split.
func ddpgEvaluator(calib, val *data.Dataset, calibBatches, batch int, tune episodeTune) rl.Evaluator {
	return rl.Evaluator{
		Apply: func(base *graph.Graph, plan prune.Plan) (*graph.Graph, error) {
			g, err := applyPlan(base, plan, calib, calibBatches, batch)
			if err != nil {
				return nil, err
			}
			return g, tune.run(g)
		},
		Accuracy: func(g *graph.Graph) (float64, error) { return accuracy(g, val, batch) },
	}
}
