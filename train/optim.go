package train

import (
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/optim"
)

// The optimizers live in package optim (the DDPG agent uses them too);
// these names keep train's API.
type (
	Optimizer      = optim.Optimizer
	OptimizerState = optim.State
	SGD            = optim.SGD
	Adam           = optim.Adam
)

// NewAdam returns Adam with PyTorch's defaults and learning rate lr.
func NewAdam(lr float64) *Adam { return optim.NewAdam(lr) }

// NoDecayParams returns the parameters that, by the usual convention, get no
// weight decay: BatchNormalization scale and bias (and its running
// statistics), the bias of Conv and Gemm, and every other 1-D parameter.
func NoDecayParams(g *graph.Graph) map[string]bool {
	nd := map[string]bool{}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if in == "" || !g.IsParam(in) {
				continue
			}
			switch {
			case n.Op == graph.OpBN && i >= 1,
				(n.Op == graph.OpConv || n.Op == graph.OpGemm) && i == 2:
				nd[in] = true
			}
		}
	}
	for k, t := range g.Params {
		if t.Dims() <= 1 {
			nd[k] = true
		}
	}
	return nd
}
