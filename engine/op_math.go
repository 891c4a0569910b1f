package engine

// Exp, Pow (constant exponent), Sub and Div with NumPy broadcasting.
//
// Exp and Pow are element-wise activations (actKernel). Pow computes in
// float64 and rounds, except for the exponents 1, 2 and 0.5 that YOLO
// decoders use, which are exact (x, x*x, sqrt); its derivative is
// p * x^(p-1), 0 for p = 0.
//
// Sub and Div walk the same broadcast plan as Add and Mul (op_arith.go),
// one inner row at a time. Backward: Sub gives dA = reduce(dY) and
// dB = -reduce(dY); Div gives dA = reduce(dY / B) and
// dB = -reduce(dY * A / B^2), reduce summing over each operand's broadcast
// axes. The backward loop is sequential: these ops sit in detection heads
// on small tensors.

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

func newExp(n *graph.Node) (Kernel, error) {
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = float32(math.Exp(float64(v)))
			}
		},
		bwd: func(x, y, dy, dx []float32) {
			y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
			for i := range x {
				dx[i] = dy[i] * y[i]
			}
		},
		full: true,
	}, nil
}

// pow32 is x^p in float32 (exact for p = 1, 2, 0.5).
func pow32(x, p float32) float32 {
	switch p {
	case 1:
		return x
	case 2:
		return x * x
	case 0.5:
		return float32(math.Sqrt(float64(x)))
	}
	return float32(math.Pow(float64(x), float64(p)))
}

func newPow(n *graph.Node) (Kernel, error) {
	p := n.Attrs.Float("exponent", 2)
	if math.IsNaN(float64(p)) || math.IsInf(float64(p), 0) {
		return nil, fmt.Errorf("node %q (Pow): exponent %g must be finite", n.Name, p)
	}
	return &actKernel{
		fwd: func(x, y []float32) {
			y = y[:len(x)]
			for i, v := range x {
				y[i] = pow32(v, p)
			}
		},
		bwd: func(x, _, dy, dx []float32) {
			dy, dx = dy[:len(x)], dx[:len(x)]
			for i, v := range x {
				if p == 0 {
					dx[i] = 0
				} else {
					dx[i] = dy[i] * p * pow32(v, p-1)
				}
			}
		},
		full: true,
	}, nil
}

// subDivKernel implements Sub (div false) and Div (div true).
type subDivKernel struct {
	div bool
}

func newSubDiv(div bool) Factory {
	return func(n *graph.Node) (Kernel, error) {
		if len(n.Inputs) != 2 {
			return nil, fmt.Errorf("node %q (%s): needs inputs A and B, has %d inputs", n.Name, n.Op, len(n.Inputs))
		}
		return &subDivKernel{div: div}, nil
	}
}

// walk calls f(o, ia, ib, sa, sb, n) for each inner row of the broadcast of
// a and b: n output elements from o, operand offsets ia, ib and strides
// sa, sb (0 where broadcast).
func walk(p *bcastPlan, f func(o, ia, ib, sa, sb, n int)) {
	n, rows := p.inner()
	sa, sb := p.sa[len(p.sa)-1], p.sb[len(p.sb)-1]
	p.rows(0, rows, func(o, ia, ib int) { f(o, ia, ib, sa, sb, n) })
}

func (k *subDivKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("needs inputs A and B")
	}
	p, err := newBcastPlan(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	a, b := in[0].Data, in[1].Data
	y := ctx.allocRaw(p.out...)
	walk(p, func(o, ia, ib, sa, sb, n int) {
		d := y.Data[o : o+n]
		for i := range d {
			if k.div {
				d[i] = a[ia+i*sa] / b[ib+i*sb]
			} else {
				d[i] = a[ia+i*sa] - b[ib+i*sb]
			}
		}
	})
	return []*tensor.Tensor{y}, nil
}

func (k *subDivKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, 2)
	dy := gout[0]
	if dy == nil {
		return gin, nil
	}
	p, err := newBcastPlan(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	if !tensor.SameShape(dy.Shape, p.out) {
		return nil, fmt.Errorf("output gradient %v does not match output %v", dy.Shape, p.out)
	}
	var ga, gb []float32
	if len(need) > 0 && need[0] {
		gin[0] = ctx.Alloc(in[0].Shape...)
		ga = gin[0].Data
	}
	if len(need) > 1 && need[1] {
		gin[1] = ctx.Alloc(in[1].Shape...)
		gb = gin[1].Data
	}
	a, b := in[0].Data, in[1].Data
	walk(p, func(o, ia, ib, sa, sb, n int) {
		for i, g := range dy.Data[o : o+n] {
			ja, jb := ia+i*sa, ib+i*sb
			switch {
			case k.div:
				if ga != nil {
					ga[ja] += g / b[jb]
				}
				if gb != nil {
					gb[jb] -= g * a[ja] / (b[jb] * b[jb])
				}
			default:
				if ga != nil {
					ga[ja] += g
				}
				if gb != nil {
					gb[jb] -= g
				}
			}
		}
	})
	return gin, nil
}

func init() {
	Register(graph.OpExp, newExp)
	Register(graph.OpPow, newPow)
	Register(graph.OpSub, newSubDiv(false))
	Register(graph.OpDiv, newSubDiv(true))
}
