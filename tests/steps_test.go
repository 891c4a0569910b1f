package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitForAfter waits until marker appears on stderr after the first
// occurrence of after (markers that repeat in every round of a stage).
func (w *watched) waitForAfter(t *testing.T, after, marker string) {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for {
		se := w.stderr()
		if i := strings.Index(se, after); i >= 0 && strings.Contains(se[i:], marker) {
			return
		}
		select {
		case <-w.done:
			t.Fatalf("slimgo ended (%v) before printing %q after %q\nstderr:\n%s", w.err, marker, after, tail(se))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %q on stderr after %v\nstderr:\n%s", marker, after, runTimeout, tail(se))
		}
	}
}

// TestCompressStepsInterrupted runs compress with claim 4's iterative
// channel pruning (channel.steps 2: prune to keep^(1/2), fine-tune, search
// again, prune to keep) and kills or interrupts it in each round; the
// rerun must resume in the round it was in and end with the figures,
// episodes and files of an uninterrupted run.
func TestCompressStepsInterrupted(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "train", "--arch", "resnet8", "--data", "sample", "--train-limit", "512", "--test-limit", "128",
		"--epochs", "1", "--seed", "2", "--out", "base.onnx")
	if err := os.WriteFile(filepath.Join(dir, "steps.yaml"), []byte("channel:\n  steps: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, compressArgs...), "--config", "steps.yaml", "--finetune-epochs", "2")
	refRun := mustRun(t, dir, append(args, "--out", "ref")...)
	ref := decode(t, "uninterrupted", refRun.stdout)
	_, refEpisodes := stageFigures(ref)
	if len(refEpisodes) != 12 {
		t.Fatalf("reference run: %d DDPG episodes, want 6 in each of 2 rounds", len(refEpisodes))
	}
	for _, want := range []string{"channel round 1/2", "channel round 2/2"} {
		if !strings.Contains(refRun.stderr, want) {
			t.Errorf("reference run: no %q on stderr", want)
		}
	}

	cases := []struct {
		name          string
		sig           syscall.Signal
		after, marker string
		resume        string
	}{
		{"SIGKILL in round 1 fine-tuning", syscall.SIGKILL, "channel round 1/2", "fine-tuning 1 epochs", `resuming after stage "sparse"`},
		{"SIGINT between rounds", syscall.SIGINT, "channel round 1/2", "channel round 2/2", "resuming channel pruning after round 1/2"},
		{"SIGKILL in round 2 search", syscall.SIGKILL, "channel round 2/2", "ddpg episode 4/6", "resuming channel pruning after round 1/2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := strings.ReplaceAll(c.name, " ", "-")
			w := start(t, dir, append(args, "--out", out)...)
			w.waitForAfter(t, c.after, c.marker)
			w.signal(t, c.sig)
			noPanic(t, "interrupted run", w.stderr())
			resumesLikeRef(t, dir, args, out, c.resume, ref)
		})
	}
}
