package cli

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/latency"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
)

// TestPruneTargetLatency runs prune --method ddpg --target-latency on an
// untrained resnet8 and the sample, with a few episodes and a table cache
// of its own: the summary carries the latency figures, the estimate of
// the chosen policy is within the budget, the delivered model is faster
// than the input in ONNX Runtime, and a target out of reach exits 2.
func TestPruneTargetLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("prune on the sample skipped with -short")
	}
	if !ort.Available() {
		t.Skip("node is not installed: ONNX Runtime timing skipped")
	}
	t.Setenv("SLIMGO_LATENCY_CACHE", t.TempDir())
	dir := t.TempDir()
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.onnx")
	if err := onnx.WriteFile(base, g, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := latency.MeasureGraph(g)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"prune", "--model", base, "--method", "ddpg", "--episodes", "3", "--warmup", "2", "--val-size", "100",
		"--episode-steps", "0", "--min-channels", "8", "--round-to", "8", "--round-min", "0",
		"--data", "sample", "--train-limit", "300", "--test-limit", "100"}
	target := 0.6 * before
	sum, log := slimgo(t, append(args, "--out", filepath.Join(dir, "p.onnx"), "--target-latency", ftoa(target))...)
	for _, k := range []string{"latency_ms_before", "latency_ms", "latency_ms_estimated", "target_latency_ms", "latency_speedup"} {
		if v, ok := sum[k].(float64); !ok || !(v > 0) {
			t.Fatalf("summary %s = %v, want > 0", k, sum[k])
		}
	}
	if sum["mode"] != "budget-latency" || sum["target_latency_ms"].(float64) != target {
		t.Fatalf("mode %v, target %v (want budget-latency, %g)", sum["mode"], sum["target_latency_ms"], target)
	}
	if est := sum["latency_ms_estimated"].(float64); est > target {
		t.Fatalf("the chosen policy is estimated at %g ms, over the budget %g", est, target)
	}
	if a, b := sum["latency_ms"].(float64), sum["latency_ms_before"].(float64); !(a < b) {
		t.Fatalf("delivered %g ms, not faster than the input's %g ms", a, b)
	}
	if !strings.Contains(log, "latency table:") || !strings.Contains(log, "faster; budget") {
		t.Fatalf("stderr lacks the table and the budget line:\n%s", log)
	}
	msg := slimgoFails(t, append(args, "--out", filepath.Join(dir, "q.onnx"), "--target-latency", ftoa(before/50))...)
	if !strings.Contains(msg, "out of reach") {
		t.Fatalf("an unreachable target: %s", msg)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
