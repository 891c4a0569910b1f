package train

import (
	"time"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Throughput measures inference images/s of g on the batch x: one warm-up
// pass, then the best of reps timed passes (best, not mean, so that other
// load on the machine disturbs the figure least). It runs engine.Optimize(g),
// as Evaluate and Predict do.
func Throughput(g *graph.Graph, x *tensor.Tensor, reps int) (float64, error) {
	e, err := inferenceExecutor(g)
	if err != nil {
		return 0, err
	}
	if _, err := e.Forward(x, false); err != nil {
		return 0, err
	}
	best := 0.0
	for range max(reps, 1) {
		start := time.Now()
		if _, err := e.Forward(x, false); err != nil {
			return 0, err
		}
		if s := float64(x.Shape[0]) / time.Since(start).Seconds(); s > best {
			best = s
		}
	}
	return best, nil
}
