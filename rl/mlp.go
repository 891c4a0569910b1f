// Package rl holds the DDPG agent that chooses per-layer pruning ratios
// (claim 5 of the method; METHOD.md stage 1c) and the pruning environment it
// acts in. The agent's actor and critic are small MLPs run by slimgo's own
// engine, so the search needs nothing outside the repository.
package rl

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/optim"
	"github.com/slimgo/slimgo/tensor"
)

// mlp is a fully connected network in -> hidden -> hidden -> out with ReLU
// between layers and an optional sigmoid on the output, built as a graph.
type mlp struct {
	g    *graph.Graph
	exec *engine.Executor
	opt  optim.Optimizer
}

// newMLP builds the network. Hidden layers are initialised as DDPG does
// (uniform +-1/sqrt(fan_in)), the last layer uniform +-3e-3 so that the
// initial outputs are near the middle of their range.
func newMLP(name string, in, hidden, out int, sigmoid bool, lr float64, rng *rand.Rand) (*mlp, error) {
	g := graph.New(name)
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, in}}}
	prev := "x"
	dims := []int{in, hidden, hidden, out}
	for l := 0; l < 3; l++ {
		fc := fmt.Sprintf("fc%d", l+1)
		w := tensor.New(dims[l+1], dims[l])
		b := tensor.New(dims[l+1])
		bound := 1 / math.Sqrt(float64(dims[l]))
		if l == 2 {
			bound = 3e-3
		}
		w.FillUniform(rng, -bound, bound)
		b.FillUniform(rng, -bound, bound)
		g.Params[fc+".weight"], g.Params[fc+".bias"] = w, b
		g.Nodes = append(g.Nodes, &graph.Node{Name: fc, Op: graph.OpGemm,
			Inputs: []string{prev, fc + ".weight", fc + ".bias"}, Outputs: []string{fc + ".out"},
			Attrs: graph.Attrs{"transB": 1}})
		prev = fc + ".out"
		act := ""
		switch {
		case l < 2:
			act = graph.OpRelu
		case sigmoid:
			act = graph.OpSigmoid
		}
		if act != "" {
			an := fmt.Sprintf("act%d", l+1)
			g.Nodes = append(g.Nodes, &graph.Node{Name: an, Op: act, Inputs: []string{prev}, Outputs: []string{an + ".out"}})
			prev = an + ".out"
		}
	}
	g.Outputs = []graph.Value{{Name: prev, Shape: []int{-1, out}}}
	e, err := engine.New(g)
	if err != nil {
		return nil, err
	}
	return &mlp{g: g, exec: e, opt: &optim.Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}}, nil
}

// forward runs the network on x [N, in] and returns a copy of the output [N, out].
func (m *mlp) forward(x *tensor.Tensor, trainMode bool) (*tensor.Tensor, error) {
	y, err := m.exec.Forward(x, trainMode)
	if err != nil {
		return nil, err
	}
	return y.Clone(), nil
}

// backward propagates dOut through the last training-mode forward, leaving
// parameter gradients in m.exec.Grads, and returns d/d input.
func (m *mlp) backward(dOut *tensor.Tensor) (*tensor.Tensor, error) {
	m.exec.ZeroGrad()
	gin, err := m.exec.Backward(map[string]*tensor.Tensor{m.g.Outputs[0].Name: dOut})
	if err != nil {
		return nil, err
	}
	if d := gin["x"]; d != nil {
		return d.Clone(), nil
	}
	return nil, nil
}

// step applies the optimizer to the gradients of the last backward.
func (m *mlp) step() error { return m.opt.Step(m.g.Params, m.exec.Grads) }

// softUpdate moves every parameter of target towards src:
// w' <- tau*w + (1-tau)*w' (METHOD.md equations 12 and 13).
func softUpdate(target, src *mlp, tau float64) {
	for k, w := range src.g.Params {
		t := target.g.Params[k]
		for i, v := range w.Data {
			t.Data[i] = float32(tau*float64(v) + (1-tau)*float64(t.Data[i]))
		}
	}
}

// copyParams makes target's parameters equal to src's (tau = 1).
func copyParams(target, src *mlp) {
	for k, w := range src.g.Params {
		copy(target.g.Params[k].Data, w.Data)
	}
}

// params returns a deep copy of the parameters (for checkpoints).
func (m *mlp) params() map[string][]float32 {
	out := map[string][]float32{}
	for k, t := range m.g.Params {
		out[k] = append([]float32(nil), t.Data...)
	}
	return out
}

// setParams restores parameters saved by params.
func (m *mlp) setParams(p map[string][]float32) error {
	if err := m.checkParams(p); err != nil {
		return err
	}
	for _, k := range sortedKeys(m.g.Params) {
		copy(m.g.Params[k].Data, p[k])
	}
	return nil
}

// checkParams verifies that p has exactly the network's tensors, each of
// the right size and finite, without changing anything.
func (m *mlp) checkParams(p map[string][]float32) error {
	if len(p) != len(m.g.Params) {
		return fmt.Errorf("rl: checkpoint has %d tensors for %s, want %d", len(p), m.g.Name, len(m.g.Params))
	}
	for _, k := range sortedKeys(m.g.Params) {
		v, ok := p[k]
		if !ok || len(v) != m.g.Params[k].Len() {
			return fmt.Errorf("rl: checkpoint tensor %s/%s missing or of the wrong size", m.g.Name, k)
		}
		for _, x := range v {
			if x-x != 0 {
				return fmt.Errorf("rl: checkpoint tensor %s/%s holds %v", m.g.Name, k, x)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
