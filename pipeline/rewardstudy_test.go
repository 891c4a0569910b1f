package pipeline

import (
	"math"
	"path/filepath"
	"testing"
)

func TestSpearman(t *testing.T) {
	cases := []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		// Monotone but not linear: rank correlation 1.
		{[]float64{1, 2, 3, 4}, []float64{1, 8, 27, 1000}, 1},
		// Ties: x ranks (1.5, 1.5, 3, 4), y ranks (1, 2, 3, 4); by hand
		// mean 2.5, dx = (-1, -1, .5, 1.5), dy = (-1.5, -.5, .5, 1.5),
		// sxy = 1.5+.5+.25+2.25 = 4.5, sxx = 4.5, syy = 5 -> 4.5/sqrt(22.5).
		{[]float64{2, 2, 5, 7}, []float64{1, 2, 3, 4}, 4.5 / math.Sqrt(22.5)},
	}
	for _, c := range cases {
		if got := Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if !math.IsNaN(Spearman([]float64{1, 1, 1}, []float64{1, 2, 3})) {
		t.Error("a constant series has no correlation: want NaN")
	}
	if !math.IsNaN(Spearman([]float64{1}, []float64{1})) {
		t.Error("one point has no correlation: want NaN")
	}
}

// TestRewardStudy runs a small study end to end: every policy meets the
// budget, is scored once per step count and fine-tuned; the summary gives
// one correlation per step count and the written model is the policy with
// the best fine-tuned validation accuracy.
func TestRewardStudy(t *testing.T) {
	dir := t.TempDir()
	env := NewEnv(nil, nil)
	data := DataOptions{Spec: "sample", TrainLimit: 600, TestLimit: 100}
	base := filepath.Join(dir, "base.onnx")
	if _, err := Train(env, &TrainOptions{Arch: "resnet8", Data: data, Epochs: 1, Batch: 64, LR: 0.1,
		Momentum: 0.9, WD: 5e-4, Optimizer: "sgd", Schedule: "onecycle", Out: base, Ckpt: base + ".ckpt", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	const target = 30000
	o := &PruneOptions{Model: base, Data: data, Method: "ddpg", TargetParams: target, MinChannels: 1, RoundTo: 1,
		Tune: TuneOptions{Epochs: 1, LR: 0.05, Batch: 64},
		DDPG: DDPGOptions{Episodes: 2, B: 2, ValSize: 100, RBound: 0.8, Calib: 2, Hidden: 16, Updates: 1,
			EpisodeLR: 0.01, Study: 3, StudySteps: []int{0, 4}},
		Out: filepath.Join(dir, "out.onnx"), Seed: 1, NoORT: true}
	sum, err := Prune(env, o)
	if err != nil {
		t.Fatal(err)
	}
	st := sum["study"].(map[string]any)
	pols := st["policies"].([]studyPolicy)
	if len(pols) != 3 {
		t.Fatalf("%d policies, want 3", len(pols))
	}
	for i, p := range pols {
		if p.Params > target || len(p.Acc) != 2 || len(p.Reward) != 2 {
			t.Errorf("policy %d: %d params (budget %d), %d accuracies, %d rewards; want within budget and 2 each", i, p.Params, target, len(p.Acc), len(p.Reward))
		}
	}
	if c := st["correlation"].([]map[string]any); len(c) != 2 || c[1]["episode_steps"] != 4 {
		t.Errorf("correlation = %v, want one entry per step count", c)
	}
	if sum["params"].(int) > target {
		t.Errorf("written model has %v params, budget %d", sum["params"], target)
	}
}
