package train

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// stepper runs optimizer steps on one graph: the forward pass in training
// mode, the loss, the backward pass, the regularisers, the finiteness
// checks and the update.
type stepper struct {
	g     *graph.Graph
	exec  *engine.Executor // training executor of g
	loss  Loss
	regs  []Regularizer
	optim Optimizer
	grad  *tensor.Tensor // d loss / d logits, reused
}

// stepResult is one step's figures. Bad, when not "", says what was not
// finite (the loss, a gradient, or a parameter after the update): the step
// must be rolled back. Penalty is the regularisers' sum.
type stepResult struct {
	Loss    float64
	Correct int
	Penalty float64
	Bad     string
}

// step trains on batch b with hyper-parameters h. It errors when the
// model, the loss or the optimizer fails; a non-finite value is reported
// in stepResult.Bad instead, the parameters then possibly changed.
func (s *stepper) step(b Batch, h Hyper) (stepResult, error) {
	var r stepResult
	out, err := s.exec.Forward(b.X, true)
	if err != nil {
		return r, err
	}
	if s.grad == nil || !tensor.SameShape(s.grad.Shape, out.Shape) {
		s.grad = tensor.New(out.Shape...)
	}
	if r.Loss, r.Correct, err = s.loss.Loss(out, b, s.grad); err != nil {
		return r, err
	}
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Bad = fmt.Sprintf("loss is %g", r.Loss)
		return r, nil
	}
	if r.Penalty, r.Bad, err = s.backward(); err != nil || r.Bad != "" {
		return r, err
	}
	h.Apply(s.optim)
	if err := s.optim.Step(s.g.Params, s.exec.Grads); err != nil {
		return r, err
	}
	for k := range s.exec.Grads {
		if !kernels.AllFinite(s.g.Params[k].Data) {
			r.Bad = fmt.Sprintf("parameter %q is not finite after the update", k)
			break
		}
	}
	return r, nil
}

// backward fills s.exec.Grads from s.grad, adds the regularisers'
// gradients and returns their penalty, or in bad the first gradient found
// not finite.
func (s *stepper) backward() (penalty float64, bad string, err error) {
	s.exec.ZeroGrad()
	if _, err := s.exec.Backward(map[string]*tensor.Tensor{s.g.Outputs[0].Name: s.grad}); err != nil {
		return 0, "", err
	}
	for _, r := range s.regs {
		penalty += r.Penalty(s.g)
		r.AddGrad(s.g, s.exec.Grads)
	}
	for k, gr := range s.exec.Grads {
		if !kernels.AllFinite(gr.Data) {
			return penalty, fmt.Sprintf("the gradient of %q is not finite", k), nil
		}
	}
	return penalty, "", nil
}
