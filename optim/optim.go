// Package optim holds the optimizers that train models and the DDPG agent's
// networks: SGD (momentum, Nesterov, weight decay) and Adam/AdamW, behind
// one Optimizer interface whose state can be saved for checkpoints. It
// knows tensors only, so the training loop and the agent share it without
// depending on each other.
package optim

import (
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/tensor"
)

// Optimizer updates parameters from their gradients. The trainable
// parameters are exactly the keys of grads: a parameter without a gradient
// (BatchNormalization running statistics, frozen weights) is left alone.
// Optimizer state (momentum buffers, Adam moments) is kept per parameter
// name and can be exported for checkpoints.
type Optimizer interface {
	// Step applies one update to params[name] for every name in grads. It
	// errors, naming the parameter, when a gradient has no parameter or a
	// different size, before changing anything.
	Step(params, grads map[string]*tensor.Tensor) error
	// SetLR sets the learning rate used by the following steps.
	SetLR(lr float64)
	// LearningRate returns the current learning rate.
	LearningRate() float64
	// SetMomentum sets the momentum used by the following steps (SGD's
	// momentum, Adam's beta1, as PyTorch's momentum-cycling schedules do);
	// a Plan with a momentum schedule calls it before every step.
	SetMomentum(m float64)
	// State returns a deep copy of the optimizer state.
	State() State
	// SetState replaces the state with a copy of s; it errors when s was
	// written by another kind of optimizer.
	SetState(s State) error
}

// State is an optimizer's exportable state (gob-encodable).
// Slots maps a slot name ("momentum"; "m" and "v" for Adam) to per-parameter
// buffers; Steps counts the updates each parameter has received.
type State struct {
	Kind  string
	LR    float64
	Steps map[string]int64
	Slots map[string]map[string][]float32
}

func (s State) clone() State {
	c := State{Kind: s.Kind, LR: s.LR, Steps: map[string]int64{}, Slots: map[string]map[string][]float32{}}
	for k, v := range s.Steps {
		c.Steps[k] = v
	}
	for slot, m := range s.Slots {
		cm := make(map[string][]float32, len(m))
		for k, v := range m {
			cm[k] = slices.Clone(v)
		}
		c.Slots[slot] = cm
	}
	return c
}

// cloneInto is clone written into dst's maps and buffers where they fit
// (dst's contents are then s's; dst must not be used otherwise), so a
// caller that keeps one copy at a time allocates nothing after the first.
func (s State) cloneInto(dst State) State {
	if dst.Steps == nil || dst.Slots == nil {
		return s.clone()
	}
	c := State{Kind: s.Kind, LR: s.LR, Steps: dst.Steps, Slots: dst.Slots}
	clear(c.Steps)
	for k, v := range s.Steps {
		c.Steps[k] = v
	}
	for slot := range c.Slots {
		if _, ok := s.Slots[slot]; !ok {
			delete(c.Slots, slot)
		}
	}
	for slot, m := range s.Slots {
		cm := c.Slots[slot]
		if cm == nil {
			cm = make(map[string][]float32, len(m))
			c.Slots[slot] = cm
		}
		for k := range cm {
			if _, ok := m[k]; !ok {
				delete(cm, k)
			}
		}
		for k, v := range m {
			cm[k] = append(cm[k][:0], v...)
		}
	}
	return c
}

func newState(kind string, lr float64, slots ...string) State {
	s := State{Kind: kind, LR: lr, Steps: map[string]int64{}, Slots: map[string]map[string][]float32{}}
	for _, n := range slots {
		s.Slots[n] = map[string][]float32{}
	}
	return s
}

// checkStep validates grads against params and returns the names in sorted
// order (updates are independent, sorting only makes errors deterministic).
func checkStep(params, grads map[string]*tensor.Tensor) ([]string, error) {
	names := make([]string, 0, len(grads))
	for k := range grads {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p := params[k]
		if p == nil {
			return nil, fmt.Errorf("train: gradient for %q, which is not a parameter", k)
		}
		if grads[k] == nil || grads[k].Len() != p.Len() {
			return nil, fmt.Errorf("train: gradient for %q has %d values, the parameter %v has %d", k, lenOf(grads[k]), p.Shape, p.Len())
		}
	}
	return names, nil
}

func lenOf(t *tensor.Tensor) int {
	if t == nil {
		return 0
	}
	return t.Len()
}

// buffer returns the named slot buffer of a parameter, allocating zeros (or
// reallocating after a size change, e.g. after pruning) as needed.
func (s *State) buffer(slot, name string, n int) (buf []float32, fresh bool) {
	m := s.Slots[slot]
	if m == nil {
		m = map[string][]float32{}
		s.Slots[slot] = m
	}
	b := m[name]
	if len(b) != n {
		b = make([]float32, n)
		m[name] = b
		return b, true
	}
	return b, false
}

// SGD is stochastic gradient descent with PyTorch's torch.optim.SGD
// semantics (dampening 0): g = grad + WeightDecay*p; with Momentum mu,
// buf = g on a parameter's first step and buf = mu*buf + g afterwards;
// the update direction is g + mu*buf with Nesterov, else buf; p -= LR*direction.
// Parameters named in NoDecay get no weight decay (see NoDecayParams).
type SGD struct {
	LR, Momentum, WeightDecay float64
	Nesterov                  bool
	NoDecay                   map[string]bool
	st                        State
}

// Step implements Optimizer.
func (o *SGD) Step(params, grads map[string]*tensor.Tensor) error {
	names, err := checkStep(params, grads)
	if err != nil {
		return err
	}
	if o.st.Slots == nil {
		o.st = newState("sgd", o.LR, "momentum")
	}
	lr, mu := float32(o.LR), float32(o.Momentum)
	for _, k := range names {
		p, g := params[k].Data, grads[k].Data
		wd := float32(o.WeightDecay)
		if o.NoDecay[k] {
			wd = 0
		}
		o.st.Steps[k]++
		if mu == 0 {
			for i := range p {
				p[i] -= lr * (g[i] + wd*p[i])
			}
			continue
		}
		buf, fresh := o.st.buffer("momentum", k, len(p))
		if fresh {
			o.st.Steps[k] = 1
		}
		for i := range p {
			d := g[i] + wd*p[i]
			if fresh {
				buf[i] = d
			} else {
				buf[i] = mu*buf[i] + d
			}
			if o.Nesterov {
				d += mu * buf[i]
			} else {
				d = buf[i]
			}
			p[i] -= lr * d
		}
	}
	return nil
}

// SetLR implements Optimizer.
func (o *SGD) SetLR(lr float64) { o.LR = lr }

// LearningRate implements Optimizer.
func (o *SGD) LearningRate() float64 { return o.LR }

// SetMomentum implements Optimizer.
func (o *SGD) SetMomentum(m float64) { o.Momentum = m }

// State implements Optimizer.
func (o *SGD) State() State {
	if o.st.Slots == nil {
		o.st = newState("sgd", o.LR, "momentum")
	}
	s := o.st.clone()
	s.LR = o.LR
	return s
}

// StateInto is State copied into the maps and buffers of dst, an earlier
// result of State or StateInto that the caller no longer needs.
func (o *SGD) StateInto(dst State) State {
	if o.st.Slots == nil {
		o.st = newState("sgd", o.LR, "momentum")
	}
	s := o.st.cloneInto(dst)
	s.LR = o.LR
	return s
}

// SetState implements Optimizer.
func (o *SGD) SetState(s State) error {
	if s.Kind != "sgd" {
		return fmt.Errorf("train: cannot load %q optimizer state into SGD", s.Kind)
	}
	o.st = s.clone()
	o.LR = s.LR
	return nil
}

// Adam is torch.optim.Adam: g = grad + WeightDecay*p (L2 in the gradient,
// or with Decoupled the AdamW form p -= LR*WeightDecay*p), m = b1*m + (1-b1)*g,
// v = b2*v + (1-b2)*g^2, p -= LR * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + Eps)
// with t the parameter's step count. Zero Beta1, Beta2, Eps take PyTorch's
// defaults 0.9, 0.999, 1e-8 (use NewAdam and set them explicitly otherwise).
// It works on any map of parameters and gradients, not only a graph's, so
// the DDPG agent uses it directly. Parameters named in NoDecay get no decay.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Decoupled                          bool
	NoDecay                            map[string]bool
	st                                 State
}

// NewAdam returns Adam with PyTorch's default betas and epsilon.
func NewAdam(lr float64) *Adam { return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// Step implements Optimizer.
func (o *Adam) Step(params, grads map[string]*tensor.Tensor) error {
	names, err := checkStep(params, grads)
	if err != nil {
		return err
	}
	if o.st.Slots == nil {
		o.st = newState("adam", o.LR, "m", "v")
	}
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	for _, k := range names {
		p, g := params[k].Data, grads[k].Data
		m, freshM := o.st.buffer("m", k, len(p))
		v, freshV := o.st.buffer("v", k, len(p))
		if freshM || freshV {
			clear(m)
			clear(v)
			o.st.Steps[k] = 0
		}
		o.st.Steps[k]++
		t := float64(o.st.Steps[k])
		wd := o.WeightDecay
		if o.NoDecay[k] {
			wd = 0
		}
		bc1 := 1 - math.Pow(b1, t)
		bc2 := 1 - math.Pow(b2, t)
		// p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), PyTorch's arrangement.
		stepSize := float32(o.LR / bc1)
		sqrtBC2 := float32(math.Sqrt(bc2))
		fb1, fb2, feps := float32(b1), float32(b2), float32(eps)
		l2, dec := float32(wd), float32(0)
		if o.Decoupled {
			l2, dec = 0, float32(1-o.LR*wd)
		}
		for i := range p {
			d := g[i] + l2*p[i]
			if o.Decoupled {
				p[i] *= dec
			}
			m[i] = fb1*m[i] + (1-fb1)*d
			v[i] = fb2*v[i] + (1-fb2)*d*d
			p[i] -= stepSize * m[i] / (float32(math.Sqrt(float64(v[i])))/sqrtBC2 + feps)
		}
	}
	return nil
}

// SetLR implements Optimizer.
func (o *Adam) SetLR(lr float64) { o.LR = lr }

// LearningRate implements Optimizer.
func (o *Adam) LearningRate() float64 { return o.LR }

// SetMomentum implements Optimizer: it sets Beta1.
func (o *Adam) SetMomentum(m float64) { o.Beta1 = m }

// State implements Optimizer.
func (o *Adam) State() State {
	if o.st.Slots == nil {
		o.st = newState("adam", o.LR, "m", "v")
	}
	s := o.st.clone()
	s.LR = o.LR
	return s
}

// StateInto is State copied into the maps and buffers of dst, an earlier
// result of State or StateInto that the caller no longer needs.
func (o *Adam) StateInto(dst State) State {
	if o.st.Slots == nil {
		o.st = newState("adam", o.LR, "m", "v")
	}
	s := o.st.cloneInto(dst)
	s.LR = o.LR
	return s
}

// SetState implements Optimizer.
func (o *Adam) SetState(s State) error {
	if s.Kind != "adam" {
		return fmt.Errorf("train: cannot load %q optimizer state into Adam", s.Kind)
	}
	o.st = s.clone()
	o.LR = s.LR
	return nil
}
