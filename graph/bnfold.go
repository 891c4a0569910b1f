package graph

// BatchNormalization folding, shared by export (FoldBN) and the engine's
// inference rewrite: one rule for which Conv -> BN pairs fold
// (ConvBNPairs) and one arithmetic (FoldBNWeights).

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/tensor"
)

// ConvBN is a Conv whose output only a BatchNormalization reads.
type ConvBN struct {
	Conv, BN *Node
}

// ConvBNPairs lists the Conv -> BatchNormalization pairs that can merge, in
// graph order of the Conv: the Conv's one output is read only by the BN's
// input 0 (and is no graph output), and the Conv's weight (and bias, if
// any) and all BN inputs but X are parameters. Shapes are not checked.
func ConvBNPairs(g *Graph) []ConvBN {
	ix := NewIndex(g, nil)
	var pairs []ConvBN
	for _, c := range g.Nodes {
		if c.Op != OpConv || len(c.Outputs) != 1 || ix.Readers(c.Outputs[0]) != 1 {
			continue
		}
		cons := ix.Consumers(c.Outputs[0])
		if len(cons) != 1 { // its one reader is the graph's output (a detector's head conv)
			continue
		}
		bn := cons[0]
		if bn.Op != OpBN || bn.Input(0) != c.Outputs[0] {
			continue
		}
		ok := g.IsParam(c.Input(1)) && (c.Input(2) == "" || g.IsParam(c.Input(2)))
		for i := 1; i < 5; i++ {
			ok = ok && g.IsParam(bn.Input(i))
		}
		if ok {
			pairs = append(pairs, ConvBN{c, bn})
		}
	}
	return pairs
}

// FoldBNWeights returns the weight and bias of a Conv (w [M,...], bias [M]
// or nil) followed by a BatchNormalization (gamma, beta, mean, vr [M],
// epsilon eps) as one Conv, computed in float64:
//
//	W'[m] = W[m] * s[m],  b'[m] = (b[m] - mean[m]) * s[m] + beta[m],  s = gamma / sqrt(var + eps)
//
// The inputs are not modified; lengths must agree (the caller checks).
func FoldBNWeights(w, bias, gamma, beta, mean, vr *tensor.Tensor, eps float64) (nw, nb *tensor.Tensor) {
	m := w.Shape[0]
	nw, nb = tensor.New(w.Shape...), tensor.New(m)
	per := w.Len() / m
	for o := range m {
		s := float64(gamma.Data[o]) / math.Sqrt(float64(vr.Data[o])+eps)
		for i := o * per; i < (o+1)*per; i++ {
			nw.Data[i] = float32(float64(w.Data[i]) * s)
		}
		b0 := 0.0
		if bias != nil {
			b0 = float64(bias.Data[o])
		}
		nb.Data[o] = float32((b0-float64(mean.Data[o]))*s + float64(beta.Data[o]))
	}
	return nw, nb
}

// paramUsers counts how many node input slots read each parameter.
func paramUsers(g *Graph) map[string]int {
	n := map[string]int{}
	for _, nd := range g.Nodes {
		for _, in := range nd.Inputs {
			if g.IsParam(in) {
				n[in]++
			}
		}
	}
	return n
}

// FoldBN returns a copy of g in which every BatchNormalization that is the
// only consumer of a Conv's output is merged into that Conv:
//
//	W'[m] = W[m] * s[m],  b'[m] = (b[m] - mean[m]) * s[m] + beta[m],  s = gamma / sqrt(var + eps)
//
// The Conv takes over the BN's output name; the BN and its now unused
// parameters disappear. A weight or bias shared with other nodes is copied
// under a new name first. g is not modified. It errors when a parameter's
// shape does not match the Conv's output channels.
func FoldBN(g *Graph) (*Graph, error) {
	c := g.Clone()
	users := paramUsers(c)
	drop := map[*Node]bool{}
	for _, p := range ConvBNPairs(c) {
		conv, bn := p.Conv, p.BN
		w := c.Params[conv.Input(1)]
		if w.Dims() != 4 {
			return nil, fmt.Errorf("node %q (Conv): weight %v is not 4-D", conv.Name, w.Shape)
		}
		m := w.Shape[0]
		gamma, beta, mean, vr := c.Params[bn.Input(1)], c.Params[bn.Input(2)], c.Params[bn.Input(3)], c.Params[bn.Input(4)]
		for i, t := range []*tensor.Tensor{gamma, beta, mean, vr} {
			if t.Len() != m {
				return nil, fmt.Errorf("node %q (BatchNormalization): input %d has %d values for %d channels of %q", bn.Name, i+1, t.Len(), m, conv.Name)
			}
		}
		var bias *tensor.Tensor
		if b := conv.Input(2); b != "" {
			bias = c.Params[b]
			if bias.Len() != m {
				return nil, fmt.Errorf("node %q (Conv): bias has %d values for %d channels", conv.Name, bias.Len(), m)
			}
		}
		nw, nb := FoldBNWeights(w, bias, gamma, beta, mean, vr, float64(bn.Attrs.Float("epsilon", 1e-5)))
		wName := conv.Inputs[1]
		if users[wName] > 1 {
			users[wName]--
			wName = c.UniqueName(conv.Name + "_folded_weight")
		}
		c.Params[wName] = nw
		conv.Inputs[1] = wName
		bName := conv.Input(2)
		if bName == "" || users[bName] > 1 {
			if bName != "" {
				users[bName]--
			}
			bName = c.UniqueName(conv.Name + "_folded_bias")
		}
		c.Params[bName] = nb
		if len(conv.Inputs) < 3 {
			conv.Inputs = append(conv.Inputs, bName)
		} else {
			conv.Inputs[2] = bName
		}
		conv.Outputs[0] = bn.Outputs[0]
		drop[bn] = true
	}
	nodes := c.Nodes[:0]
	for _, n := range c.Nodes {
		if !drop[n] {
			nodes = append(nodes, n)
		}
	}
	c.Nodes = nodes
	removeUnusedParams(c)
	return c, nil
}

// removeUnusedParams deletes parameters no node reads.
func removeUnusedParams(g *Graph) {
	users := paramUsers(g)
	for k := range g.Params {
		if users[k] == 0 {
			delete(g.Params, k)
		}
	}
}

// UnfoldBN returns a copy of g in which every Conv whose output does not
// feed a BatchNormalization as its only consumer gets one inserted right
// after it: gamma 1, beta = the conv's bias (which the Conv then drops; 0
// without one), mean 0 and variance 1-eps, so the new node is an exact
// identity until the caller recomputes its statistics from data. (Variance
// 1-eps rather than 1 keeps the model's output bit-for-bit comparable.) New
// parameters are named <conv>_bn.scale, .bias, .mean, .var; g is not
// modified. It errors when a Conv's weight is not a 4-D parameter.
func UnfoldBN(g *Graph) (*Graph, error) {
	c := g.Clone()
	outs := map[string]bool{}
	for _, v := range c.Outputs {
		outs[v.Name] = true
	}
	users := paramUsers(c)
	var nodes []*Node
	for _, n := range c.Nodes {
		nodes = append(nodes, n)
		if n.Op != OpConv || len(n.Outputs) != 1 {
			continue
		}
		cons := c.Consumers(n.Outputs[0])
		if !outs[n.Outputs[0]] && len(cons) == 1 && cons[0].Op == OpBN && cons[0].Input(0) == n.Outputs[0] {
			continue
		}
		w, ok := c.Params[n.Input(1)]
		if !ok || w.Dims() != 4 {
			return nil, fmt.Errorf("node %q (Conv): weight %q is not a 4-D parameter", n.Name, n.Input(1))
		}
		m := w.Shape[0]
		const eps = 1e-5
		scale, bias, mean, vr := tensor.New(m), tensor.New(m), tensor.New(m), tensor.New(m)
		scale.Fill(1)
		vr.Fill(1 - eps)
		if b := n.Input(2); b != "" {
			bt, ok := c.Params[b]
			if !ok || bt.Len() != m {
				return nil, fmt.Errorf("node %q (Conv): bias %q is not a %d-value parameter", n.Name, b, m)
			}
			copy(bias.Data, bt.Data)
			users[b]--
			n.Inputs = n.Inputs[:2]
		}
		bnName := c.UniqueName(n.Name + "_bn")
		names := make([]string, 4)
		for i, suffix := range []string{".scale", ".bias", ".mean", ".var"} {
			names[i] = c.UniqueName(bnName + suffix)
			c.Params[names[i]] = []*tensor.Tensor{scale, bias, mean, vr}[i]
		}
		out := n.Outputs[0]
		pre := c.UniqueName(out + "_prebn")
		n.Outputs[0] = pre
		bn := &Node{Name: bnName, Op: OpBN, Inputs: append([]string{pre}, names...), Outputs: []string{out},
			Attrs: Attrs{"epsilon": float32(eps), "momentum": float32(0.9)}}
		c.Nodes = append(c.Nodes, bn) // so UniqueName sees it; final order set below
		nodes = append(nodes, bn)
	}
	c.Nodes = nodes
	removeUnusedParams(c)
	return c, nil
}
