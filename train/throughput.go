package train

import (
	"slices"
	"time"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// TimingOptions say how TimeInference times a model: Warmup untimed passes
// (at least one), then timed passes until both Passes (at least one) have
// run and MinTime has gone by, at most MaxPasses (0: no cap besides Passes
// when MinTime is 0; 10000 otherwise).
type TimingOptions struct {
	Warmup    int
	Passes    int
	MinTime   time.Duration
	MaxPasses int

	// Layers: after the timed passes, run as many more with every node
	// timed (engine.Executor.SetTiming) and report the means in
	// Timing.Layers. The timed passes themselves are not slowed.
	Layers bool
}

// LayerTime is one node's mean forward time per pass (TimingOptions.Layers).
type LayerTime struct {
	Name, Op string
	Mean     time.Duration
}

// Timing is what TimeInference measured: the fastest and the median timed
// pass over the batch, how many timed passes ran, and how many workers the
// kernels' parallel loops used during them (kernels.Threads()).
type Timing struct {
	Best, Median time.Duration
	Passes       int
	Threads      int
	Layers       []LayerTime // with TimingOptions.Layers: every node, in execution order
	// LayersPass is the mean wall time of the passes that timed the
	// nodes (the nodes' means add up to at most this).
	LayersPass time.Duration
}

// TimeInference times inference passes of g on the batch x (shape [N,C,H,W]
// or whatever g's input wants), as Evaluate and Predict run it
// (engine.Optimize first). The fastest pass is the figure to quote: other
// load on the machine only ever slows a pass down. Errors are the engine's
// (a shape mismatch, an op it cannot run).
func TimeInference(g *graph.Graph, x *tensor.Tensor, o TimingOptions) (Timing, error) {
	e, err := inferenceExecutor(g)
	if err != nil {
		return Timing{}, err
	}
	for range max(o.Warmup, 1) {
		if _, err := e.Forward(x, false); err != nil {
			return Timing{}, err
		}
	}
	limit := o.MaxPasses
	if limit <= 0 && o.MinTime > 0 {
		limit = 10000
	}
	limit = max(limit, o.Passes, 1)
	var times []time.Duration
	start := time.Now()
	for len(times) < limit && (len(times) < max(o.Passes, 1) || time.Since(start) < o.MinTime) {
		t0 := time.Now()
		if _, err := e.Forward(x, false); err != nil {
			return Timing{}, err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	t := Timing{Best: times[0], Median: times[len(times)/2], Passes: len(times), Threads: kernels.Threads()}
	if o.Layers {
		e.SetTiming(true)
		t0 := time.Now()
		for range len(times) {
			if _, err := e.Forward(x, false); err != nil {
				return Timing{}, err
			}
		}
		t.LayersPass = time.Since(t0) / time.Duration(len(times))
		for _, n := range e.NodeTimes() {
			t.Layers = append(t.Layers, LayerTime{Name: n.Name, Op: n.Op, Mean: n.Total / time.Duration(max(n.Passes, 1))})
		}
		e.SetTiming(false)
	}
	return t, nil
}

// Throughput measures inference images/s of g on the batch x: one warm-up
// pass, then the best of reps timed passes (best, not mean, so that other
// load on the machine disturbs the figure least). It runs engine.Optimize(g),
// as Evaluate and Predict do.
func Throughput(g *graph.Graph, x *tensor.Tensor, reps int) (float64, error) {
	t, err := TimeInference(g, x, TimingOptions{Warmup: 1, Passes: max(reps, 1)})
	if err != nil {
		return 0, err
	}
	return float64(x.Shape[0]) / t.Best.Seconds(), nil
}
