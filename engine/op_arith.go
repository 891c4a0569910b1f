package engine

// Add and Mul with NumPy (multidirectional) broadcasting.
//
// Inputs A and B may have any shapes that broadcast (graph.Broadcast); the
// output has the broadcast shape. The gradient of an operand that was
// broadcast is summed over the broadcast axes back to its own shape.
//
// Both passes walk a "plan": the output's dimensions with each operand's
// element strides (0 on a broadcast axis), after merging neighbouring axes
// that can be walked as one. The common cases then reduce to one contiguous
// inner loop: equal shapes become a single axis; a per-channel operand
// [1,C,1,1] or [N,C,1,1] against [N,C,H,W] becomes rows of H*W with the
// operand constant along each row (the BN-like and squeeze-excitation cases).

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// bcastPlan describes how two operands map onto their broadcast output.
type bcastPlan struct {
	out    []int // broadcast output shape
	dims   []int // merged axes; the last is the inner loop
	sa, sb []int // element strides of A and B per merged axis (0: broadcast)
	full   [2]bool
}

// newBcastPlan merges axes of the broadcast of shapes a and b. It errors when
// they do not broadcast.
func newBcastPlan(a, b []int) (*bcastPlan, error) {
	out, err := graph.Broadcast(a, b)
	if err != nil {
		return nil, err
	}
	r := len(out)
	strides := func(s []int) []int {
		st := make([]int, r)
		acc := 1
		for i := r - 1; i >= 0; i-- {
			j := len(s) - r + i
			if j < 0 || s[j] == 1 {
				st[i] = 0
			} else {
				st[i] = acc
			}
			if j >= 0 {
				acc *= s[j]
			}
		}
		return st
	}
	fa, fb := strides(a), strides(b)
	p := &bcastPlan{out: out}
	p.full[0] = tensor.Size(a) == tensor.Size(out)
	p.full[1] = tensor.Size(b) == tensor.Size(out)
	for i := range r {
		if out[i] == 1 {
			continue // size-1 axes do not move any index
		}
		if k := len(p.dims) - 1; k >= 0 && p.sa[k] == fa[i]*out[i] && p.sb[k] == fb[i]*out[i] {
			p.dims[k] *= out[i]
			p.sa[k], p.sb[k] = fa[i], fb[i]
			continue
		}
		p.dims = append(p.dims, out[i])
		p.sa = append(p.sa, fa[i])
		p.sb = append(p.sb, fb[i])
	}
	if len(p.dims) == 0 { // a single element
		p.dims, p.sa, p.sb = []int{1}, []int{0}, []int{0}
	}
	return p, nil
}

// inner returns the length of the inner loop and the number of rows.
func (p *bcastPlan) inner() (n, rows int) {
	n = p.dims[len(p.dims)-1]
	rows = 1
	for _, d := range p.dims[:len(p.dims)-1] {
		rows *= d
	}
	return n, rows
}

// rows calls f(o, ia, ib) for rows [lo, hi) of the plan, where o is the
// output offset of the row start and ia, ib the operands' offsets.
func (p *bcastPlan) rows(lo, hi int, f func(o, ia, ib int)) {
	k := len(p.dims) - 1
	n := p.dims[k]
	if k == 0 {
		if lo < hi {
			f(0, 0, 0)
		}
		return
	}
	// Decompose lo into a multi-index over the outer axes.
	idx := make([]int, k)
	ia, ib := 0, 0
	r := lo
	for i := k - 1; i >= 0; i-- {
		idx[i] = r % p.dims[i]
		r /= p.dims[i]
		ia += idx[i] * p.sa[i]
		ib += idx[i] * p.sb[i]
	}
	for row := lo; row < hi; row++ {
		f(row*n, ia, ib)
		for i := k - 1; i >= 0; i-- {
			idx[i]++
			ia += p.sa[i]
			ib += p.sb[i]
			if idx[i] < p.dims[i] {
				break
			}
			ia -= p.sa[i] * p.dims[i]
			ib -= p.sb[i] * p.dims[i]
			idx[i] = 0
		}
	}
}

// binKernel implements Add (mul false) and Mul (mul true).
type binKernel struct {
	mul bool
	// relu: the executor fused the Relu reading this Add's output (a
	// residual join): Forward writes max(A+B, 0) and Backward masks dY by
	// the output first.
	relu bool
	// masked: the output gradient the executor already masked by the
	// ReLU (Executor.sumGrads), for the next Backward; nil: none.
	masked *tensor.Tensor
	// pendIn: the deferred output of the BatchNormalization that alone
	// feeds an operand (bn_add.go), for the next Forward.
	pendIn *bnOut
	// bnIn: that BN (linkBNGrads); bnAdded: the last Forward added its
	// deferred output (same shapes), so the output gradient is its dY.
	bnIn    *bnKernel
	bnAdded bool
	plan    *bcastPlan
	a, b    []int // shapes the plan was built for
}

func newBin(mul bool) Factory {
	return func(n *graph.Node) (Kernel, error) {
		if len(n.Inputs) != 2 {
			return nil, fmt.Errorf("node %q (%s): needs inputs A and B, has %d inputs", n.Name, n.Op, len(n.Inputs))
		}
		return &binKernel{mul: mul}, nil
	}
}

func (k *binKernel) planFor(a, b []int) (*bcastPlan, error) {
	if k.plan != nil && tensor.SameShape(a, k.a) && tensor.SameShape(b, k.b) {
		return k.plan, nil
	}
	p, err := newBcastPlan(a, b)
	if err != nil {
		return nil, err
	}
	k.plan, k.a, k.b = p, append(k.a[:0], a...), append(k.b[:0], b...)
	return p, nil
}

func (k *binKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("needs inputs A and B")
	}
	k.bnAdded = false
	if o, j := k.takeBN(in); o != nil {
		if other := in[1-j]; !k.mul && tensor.SameShape(other.Shape, o.tok.Shape) {
			k.bnAdded = true
			return []*tensor.Tensor{k.forwardBN(ctx, o, j, other)}, nil
		}
		in = []*tensor.Tensor{in[0], in[1]} // the executor's slice keeps the placeholder
		in[j] = o.materialize(ctx)
	}
	a, b := in[0], in[1]
	p, err := k.planFor(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	y := ctx.allocRaw(p.out...) // every element is written below
	n, rows := p.inner()
	sa, sb := p.sa[len(p.sa)-1], p.sb[len(p.sb)-1]
	row := func(o, ia, ib int) {
		yr := y.Data[o : o+n]
		switch {
		case sa == 1 && sb == 1:
			ar, br := a.Data[ia:ia+n], b.Data[ib:ib+n]
			if k.mul {
				kernels.Mul(ar, br, yr)
			} else {
				kernels.Add(ar, br, yr, k.relu)
				return
			}
		case sa == 1 && sb == 0:
			ar, bv := a.Data[ia:ia+n], b.Data[ib]
			if k.mul { // a squeeze-and-excitation block's channel scale
				kernels.Scale(ar, yr, bv)
			} else {
				for i := range yr {
					yr[i] = ar[i] + bv
				}
			}
		case sa == 0 && sb == 1:
			av, br := a.Data[ia], b.Data[ib:ib+n]
			if k.mul {
				kernels.Scale(br, yr, av)
			} else {
				for i := range yr {
					yr[i] = av + br[i]
				}
			}
		default:
			for i := range yr {
				av, bv := a.Data[ia+i*sa], b.Data[ib+i*sb]
				if k.mul {
					yr[i] = av * bv
				} else {
					yr[i] = av + bv
				}
			}
		}
		if k.relu {
			vecRelu(yr, yr)
		}
	}
	switch {
	case rows == 1 && sa == 1 && sb == 1:
		// Same shapes: one contiguous run, split over the workers (a
		// residual Add of a ResNet) instead of run by one of them.
		forChunks(n, func(lo, hi int) {
			yr := y.Data[lo:hi]
			if !k.mul {
				kernels.Add(a.Data[lo:hi], b.Data[lo:hi], yr, k.relu)
				return
			}
			kernels.Mul(a.Data[lo:hi], b.Data[lo:hi], yr)
			if k.relu {
				vecRelu(yr, yr)
			}
		})
	case len(y.Data) > parallelMin && rows > 1:
		kernels.ParallelFor(rows, func(lo, hi int) { p.rows(lo, hi, row) })
	default:
		p.rows(0, rows, row)
	}
	return []*tensor.Tensor{y}, nil
}

// Backward: dA = reduce(dY * B), dB = reduce(dY * A) for Mul; dA = reduce(dY),
// dB = reduce(dY) for Add, reduce summing over the operand's broadcast axes.
// An Add operand of the output's shape gets dY itself (gradients are never
// written in place, so sharing is safe).
func (k *binKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, 2)
	dy := gout[0]
	if dy == nil {
		return gin, nil
	}
	p, err := k.planFor(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	if !tensor.SameShape(dy.Shape, p.out) {
		return nil, fmt.Errorf("output gradient %v does not match output %v", dy.Shape, p.out)
	}
	masked := k.masked == dy
	k.masked = nil
	if k.relu && !masked {
		if len(out) < 1 || out[0] == nil || !tensor.SameShape(out[0].Shape, p.out) {
			return nil, fmt.Errorf("fused Add+Relu backward needs its forward output")
		}
		g := ctx.allocRaw(p.out...)
		forChunks(len(g.Data), func(lo, hi int) {
			vecReluBwd(out[0].Data[lo:hi], dy.Data[lo:hi], g.Data[lo:hi])
		})
		dy = g
	}
	for j := range 2 {
		if j >= len(need) || !need[j] {
			continue
		}
		if !k.mul && p.full[j] {
			gin[j] = dy.Reshape(in[j].Shape...)
			continue
		}
		gin[j] = k.reduceGrad(ctx, p, j, in, dy)
	}
	return gin, nil
}

// reduceGrad returns d loss / d operand j: the sum, over the output elements
// that read each operand element, of dY (Add) or dY times the other operand
// (Mul).
func (k *binKernel) reduceGrad(ctx *Ctx, p *bcastPlan, j int, in []*tensor.Tensor, dy *tensor.Tensor) *tensor.Tensor {
	g := ctx.Alloc(in[j].Shape...)
	other := in[1-j]
	n, rows := p.inner()
	sx, so := p.sa[len(p.sa)-1], p.sb[len(p.sb)-1]
	if j == 1 {
		sx, so = so, sx
	}
	accum := func(gd []float32) func(o, ia, ib int) {
		return func(o, ia, ib int) {
			ix, io := ia, ib
			if j == 1 {
				ix, io = ib, ia
			}
			d := dy.Data[o : o+n]
			switch {
			case !k.mul && sx == 1:
				gr := gd[ix : ix+n]
				for i, v := range d {
					gr[i] += v
				}
			case !k.mul && sx == 0:
				var s float32
				for _, v := range d {
					s += v
				}
				gd[ix] += s
			case !k.mul:
				for i, v := range d {
					gd[ix+i*sx] += v
				}
			case sx == 1 && so == 1:
				gr, or := gd[ix:ix+n], other.Data[io:io+n]
				for i, v := range d {
					gr[i] += v * or[i]
				}
			case sx == 1 && so == 0:
				gr, ov := gd[ix:ix+n], other.Data[io]
				for i, v := range d {
					gr[i] += v * ov
				}
			case sx == 0 && so == 1:
				var s float32
				or := other.Data[io : io+n]
				for i, v := range d {
					s += v * or[i]
				}
				gd[ix] += s
			default:
				for i, v := range d {
					gd[ix+i*sx] += v * other.Data[io+i*so]
				}
			}
		}
	}
	switch {
	case len(dy.Data) <= parallelMin || rows < 2:
		p.rows(0, rows, accum(g.Data))
	case p.full[j]:
		// Every operand element is read by exactly one output element, so
		// row chunks write disjoint parts of g.
		kernels.ParallelFor(rows, func(lo, hi int) { p.rows(lo, hi, accum(g.Data)) })
	default:
		// Row chunks may hit the same operand elements: give each chunk its
		// own partial sum and add them in chunk order (deterministic for a
		// fixed thread count).
		t := min(kernels.Threads(), rows)
		parts := make([]*tensor.Tensor, t)
		for c := range parts {
			parts[c] = ctx.Alloc(len(g.Data))
		}
		kernels.ParallelFor(t, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				p.rows(c*rows/t, (c+1)*rows/t, accum(parts[c].Data))
			}
		})
		for _, part := range parts {
			for i, v := range part.Data {
				g.Data[i] += v
			}
		}
	}
	return g
}

func init() {
	Register(graph.OpAdd, newBin(false))
	Register(graph.OpMul, newBin(true))
}
