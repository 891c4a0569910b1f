package rl

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

func TestSoftUpdateAlgebra(t *testing.T) {
	rng := tensor.NewRNG(3)
	src, err := newMLP("a", 3, 8, 1, true, 1e-3, rng)
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := newMLP("a", 3, 8, 1, true, 1e-3, rng)
	before := dst.params()
	const tau = 0.25
	softUpdate(dst, src, tau)
	for k, w := range src.g.Params {
		for i, v := range w.Data {
			want := tau*float64(v) + (1-tau)*float64(before[k][i])
			if got := float64(dst.g.Params[k].Data[i]); math.Abs(got-want) > 1e-6 {
				t.Fatalf("%s[%d] = %g, want tau*w+(1-tau)*w' = %g", k, i, got, want)
			}
		}
	}
	// tau = 1 copies, repeated updates converge to the source.
	for range 2000 {
		softUpdate(dst, src, 0.01)
	}
	for k, w := range src.g.Params {
		if d := tensor.MaxAbsDiff(w, dst.g.Params[k]); d > 1e-5 { // float32 rounding of the blend
			t.Fatalf("%s: target still %g away after many soft updates", k, d)
		}
	}
}

func TestReplayReproducibleAndRing(t *testing.T) {
	fill := func() *Replay {
		r := NewReplay(5)
		for i := range 8 {
			r.Add(Transition{A: float64(i)})
		}
		return r
	}
	r := fill()
	if r.Len() != 5 {
		t.Fatalf("len %d, want capacity 5", r.Len())
	}
	seen := map[float64]bool{}
	for _, it := range r.Items {
		seen[it.A] = true
	}
	for _, old := range []float64{0, 1, 2} {
		if seen[old] {
			t.Fatalf("oldest transition %g not overwritten: %v", old, seen)
		}
	}
	a, _ := fill().Sample(20, tensor.NewRNG(9))
	b, _ := fill().Sample(20, tensor.NewRNG(9))
	c, _ := fill().Sample(20, tensor.NewRNG(10))
	same, diff := true, false
	for i := range a {
		same = same && a[i].A == b[i].A
		diff = diff || a[i].A != c[i].A
	}
	if !same || !diff {
		t.Fatalf("sampling not reproducible from the seed (same=%v) or ignores it (diff=%v)", same, diff)
	}
	if _, err := NewReplay(3).Sample(1, tensor.NewRNG(1)); err == nil {
		t.Fatal("sampling an empty buffer did not error")
	}
}

func TestExplorationNoiseBoundsAndDecay(t *testing.T) {
	ag, err := NewAgent(Config{StateDim: 2, Hidden: 16, LBound: 0.1, RBound: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	for ep := range 5 {
		for range 200 {
			a, err := ag.Explore([]float64{0.3, 0.4}, ep)
			if err != nil {
				t.Fatal(err)
			}
			if a < 0.1 || a > 0.7 {
				t.Fatalf("episode %d: action %g outside [0.1, 0.7]", ep, a)
			}
		}
	}
	if w0, w5 := ag.NoiseWidth(0), ag.NoiseWidth(5); !(w5 < w0) || math.Abs(w5-w0*math.Pow(0.95, 5)) > 1e-12 {
		t.Fatalf("noise width %g -> %g does not decay by 0.95 per episode", w0, w5)
	}
	if _, err := NewAgent(Config{StateDim: 0}); err == nil {
		t.Fatal("zero state dimension accepted")
	}
	if _, err := NewAgent(Config{StateDim: 2, LBound: 0.5, RBound: 0.4}); err == nil {
		t.Fatal("inverted bounds accepted")
	}
}

// toyEnv has a known optimum: the reward peaks when action t equals target[t].
// The state carries the step index and the previous action, as the pruning
// environment's does.
type toyEnv struct{ target []float64 }

func (e toyEnv) Steps() int { return len(e.target) }
func (e toyEnv) State(t int, prev []float64) []float64 {
	p := 0.0
	if t > 0 {
		p = prev[t-1]
	}
	oneHot := make([]float64, len(e.target))
	oneHot[t] = 1
	return append([]float64{float64(t) / float64(len(e.target)-1), p}, oneHot...)
}
func (e toyEnv) Clamp(_ int, _ []float64, a float64) float64 { return a }
func (e toyEnv) Reward(a []float64) (float64, map[string]float64, error) {
	s := 0.0
	for i, v := range a {
		s += math.Abs(v - e.target[i])
	}
	return -s, nil, nil
}

// TestAgentLearnsToyOptimum: within 600 episodes (a few seconds) the greedy
// policy lands within 0.1 of the known per-step optimum of a reward peaked
// (L1, so the peak is sharp) at given ratios. Every step of an episode shares
// the episode's reward, as in the pruning search. It passed for seeds 1, 2,
// 3 and 5 when written; the noise decays slowly (0.99) because the search is
// long.
func TestAgentLearnsToyOptimum(t *testing.T) {
	env := toyEnv{target: []float64{0.2, 0.6, 0.4, 0.7}}
	ag, err := NewAgent(Config{StateDim: 2 + len(env.target), Hidden: 64, ActorLR: 1e-3, CriticLR: 3e-3, Seed: 5, RBound: 1, NoiseDecay: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Search(env, ag, SearchOptions{Episodes: 600, Warmup: 30, Updates: 2})
	if err != nil {
		t.Fatal(err)
	}
	var greedy []float64
	for i := range env.Steps() {
		a, err := ag.Policy(env.State(i, greedy))
		if err != nil {
			t.Fatal(err)
		}
		greedy = append(greedy, a)
	}
	for i, a := range greedy {
		if math.Abs(a-env.target[i]) > 0.1 {
			t.Errorf("step %d: greedy action %.3f, optimum %.3f", i, a, env.target[i])
		}
	}
	if res.Best.Reward < -0.05 {
		t.Errorf("best episode reward %.4f, want > -0.05 (actions %v)", res.Best.Reward, res.Best.Actions)
	}
	t.Logf("greedy %v, best %.4f at episode %d", greedy, res.Best.Reward, res.Best.N)
}

// TestUpdatesPerStep: SearchOptions.Updates is the number of agent updates
// after each step of a learning episode (and of the last warm-up one), and
// on a search as short as compress's (60 episodes, 15 warm-up, default
// learning rates) 8 of them learn the toy optimum better than AMC's 1: the
// last 15 episodes' mean reward was better for 5 of seeds 1-6 when written
// (-0.30 against -0.64 on this one).
func TestUpdatesPerStep(t *testing.T) {
	env := toyEnv{target: []float64{0.2, 0.6, 0.4, 0.7}}
	late := map[int]float64{}
	for _, u := range []int{1, 8} {
		ag, err := NewAgent(Config{StateDim: 2 + len(env.target), Hidden: 64, Seed: 1, RBound: 1, NoiseDecay: math.Pow(0.1, 1.0/45)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Search(env, ag, SearchOptions{Episodes: 60, Warmup: 15, Updates: u})
		if err != nil {
			t.Fatal(err)
		}
		if want := u * env.Steps() * 46; ag.Updates != want {
			t.Errorf("%d updates per step: %d updates in all, want %d", u, ag.Updates, want)
		}
		for _, e := range res.Episodes[45:] {
			late[u] += e.Reward / 15
		}
	}
	if late[8] < late[1]+0.2 {
		t.Errorf("last 15 episodes' mean reward: %.3f with 8 updates per step, %.3f with 1; want 8 ahead by >= 0.2", late[8], late[1])
	}
}

// TestSearchResumeMatchesUninterrupted: stopping a search and resuming it
// from its checkpoint gives exactly the episodes of an uninterrupted run.
func TestSearchResumeMatchesUninterrupted(t *testing.T) {
	env := toyEnv{target: []float64{0.3, 0.5}}
	cfg := Config{StateDim: 4, Hidden: 16, Batch: 8, Seed: 11}
	full, _ := NewAgent(cfg)
	want, err := Search(env, full, SearchOptions{Episodes: 12, Warmup: 3})
	if err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(t.TempDir(), "ddpg.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	first, _ := NewAgent(cfg)
	_, err = Search(env, first, SearchOptions{Episodes: 12, Warmup: 3, Checkpoint: ck, Every: 100, Context: ctx,
		OnEpisode: func(e Episode, _ Episode) {
			if e.N == 6 {
				cancel()
			}
		}})
	if err != context.Canceled {
		t.Fatalf("interrupted search returned %v, want context.Canceled", err)
	}
	second, _ := NewAgent(cfg)
	got, err := Search(env, second, SearchOptions{Episodes: 12, Warmup: 3, Checkpoint: ck, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Resumed != 7 {
		t.Fatalf("resumed %d episodes, want 7", got.Resumed)
	}
	for i := range want.Episodes {
		for j := range want.Episodes[i].Actions {
			if got.Episodes[i].Actions[j] != want.Episodes[i].Actions[j] {
				t.Fatalf("episode %d step %d: resumed %v, uninterrupted %v", i, j, got.Episodes[i].Actions, want.Episodes[i].Actions)
			}
		}
	}
}
