package engine

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// GradCheck configures a central-difference gradient check.
//
// The engine computes in float32, so the check cannot use the tiny steps a
// float64 check would. With a step of 1e-2 the truncation error of the
// central difference is O(eps^2 * f”') ~ 1e-4 for smooth ops, while float32
// rounding of a loss summed over n outputs adds about sqrt(n)*1e-7/(2*eps),
// ~1e-4 for the few thousand outputs of a test. The default tolerance
// |analytic - numeric| <= ATol + RTol*max(|analytic|, |numeric|) with
// ATol 2e-3 and RTol 2e-2 is an order of magnitude above both, and far below
// the error of any real mistake (a wrong sign, index or factor of 2).
// Ops with kinks (Relu, MaxPool, Clip) must be tested on inputs further than
// Eps from their kinks.
type GradCheck struct {
	Eps          float64 // finite-difference step; default 1e-2
	ATol, RTol   float64 // defaults 2e-3 and 2e-2
	MaxPerTensor int     // elements checked per tensor (a seeded random subset); default 256
	Seed         uint64  // seed for the loss projection and the subset; default 1
}

func (c *GradCheck) defaults() {
	if c.Eps == 0 {
		c.Eps = 1e-2
	}
	if c.ATol == 0 {
		c.ATol = 2e-3
	}
	if c.RTol == 0 {
		c.RTol = 2e-2
	}
	if c.MaxPerTensor == 0 {
		c.MaxPerTensor = 256
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// CheckOp builds a one-node graph from n, whose inputs are named in data
// (graph inputs) or params (parameters), and checks its backward against
// central differences of L = sum_k <out_k, R_k> for fixed random R_k, in
// training mode. It returns an error describing the first mismatch.
func CheckOp(n *graph.Node, data, params map[string]*tensor.Tensor, c GradCheck) error {
	g := graph.New("gradcheck_" + n.Op)
	for _, name := range n.Inputs {
		if t, ok := data[name]; ok {
			g.Inputs = append(g.Inputs, graph.Value{Name: name, Shape: t.Shape})
		}
	}
	for k, t := range params {
		g.Params[k] = t
	}
	g.Nodes = []*graph.Node{n}
	for _, o := range n.Outputs {
		g.Outputs = append(g.Outputs, graph.Value{Name: o})
	}
	return CheckGraph(g, data, c)
}

// CheckGraph checks d L / d (every graph input and trainable parameter) of a
// whole graph in training mode, L as in CheckOp.
func CheckGraph(g *graph.Graph, data map[string]*tensor.Tensor, c GradCheck) error {
	c.defaults()
	e, err := New(g)
	if err != nil {
		return err
	}
	rng := tensor.NewRNG(c.Seed)
	var proj map[string]*tensor.Tensor
	loss := func() (float64, map[string]*tensor.Tensor, error) {
		e.SetRNG(tensor.NewRNG(c.Seed + 7)) // same dropout mask every pass
		out, err := e.Run(data, true)
		if err != nil {
			return 0, nil, err
		}
		if proj == nil {
			proj = map[string]*tensor.Tensor{}
			for _, v := range g.Outputs {
				r := tensor.New(out[v.Name].Shape...)
				r.FillNormal(rng, 0, 1)
				proj[v.Name] = r
			}
		}
		s := 0.0
		for k, o := range out {
			for i, v := range o.Data {
				s += float64(v) * float64(proj[k].Data[i])
			}
		}
		return s, out, nil
	}
	if _, _, err := loss(); err != nil {
		return err
	}
	e.ZeroGrad()
	inGrads, err := e.Backward(proj)
	if err != nil {
		return err
	}
	// Snapshot analytic gradients: later Runs recycle pooled tensors.
	analytic := map[string]*tensor.Tensor{}
	for k, t := range inGrads {
		analytic[k] = t.Clone()
	}
	for k, t := range e.Grads {
		analytic[k] = t.Clone()
	}
	check := func(kind, name string, x *tensor.Tensor) error {
		an := analytic[name]
		if an == nil {
			an = tensor.New(x.Shape...) // no gradient computed means zero
		}
		idx := make([]int, x.Len())
		for i := range idx {
			idx[i] = i
		}
		if len(idx) > c.MaxPerTensor {
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:c.MaxPerTensor]
		}
		for _, i := range idx {
			old := x.Data[i]
			x.Data[i] = old + float32(c.Eps)
			lp, _, err := loss()
			if err != nil {
				return err
			}
			x.Data[i] = old - float32(c.Eps)
			lm, _, err := loss()
			if err != nil {
				return err
			}
			x.Data[i] = old
			num := (lp - lm) / (2 * c.Eps)
			a := float64(an.Data[i])
			if d := math.Abs(a - num); d > c.ATol+c.RTol*math.Max(math.Abs(a), math.Abs(num)) || math.IsNaN(d) {
				return fmt.Errorf("gradcheck %s %q%v element %d: analytic %.6g, numeric %.6g", kind, name, x.Shape, i, a, num)
			}
		}
		return nil
	}
	for _, v := range g.Inputs {
		if err := check("input", v.Name, data[v.Name]); err != nil {
			return err
		}
	}
	// BN running statistics are buffers: skip them.
	buffers := map[string]bool{}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if graph.IsBuffer(n.Op, i) {
				buffers[in] = true
			}
		}
	}
	// Sorted order: the element subsets come from one RNG, so a fixed order
	// makes the checked elements the same on every run.
	for _, k := range slices.Sorted(maps.Keys(g.Params)) {
		if buffers[k] {
			continue
		}
		if err := check("param", k, g.Params[k]); err != nil {
			return err
		}
	}
	return nil
}
