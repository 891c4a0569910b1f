package pipeline

import (
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/rl"
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

// ddpgEvaluator scores the DDPG search's episodes: applyPlan with BN
// recalibrated on calib, accuracy on the held-out val split.
func ddpgEvaluator(calib, val *data.Dataset, calibBatches, batch int) rl.Evaluator {
	return rl.Evaluator{
		Apply: func(base *graph.Graph, plan prune.Plan) (*graph.Graph, error) {
			return applyPlan(base, plan, calib, calibBatches, batch)
		},
		Accuracy: func(g *graph.Graph) (float64, error) { return accuracy(g, val, batch) },
	}
}
