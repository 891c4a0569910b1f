package pipeline

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/latency"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/rl"
)

// budget is what a DDPG search must reach: at most Params parameters,
// MACs multiply-accumulates and LatencyMs milliseconds of estimated
// batch-1 time in ONNX Runtime (Latency's estimate); 0 leaves a budget out.
type budget struct {
	Params    int
	MACs      int64
	LatencyMs float64
	Latency   *latency.Table
}

// mode names the search's mode for logs and summaries: reward (no
// budget), budget (parameters), budget-macs, budget-params-macs, and with
// a latency budget budget-latency or "-latency" after the others.
func (b budget) mode() string {
	m := ""
	switch {
	case b.Params > 0 && b.MACs > 0:
		m = "budget-params-macs"
	case b.Params > 0:
		m = "budget"
	case b.MACs > 0:
		m = "budget-macs"
	}
	switch {
	case b.LatencyMs > 0 && m == "":
		return "budget-latency"
	case b.LatencyMs > 0:
		return m + "-latency"
	case m == "":
		return "reward"
	}
	return m
}

// latencyTable measures g's batch-1 time in ONNX Runtime and builds its
// lookup table (latency.Build with the search's rounding, cached in
// latency.DefaultCacheDir()), fitted to that time and to the time of g
// with every group pruned by rbound (Table.Fit). ONNX Runtime missing is
// an error naming what to install.
func latencyTable(e *Env, g *graph.Graph, popt prune.Options, rbound float64) (*latency.Table, float64, error) {
	if err := ort.Installed(); err != nil {
		return nil, 0, fmt.Errorf("a latency budget is measured in ONNX Runtime: %w", err)
	}
	ms, err := latency.MeasureGraph(g)
	if err != nil {
		return nil, 0, err
	}
	t, err := latency.Build(g, latency.Options{Prune: popt, RBound: rbound, Log: e.Log})
	if err != nil {
		return nil, 0, err
	}
	groups, err := prune.Groups(g)
	if err != nil {
		return nil, 0, err
	}
	plan, err := prune.PlanByRatios(g, groups, uniform(len(groups), rbound), popt)
	if err != nil {
		return nil, 0, err
	}
	small, err := prune.Apply(g, plan)
	if err != nil {
		return nil, 0, err
	}
	smallMs, err := latency.MeasureGraph(small)
	if err != nil {
		return nil, 0, err
	}
	if err := t.Fit(ms, small, smallMs); err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(e.Log, "latency: %.4f ms at batch 1 in ONNX Runtime (1 thread, fastest run), %.4f ms with every group pruned by %.2f; estimate = %.4f ms + %.3f x the table's convs (%.4f ms unpruned)\n",
		ms, smallMs, rbound, t.RestMs, t.Scale, t.Full())
	return t, ms, nil
}

// latencyFigures measures the delivered model g at batch 1 in ONNX Runtime
// and adds latency_ms, latency_ms_estimated (est), latency_speedup
// (before / measured) and latency_target_speedup (before / target) to
// summary, which holds latency_ms_before and target_latency_ms; the log
// says whether the budget was met.
func latencyFigures(e *Env, g *graph.Graph, est float64, summary map[string]any) error {
	ms, err := latency.MeasureGraph(g)
	if err != nil {
		return err
	}
	before, _ := summary["latency_ms_before"].(float64)
	target, _ := summary["target_latency_ms"].(float64)
	summary["latency_ms"], summary["latency_ms_estimated"] = ms, est
	summary["latency_speedup"], summary["latency_target_speedup"] = before/ms, before/target
	fmt.Fprintln(e.Log, latencyLine(before, ms, est, target))
	return nil
}

// latencyLine is the delivered speed-up against the budget, in words.
func latencyLine(before, ms, est, target float64) string {
	met := "met"
	if ms > target {
		met = fmt.Sprintf("missed by %.1f%% (the machine's load moves single timings)", 100*(ms/target-1))
	}
	return fmt.Sprintf("latency at batch 1 (ONNX Runtime, 1 thread): %.4f -> %.4f ms, %.2fx faster; budget %.4f ms (%.2fx) %s; estimated %.4f ms (error %+.1f%%)",
		before, ms, before/ms, target, before/target, met, est, 100*(est/ms-1))
}

// latencyModel is b's table as the environment's latency model (nil
// without one: a nil *latency.Table must not become a non-nil interface).
func latencyModel(b budget) rl.LatencyModel {
	if b.Latency == nil {
		return nil
	}
	return b.Latency
}
