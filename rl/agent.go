package rl

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/slimgo/slimgo/tensor"
)

// Config sets the DDPG agent's hyperparameters. Zero fields take the
// defaults in parentheses (AMC's published settings where it had one).
type Config struct {
	StateDim   int     // length of a state vector (required)
	Hidden     int     // hidden units per layer of actor and critic (300)
	ActorLR    float64 // Adam learning rate of the actor (1e-4)
	CriticLR   float64 // Adam learning rate of the critic (1e-3)
	Tau        float64 // soft target update rate (0.01)
	Discount   float64 // gamma_d of the critic target (1: AMC's finite-horizon setting); <0 means 0
	Batch      int     // transitions per update (64)
	ReplaySize int     // replay capacity (2000)
	NoiseInit  float64 // initial width of the exploration noise (0.5)
	NoiseDecay float64 // per-episode decay of the noise width after warm-up (0.95)
	LBound     float64 // smallest action (0)
	RBound     float64 // largest action (0.8)
	MovingRate float64 // rate of the reward baseline's moving average (0.5)
	Seed       uint64  // all randomness of the agent comes from here (1)
}

func (c *Config) defaults() {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Hidden == 0 {
		c.Hidden = 300
	}
	def(&c.ActorLR, 1e-4)
	def(&c.CriticLR, 1e-3)
	def(&c.Tau, 0.01)
	def(&c.Discount, 1)
	if c.Discount < 0 {
		c.Discount = 0
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.ReplaySize == 0 {
		c.ReplaySize = 2000
	}
	def(&c.NoiseInit, 0.5)
	def(&c.NoiseDecay, 0.95)
	def(&c.RBound, 0.8)
	def(&c.MovingRate, 0.5)
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// Agent is a DDPG agent with a scalar action in [LBound, RBound]:
// a deterministic actor pi(s) (sigmoid output scaled to the bounds), a critic
// Q(s, a), target copies of both updated softly, and a replay buffer.
type Agent struct {
	Cfg      Config
	actor    *mlp
	critic   *mlp
	actorT   *mlp
	criticT  *mlp
	Replay   *Replay
	src      *rand.PCG
	rng      *rand.Rand
	Baseline float64 // moving average of episode rewards
	HasBase  bool
	Updates  int
}

// NewAgent builds an agent. It errors on a non-positive StateDim or bounds
// outside [0, 1].
func NewAgent(cfg Config) (*Agent, error) {
	cfg.defaults()
	if cfg.StateDim <= 0 {
		return nil, fmt.Errorf("rl: state dimension must be > 0, got %d", cfg.StateDim)
	}
	if cfg.LBound < 0 || cfg.RBound > 1 || cfg.LBound >= cfg.RBound {
		return nil, fmt.Errorf("rl: action bounds [%g, %g] must lie in [0, 1] and be increasing", cfg.LBound, cfg.RBound)
	}
	a := &Agent{Cfg: cfg, Replay: NewReplay(cfg.ReplaySize)}
	a.src = rand.NewPCG(cfg.Seed, cfg.Seed*0x9e3779b97f4a7c15+1)
	a.rng = rand.New(a.src)
	var err error
	if a.actor, err = newMLP("actor", cfg.StateDim, cfg.Hidden, 1, true, cfg.ActorLR, a.rng); err != nil {
		return nil, err
	}
	if a.critic, err = newMLP("critic", cfg.StateDim+1, cfg.Hidden, 1, false, cfg.CriticLR, a.rng); err != nil {
		return nil, err
	}
	if a.actorT, err = newMLP("actor", cfg.StateDim, cfg.Hidden, 1, true, cfg.ActorLR, a.rng); err != nil {
		return nil, err
	}
	if a.criticT, err = newMLP("critic", cfg.StateDim+1, cfg.Hidden, 1, false, cfg.CriticLR, a.rng); err != nil {
		return nil, err
	}
	copyParams(a.actorT, a.actor)
	copyParams(a.criticT, a.critic)
	return a, nil
}

// RNG returns the agent's random source (shared with the environment so a
// whole search is reproducible from one seed).
func (a *Agent) RNG() *rand.Rand { return a.rng }

// scale maps a sigmoid output in (0, 1) to the action range.
func (a *Agent) scale(y float64) float64 {
	return a.Cfg.LBound + (a.Cfg.RBound-a.Cfg.LBound)*y
}

// Policy returns pi(s), the actor's deterministic action.
func (a *Agent) Policy(s []float64) (float64, error) {
	y, err := a.actor.forward(stateBatch([][]float64{s}), false)
	if err != nil {
		return 0, err
	}
	return a.scale(float64(y.Data[0])), nil
}

// NoiseWidth is the exploration width at episode ep (counted from the end of warm-up).
func (a *Agent) NoiseWidth(ep int) float64 {
	return a.Cfg.NoiseInit * math.Pow(a.Cfg.NoiseDecay, float64(max(ep, 0)))
}

// Explore returns pi(s) + N (METHOD.md equation 8): a sample of a normal of
// mean pi(s) and width NoiseWidth(ep), truncated to the action bounds.
func (a *Agent) Explore(s []float64, ep int) (float64, error) {
	mu, err := a.Policy(s)
	if err != nil {
		return 0, err
	}
	return a.truncNormal(mu, a.NoiseWidth(ep)), nil
}

// RandomAction draws a warm-up action uniformly from the bounds.
func (a *Agent) RandomAction() float64 {
	return a.Cfg.LBound + (a.Cfg.RBound-a.Cfg.LBound)*a.rng.Float64()
}

// truncNormal samples N(mu, sigma^2) restricted to [LBound, RBound] by
// rejection (at most 100 tries, then clipping).
func (a *Agent) truncNormal(mu, sigma float64) float64 {
	lo, hi := a.Cfg.LBound, a.Cfg.RBound
	if sigma <= 0 {
		return math.Min(math.Max(mu, lo), hi)
	}
	for range 100 {
		if v := mu + sigma*a.rng.NormFloat64(); v >= lo && v <= hi {
			return v
		}
	}
	return math.Min(math.Max(mu, lo), hi)
}

// Observe stores an episode's transitions, each with the episode's reward
// minus the moving-average baseline, then updates the baseline.
func (a *Agent) Observe(episode []Transition, reward float64) {
	if !a.HasBase {
		a.Baseline, a.HasBase = reward, true
	}
	for _, t := range episode {
		t.R = reward - a.Baseline
		a.Replay.Add(t)
	}
	a.Baseline += a.Cfg.MovingRate * (reward - a.Baseline)
}

// Update performs one DDPG step on a sampled mini-batch: the critic on the
// mean squared error against y = r + gamma_d * Q'(s', pi'(s')) (0 after the
// last step), the actor by ascending Q(s, pi(s)), then soft target updates.
// It returns the critic loss and the mean Q of the actor's actions.
func (a *Agent) Update() (criticLoss, meanQ float64, err error) {
	batch, err := a.Replay.Sample(a.Cfg.Batch, a.rng)
	if err != nil {
		return 0, 0, err
	}
	n := len(batch)
	s := make([][]float64, n)
	s2 := make([][]float64, n)
	for i, t := range batch {
		s[i], s2[i] = t.S, t.S2
		if t.S2 == nil {
			s2[i] = t.S
		}
	}
	// Critic target.
	a2, err := a.actorT.forward(stateBatch(s2), false)
	if err != nil {
		return 0, 0, err
	}
	q2, err := a.criticT.forward(saBatch(s2, a2.Data), false)
	if err != nil {
		return 0, 0, err
	}
	y := make([]float64, n)
	for i, t := range batch {
		y[i] = t.R
		if !t.Done {
			y[i] += a.Cfg.Discount * float64(q2.Data[i])
		}
	}
	acts := make([]float32, n)
	for i, t := range batch {
		acts[i] = float32((t.A - a.Cfg.LBound) / (a.Cfg.RBound - a.Cfg.LBound))
	}
	q, err := a.critic.forward(saBatch(s, acts), true)
	if err != nil {
		return 0, 0, err
	}
	dq := tensor.New(n, 1)
	for i := range n {
		d := float64(q.Data[i]) - y[i]
		criticLoss += d * d / float64(n)
		dq.Data[i] = float32(2 * d / float64(n))
	}
	if _, err := a.critic.backward(dq); err != nil {
		return 0, 0, err
	}
	if err := a.critic.step(); err != nil {
		return 0, 0, err
	}
	// Actor: maximise Q(s, pi(s)), i.e. minimise -mean Q.
	pa, err := a.actor.forward(stateBatch(s), true)
	if err != nil {
		return 0, 0, err
	}
	qa, err := a.critic.forward(saBatch(s, pa.Data), true)
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		meanQ += float64(qa.Data[i]) / float64(n)
		dq.Data[i] = float32(-1.0 / float64(n))
	}
	din, err := a.critic.backward(dq)
	if err != nil {
		return 0, 0, err
	}
	dact := tensor.New(n, 1)
	d := a.Cfg.StateDim
	for i := range n {
		dact.Data[i] = din.Data[i*(d+1)+d]
	}
	if _, err := a.actor.backward(dact); err != nil {
		return 0, 0, err
	}
	if err := a.actor.step(); err != nil {
		return 0, 0, err
	}
	softUpdate(a.actorT, a.actor, a.Cfg.Tau)
	softUpdate(a.criticT, a.critic, a.Cfg.Tau)
	a.Updates++
	return criticLoss, meanQ, nil
}

// stateBatch packs states as an [N, d] tensor.
func stateBatch(s [][]float64) *tensor.Tensor {
	d := len(s[0])
	t := tensor.New(len(s), d)
	for i, row := range s {
		for j, v := range row {
			t.Data[i*d+j] = float32(v)
		}
	}
	return t
}

// saBatch packs [state, action] rows for the critic. The critic sees actions
// in the actor's sigmoid range (0, 1), not scaled to the action bounds.
func saBatch(s [][]float64, acts []float32) *tensor.Tensor {
	d := len(s[0])
	t := tensor.New(len(s), d+1)
	for i, row := range s {
		for j, v := range row {
			t.Data[i*(d+1)+j] = float32(v)
		}
		t.Data[i*(d+1)+d] = acts[i]
	}
	return t
}
