package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCommand: `bench --json` prints one JSON object with the speed
// keys, the batch and threads as asked; bad flags and a corrupt model exit
// 2 with a one-line message naming the fault.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "r8.onnx")
	slimgo(t, "train", "--arch", "resnet8", "--data", "sample", "--train-limit", "64", "--test-limit", "32", "--epochs", "1", "--out", model)
	s, _ := slimgo(t, "bench", "--model", model, "--batch", "3", "--threads", "1", "--passes", "2", "--min-seconds", "0")
	for _, k := range []string{"images_per_s", "ms_per_batch", "params", "macs"} {
		if v, _ := s[k].(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0", k, s[k])
		}
	}
	if s["batch"] != 3.0 || s["threads"] != 1.0 {
		t.Errorf("batch %v, threads %v; asked 3 and 1", s["batch"], s["threads"])
	}
	if _, ok := s["layers"]; ok {
		t.Error("layers in the summary without --layers")
	}
	// --layers: every node of the optimized graph, in order, with a
	// positive mean time; together most of the passes that timed them
	// (not the timed passes: on a loaded machine those may be faster).
	s, _ = slimgo(t, "bench", "--model", model, "--batch", "3", "--threads", "1", "--passes", "2", "--min-seconds", "0", "--layers")
	ls, _ := s["layers"].([]any)
	convs, total := 0, 0.0
	for _, l := range ls {
		m, _ := l.(map[string]any)
		ms, _ := m["ms"].(float64)
		if name, _ := m["name"].(string); name == "" || !(ms > 0) {
			t.Fatalf("layer entry %v: want a name and ms > 0", l)
		}
		if strings.Contains(m["op"].(string), "Conv") {
			convs++
		}
		total += ms
	}
	if lp, _ := s["layers_pass_ms"].(float64); convs < 7 || !(total <= lp && total > 0.3*lp) {
		t.Errorf("--layers: %d entries, %d convolutions, %.3f ms in all against %v ms per timed pass", len(ls), convs, total, s["layers_pass_ms"])
	}
	junk := filepath.Join(dir, "junk.onnx")
	if err := os.WriteFile(junk, []byte("\x08\x07garbage\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--model", model, "--batch", "0"}, "--batch"},
		{[]string{"bench", "--model", model, "--threads", "0"}, "--threads"},
		{[]string{"bench", "--model", model, "--passes", "0"}, "--passes"},
		{[]string{"bench", "--batch", "2"}, "--model"},
		{[]string{"bench", "--model", junk}, "junk.onnx"},
		{[]string{"bench", "--model", filepath.Join(dir, "none.onnx")}, "none.onnx"},
	} {
		msg := slimgoFails(t, c.args...)
		if !strings.HasPrefix(msg, "slimgo: bench: ") || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%v: message %q, want one line naming %s", c.args, msg, c.want)
		}
	}
	// ONNX Runtime missing: exit 1, saying how to install it.
	t.Setenv("SLIMGO_ORT_DIR", t.TempDir())
	var out, errb bytes.Buffer
	if code := Main([]string{"bench", "--model", model, "--ort"}, &out, &errb); code != ExitFailure || !strings.Contains(errb.String(), "scripts/setup-peers.sh") {
		t.Errorf("--ort without ONNX Runtime: exit %d, %q; want 1 and how to install it", code, errb.String())
	}
}
