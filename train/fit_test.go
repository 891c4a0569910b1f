package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

func fixProcs(t *testing.T) {
	old := runtime.GOMAXPROCS(2)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

func TestFitLearnsSeparable(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"sgd nesterov onecycle", Options{Optimizer: "sgd", LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4, Schedule: "onecycle"}},
		{"adam cosine", Options{Optimizer: "adam", LR: 0.01, Schedule: "cosine", WarmupEpochs: 1}},
		{"sgd step smoothing", Options{Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Schedule: "step", LabelSmoothing: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mlp(8, 2)
			opt := tc.opt
			opt.Epochs, opt.Batch, opt.Seed = 6, 16, 3
			res, err := Fit(g, separable(128, 1), separable(64, 2), opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Epochs) != 6 {
				t.Fatalf("%d epoch records", len(res.Epochs))
			}
			first, last := res.Epochs[0], res.Epochs[5]
			if !(last.TrainLoss < first.TrainLoss/2) {
				t.Errorf("train loss %g -> %g: did not fall by half", first.TrainLoss, last.TrainLoss)
			}
			if res.FinalAcc < 0.98 || !last.Evaluated || res.FinalAcc != last.TestAcc {
				t.Errorf("final test accuracy %g (last epoch %+v)", res.FinalAcc, last)
			}
			if res.Steps != 6*8 || res.ImagesPerSec <= 0 {
				t.Errorf("steps %d, %g img/s", res.Steps, res.ImagesPerSec)
			}
			ev, err := Evaluate(g, separable(64, 2), 10)
			if err != nil {
				t.Fatal(err)
			}
			if ev.N != 64 || ev.Accuracy != res.FinalAcc || math.Abs(ev.Loss-res.FinalLoss) > 1e-6 {
				t.Errorf("Evaluate %+v disagrees with the final epoch (acc %g loss %g)", ev, res.FinalAcc, res.FinalLoss)
			}
		})
	}
}

func TestEvaluateAndPredict(t *testing.T) {
	g := mlp(5, 7)
	set := separable(37, 9)
	x, labels := set.Batch(seq(37), nil, nil, nil)
	logits, err := Predict(g, x, 8) // 5 chunks, the last of 5 rows
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(logits.Shape, []int{37, 2}) {
		t.Fatalf("logits shape %v", logits.Shape)
	}
	// Reference: the whole batch at once.
	whole, err := Predict(g, x, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(whole, logits); d > 1e-6 {
		t.Errorf("chunked prediction differs by %g", d)
	}
	correct := 0
	for i, l := range labels {
		if (logits.Data[2*i+1] > logits.Data[2*i]) == (l == 1) {
			correct++
		}
	}
	ev, err := Evaluate(g, set, 16)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Correct != correct || ev.Accuracy != float64(correct)/37 {
		t.Errorf("Evaluate correct %d, argmax of Predict gives %d", ev.Correct, correct)
	}
	if _, err := Evaluate(g, &data.Dataset{C: 1, H: 4, W: 4}, 8); err == nil {
		t.Error("empty set: no error")
	}
	wrong := separable(4, 1)
	wrong.H, wrong.W = 2, 8
	if _, err := Evaluate(g, wrong, 8); err == nil || !strings.Contains(err.Error(), "[1 2 8]") {
		t.Errorf("wrong image shape: %v", err)
	}
	bad := separable(4, 1)
	bad.Labels[3] = 5
	if _, err := Evaluate(g, bad, 8); err == nil || !strings.Contains(err.Error(), "label 5") {
		t.Errorf("label out of range: %v", err)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestFitOptionErrors(t *testing.T) {
	set := separable(8, 1)
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no epochs", Options{}, "epochs"},
		{"optimizer", Options{Epochs: 1, Optimizer: "rmsprop"}, "rmsprop"},
		{"schedule", Options{Epochs: 1, Schedule: "linear"}, "linear"},
		{"nesterov", Options{Epochs: 1, Nesterov: true}, "Nesterov"},
		{"resume without dir", Options{Epochs: 1, Resume: true}, "checkpoint directory"},
		{"cycle momentum adam", Options{Epochs: 1, Optimizer: "adam", CycleMomentum: true}, "momentum cycling"},
		{"cycle momentum cosine", Options{Epochs: 1, Schedule: "cosine", CycleMomentum: true}, "momentum cycling"},
		{"progress mode", Options{Epochs: 1, Progress: &bytes.Buffer{}, ProgressMode: "fancy"}, "fancy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(mlp(3, 1), set, nil, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// flatParams copies every parameter, for bit-exact comparisons.
func flatParams(g *graph.Graph) map[string][]float32 {
	m := map[string][]float32{}
	for k, t := range g.Params {
		m[k] = append([]float32(nil), t.Data...)
	}
	return m
}

func sameBits(t *testing.T, what string, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d parameters", what, len(a), len(b))
	}
	for k, va := range a {
		vb := b[k]
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Errorf("%s: %s[%d] = %v vs %v", what, k, i, va[i], vb[i])
				return
			}
		}
	}
}

// An interrupted run resumed from its checkpoint ends with the same weights,
// bit for bit, as an uninterrupted one: stopped mid-epoch and at an epoch
// boundary, with augmentation, momentum, BN running statistics and sparsity.
func TestResumeIsBitExact(t *testing.T) {
	fixProcs(t)
	train, test := separable(40, 1), separable(16, 2)
	base := Options{Epochs: 3, Batch: 8, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3,
		Sparsity: 1e-3, Augment: &data.Augment{CropPad: 1, FlipH: true}, Seed: 11}
	ref := convBN(3, 5)
	refRes, err := Fit(ref, train, test, base)
	if err != nil {
		t.Fatal(err)
	}
	want := flatParams(ref)
	for _, stopAt := range []int{7, 10, 13} { // 5 steps an epoch: mid-epoch 2, end of epoch 2, mid-epoch 3
		t.Run("stop after "+itoa(stopAt), func(t *testing.T) {
			dir := t.TempDir()
			g := convBN(3, 5)
			opt := base
			opt.CheckpointDir, opt.StopAfterSteps = dir, stopAt
			res, err := Fit(g, train, test, opt)
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("want ErrStopped, got %v", err)
			}
			if len(res.Epochs) != stopAt/5 {
				t.Errorf("%d finished epochs reported at the stop", len(res.Epochs))
			}
			// Resume into a freshly initialised graph with different weights.
			g2 := convBN(3, 99)
			opt.StopAfterSteps, opt.Resume = 0, true
			res2, err := Fit(g2, train, test, opt)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, "resumed vs uninterrupted", flatParams(g2), want)
			if len(res2.Epochs) != 3 || res2.FinalAcc != refRes.FinalAcc || res2.Epochs[2].TrainLoss != refRes.Epochs[2].TrainLoss ||
				res2.Epochs[1].TrainAcc != refRes.Epochs[1].TrainAcc || res2.Steps != refRes.Steps {
				t.Errorf("resumed result %+v\nuninterrupted %+v", res2, refRes)
			}
			if !strings.HasSuffix(res2.ResumedFrom, CheckpointFile) {
				t.Errorf("resumed from %q", res2.ResumedFrom)
			}
		})
	}
	t.Run("second run from scratch is identical", func(t *testing.T) {
		g := convBN(3, 5)
		if _, err := Fit(g, train, test, base); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "rerun", flatParams(g), want)
	})
}

// CycleMomentum reaches the optimizer: the run ignores Momentum and differs
// from one with a fixed momentum.
func TestCycleMomentumReachesSGD(t *testing.T) {
	fixProcs(t)
	set := separable(16, 1)
	run := func(mu float64, cycle bool) map[string][]float32 {
		g := convBN(3, 5)
		opt := Options{Epochs: 3, Batch: 8, Optimizer: "sgd", LR: 0.05, Momentum: mu, Nesterov: true, CycleMomentum: cycle, Seed: 3}
		if _, err := Fit(g, set, nil, opt); err != nil {
			t.Fatal(err)
		}
		return flatParams(g)
	}
	cycled := run(0.5, true)
	sameBits(t, "cycled with momentum 0.5 vs 0.9", cycled, run(0.9, true))
	if w, f := cycled["conv.w"], run(0.9, false)["conv.w"]; w == nil || slices.Equal(w, f) {
		t.Errorf("cycled run equals the fixed 0.9 run (or no conv.w: %v)", w == nil)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestResumeRejectsOtherRun(t *testing.T) {
	dir := t.TempDir()
	set := separable(16, 1)
	opt := Options{Epochs: 1, Batch: 8, LR: 0.1, CheckpointDir: dir, Seed: 1}
	if _, err := Fit(mlp(4, 1), set, nil, opt); err != nil {
		t.Fatal(err)
	}
	opt.Resume, opt.Seed = true, 2
	if _, err := Fit(mlp(4, 1), set, nil, opt); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("different seed: %v", err)
	}
	opt.Seed = 1
	if _, err := Fit(mlp(5, 1), set, nil, opt); err == nil || !strings.Contains(err.Error(), "has shape") {
		t.Errorf("different model: %v", err)
	}
	// A finished run resumes to its stored result without training.
	res, err := Fit(mlp(4, 1), set, nil, opt)
	if err != nil || len(res.Epochs) != 1 {
		t.Errorf("resuming a finished run: %v, %+v", err, res)
	}
}

func TestNaNStopsNamingStep(t *testing.T) {
	dir := t.TempDir()
	g := mlp(8, 2)
	set := separable(64, 1)
	// One good epoch, then an absurd rate from the same state.
	if _, err := Fit(g, set, nil, Options{Epochs: 1, Batch: 16, LR: 0.01, Schedule: "constant", CheckpointDir: dir}); err != nil {
		t.Fatal(err)
	}
	before := flatParams(g)
	_, err := Fit(g, set, nil, Options{Epochs: 2, Batch: 16, LR: 1e30, Schedule: "constant", CheckpointDir: t.TempDir()})
	if err == nil {
		t.Fatal("training with LR 1e30 succeeded")
	}
	if !strings.Contains(err.Error(), "epoch 1 step ") || !strings.Contains(err.Error(), "not finite") && !strings.Contains(err.Error(), "loss is") {
		t.Errorf("error does not name the step and the fault: %v", err)
	}
	sameBits(t, "weights after a NaN stop", flatParams(g), before)
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err != nil {
		t.Errorf("last good checkpoint gone: %v", err)
	}
}

// poison makes the gradient of one parameter NaN at the n-th call (once).
type poison struct {
	at, calls int
}

func (p *poison) Name() string                   { return "poison" }
func (p *poison) Penalty(g *graph.Graph) float64 { return 0 }
func (p *poison) AddGrad(g *graph.Graph, grads map[string]*tensor.Tensor) {
	p.calls++
	if p.calls == p.at {
		grads["fc2.b"].Data[0] = float32(math.NaN())
	}
}

func TestNaNRetryHalvesLR(t *testing.T) {
	set := separable(32, 1)
	opt := Options{Epochs: 3, Batch: 8, LR: 0.1, Schedule: "constant", Seed: 4}
	p := &poison{at: 6} // epoch 2, step 1
	opt.Regularizers = []Regularizer{p}
	if _, err := Fit(mlp(4, 1), set, nil, opt); err == nil || !strings.Contains(err.Error(), "epoch 2 step 1") || !strings.Contains(err.Error(), `"fc2.b"`) {
		t.Fatalf("without retries: %v", err)
	}
	p.calls = 0
	opt.MaxNaNRetries = 1
	var lines bytes.Buffer
	opt.Progress, opt.ProgressMode = &lines, "lines"
	res, err := Fit(mlp(4, 1), set, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.NaNRetries != 1 || res.Epochs[0].LR != 0.1 || res.Epochs[1].LR != 0.05 || res.Epochs[2].LR != 0.05 {
		t.Errorf("retries %d, epoch LRs %g %g %g; want 1 and 0.1 0.05 0.05", res.NaNRetries, res.Epochs[0].LR, res.Epochs[1].LR, res.Epochs[2].LR)
	}
	if res.Steps != 12 {
		t.Errorf("%d steps counted, want 12 (the failed epoch is replayed)", res.Steps)
	}
	if !strings.Contains(lines.String(), "retrying from epoch 2 step 0") {
		t.Errorf("no retry notice in progress output:\n%s", lines.String())
	}
}

func TestCancelWritesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	epochs := 0
	opt := Options{Epochs: 3, Batch: 8, LR: 0.1, CheckpointDir: dir, Context: ctx,
		OnEpoch: func(s EpochStats) { epochs++; cancel() }}
	res, err := Fit(mlp(4, 1), separable(32, 1), nil, opt)
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "epoch 2 step 0") {
		t.Fatalf("error %v", err)
	}
	if epochs != 1 || len(res.Epochs) != 1 {
		t.Errorf("%d OnEpoch calls, %d epochs in result", epochs, len(res.Epochs))
	}
	c, err := ReadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil || c.Epoch != 1 || c.Step != 0 || c.Global != 4 {
		t.Errorf("checkpoint after cancel: %v %+v", err, c)
	}
}

func TestProgressOutput(t *testing.T) {
	for _, tc := range []struct {
		mode      ProgressMode
		wantCR    bool
		wantLines int // step lines + epoch lines in lines mode
	}{
		{"lines", false, 2 * (9 + 1)}, // 10 steps: one line per tenth except the last, plus the epoch line
		{"bar", true, 2},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			var b bytes.Buffer
			_, err := Fit(mlp(4, 1), separable(40, 1), separable(8, 2), Options{Epochs: 2, Batch: 4, LR: 0.1, Progress: &b, ProgressMode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if strings.Contains(out, "\r") != tc.wantCR {
				t.Errorf("carriage returns: %v, want %v", strings.Contains(out, "\r"), tc.wantCR)
			}
			if n := strings.Count(out, "\n"); n != tc.wantLines {
				t.Errorf("%d lines, want %d:\n%s", n, tc.wantLines, out)
			}
			for _, s := range []string{"epoch 2/2", "test loss", "img/s"} {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if tc.mode == "lines" && !strings.Contains(out, "ETA") {
				t.Errorf("no ETA:\n%s", out)
			}
		})
	}
}

func TestSparsityShrinksGammas(t *testing.T) {
	set := separable(64, 1)
	run := func(lambda float64) GammaStats {
		g := convBN(8, 3)
		res, err := Fit(g, set, nil, Options{Epochs: 4, Batch: 16, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Schedule: "constant", Sparsity: lambda, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		if lambda > 0 && res.Epochs[0].Penalty <= 0 {
			t.Errorf("penalty not reported: %+v", res.Epochs[0])
		}
		if res.Epochs[3].Gamma.Count != 8 {
			t.Errorf("gamma stats %+v", res.Epochs[3].Gamma)
		}
		return res.Epochs[3].Gamma
	}
	plain, sparse := run(0), run(0.05)
	if !(sparse.MeanAbs < plain.MeanAbs-0.1) {
		t.Errorf("mean |gamma| with sparsity %g, without %g", sparse.MeanAbs, plain.MeanAbs)
	}
}
