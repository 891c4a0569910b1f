package rl

import (
	"fmt"
	"math/rand/v2"
)

// Transition is one step of an episode: state, action, reward, next state.
// Done marks the last step of an episode (no bootstrap from S2).
type Transition struct {
	S    []float64
	A    float64
	R    float64
	S2   []float64
	Done bool
}

// Replay is a fixed-capacity ring buffer of transitions.
type Replay struct {
	Cap   int
	Items []Transition
	Next  int // position of the next write once full
}

// NewReplay returns an empty buffer holding at most capacity transitions.
func NewReplay(capacity int) *Replay { return &Replay{Cap: capacity} }

// Add stores t, overwriting the oldest transition when full.
func (r *Replay) Add(t Transition) {
	if len(r.Items) < r.Cap {
		r.Items = append(r.Items, t)
		return
	}
	r.Items[r.Next] = t
	r.Next = (r.Next + 1) % r.Cap
}

// Len returns the number of stored transitions.
func (r *Replay) Len() int { return len(r.Items) }

// Sample draws n transitions uniformly with replacement using rng. It errors
// when the buffer is empty.
func (r *Replay) Sample(n int, rng *rand.Rand) ([]Transition, error) {
	if len(r.Items) == 0 {
		return nil, fmt.Errorf("rl: sampling from an empty replay buffer")
	}
	out := make([]Transition, n)
	for i := range out {
		out[i] = r.Items[rng.IntN(len(r.Items))]
	}
	return out, nil
}
