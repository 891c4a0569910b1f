package engine

// Layout ops of detection heads: Transpose, Slice, Split, Softmax, on
// tensors of any rank (graph/spec_tensor.go gives their semantics).
//
// Transpose and Slice are both strided gathers: output element i...
// reads input element base + sum_k i_k * stride_k. Their backward passes
// are the matching scatters (adding, for Slice, into zeros). Split's
// backward joins the output gradients (zeros for an output nothing reads).
// Softmax's backward is dx = y * (dy - sum(dy * y)) along the axis.

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// stridedRows walks the output of shape (row-major) one innermost row at a
// time: f(o, s, n, step) covers output elements o..o+n-1, which map to
// source elements s, s+step, ... A rank-0 shape is one row of one.
func stridedRows(shape, st []int, base int, f func(o, s, n, step int)) {
	r := len(shape)
	if r == 0 {
		f(0, base, 1, 0)
		return
	}
	for _, d := range shape {
		if d == 0 {
			return
		}
	}
	n, step := shape[r-1], st[r-1]
	idx := make([]int, r-1)
	s := base
	for o := 0; ; o += n {
		f(o, s, n, step)
		k := r - 2
		for ; k >= 0; k-- {
			idx[k]++
			s += st[k]
			if idx[k] < shape[k] {
				break
			}
			s -= st[k] * shape[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// gather copies src at the strided positions into dst (forward), or with
// scatter adds dst into those positions of src (backward).
func gather(dst, src []float32, shape, st []int, base int, scatter bool) {
	stridedRows(shape, st, base, func(o, s, n, step int) {
		d := dst[o : o+n]
		if scatter {
			for i, v := range d {
				src[s+i*step] += v
			}
			return
		}
		if step == 1 {
			copy(d, src[s:s+n])
			return
		}
		for i := range d {
			d[i] = src[s+i*step]
		}
	})
}

// ---- Transpose

type transposeKernel struct{ n *graph.Node }

func newTranspose(n *graph.Node) (Kernel, error) { return &transposeKernel{n}, nil }

// plan returns the output shape and the input strides in output axis order.
func (k *transposeKernel) plan(x []int) (out, st []int, err error) {
	p, err := graph.Perm(k.n, len(x))
	if err != nil {
		return nil, nil, err
	}
	xs := tensor.Strides(x)
	out, st = make([]int, len(p)), make([]int, len(p))
	for i, a := range p {
		out[i], st[i] = x[a], xs[a]
	}
	return out, st, nil
}

func (k *transposeKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	out, st, err := k.plan(in[0].Shape)
	if err != nil {
		return nil, err
	}
	y := ctx.allocRaw(out...)
	gather(y.Data, in[0].Data, out, st, 0, false)
	return []*tensor.Tensor{y}, nil
}

func (k *transposeKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	shape, st, err := k.plan(in[0].Shape)
	if err != nil {
		return nil, err
	}
	dx := ctx.Alloc(in[0].Shape...)
	gather(gout[0].Data, dx.Data, shape, st, 0, true) // a permutation: each dx element written once
	gin[0] = dx
	return gin, nil
}

// ---- Slice

type sliceKernel struct{ n *graph.Node }

func newSlice(n *graph.Node) (Kernel, error) {
	if n.Attrs.Ints("starts", nil) == nil || n.Attrs.Ints("ends", nil) == nil {
		return nil, fmt.Errorf("node %q (Slice): needs starts and ends", n.Name)
	}
	return &sliceKernel{n}, nil
}

func (k *sliceKernel) plan(x []int) (out, st []int, base int, err error) {
	g, err := graph.SliceGeom(k.n, x)
	if err != nil {
		return nil, nil, 0, err
	}
	xs := tensor.Strides(x)
	out, st = make([]int, len(x)), make([]int, len(x))
	for i, a := range g {
		out[i], st[i] = a.Count, xs[i]*a.Step
		base += a.Start * xs[i]
	}
	return out, st, base, nil
}

func (k *sliceKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	out, st, base, err := k.plan(in[0].Shape)
	if err != nil {
		return nil, err
	}
	y := ctx.allocRaw(out...)
	gather(y.Data, in[0].Data, out, st, base, false)
	return []*tensor.Tensor{y}, nil
}

func (k *sliceKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	shape, st, base, err := k.plan(in[0].Shape)
	if err != nil {
		return nil, err
	}
	dx := ctx.Alloc(in[0].Shape...)
	gather(gout[0].Data, dx.Data, shape, st, base, true)
	gin[0] = dx
	return gin, nil
}

// ---- Split

type splitKernel struct{ n *graph.Node }

func newSplit(n *graph.Node) (Kernel, error) {
	if len(n.Outputs) == 0 {
		return nil, fmt.Errorf("node %q (Split): has no outputs", n.Name)
	}
	return &splitKernel{n}, nil
}

// blocks returns, for input shape x, the number of outer blocks, the
// input's row length and each output's row length within a block.
func (k *splitKernel) blocks(x []int) (outer, row int, parts []int, shapes [][]int, err error) {
	ax, sizes, err := graph.SplitSizes(k.n, x)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	outer, inner := 1, 1
	for _, d := range x[:ax] {
		outer *= d
	}
	for _, d := range x[ax+1:] {
		inner *= d
	}
	for _, s := range sizes {
		parts = append(parts, s*inner)
		sh := append([]int(nil), x...)
		sh[ax] = s
		shapes = append(shapes, sh)
	}
	return outer, x[ax] * inner, parts, shapes, nil
}

func (k *splitKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	outer, row, parts, shapes, err := k.blocks(in[0].Shape)
	if err != nil {
		return nil, err
	}
	ys := make([]*tensor.Tensor, len(parts))
	off := 0
	for j, p := range parts {
		y := ctx.allocRaw(shapes[j]...)
		for o := range outer {
			copy(y.Data[o*p:(o+1)*p], in[0].Data[o*row+off:o*row+off+p])
		}
		ys[j] = y
		off += p
	}
	return ys, nil
}

func (k *splitKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] {
		return gin, nil
	}
	outer, row, parts, _, err := k.blocks(in[0].Shape)
	if err != nil {
		return nil, err
	}
	dx := ctx.Alloc(in[0].Shape...)
	off := 0
	for j, p := range parts {
		if j < len(gout) && gout[j] != nil {
			g := gout[j].Data
			for o := range outer {
				copy(dx.Data[o*row+off:o*row+off+p], g[o*p:(o+1)*p])
			}
		}
		off += p
	}
	gin[0] = dx
	return gin, nil
}

// ---- Softmax

type softmaxKernel struct{ n *graph.Node }

func newSoftmax(n *graph.Node) (Kernel, error) { return &softmaxKernel{n}, nil }

// geometry returns the products of the dimensions before the axis (outer)
// and after it (inner), and the axis length.
func (k *softmaxKernel) geometry(x []int) (outer, d, inner int, err error) {
	ax, err := graph.SoftmaxAxis(k.n, len(x))
	if err != nil {
		return 0, 0, 0, err
	}
	outer, inner = 1, 1
	for _, v := range x[:ax] {
		outer *= v
	}
	for _, v := range x[ax+1:] {
		inner *= v
	}
	return outer, x[ax], inner, nil
}

func (k *softmaxKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	outer, d, inner, err := k.geometry(in[0].Shape)
	if err != nil {
		return nil, err
	}
	x := in[0].Data
	y := ctx.allocRaw(in[0].Shape...)
	for o := range outer {
		for i := range inner {
			b := o*d*inner + i
			m := float32(math.Inf(-1))
			for c := range d {
				m = max(m, x[b+c*inner])
			}
			var s float64
			for c := range d {
				e := math.Exp(float64(x[b+c*inner] - m))
				y.Data[b+c*inner] = float32(e)
				s += e
			}
			for c := range d {
				y.Data[b+c*inner] = float32(float64(y.Data[b+c*inner]) / s)
			}
		}
	}
	return []*tensor.Tensor{y}, nil
}

func (k *softmaxKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	outer, d, inner, err := k.geometry(in[0].Shape)
	if err != nil {
		return nil, err
	}
	y, dy := out[0].Data, gout[0].Data
	dx := ctx.allocRaw(in[0].Shape...)
	for o := range outer {
		for i := range inner {
			b := o*d*inner + i
			var s float64
			for c := range d {
				s += float64(dy[b+c*inner]) * float64(y[b+c*inner])
			}
			for c := range d {
				j := b + c*inner
				dx.Data[j] = y[j] * (dy[j] - float32(s))
			}
		}
	}
	gin[0] = dx
	return gin, nil
}

func init() {
	Register(graph.OpTranspose, newTranspose)
	Register(graph.OpSlice, newSlice)
	Register(graph.OpSplit, newSplit)
	Register(graph.OpSoftmax, newSoftmax)
}
