package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// trainArgs is the training run the interruption tests cut short: 8 steps
// an epoch, 3 epochs.
var trainArgs = []string{"train", "--arch", "resnet8", "--data", "sample", "--train-limit", "1024",
	"--test-limit", "256", "--epochs", "3", "--seed", "3", "--json"}

// decode parses a --json summary.
func decode(t *testing.T, what, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: stdout is not one JSON object: %v\n%s", what, err, s)
	}
	return m
}

// sameKeys fails unless a and b agree on every listed key.
func sameKeys(t *testing.T, a, b map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := a[k]; !ok {
			t.Errorf("key %q missing from the reference summary", k)
			continue
		}
		if !reflect.DeepEqual(a[k], b[k]) {
			t.Errorf("%s: %v, uninterrupted run %v", k, b[k], a[k])
		}
	}
}

// TestTrainInterrupted stops `slimgo train` with SIGINT and with SIGKILL in
// its second epoch and checks that the interrupted run leaves the previous
// output intact (or none), and that `--resume` ends with the very bytes an
// uninterrupted run with the same seed writes.
func TestTrainInterrupted(t *testing.T) {
	dir := t.TempDir()
	ref := decode(t, "uninterrupted", mustRun(t, dir, append(trainArgs, "--out", "ref.onnx")...).stdout)

	cases := []struct {
		name   string
		sig    syscall.Signal
		marker string // stderr text after which the signal is sent
		prev   bool   // an older model sits at --out before the run
	}{
		// SIGINT: the run stops after the current step and checkpoints it.
		{"SIGINT mid-epoch", syscall.SIGINT, "epoch 2/3 2/8", true},
		// SIGKILL: nothing runs after the signal; the checkpoint written at
		// the end of epoch 1 is all there is.
		{"SIGKILL mid-epoch", syscall.SIGKILL, "epoch 2/3 3/8", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := strings.ReplaceAll(c.name, " ", "-") + ".onnx"
			old := []byte("an older model the interrupted run must not damage")
			if c.prev {
				if err := os.WriteFile(filepath.Join(dir, out), old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w := start(t, dir, append(trainArgs, "--out", out)...)
			w.waitFor(t, c.marker)
			code := w.signal(t, c.sig)
			se := w.stderr()
			noPanic(t, "interrupted run", se)
			if c.sig == syscall.SIGINT {
				if code == 0 {
					t.Errorf("interrupted run exited 0")
				}
				lines := strings.Split(strings.TrimSpace(se), "\n")
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, "slimgo: ") || !strings.Contains(last, "interrupted") || !strings.Contains(last, "--resume") {
					t.Errorf("last stderr line should say it was interrupted and how to resume: %q", last)
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, out))
			switch {
			case c.prev && string(b) != string(old):
				t.Errorf("the interrupted run changed the previous %s (err %v)", out, err)
			case !c.prev && err == nil:
				t.Errorf("the interrupted run left a model at %s", out)
			}
			r := mustRun(t, dir, append(trainArgs, "--out", out, "--resume")...)
			if !strings.Contains(r.stderr, "resuming from") {
				t.Errorf("rerun with --resume did not resume:\n%s", tail(r.stderr))
			}
			wantAt := "at epoch 2 step "
			if c.sig == syscall.SIGKILL {
				wantAt = "at epoch 2 step 0"
			}
			if !strings.Contains(r.stderr, wantAt) {
				t.Errorf("resume point: want %q in\n%s", wantAt, tail(r.stderr))
			}
			sameFile(t, filepath.Join(dir, "ref.onnx"), filepath.Join(dir, out))
			sameKeys(t, ref, decode(t, "resumed", r.stdout), "accuracy", "loss", "params", "macs", "epochs")
		})
	}
}

// compressArgs is a compress run small enough for CI: every stage runs
// (sparse, DDPG with 6 episodes, layer pruning, quantization).
var compressArgs = []string{"compress", "--model", "base.onnx", "--data", "sample", "--train-limit", "800",
	"--test-limit", "200", "--sparse-epochs", "1", "--episodes", "6", "--warmup", "2", "--val-size", "100",
	"--finetune-epochs", "1", "--layer-finetune-epochs", "1", "--quant-finetune-epochs", "0", "--blocks", "1",
	"--no-ort", "--seed", "4", "--json"}

// compressFigures are the summary keys that must not depend on timing.
var compressFigures = []string{"accuracy", "accuracy_before", "params", "params_before", "macs", "macs_before",
	"bytes", "bytes_before", "compression", "ratios", "removed_blocks", "clusters", "param_reduction", "mac_reduction"}

// stageFigures keeps the timing-free figures of the summary's stage table
// and the DDPG episodes.
func stageFigures(m map[string]any) (stages, episodes []any) {
	st, _ := m["stages"].([]any)
	for _, s := range st {
		s := s.(map[string]any)
		stages = append(stages, []any{s["name"], s["accuracy"], s["params"], s["macs"], s["bytes"]})
	}
	eps, _ := m["episodes"].([]any)
	for _, e := range eps {
		e := e.(map[string]any)
		episodes = append(episodes, []any{e["reward"], e["info"]})
	}
	return stages, episodes
}

// TestCompressInterrupted kills or interrupts `slimgo compress` inside the
// DDPG search, at a stage boundary and inside a fine-tuning run; rerunning
// the same command must resume (stderr says so) and end with the summary
// figures and output files of an uninterrupted run with the same seed.
func TestCompressInterrupted(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "train", "--arch", "resnet8", "--data", "sample", "--train-limit", "512", "--test-limit", "128",
		"--epochs", "1", "--seed", "2", "--out", "base.onnx")
	refRun := mustRun(t, dir, append(compressArgs, "--out", "ref")...)
	ref := decode(t, "uninterrupted", refRun.stdout)
	refStages, refEpisodes := stageFigures(ref)
	if len(refStages) != 5 || len(refEpisodes) != 6 {
		t.Fatalf("reference run: %d stages and %d episodes, want 5 and 6", len(refStages), len(refEpisodes))
	}

	cases := []struct {
		name   string
		sig    syscall.Signal
		marker string
		resume string // stderr of the rerun must contain it
	}{
		{"SIGINT in sparse fine-tuning", syscall.SIGINT, "epoch 1/1 3/7", `resuming after stage "original"`},
		{"SIGKILL in DDPG search", syscall.SIGKILL, "ddpg episode 6/6", `resuming after stage "sparse"`},
		{"SIGKILL at stage boundary", syscall.SIGKILL, "== stage 3: layer ==", `resuming after stage "channel"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := strings.ReplaceAll(c.name, " ", "-")
			w := start(t, dir, append(compressArgs, "--out", out)...)
			w.waitFor(t, c.marker)
			code := w.signal(t, c.sig)
			noPanic(t, "interrupted run", w.stderr())
			if c.sig == syscall.SIGINT {
				lines := strings.Split(strings.TrimSpace(w.stderr()), "\n")
				if last := lines[len(lines)-1]; code == 0 || !strings.HasPrefix(last, "slimgo: ") || !strings.Contains(last, "interrupted") {
					t.Errorf("SIGINT: exit %d, last line %q; want non-zero and an 'interrupted' message", code, last)
				}
			}
			resumesLikeRef(t, dir, compressArgs, out, c.resume, ref)
		})
	}
}

// resumesLikeRef checks an interrupted compress run in dir/out: it left no
// summary, and rerunning args there resumes (stderr holds resume) and ends
// with the figures, stage table, DDPG episodes and files of the
// uninterrupted run ref (written to dir/ref).
func resumesLikeRef(t *testing.T, dir string, args []string, out, resume string, ref map[string]any) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, out, "summary.json")); err == nil {
		t.Errorf("the interrupted run wrote a summary")
	}
	r := mustRun(t, dir, append(args, "--out", out)...)
	if !strings.Contains(r.stderr, resume) {
		t.Errorf("rerun: want %q on stderr:\n%s", resume, tail(r.stderr))
	}
	noPanic(t, "rerun", r.stderr)
	got := decode(t, "resumed", r.stdout)
	sameKeys(t, ref, got, compressFigures...)
	refStages, refEpisodes := stageFigures(ref)
	st, ep := stageFigures(got)
	if !reflect.DeepEqual(st, refStages) {
		t.Errorf("stages:\n got %v\nwant %v", st, refStages)
	}
	if !reflect.DeepEqual(ep, refEpisodes) {
		t.Errorf("DDPG episodes:\n got %v\nwant %v", ep, refEpisodes)
	}
	for _, f := range []string{"model.pruned.onnx", "model.shared.onnx", "model.slimpack"} {
		sameFile(t, filepath.Join(dir, "ref", f), filepath.Join(dir, out, f))
	}
}
