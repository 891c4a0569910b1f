package cli

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/onnx"
)

// TestPruneCommand runs prune's methods on a slice of the bundled sample
// and checks the summary against the written model: its parameter count,
// and the accuracy `eval` gives it. The slim run distills the unpruned
// model into the pruned one while fine-tuning.
func TestPruneCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("prune on the sample skipped with -short")
	}
	dir := t.TempDir()
	run := func(args ...string) (map[string]any, string) {
		t.Helper()
		return slimgo(t, args...)
	}
	data := []string{"--data", "sample", "--train-limit", "600", "--test-limit", "200"}
	base := filepath.Join(dir, "base.onnx")
	run(append([]string{"train", "--arch", "resnet8", "--epochs", "1", "--out", base}, data...)...)

	for _, tc := range []struct {
		name string
		args []string
		log  string // a line fine-tuning must print
	}{
		{"slim distilled", []string{"--method", "slim", "--ratio", "0.4", "--finetune-epochs", "1", "--distill", "0.5"}, "distilling the teacher with weight 0.5"},
		{"uniform", []string{"--method", "uniform", "--ratio", "0.25", "--finetune-epochs", "1"}, "fine-tuning 1 epochs (lr 0.02)\n"},
		{"ddpg", []string{"--method", "ddpg", "--episodes", "4", "--warmup", "2", "--val-size", "100", "--target-params", "40000", "--finetune-epochs", "1"}, "fine-tuning 1 epochs"},
		{"random search", []string{"--method", "random", "--episodes", "3", "--val-size", "100", "--target-params", "40000", "--episode-steps", "5", "--finetune-epochs", "1"}, "3 episodes (3 random), each scored after 5 fine-tuning steps"},
		{"layer", []string{"--method", "layer", "--blocks", "1", "--finetune-epochs", "1"}, "fine-tuning 1 epochs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".onnx")
			args := append([]string{"prune", "--model", base, "--out", out, "--no-ort"}, tc.args...)
			sum, log := run(append(args, data...)...)
			if !strings.Contains(log, tc.log) {
				t.Errorf("stderr lacks %q:\n%s", tc.log, log)
			}
			g, err := onnx.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := g.ComputeStats()
			if p := sum["params"].(float64); int(p) != st.Params || !(p < sum["params_before"].(float64)) {
				t.Errorf("params %v (before %v); the written model has %d", p, sum["params_before"], st.Params)
			}
			if tc.name == "random search" && st.Params > 40000 {
				t.Errorf("random search: %d params, budget 40000", st.Params)
			}
			ev, _ := run(append([]string{"eval", "--model", out}, data...)...)
			if a, b := sum["accuracy"].(float64), ev["accuracy"].(float64); math.Abs(a-b) > 1e-9 {
				t.Errorf("prune reports %.4f%%, eval of its output %.4f%%", a, b)
			}
		})
	}
}
