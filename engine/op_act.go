package engine

// Element-wise activations: Relu, LeakyRelu, Clip, Sigmoid, Silu,
// HardSigmoid, HardSwish.
//
// Each takes one input X of any shape and returns Y of the same shape. The
// backward pass reads X (and Y where that is cheaper) from the recorded
// forward, so the kernels keep no state of their own. Derivatives at the
// kinks follow PyTorch: Relu'(0) = 0, LeakyRelu'(0) = alpha, Clip passes
// the gradient where min <= x <= max, HardSigmoid only strictly inside its
// linear part (0 < alpha*x+beta < 1), and HardSwish'(x) = x/3 + 1/2 on the
// closed interval -3 <= x <= 3.

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// parallelMin is the element count above which element-wise loops are split
// over kernels.ParallelFor; below it the goroutine overhead dominates.
const parallelMin = 1 << 16

// forChunks runs f over [0, n), in parallel chunks when n is large.
func forChunks(n int, f func(lo, hi int)) {
	if n > parallelMin {
		kernels.ParallelFor(n, f)
		return
	}
	f(0, n)
}

// actKernel is an element-wise activation. fwd maps x to y over a chunk;
// bwd writes dx from x, y and dy over a chunk.
type actKernel struct {
	fwd func(x, y []float32)
	bwd func(x, y, dy, dx []float32)
	// full: fwd and bwd write every element, so their outputs need no
	// zeroing first.
	full bool
}

// alloc returns an output tensor for the kernel's loops.
func (k *actKernel) alloc(ctx *Ctx, shape []int) *tensor.Tensor {
	if k.full {
		return ctx.allocRaw(shape...)
	}
	return ctx.Alloc(shape...)
}

// oneInput checks the input list of a single-input op.
func oneInput(in []*tensor.Tensor) error {
	if len(in) < 1 || in[0] == nil {
		return fmt.Errorf("needs input X, got %d inputs", len(in))
	}
	return nil
}

func (k *actKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	x := in[0]
	y := k.alloc(ctx, x.Shape)
	forChunks(len(x.Data), func(lo, hi int) { k.fwd(x.Data[lo:hi], y.Data[lo:hi]) })
	return []*tensor.Tensor{y}, nil
}

func (k *actKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	x, y, dy := in[0], out[0], gout[0]
	if len(dy.Data) != len(x.Data) {
		return nil, fmt.Errorf("output gradient %v does not match input %v", dy.Shape, x.Shape)
	}
	dx := k.alloc(ctx, x.Shape)
	forChunks(len(x.Data), func(lo, hi int) {
		k.bwd(x.Data[lo:hi], y.Data[lo:hi], dy.Data[lo:hi], dx.Data[lo:hi])
	})
	gin[0] = dx
	return gin, nil
}

func newRelu(n *graph.Node) (Kernel, error) {
	return &actKernel{
		fwd:  vecRelu,
		bwd:  func(x, _, dy, dx []float32) { vecReluBwd(x, dy, dx) },
		full: true,
	}, nil
}

func newLeakyRelu(n *graph.Node) (Kernel, error) {
	a := n.Attrs.Float("alpha", 0.01)
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				if v > 0 {
					y[i] = v
				} else {
					y[i] = a * v
				}
			}
		},
		bwd: func(x, _, dy, dx []float32) {
			dy, dx = dy[:len(x)], dx[:len(x)]
			for i, v := range x {
				if v > 0 {
					dx[i] = dy[i]
				} else {
					dx[i] = a * dy[i]
				}
			}
		},
	}, nil
}

func newClip(n *graph.Node) (Kernel, error) {
	lo := n.Attrs.Float("min", float32(math.Inf(-1)))
	hi := n.Attrs.Float("max", float32(math.Inf(1)))
	if lo > hi || math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) {
		return nil, fmt.Errorf("node %q (Clip): min %g must not exceed max %g", n.Name, lo, hi)
	}
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = min(max(v, lo), hi)
			}
		},
		bwd: func(x, _, dy, dx []float32) {
			dy, dx = dy[:len(x)], dx[:len(x)]
			for i, v := range x {
				if clampPass(v, lo, hi) {
					dx[i] = dy[i]
				} else {
					dx[i] = 0
				}
			}
		},
		full: true,
	}, nil
}

func sigmoid32(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

func newSigmoid(n *graph.Node) (Kernel, error) {
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = sigmoid32(v)
			}
		},
		bwd: func(x, y, dy, dx []float32) {
			y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
			for i := range x {
				s := y[i]
				dx[i] = dy[i] * s * (1 - s)
			}
		},
	}, nil
}

func newSilu(n *graph.Node) (Kernel, error) {
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = v * sigmoid32(v)
			}
		},
		bwd: func(x, _, dy, dx []float32) {
			dy, dx = dy[:len(x)], dx[:len(x)]
			for i, v := range x {
				s := sigmoid32(v)
				dx[i] = dy[i] * s * (1 + v*(1-s))
			}
		},
	}, nil
}

func newHardSigmoid(n *graph.Node) (Kernel, error) {
	a := n.Attrs.Float("alpha", 0.2)
	b := n.Attrs.Float("beta", 0.5)
	if finite := func(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }; !finite(a) || !finite(b) {
		return nil, fmt.Errorf("node %q (HardSigmoid): alpha %g and beta %g must be finite", n.Name, a, b)
	}
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = min(max(a*v+b, 0), 1)
			}
		},
		// y is clamped to [0, 1]: the slope is alpha exactly where the clamp
		// did not act (the same test PyTorch's hardsigmoid_backward makes).
		bwd: func(_, y, dy, dx []float32) {
			y, dy, dx = y[:len(dx)], dy[:len(dx)], dx[:len(dx)]
			for i, s := range y {
				if s > 0 && s < 1 {
					dx[i] = a * dy[i]
				} else {
					dx[i] = 0
				}
			}
		},
		full: true,
	}, nil
}

func newHardSwish(n *graph.Node) (Kernel, error) {
	return &actKernel{
		fwd: kernels.HardSwish, // x * relu6(x+3) / 6, in PyTorch's order of operations
		bwd: func(x, _, dy, dx []float32) {
			dy, dx = dy[:len(x)], dx[:len(x)]
			for i, v := range x {
				switch {
				case v < -3:
					dx[i] = 0
				case v <= 3:
					dx[i] = dy[i] * (v/3 + 0.5)
				default:
					dx[i] = dy[i]
				}
			}
		},
		full: true,
	}, nil
}

func init() {
	Register(graph.OpRelu, newRelu)
	Register(graph.OpLeakyRelu, newLeakyRelu)
	Register(graph.OpClip, newClip)
	Register(graph.OpSigmoid, newSigmoid)
	Register(graph.OpSilu, newSilu)
	Register(graph.OpHardSigmoid, newHardSigmoid)
	Register(graph.OpHardSwish, newHardSwish)
}
