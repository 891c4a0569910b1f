package train

import (
	"fmt"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// RecalibrateBN re-estimates every BatchNormalization's running mean and
// variance from up to `batches` mini-batches of set (taken in order), as the
// exact average of the batch statistics, leaving every other parameter alone.
// Pruning changes the distribution each BN sees; recalibrated statistics make
// the pruned model's accuracy meaningful before any fine-tuning. g's BN
// momentum attributes are restored afterwards.
func RecalibrateBN(g *graph.Graph, set *data.Dataset, batches, batch int) error {
	return recalibrate(g, set.Len(), batches, batch, func(idx []int, x *tensor.Tensor) *tensor.Tensor {
		x, _ = set.Batch(idx, x, nil, nil)
		return x
	})
}

// RecalibrateBNDetect is RecalibrateBN on a detection set's images.
func RecalibrateBNDetect(g *graph.Graph, set *data.DetDataset, batches, batch int) error {
	return recalibrate(g, set.Len(), batches, batch, func(idx []int, x *tensor.Tensor) *tensor.Tensor {
		x, _ = set.Batch(idx, x)
		return x
	})
}

// recalibrate is RecalibrateBN over n examples that fill writes into a
// batch tensor (reusing x).
func recalibrate(g *graph.Graph, n, batches, batch int, fill func(idx []int, x *tensor.Tensor) *tensor.Tensor) error {
	if n < 2 || batches < 1 || batch < 2 {
		return fmt.Errorf("train: recalibration needs >= 1 batch of >= 2 examples, got %d batches of %d from %d", batches, batch, n)
	}
	var bns []*graph.Node
	saved := map[*graph.Node]any{}
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			bns = append(bns, n)
			if v, ok := n.Attrs["momentum"]; ok {
				saved[n] = v
			}
		}
	}
	if len(bns) == 0 {
		return nil
	}
	defer func() {
		for _, n := range bns {
			if v, ok := saved[n]; ok {
				n.Attrs["momentum"] = v
			} else {
				delete(n.Attrs, "momentum")
			}
		}
	}()
	var x *tensor.Tensor
	for i := range batches {
		lo := i * batch
		hi := min(lo+batch, n)
		if hi-lo < 2 {
			break
		}
		// running = m*running + (1-m)*batch with m = i/(i+1) keeps the
		// running value equal to the mean of the i+1 batch statistics.
		for _, n := range bns {
			if n.Attrs == nil {
				n.Attrs = graph.Attrs{}
			}
			n.Attrs["momentum"] = float32(i) / float32(i+1)
		}
		e, err := engine.New(g)
		if err != nil {
			return err
		}
		idx := make([]int, hi-lo)
		for j := range idx {
			idx[j] = lo + j
		}
		x = fill(idx, x)
		if _, err := e.Forward(x, true); err != nil {
			return err
		}
	}
	return nil
}
