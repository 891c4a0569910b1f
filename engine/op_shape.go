package engine

// Data-movement ops: Concat, Flatten, Reshape, Identity, Dropout, Resize.
//
// Identity, Flatten, Reshape (and Dropout at inference) return views that
// share the input's data; their backward passes likewise return views of the
// output gradient. That is safe because kernels never write their inputs and
// the executor never writes a gradient tensor in place.

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// ---- Concat: X1..Xn -> Y, joined along axis (default 1; negative counts from the end).

type concatKernel struct {
	axis int
}

func newConcat(n *graph.Node) (Kernel, error) {
	if len(n.Inputs) == 0 {
		return nil, fmt.Errorf("node %q (Concat): needs at least one input", n.Name)
	}
	return &concatKernel{axis: n.Attrs.Int("axis", 1)}, nil
}

// geometry returns the resolved axis, the product of the dimensions before
// it (outer) and the output shape, or an error when the inputs disagree.
func (k *concatKernel) geometry(in []*tensor.Tensor) (ax, outer int, out []int, err error) {
	for i, t := range in {
		if t == nil {
			return 0, 0, nil, fmt.Errorf("input %d is missing", i)
		}
	}
	r := len(in[0].Shape)
	ax = k.axis
	if ax < 0 {
		ax += r
	}
	if ax < 0 || ax >= r {
		return 0, 0, nil, fmt.Errorf("axis %d out of range for rank %d", k.axis, r)
	}
	out = append([]int(nil), in[0].Shape...)
	for j, t := range in[1:] {
		if len(t.Shape) != r {
			return 0, 0, nil, fmt.Errorf("input %d has shape %v, input 0 has %v: ranks differ", j+1, t.Shape, in[0].Shape)
		}
		for i := range r {
			if i != ax && t.Shape[i] != out[i] {
				return 0, 0, nil, fmt.Errorf("input %d has shape %v, input 0 has %v: they differ off axis %d", j+1, t.Shape, in[0].Shape, ax)
			}
		}
		out[ax] += t.Shape[ax]
	}
	outer = 1
	for _, d := range out[:ax] {
		outer *= d
	}
	return ax, outer, out, nil
}

func (k *concatKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("needs at least one input")
	}
	_, outer, shape, err := k.geometry(in)
	if err != nil {
		return nil, err
	}
	y := ctx.Alloc(shape...)
	row := len(y.Data) / max(outer, 1) // output elements per outer index
	off := 0
	for _, t := range in {
		blk := len(t.Data) / max(outer, 1)
		for o := range outer {
			copy(y.Data[o*row+off:o*row+off+blk], t.Data[o*blk:(o+1)*blk])
		}
		off += blk
	}
	return []*tensor.Tensor{y}, nil
}

func (k *concatKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	dy := gout[0]
	if dy == nil {
		return gin, nil
	}
	_, outer, _, err := k.geometry(in)
	if err != nil {
		return nil, err
	}
	row := len(dy.Data) / max(outer, 1)
	off := 0
	for j, t := range in {
		blk := len(t.Data) / max(outer, 1)
		if j < len(need) && need[j] {
			g := ctx.Alloc(t.Shape...)
			for o := range outer {
				copy(g.Data[o*blk:(o+1)*blk], dy.Data[o*row+off:o*row+off+blk])
			}
			gin[j] = g
		}
		off += blk
	}
	return gin, nil
}

// ---- Flatten, Reshape, Identity: views with a new shape.

// viewKernel returns its input under the shape computed by shape (nil keeps
// it), and the output gradient viewed under the input's shape.
type viewKernel struct {
	shape func(in []int) ([]int, error)
}

func (k *viewKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	x := in[0]
	if k.shape == nil {
		return []*tensor.Tensor{x}, nil
	}
	s, err := k.shape(x.Shape)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{x.Reshape(s...)}, nil
}

func (k *viewKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	if len(gout[0].Data) != len(in[0].Data) {
		return nil, fmt.Errorf("output gradient %v does not match input %v", gout[0].Shape, in[0].Shape)
	}
	gin[0] = gout[0].Reshape(in[0].Shape...)
	return gin, nil
}

func newIdentity(n *graph.Node) (Kernel, error) { return &viewKernel{}, nil }

func newFlatten(n *graph.Node) (Kernel, error) {
	axis := n.Attrs.Int("axis", 1)
	return &viewKernel{shape: func(in []int) ([]int, error) {
		ax := axis
		if ax < 0 {
			ax += len(in)
		}
		if ax < 0 || ax > len(in) {
			return nil, fmt.Errorf("axis %d out of range for input %v", axis, in)
		}
		a, b := 1, 1
		for i, d := range in {
			if i < ax {
				a *= d
			} else {
				b *= d
			}
		}
		return []int{a, b}, nil
	}}, nil
}

func newReshape(n *graph.Node) (Kernel, error) {
	target := n.Attrs.Ints("shape", nil)
	if target == nil {
		return nil, fmt.Errorf("node %q (Reshape): missing attribute shape", n.Name)
	}
	return &viewKernel{shape: func(in []int) ([]int, error) {
		return graph.ReshapeTarget(in, target)
	}}, nil
}

// ---- Dropout: X -> Y; identity at inference, in training each element is
// kept with probability 1-ratio (mask from ctx.RNG) and scaled by 1/(1-ratio).

type dropoutKernel struct {
	ratio float32
	mask  *tensor.Tensor // scale factor per element (0 or 1/(1-ratio)) of the last training pass
}

func newDropout(n *graph.Node) (Kernel, error) {
	r := n.Attrs.Float("ratio", 0.5)
	if !(r >= 0 && r < 1) {
		return nil, fmt.Errorf("node %q (Dropout): ratio %g must be in [0, 1)", n.Name, r)
	}
	if len(n.Inputs) > 1 && (n.Input(1) != "" || n.Input(2) != "") {
		return nil, fmt.Errorf("node %q (Dropout): ratio and training_mode inputs are not supported; use the ratio attribute", n.Name)
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return nil, fmt.Errorf("node %q (Dropout): the mask output %q is not supported", n.Name, n.Outputs[1])
	}
	return &dropoutKernel{ratio: r}, nil
}

func (k *dropoutKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	x := in[0]
	k.mask = nil
	if !ctx.Train || k.ratio == 0 {
		return []*tensor.Tensor{x}, nil
	}
	if ctx.RNG == nil {
		return nil, fmt.Errorf("training-mode Dropout needs a random source")
	}
	k.mask = ctx.Alloc(x.Shape...)
	keep := float32(1 / (1 - float64(k.ratio)))
	p := float64(k.ratio)
	for i := range k.mask.Data {
		if ctx.RNG.Float64() >= p {
			k.mask.Data[i] = keep
		}
	}
	y := ctx.Alloc(x.Shape...)
	for i, v := range x.Data {
		y.Data[i] = v * k.mask.Data[i]
	}
	return []*tensor.Tensor{y}, nil
}

func (k *dropoutKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	dy := gout[0]
	if len(dy.Data) != len(in[0].Data) {
		return nil, fmt.Errorf("output gradient %v does not match input %v", dy.Shape, in[0].Shape)
	}
	if k.mask == nil {
		gin[0] = dy
		return gin, nil
	}
	g := ctx.Alloc(in[0].Shape...)
	for i, v := range dy.Data {
		g.Data[i] = v * k.mask.Data[i]
	}
	gin[0] = g
	return gin, nil
}

// ---- Resize: X[N,C,H,W] -> Y[N,C,H*sh,W*sw], nearest neighbour with integer
// scales (scales = [1,1,sh,sw]): Y[n,c,y,x] = X[n,c,y/sh,x/sw]. For integer
// factors every ONNX coordinate mode and nearest rounding give this mapping.

type resizeKernel struct {
	sh, sw int
}

func newResize(n *graph.Node) (Kernel, error) {
	if m := n.Attrs.String("mode", "nearest"); m != "nearest" {
		return nil, fmt.Errorf("node %q (Resize): mode %q is not supported, only \"nearest\"", n.Name, m)
	}
	sc := n.Attrs.Floats("scales", nil)
	if len(sc) != 4 {
		return nil, fmt.Errorf("node %q (Resize): need 4 scales [1,1,sh,sw], got %v", n.Name, sc)
	}
	integer := func(v float32) bool { return v >= 1 && float64(v) == math.Floor(float64(v)) }
	if sc[0] != 1 || sc[1] != 1 || !integer(sc[2]) || !integer(sc[3]) {
		return nil, fmt.Errorf("node %q (Resize): scales %v: only integer up-scaling of H and W (scales [1,1,sh,sw]) is supported", n.Name, sc)
	}
	return &resizeKernel{sh: int(sc[2]), sw: int(sc[3])}, nil
}

func (k *resizeKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := oneInput(in); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("input %v must be 4-D (NCHW)", x.Shape)
	}
	h, w := x.Shape[2], x.Shape[3]
	oh, ow := h*k.sh, w*k.sw
	y := ctx.Alloc(x.Shape[0], x.Shape[1], oh, ow)
	planes := x.Shape[0] * x.Shape[1]
	run := func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*h*w : (p+1)*h*w]
			dst := y.Data[p*oh*ow : (p+1)*oh*ow]
			for iy := range h {
				row := dst[iy*k.sh*ow : (iy*k.sh+1)*ow]
				for ix, v := range src[iy*w : (iy+1)*w] {
					for j := range k.sw {
						row[ix*k.sw+j] = v
					}
				}
				for r := 1; r < k.sh; r++ {
					copy(dst[(iy*k.sh+r)*ow:(iy*k.sh+r+1)*ow], row)
				}
			}
		}
	}
	if len(y.Data) > parallelMin && planes > 1 {
		kernels.ParallelFor(planes, run)
	} else {
		run(0, planes)
	}
	return []*tensor.Tensor{y}, nil
}

// Backward sums each sh x sw output block into its source pixel.
func (k *resizeKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if len(need) == 0 || !need[0] || gout[0] == nil {
		return gin, nil
	}
	x, dy := in[0], gout[0]
	h, w := x.Shape[2], x.Shape[3]
	oh, ow := h*k.sh, w*k.sw
	if !tensor.SameShape(dy.Shape, []int{x.Shape[0], x.Shape[1], oh, ow}) {
		return nil, fmt.Errorf("output gradient %v does not match output [%d %d %d %d]", dy.Shape, x.Shape[0], x.Shape[1], oh, ow)
	}
	g := ctx.Alloc(x.Shape...)
	planes := x.Shape[0] * x.Shape[1]
	run := func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := dy.Data[p*oh*ow : (p+1)*oh*ow]
			dst := g.Data[p*h*w : (p+1)*h*w]
			for oy := range oh {
				row := dst[(oy/k.sh)*w : (oy/k.sh+1)*w]
				for ox, v := range src[oy*ow : (oy+1)*ow] {
					row[ox/k.sw] += v
				}
			}
		}
	}
	if len(dy.Data) > parallelMin && planes > 1 {
		kernels.ParallelFor(planes, run)
	} else {
		run(0, planes)
	}
	gin[0] = g
	return gin, nil
}

func init() {
	Register(graph.OpConcat, newConcat)
	Register(graph.OpFlatten, newFlatten)
	Register(graph.OpReshape, newReshape)
	Register(graph.OpIdentity, newIdentity)
	Register(graph.OpDropout, newDropout)
	Register(graph.OpResize, newResize)
}
