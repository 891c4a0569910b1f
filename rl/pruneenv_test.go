package rl

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// randomSet is a small labelled set of noise images (accuracy does not
// matter to these tests, only shapes and determinism).
func randomSet(n int, seed uint64) *data.Dataset {
	rng := tensor.NewRNG(seed)
	d := &data.Dataset{Name: "noise", C: 1, H: 28, W: 28}
	for i := range 10 {
		d.Classes = append(d.Classes, string(rune('a'+i)))
	}
	d.X = make([]float32, n*28*28)
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
	}
	for i := range n {
		d.Labels = append(d.Labels, int32(i%10))
	}
	return d
}

func resnet8Env(t *testing.T, cfg PruneConfig) *PruneEnv {
	t.Helper()
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewPruneEnv(g, testEvaluator(randomSet(32, 1), randomSet(32, 2)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestStateVectorResnet8 checks group 2 (s2.b0.conv1) of resnet8 by hand.
// The six groups' raw features (n, c, h, w, stride, k, params) are:
//
//	0 stem.conv+s1.b0.conv2  16  1 28 28 1 3  144+2304
//	1 s1.b0.conv1            16 16 28 28 1 3  2304
//	2 s2.b0.conv1            32 16 28 28 2 3  4608
//	3 s2.b0.conv2+down       32 32 14 14 1 3  9216+512
//	4 s3.b0.conv1            64 32 14 14 2 3  18432
//	5 s3.b0.conv2+down       64 64  7  7 1 3  36864+2048
//
// so n spans 16..64, c 1..64, h and w 7..28, stride 1..2, k is constant (0),
// params 2304..38912. With groups 0 and 1 pruned by half (16 -> 8 channels),
// the parameters removed are: stem.conv 72, stem.bn 16, s1.b0.conv1 2304-576,
// s1.b0.bn1 16, s1.b0.conv2 2304-576, s1.b0.bn2 16, s2.b0.conv1's inputs 2304,
// s2.b0.down.conv's inputs 256: 6136 of 77754.
func TestStateVectorResnet8(t *testing.T) {
	env := resnet8Env(t, PruneConfig{})
	if env.Steps() != 6 {
		t.Fatalf("%d steps, want 6 groups", env.Steps())
	}
	got := env.State(2, []float64{0.5, 0.5})
	want := []float64{
		2.0 / 5,          // t
		(32 - 16) / 48.0, // n
		(16 - 1) / 63.0,  // c
		1, 1,             // h, w (28 is the largest)
		1,                       // stride 2 is the largest
		0,                       // k constant
		(4608 - 2304) / 36608.0, // params
		6136 / 77754.0,          // params_reduce
		0.5,                     // a_(t-1)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("feature %d = %.6f, want %.6f (state %v)", i, got[i], want[i], got)
		}
	}
	for ti := range env.Steps() {
		for i, v := range env.State(ti, make([]float64, ti)) {
			if v < 0 || v > 1 {
				t.Errorf("step %d feature %d = %g outside [0, 1]", ti, i, v)
			}
		}
	}
}

// TestParamsAfterMatchesSurgery: the analytic count equals the real pruned graph's.
func TestParamsAfterMatchesSurgery(t *testing.T) {
	env := resnet8Env(t, PruneConfig{Prune: prune.Options{RoundTo: 4}})
	rng := tensor.NewRNG(3)
	for trial := range 5 {
		r := make([]float64, env.Steps())
		for i := range r {
			r[i] = 0.8 * rng.Float64()
		}
		g, err := env.Apply(r)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := g.ComputeStats()
		if got := env.ParamsAfter(r); got != st.Params {
			t.Fatalf("trial %d ratios %v: analytic %d params, surgery %d", trial, r, got, st.Params)
		}
		if got := env.MACsAfter(r); got != st.MACs {
			t.Fatalf("trial %d ratios %v: analytic %d MACs, surgery %d", trial, r, got, st.MACs)
		}
	}
}

func TestRewardEdgeCases(t *testing.T) {
	if c := ComplexityTerm(1000, 1000); c != 0 {
		t.Fatalf("no pruning: complexity %g, want 0", c)
	}
	if c := ComplexityTerm(500, 1000); math.Abs(c-math.Ln2) > 1e-12 {
		t.Fatalf("half the params: complexity %g, want ln 2", c)
	}
	if a := AccuracyTerm(0, 2); a != 1 {
		t.Fatalf("no accuracy loss: term %g, want 1", a)
	}
	if a := AccuracyTerm(2, 2); a != 0 {
		t.Fatalf("delta_acc = b: term %g, want 0", a)
	}
	if a := AccuracyTerm(3, 2); a >= 0 {
		t.Fatalf("delta_acc > b: term %g, want < 0", a)
	}
	if a := AccuracyTerm(-1, 2); a <= 1 {
		t.Fatalf("accuracy gain: term %g, want > 1", a)
	}
	env := resnet8Env(t, PruneConfig{B: 2})
	if r := env.RewardOf(env.BaseAcc, env.Params0); r != 0 {
		t.Fatalf("unpruned model: reward %g, want 0", r)
	}
	if r := env.RewardOf(env.BaseAcc-2, env.Params0/2); r != 0 {
		t.Fatalf("losing exactly b: reward %g, want 0", r)
	}
	if r := env.RewardOf(env.BaseAcc-4, env.Params0/2); r >= 0 {
		t.Fatalf("losing 2b: reward %g, want < 0", r)
	}
}

// TestActionWallMeetsMACBudget: the same wall holds a multiply-accumulate budget.
func TestActionWallMeetsMACBudget(t *testing.T) {
	env := resnet8Env(t, PruneConfig{TargetMACs: 9345920 / 3})
	rng := tensor.NewRNG(9)
	for trial := range 10 {
		var acts []float64
		for step := range env.Steps() {
			a := rng.Float64() * 0.3
			acts = append(acts, env.Clamp(step, acts, a))
		}
		g, err := env.Apply(acts)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := g.ComputeStats()
		if st.MACs > env.Cfg.TargetMACs {
			t.Fatalf("trial %d: policy %v leaves %d MACs, budget %d", trial, acts, st.MACs, env.Cfg.TargetMACs)
		}
	}
}

// TestActionWallMeetsBudget: whatever the agent proposes, the walled policy
// stays within the parameter budget, checked on the real pruned graph.
func TestActionWallMeetsBudget(t *testing.T) {
	env := resnet8Env(t, PruneConfig{TargetParams: 77754 / 2})
	rng := tensor.NewRNG(8)
	for trial := range 20 {
		var acts []float64
		for step := range env.Steps() {
			a := rng.Float64()
			if trial%4 == 0 {
				a = 0 // an agent that wants to prune nothing
			}
			c := env.Clamp(step, acts, a)
			if c < 0 || c > env.Cfg.RBound {
				t.Fatalf("clamped action %g outside [0, %g]", c, env.Cfg.RBound)
			}
			if a <= env.Cfg.RBound && c < a {
				t.Fatalf("the wall lowered an action: %g -> %g", a, c)
			}
			acts = append(acts, c)
		}
		g, err := env.Apply(acts)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := g.ComputeStats()
		if st.Params > env.Cfg.TargetParams {
			t.Fatalf("trial %d: policy %v leaves %d params, budget %d", trial, acts, st.Params, env.Cfg.TargetParams)
		}
	}
	g, _ := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if _, err := NewPruneEnv(g, testEvaluator(randomSet(32, 1), randomSet(32, 2)), PruneConfig{TargetParams: 100}); err == nil {
		t.Fatal("an unreachable budget was accepted")
	}
}

// testEvaluator is the pipeline's evaluator in miniature: surgery, BN
// recalibrated on one batch of 16 calib images, accuracy on val.
func testEvaluator(calib, val *data.Dataset) Evaluator {
	return Evaluator{
		Apply: func(base *graph.Graph, plan prune.Plan) (*graph.Graph, error) {
			g, err := prune.Apply(base, plan)
			if err != nil {
				return nil, err
			}
			return g, train.RecalibrateBN(g, calib, 1, 16)
		},
		Accuracy: func(g *graph.Graph) (float64, error) {
			ev, err := train.Evaluate(g, val, 16)
			return 100 * ev.Accuracy, err
		},
	}
}

// macLatency is a latency model for tests: each Conv costs 1 ns per
// multiply-accumulate at its widths, plus a rest of 0.01 ms.
type macLatency map[string]float64 // conv node -> kh*kw*output pixels

func newMACLatency(t *testing.T, g *graph.Graph) macLatency {
	t.Helper()
	shapes, err := g.InferShapes(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := macLatency{}
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			w, y := g.Params[n.Input(1)].Shape, shapes[n.Outputs[0]]
			m[n.Name] = float64(w[2] * w[3] * y[2] * y[3])
		}
	}
	return m
}

func (m macLatency) LayerMs(node string, in, out int) (float64, bool) {
	f, ok := m[node]
	return f * float64(in*out) * 1e-6, ok
}

func (m macLatency) Rest() float64 { return 0.01 }

// graphMs is macLatency's figure for a pruned graph, read from its weights.
func (m macLatency) graphMs(g *graph.Graph) float64 {
	total := m.Rest()
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv {
			w := g.Params[n.Input(1)].Shape
			ms, _ := m.LayerMs(n.Name, w[1], w[0])
			total += ms
		}
	}
	return total
}

// TestActionWallMeetsLatencyBudget: walled policies stay within a latency
// budget of a third of the model's, checked on the real pruned graphs;
// the estimate falls as groups are pruned harder; an out-of-reach target
// and a target without a model are refused.
func TestActionWallMeetsLatencyBudget(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	lat := newMACLatency(t, g)
	full := lat.graphMs(g)
	env := resnet8Env(t, PruneConfig{TargetLatency: full / 3, Latency: lat})
	if got := env.LatencyAfter(nil); math.Abs(got-full) > 1e-9 {
		t.Fatalf("unpruned estimate %g ms, want %g", got, full)
	}
	prev := full
	for _, r := range []float64{0.2, 0.4, 0.6, 0.8} {
		est := env.LatencyAfter(uniform(env.Steps(), r))
		if est >= prev {
			t.Fatalf("estimate at ratio %g is %g ms, not below %g", r, est, prev)
		}
		prev = est
	}
	rng := tensor.NewRNG(7)
	for trial := range 10 {
		var acts []float64
		for step := range env.Steps() {
			acts = append(acts, env.Clamp(step, acts, rng.Float64()*0.3))
		}
		p, err := env.Apply(acts)
		if err != nil {
			t.Fatal(err)
		}
		if ms, est := lat.graphMs(p), env.LatencyAfter(acts); ms > env.Cfg.TargetLatency || math.Abs(ms-est) > 1e-9 {
			t.Fatalf("trial %d: policy %v leaves %g ms (estimated %g), budget %g", trial, acts, ms, est, env.Cfg.TargetLatency)
		}
	}
	ev := testEvaluator(randomSet(32, 1), randomSet(32, 2))
	if _, err := NewPruneEnv(g, ev, PruneConfig{TargetLatency: full / 100, Latency: lat}); err == nil || !strings.Contains(err.Error(), "out of reach") {
		t.Fatalf("an unreachable latency target: %v", err)
	}
	if _, err := NewPruneEnv(g, ev, PruneConfig{TargetLatency: full / 2}); err == nil {
		t.Fatal("a latency target without a latency model was accepted")
	}
}

func uniform(n int, r float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r
	}
	return out
}
