package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Regularizer is an extra loss term on the parameters. Fit calls AddGrad
// after each backward pass and before the optimizer step, and Penalty for
// the figures it reports.
type Regularizer interface {
	Name() string
	// Penalty returns the term's value for the current parameters.
	Penalty(g *graph.Graph) float64
	// AddGrad adds d term / d param into grads (keyed by parameter name),
	// allocating an entry for a parameter that has none.
	AddGrad(g *graph.Graph, grads map[string]*tensor.Tensor)
}

// BNSparsity is network slimming's L1 penalty Lambda * sum |gamma| over the
// scale (input 1) of every BatchNormalization node; its subgradient
// Lambda*sign(gamma) (0 at gamma = 0) is added to the scale gradient.
type BNSparsity struct{ Lambda float64 }

// Name implements Regularizer.
func (r BNSparsity) Name() string { return fmt.Sprintf("bn-l1(%g)", r.Lambda) }

// bnScales returns the distinct BN scale parameter names in node order.
func bnScales(g *graph.Graph) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Op != graph.OpBN {
			continue
		}
		s := n.Input(1)
		if s != "" && g.IsParam(s) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Penalty implements Regularizer.
func (r BNSparsity) Penalty(g *graph.Graph) float64 {
	s := 0.0
	for _, name := range bnScales(g) {
		for _, v := range g.Params[name].Data {
			s += math.Abs(float64(v))
		}
	}
	return r.Lambda * s
}

// AddGrad implements Regularizer.
func (r BNSparsity) AddGrad(g *graph.Graph, grads map[string]*tensor.Tensor) {
	lam := float32(r.Lambda)
	for _, name := range bnScales(g) {
		p := g.Params[name]
		gr := grads[name]
		if gr == nil || gr.Len() != p.Len() {
			gr = tensor.New(p.Shape...)
			grads[name] = gr
		}
		for i, v := range p.Data {
			switch {
			case v > 0:
				gr.Data[i] += lam
			case v < 0:
				gr.Data[i] -= lam
			}
		}
	}
}

// BNShrink is BNSparsity for an adaptive optimizer (FitDetector's AdamW).
// Adam divides every gradient by its running RMS, so an L1 subgradient
// added to the gradient (BNSparsity) moves a gamma by at most the rate per
// step, and beside the loss's larger gradients hardly at all; the step
// is therefore taken outside the optimizer, as AdamW's decoupled weight
// decay is: after each update every BN scale moves toward zero by
// lr*Lambda and stops there (the proximal step of lr*Lambda*|gamma|). A
// gamma the loss needs is held up by Adam steps of about lr, so Lambda
// below 1 shrinks only the scales the loss does not defend.
type BNShrink struct{ Lambda float64 }

// Shrinker is a Regularizer applied as a step of its own after each
// optimizer update, at the update's learning rate (BNShrink).
type Shrinker interface {
	Shrink(g *graph.Graph, lr float64)
}

// Name implements Regularizer.
func (r BNShrink) Name() string { return fmt.Sprintf("bn-shrink(%g)", r.Lambda) }

// Penalty implements Regularizer (Lambda * sum |gamma|).
func (r BNShrink) Penalty(g *graph.Graph) float64 { return BNSparsity(r).Penalty(g) }

// AddGrad implements Regularizer: nothing (see Shrink).
func (r BNShrink) AddGrad(*graph.Graph, map[string]*tensor.Tensor) {}

// Shrink implements Shrinker: gamma <- sign(gamma) max(|gamma| - lr*Lambda, 0).
func (r BNShrink) Shrink(g *graph.Graph, lr float64) {
	d := float32(lr * r.Lambda)
	for _, name := range bnScales(g) {
		for i, v := range g.Params[name].Data {
			switch {
			case v > d:
				g.Params[name].Data[i] = v - d
			case v < -d:
				g.Params[name].Data[i] = v + d
			default:
				g.Params[name].Data[i] = 0
			}
		}
	}
}

// GammaBinEdges are the lower edges of GammaStats.Histogram's bins of
// |gamma|: [0,1e-4), [1e-4,1e-3), [1e-3,1e-2), [1e-2,1e-1), [1e-1,1), [1,inf).
var GammaBinEdges = []float64{0, 1e-4, 1e-3, 1e-2, 1e-1, 1}

// GammaStats summarises the BatchNormalization scale factors of a graph.
type GammaStats struct {
	Count         int     `json:"count"`           // number of gammas
	ShareBelow1e2 float64 `json:"share_below_1e2"` // share of |gamma| < 1e-2, in [0, 1]
	MeanAbs       float64 `json:"mean_abs"`
	MaxAbs        float64 `json:"max_abs"`
	Histogram     []int   `json:"histogram"` // counts per GammaBinEdges bin
}

// ComputeGammaStats returns the statistics of every BN scale in g (zero
// counts for a graph without BN).
func ComputeGammaStats(g *graph.Graph) GammaStats {
	st := GammaStats{Histogram: make([]int, len(GammaBinEdges))}
	below, sum := 0, 0.0
	for _, name := range bnScales(g) {
		for _, v := range g.Params[name].Data {
			a := math.Abs(float64(v))
			st.Count++
			sum += a
			st.MaxAbs = math.Max(st.MaxAbs, a)
			if a < 1e-2 {
				below++
			}
			b := 0
			for i, e := range GammaBinEdges {
				if a >= e {
					b = i
				}
			}
			st.Histogram[b]++
		}
	}
	if st.Count > 0 {
		st.ShareBelow1e2 = float64(below) / float64(st.Count)
		st.MeanAbs = sum / float64(st.Count)
	}
	return st
}

// String prints the statistics on one line for logs.
func (s GammaStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d gammas, %.1f%% below 1e-2, mean |g| %.3g, hist", s.Count, 100*s.ShareBelow1e2, s.MeanAbs)
	for _, c := range s.Histogram {
		fmt.Fprintf(&b, " %d", c)
	}
	return b.String()
}
