package rl

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/slimgo/slimgo/internal/ckpt"
	"github.com/slimgo/slimgo/optim"
)

// Env is an episodic environment with one scalar action per step, as the
// pruning search is: step t chooses the pruning ratio of layer (group) t.
type Env interface {
	// Steps is the episode length T.
	Steps() int
	// State returns the state of step t given the actions already taken
	// (len(prev) == t). Its length is the agent's StateDim.
	State(t int, prev []float64) []float64
	// Clamp may restrict an action (the budget wall); it returns a itself
	// when there is no budget.
	Clamp(t int, prev []float64, a float64) float64
	// Reward evaluates a whole episode's actions.
	Reward(actions []float64) (reward float64, info map[string]float64, err error)
}

// Episode is one finished episode of a search.
type Episode struct {
	N       int
	Actions []float64
	Reward  float64
	Info    map[string]float64
	Random  bool // a warm-up episode of random actions
	Seconds float64
}

// SearchOptions configure Search.
type SearchOptions struct {
	Episodes   int                           // total episodes, warm-up included
	Warmup     int                           // leading episodes with uniformly random actions
	Checkpoint string                        // file for periodic checkpoints ("" = none)
	Every      int                           // checkpoint every this many episodes (default 5)
	Updates    int                           // agent updates per episode step (default 1, as AMC)
	Resume     bool                          // continue from Checkpoint when it exists
	Context    context.Context               // cancellation (SIGINT): a checkpoint is written, then ctx.Err() returned
	OnEpisode  func(e Episode, best Episode) // progress callback
}

// SearchResult is what a search found.
type SearchResult struct {
	Best     Episode
	Episodes []Episode
	Resumed  int // episodes restored from a checkpoint
	// Skipped lists damaged checkpoint files passed over when resuming
	// (each error wraps ErrCorruptCheckpoint and names the file).
	Skipped []error
}

// ErrCorruptCheckpoint is wrapped by the errors of a search checkpoint that
// exists but is damaged or does not fit the agent.
var ErrCorruptCheckpoint = errors.New("corrupt search checkpoint")

// Search runs the DDPG search: warm-up episodes with random actions, then
// episodes with explored actions pi(s)+N; after each episode the transitions
// are stored with the baseline-normalised reward and the agent is updated
// once per step. The best episode (highest reward) is kept.
func Search(env Env, ag *Agent, opt SearchOptions) (*SearchResult, error) {
	if opt.Episodes <= 0 {
		return nil, fmt.Errorf("rl: episodes must be > 0, got %d", opt.Episodes)
	}
	if opt.Every <= 0 {
		opt.Every = 5
	}
	if opt.Updates <= 0 {
		opt.Updates = 1
	}
	ctx := opt.Context
	if ctx == nil {
		ctx = context.Background()
	}
	res := &SearchResult{Best: Episode{Reward: math.Inf(-1)}}
	if opt.Resume && opt.Checkpoint != "" {
		// The newest checkpoint, else the one before it; a damaged file is
		// reported in Skipped and passed over (with none usable the search
		// starts afresh, which for a fixed seed ends where an uninterrupted
		// one does).
		_, res.Skipped = ckpt.Latest(opt.Checkpoint, func(path string) error { return loadSearch(path, ag, res) })
		res.Resumed = len(res.Episodes)
	}
	T := env.Steps()
	for ep := len(res.Episodes); ep < opt.Episodes; ep++ {
		if err := ctx.Err(); err != nil {
			if opt.Checkpoint != "" {
				if cerr := saveSearch(opt.Checkpoint, ag, res); cerr != nil {
					return nil, cerr
				}
			}
			return res, err
		}
		start := time.Now()
		random := ep < opt.Warmup
		states, actions, err := playEpisode(env, ag, T, random, ep-opt.Warmup)
		if err != nil {
			return nil, err
		}
		r, info, err := env.Reward(actions)
		if err != nil {
			return nil, fmt.Errorf("rl: episode %d: %w", ep, err)
		}
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("rl: episode %d: reward is %g", ep, r)
		}
		ag.Observe(transitions(states, actions), r)
		if !random || ep == opt.Warmup-1 {
			for range T * opt.Updates {
				if _, _, err := ag.Update(); err != nil {
					return nil, err
				}
			}
		}
		e := Episode{N: ep, Actions: actions, Reward: r, Info: info, Random: random, Seconds: time.Since(start).Seconds()}
		res.Episodes = append(res.Episodes, e)
		if r > res.Best.Reward {
			res.Best = e
		}
		if opt.OnEpisode != nil {
			opt.OnEpisode(e, res.Best)
		}
		if opt.Checkpoint != "" && ((ep+1)%opt.Every == 0 || ep+1 == opt.Episodes) {
			if err := saveSearch(opt.Checkpoint, ag, res); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// playEpisode chooses the T actions of one episode: uniformly random ones
// when random, else the actor's with the exploration noise of explored
// episode k, each clamped by env. It returns the states seen and the
// actions taken.
func playEpisode(env Env, ag *Agent, T int, random bool, k int) ([][]float64, []float64, error) {
	actions := make([]float64, 0, T)
	states := make([][]float64, 0, T+1)
	for t := range T {
		s := env.State(t, actions)
		var a float64
		var err error
		if random {
			a = ag.RandomAction()
		} else if a, err = ag.Explore(s, k); err != nil {
			return nil, nil, err
		}
		a = env.Clamp(t, actions, a)
		states = append(states, s)
		actions = append(actions, a)
	}
	return states, actions, nil
}

// transitions pairs each step's state and action with the next state; the
// last step is terminal. The episode's reward is added by Agent.Observe.
func transitions(states [][]float64, actions []float64) []Transition {
	T := len(actions)
	trans := make([]Transition, T)
	for t := range T {
		trans[t] = Transition{S: states[t], A: actions[t], Done: t == T-1}
		if t+1 < T {
			trans[t].S2 = states[t+1]
		}
	}
	return trans
}

// searchState is what a checkpoint holds, encoding/gob inside the framing
// of internal/ckpt (searchFormat).
type searchState struct {
	Actor    map[string][]float32
	Critic   map[string][]float32
	ActorT   map[string][]float32
	CriticT  map[string][]float32
	ActorO   []byte
	CriticO  []byte
	Replay   Replay
	RNG      []byte
	Baseline float64
	HasBase  bool
	Updates  int
	Episodes []Episode
	Best     Episode
}

// searchFormat frames search checkpoints; Version counts changes of
// searchState.
var searchFormat = ckpt.Format{Magic: "SLIMGORL", Version: 1, Name: "DDPG search checkpoint"}

func saveSearch(path string, ag *Agent, res *SearchResult) error {
	rngState, err := ag.src.MarshalBinary()
	if err != nil {
		return err
	}
	st := searchState{Actor: ag.actor.params(), Critic: ag.critic.params(),
		ActorT: ag.actorT.params(), CriticT: ag.criticT.params(), Replay: *ag.Replay, RNG: rngState,
		Baseline: ag.Baseline, HasBase: ag.HasBase, Updates: ag.Updates, Episodes: res.Episodes, Best: res.Best}
	if st.ActorO, err = encodeOpt(ag.actor); err != nil {
		return err
	}
	if st.CriticO, err = encodeOpt(ag.critic); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(&st); err != nil {
		return err
	}
	// The previous checkpoint is kept: a crash while replacing path, or a
	// damaged path later, still leaves path+".prev" to resume from.
	if err := searchFormat.Write(path, body.Bytes()); err != nil {
		return fmt.Errorf("rl: writing search checkpoint %s: %w", path, err)
	}
	return nil
}

func encodeOpt(m *mlp) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(m.opt.State())
	return b.Bytes(), err
}

// loadSearch restores agent and result from the checkpoint at path. The
// file is decoded and checked against the agent (network and optimizer
// sizes, replay buffer shape, finite values) before anything is changed, so
// a failure leaves ag and res untouched; such failures wrap
// ErrCorruptCheckpoint.
func loadSearch(path string, ag *Agent, res *SearchResult) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("rl: %s: %w: %s", path, ErrCorruptCheckpoint, fmt.Sprintf(format, a...))
	}
	body, err := searchFormat.Unframe(b)
	if err != nil {
		return bad("%v", err)
	}
	var st searchState
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&st); err != nil {
		return bad("decoding: %v", err)
	}
	nets := []struct {
		m *mlp
		v map[string][]float32
	}{{ag.actor, st.Actor}, {ag.critic, st.Critic}, {ag.actorT, st.ActorT}, {ag.criticT, st.CriticT}}
	for _, p := range nets {
		if err := p.m.checkParams(p.v); err != nil {
			return bad("%v (was the checkpoint made with other settings?)", err)
		}
	}
	var opts [2]optim.State
	for i, ob := range [][]byte{st.ActorO, st.CriticO} {
		opts[i] = nets[i].m.opt.State()
		if err := gob.NewDecoder(bytes.NewReader(ob)).Decode(&opts[i]); err != nil {
			return bad("optimizer: %v", err)
		}
		if opts[i].Kind != nets[i].m.opt.State().Kind {
			return bad("optimizer kind %q, the agent uses %q", opts[i].Kind, nets[i].m.opt.State().Kind)
		}
	}
	if err := checkReplay(&st.Replay, ag); err != nil {
		return bad("%v", err)
	}
	src := new(rand.PCG)
	if err := src.UnmarshalBinary(st.RNG); err != nil {
		return bad("random state: %v", err)
	}
	for i, e := range st.Episodes {
		if e.N != i {
			return bad("episode %d is numbered %d", i, e.N)
		}
	}
	if math.IsNaN(st.Baseline) || math.IsInf(st.Baseline, 0) {
		return bad("reward baseline is %g", st.Baseline)
	}
	// Everything checked: apply.
	for _, p := range nets {
		if err := p.m.setParams(p.v); err != nil {
			return bad("%v", err)
		}
	}
	for i := range opts {
		if err := nets[i].m.opt.SetState(opts[i]); err != nil {
			return bad("optimizer: %v", err)
		}
	}
	if err := ag.src.UnmarshalBinary(st.RNG); err != nil {
		return bad("random state: %v", err)
	}
	*ag.Replay = st.Replay
	ag.Baseline, ag.HasBase, ag.Updates = st.Baseline, st.HasBase, st.Updates
	res.Episodes, res.Best = st.Episodes, st.Best
	if len(res.Episodes) == 0 {
		res.Best.Reward = math.Inf(-1)
	}
	return nil
}

// checkReplay verifies that a decoded replay buffer fits the agent: its
// capacity, ring position and transition sizes, with finite values.
func checkReplay(r *Replay, ag *Agent) error {
	n := ag.Cfg.StateDim
	switch {
	case r.Cap != ag.Replay.Cap:
		return fmt.Errorf("replay capacity %d, the agent's is %d", r.Cap, ag.Replay.Cap)
	case len(r.Items) > r.Cap:
		return fmt.Errorf("replay holds %d transitions, capacity %d", len(r.Items), r.Cap)
	case r.Next < 0 || (r.Next > 0 && r.Next >= r.Cap):
		return fmt.Errorf("replay position %d outside capacity %d", r.Next, r.Cap)
	}
	fin := func(v []float64) bool {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		}
		return true
	}
	for i, t := range r.Items {
		if len(t.S) != n || (len(t.S2) != n && !(t.Done && len(t.S2) == 0)) {
			return fmt.Errorf("transition %d has states of %d and %d values, want %d", i, len(t.S), len(t.S2), n)
		}
		if !fin(t.S) || !fin(t.S2) || !fin([]float64{t.A, t.R}) {
			return fmt.Errorf("transition %d holds a non-finite value", i)
		}
	}
	return nil
}
