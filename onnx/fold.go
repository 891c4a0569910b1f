package onnx

import (
	"fmt"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

// foldConst evaluates a node whose inputs are all constants when its op is
// one exporters use to build constants (Concat of scale pieces, Transpose of
// a weight, Cast, Unsqueeze, Squeeze, Reshape, Identity; the shape
// arithmetic of fold_shape.go: Slice, Add/Sub/Mul/Div, ConstantOfShape),
// storing the result
// as a constant instead of emitting a node. It reports whether it did.
func (im *importer) foldConst(n *graph.Node, p *pb.NodeProto) (bool, error) {
	var in []*constant
	for _, name := range n.Inputs {
		if name == "" {
			in = append(in, nil)
			continue
		}
		c, ok := im.consts[name]
		if !ok {
			return false, nil
		}
		in = append(in, c)
	}
	if len(in) == 0 || in[0] == nil || len(n.Outputs) != 1 {
		return false, nil
	}
	attrs := map[string]*pb.AttributeProto{}
	for _, a := range p.GetAttribute() {
		attrs[a.GetName()] = a
	}
	fold := folders[n.Op]
	if fold == nil {
		return false, nil
	}
	if err := im.foldBudget(n, in); err != nil {
		return false, err
	}
	out, err := fold(im, n, attrs, in)
	if err != nil || out == nil {
		return false, err
	}
	im.consts[n.Outputs[0]] = out
	return true, nil
}

// folder computes a constant node's output; nil (and no error) leaves the
// node unfolded.
type folder func(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error)

// folders are the ops foldConst evaluates, by ONNX op type.
var folders map[string]folder

func init() {
	folders = map[string]folder{
		"Identity": foldIdentity, "Cast": foldCast, "Concat": foldConcat, "Transpose": foldTranspose,
		"Gather": foldGather, "Unsqueeze": foldSqueeze, "Squeeze": foldSqueeze, "Reshape": foldReshape,
		"Slice": foldSlice, "Add": foldArith, "Sub": foldArith, "Mul": foldArith, "Div": foldArith,
		"ConstantOfShape": foldConstantOfShape,
	}
}

// foldBudget makes ops that copy data spend from the import's budget
// before allocating.
func (im *importer) foldBudget(n *graph.Node, in []*constant) error {
	switch n.Op {
	case "Cast", "Transpose", "Identity":
		if err := im.spend(n, len(in[0].F)+len(in[0].I)); err != nil {
			return err
		}
	case "Concat":
		for _, c := range in {
			if c != nil {
				if err := im.spend(n, len(c.F)+len(c.I)); err != nil {
					return err
				}
			}
		}
	case "Gather":
		if len(in) == 2 && in[1] != nil {
			inner := 1
			for _, d := range in[0].Shape[min(1, len(in[0].Shape)):] {
				inner *= d
			}
			if int64(len(in[1].I))*int64(inner) > MaxElements {
				return nodeErr(n, "result exceeds %d elements", MaxElements)
			}
			if err := im.spend(n, len(in[1].I)*inner); err != nil {
				return err
			}
		}
	}
	return nil
}

func foldIdentity(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	// A copy, not the same values: PyTorch writes identical
	// initializers once and the others as Identity of it (a fresh
	// model's BN gammas, running variances and zero biases), and each
	// must become a parameter of its own that training changes alone.
	out = &constant{Shape: slices.Clone(in[0].Shape), F: slices.Clone(in[0].F), I: slices.Clone(in[0].I)}
	return out, nil
}

func foldCast(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	to, err := attrInt(n, attrs, "to", 0)
	if err != nil {
		return nil, err
	}
	switch int32(to) {
	case dtFloat, dtDouble:
		out = &constant{Shape: in[0].Shape, F: in[0].floats()}
	case dtInt64, dtInt32:
		v, err := in[0].ints()
		if err != nil {
			return nil, nodeErr(n, "casting constant %q: %v", n.Inputs[0], err)
		}
		out = &constant{Shape: in[0].Shape, I: toInt64(v)}
	default:
		return nil, nodeErr(n, "attribute to=%s is not supported", dtypeName(int32(to)))
	}
	return out, nil
}

func foldConcat(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	ax, err := attrInt(n, attrs, "axis", 0)
	if err != nil {
		return nil, err
	}
	if ax != 0 && !(ax == -1 && len(in[0].Shape) == 1) {
		return nil, nodeErr(n, "folding a constant Concat on axis %d is not supported", ax)
	}
	out = &constant{Shape: slices.Clone(in[0].Shape)}
	if len(out.Shape) == 0 {
		return nil, nodeErr(n, "cannot concatenate scalars")
	}
	out.Shape[0] = 0
	isInt := in[0].isInt()
	for _, c := range in {
		if c == nil || len(c.Shape) != len(in[0].Shape) || c.isInt() != isInt || !slices.Equal(c.Shape[1:], in[0].Shape[1:]) {
			return nil, nodeErr(n, "constant inputs do not concatenate")
		}
		out.Shape[0] += c.Shape[0]
		if isInt {
			out.I = append(out.I, c.I...)
		} else {
			out.F = append(out.F, c.F...)
		}
	}
	if isInt && out.I == nil {
		out.I = []int64{}
	}
	return out, nil
}

func foldTranspose(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	c := in[0]
	perm, ok, err := attrInts(n, attrs, "perm")
	if err != nil {
		return nil, err
	}
	r := len(c.Shape)
	if !ok {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	if len(perm) != r {
		return nil, nodeErr(n, "attribute perm=%v for a rank-%d constant", perm, r)
	}
	out = transposeConst(c, perm)
	if out == nil {
		return nil, nodeErr(n, "attribute perm=%v is not a permutation", perm)
	}
	if r == 2 && perm[0] == 1 {
		im.transposeOf[n.Outputs[0]] = n.Inputs[0]
	}
	return out, nil
}

func foldGather(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	// Gather(data, indices) on axis 0: how a shared (codebook) weight is
	// expanded; folding it lets such files re-import as plain weights.
	ax, err := attrInt(n, attrs, "axis", 0)
	if err != nil {
		return nil, err
	}
	if len(in) != 2 || in[1] == nil || ax != 0 || len(in[0].Shape) == 0 || !in[1].isInt() {
		return nil, nodeErr(n, "only Gather of constants on axis 0 with integer indices is supported")
	}
	data, idx := in[0], in[1].I
	rows := data.Shape[0]
	inner := 1
	for _, d := range data.Shape[1:] {
		inner *= d
	}
	out = &constant{Shape: append(slices.Clone(in[1].Shape), data.Shape[1:]...)}
	for _, ix := range idx {
		if ix < 0 {
			ix += int64(rows)
		}
		if ix < 0 || ix >= int64(rows) {
			return nil, nodeErr(n, "index %d out of range for %d rows", ix, rows)
		}
		if data.isInt() {
			out.I = append(out.I, data.I[int(ix)*inner:(int(ix)+1)*inner]...)
		} else {
			out.F = append(out.F, data.F[int(ix)*inner:(int(ix)+1)*inner]...)
		}
	}
	if out.F == nil && out.I == nil {
		out.I = []int64{}
	}
	return out, nil
}

func foldSqueeze(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	axes, _, err := attrInts(n, attrs, "axes")
	if err != nil {
		return nil, err
	}
	if len(in) > 1 && in[1] != nil {
		if axes, err = in[1].ints(); err != nil {
			return nil, nodeErr(n, "axes: %v", err)
		}
	}
	shape, err := squeezeShape(in[0].Shape, axes, n.Op == "Unsqueeze")
	if err != nil {
		return nil, nodeErr(n, "%v", err)
	}
	out = &constant{Shape: shape, F: in[0].F, I: in[0].I}
	return out, nil
}

func foldReshape(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	var out *constant
	if len(in) < 2 || in[1] == nil {
		return nil, nil
	}
	s, err := in[1].ints()
	if err != nil {
		return nil, nodeErr(n, "shape: %v", err)
	}
	shape, err := graph.ReshapeTarget(in[0].Shape, s)
	if err != nil {
		return nil, nodeErr(n, "%v", err)
	}
	out = &constant{Shape: shape, F: in[0].F, I: in[0].I}
	return out, nil
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// transposeConst permutes the axes of c, or returns nil for a bad perm.
func transposeConst(c *constant, perm []int) *constant {
	r := len(c.Shape)
	seen := make([]bool, r)
	shape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			return nil
		}
		seen[p] = true
		shape[i] = c.Shape[p]
	}
	// strides of the source
	st := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = s
		s *= c.Shape[i]
	}
	out := &constant{Shape: shape}
	n := s
	src := make([]int, n) // index of source element for each output element
	idx := make([]int, r)
	for o := range n {
		off := 0
		for i := range r {
			off += idx[i] * st[perm[i]]
		}
		src[o] = off
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	if c.isInt() {
		out.I = make([]int64, n)
		for o, k := range src {
			out.I[o] = c.I[k]
		}
	} else {
		out.F = make([]float32, n)
		for o, k := range src {
			out.F[o] = c.F[k]
		}
	}
	return out
}

// squeezeShape applies Unsqueeze (insert size-1 axes) or Squeeze (remove the
// listed, or all, size-1 axes) to a shape.
func squeezeShape(shape, axes []int, unsqueeze bool) ([]int, error) {
	if unsqueeze {
		r := len(shape) + len(axes)
		ins := make([]bool, r)
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a < 0 || a >= r || ins[a] {
				return nil, fmt.Errorf("axes %v out of range for rank %d", axes, r)
			}
			ins[a] = true
		}
		out := make([]int, 0, r)
		j := 0
		for i := range r {
			if ins[i] {
				out = append(out, 1)
			} else {
				out = append(out, shape[j])
				j++
			}
		}
		return out, nil
	}
	drop := make([]bool, len(shape))
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) || shape[a] != 1 {
			return nil, fmt.Errorf("cannot squeeze axes %v of shape %v", axes, shape)
		}
		drop[a] = true
	}
	var out []int
	for i, d := range shape {
		if (len(axes) == 0 && d == 1) || drop[i] {
			continue
		}
		out = append(out, d)
	}
	if out == nil {
		out = []int{}
	}
	return out, nil
}
