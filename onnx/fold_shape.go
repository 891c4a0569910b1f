package onnx

// Folding of the shape arithmetic PyTorch writes for x.shape, view(...),
// chunk(...) and F.interpolate(size=...): Shape of a value whose shape is
// known (the graph's input shape is fixed, as torch.onnx.export fixes it
// by default with batch 1), then Gather, Slice, Unsqueeze, Concat, Cast,
// ConstantOfShape and integer Add/Sub/Mul/Div on the result. Those become
// constants at import, so Reshape, Slice, Split and Resize get the
// constant inputs their import hooks need. With a dynamic batch alone the
// chains fold at batch 1 and importModel checks the result against a
// second import at batch 2; a Shape reading any other dynamic dimension
// is an error naming the node.

import (
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// shapeOf returns the shape of value name as far as the nodes imported so
// far determine it (graph inputs with their declared shapes), with -1 for
// the dimensions that follow a dynamic input dimension: shapes are
// inferred twice, with dynamic input dimensions set to 1 and to 2, and
// the dimensions that differ are dynamic. It errors, naming n, when the
// shape cannot be inferred.
func (im *importer) shapeOf(n *graph.Node, name string) ([]int, error) {
	if c, ok := im.consts[name]; ok {
		return c.Shape, nil
	}
	if im.shapes[0] == nil {
		im.shapes = [2]map[string][]int{{}, {}}
		for pass, fill := range []int{1, 2} {
			for _, v := range im.g.Inputs {
				s := slices.Clone(v.Shape)
				for i := range s {
					if s[i] < 0 {
						s[i] = fill
					}
				}
				im.shapes[pass][v.Name] = s
			}
		}
	}
	for ; im.shaped < len(im.g.Nodes); im.shaped++ {
		m := im.g.Nodes[im.shaped]
		for pass := range 2 {
			out, err := im.nodeShape(m, im.shapes[pass])
			if err != nil && pass == 0 {
				return nil, err
			}
			for i, o := range m.Outputs {
				if i < len(out) && o != "" {
					im.shapes[pass][o] = out[i]
				}
			}
		}
	}
	s, ok := im.shapes[0][name]
	if !ok {
		return nil, nodeErr(n, "cannot infer the shape of %q", name)
	}
	s = slices.Clone(s)
	s2 := im.shapes[1][name]
	for i := range s {
		if len(s2) != len(s) || s2[i] != s[i] {
			s[i] = -1
		}
	}
	return s, nil
}

// nodeShape infers the output shapes of imported node m from the shapes
// of its inputs (constants have theirs; a Resize given by sizes has them).
func (im *importer) nodeShape(m *graph.Node, shapes map[string][]int) ([][]int, error) {
	in := make([][]int, len(m.Inputs))
	for i, x := range m.Inputs {
		if x == "" {
			continue
		}
		if c, ok := im.consts[x]; ok {
			in[i] = c.Shape
		} else if in[i] = shapes[x]; in[i] == nil {
			return nil, nil // unknown input: so are the outputs
		}
	}
	if sz, ok := im.pendingSizes[m]; ok {
		return [][]int{sz}, nil
	}
	s := graph.Spec(m.Op)
	if s == nil || s.Shape == nil {
		return nil, nil
	}
	out, err := s.Shape(m, in)
	if err != nil {
		return nil, nodeErr(m, "%v", err)
	}
	return out, nil
}

// batchOnlyDynamic reports whether the graph has one input whose only
// dynamic dimension is the first (the batch of a dynamic_axes export).
func (im *importer) batchOnlyDynamic() bool {
	if len(im.g.Inputs) != 1 {
		return false
	}
	s := im.g.Inputs[0].Shape
	return len(s) > 0 && s[0] < 0 && !slices.ContainsFunc(s[1:], func(d int) bool { return d < 0 })
}

// shapeNode folds Shape (start and end attributes from opset 15) into an
// INT64 constant.
func (im *importer) shapeNode(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "start", "end")
	if err != nil {
		return err
	}
	if len(n.Inputs) != 1 || len(n.Outputs) != 1 {
		return nodeErr(n, "needs 1 input and 1 output")
	}
	s, err := im.shapeOf(n, n.Inputs[0])
	if err != nil {
		return err
	}
	if slices.Contains(s, -1) {
		if !im.batchOnlyDynamic() {
			return nodeErr(n, "the shape of %q is %v, with dynamic dimensions (-1); Shape is folded only for fixed input shapes, or a dynamic batch alone (export with a fixed input size)", n.Inputs[0], s)
		}
		// A dynamic batch alone: fold at batch 1 and fix the input's batch
		// at 1; finish frees it again when the graph verifiably runs at
		// batch 2 (freeBatch), as for a file that fixed it at 1.
		s = im.shapes[0][n.Inputs[0]]
		im.bakedBatch = true
	}
	r := len(s)
	lo, err := attrInt(n, a, "start", 0)
	if err != nil {
		return err
	}
	hi, err := attrInt(n, a, "end", r)
	if err != nil {
		return err
	}
	clamp := func(v int) int {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	lo, hi = clamp(lo), clamp(hi)
	out := &constant{Shape: []int{max(0, hi-lo)}, I: []int64{}}
	for _, d := range s[lo:max(lo, hi)] {
		out.I = append(out.I, int64(d))
	}
	im.consts[n.Outputs[0]] = out
	return nil
}

// foldSlice slices a constant (Slice opset 10+ inputs, or the attributes
// before).
func foldSlice(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	m := &graph.Node{Name: n.Name, Op: graph.OpSlice, Attrs: graph.Attrs{}}
	for i, k := range []string{"starts", "ends", "axes", "steps"} {
		var v []int
		if im.opset < 10 {
			var err error
			if v, _, err = attrInts(n, attrs, k); err != nil {
				return nil, err
			}
		} else if i+1 < len(in) && in[i+1] != nil {
			var err error
			if v, err = in[i+1].ints(); err != nil {
				return nil, nodeErr(n, "input %s: %v", k, err)
			}
		}
		if v != nil {
			m.Attrs[k] = v
		}
	}
	geo, err := graph.SliceGeom(m, in[0].Shape)
	if err != nil {
		return nil, nodeErr(n, "%v", err)
	}
	shape := make([]int, len(geo))
	cnt := 1
	for i, a := range geo {
		shape[i] = a.Count
		cnt *= a.Count
	}
	if err := im.spend(n, cnt); err != nil {
		return nil, err
	}
	st := tensor.Strides(in[0].Shape)
	out := &constant{Shape: shape}
	for f := range cnt {
		off, r := 0, f
		for i := len(shape) - 1; i >= 0; i-- {
			k := r % shape[i]
			r /= shape[i]
			off += (geo[i].Start + k*geo[i].Step) * st[i]
		}
		if in[0].isInt() {
			out.I = append(out.I, in[0].I[off])
		} else {
			out.F = append(out.F, in[0].F[off])
		}
	}
	if out.I == nil && out.F == nil {
		out.I = []int64{}
	}
	return out, nil
}

// foldArith computes Add, Sub, Mul or Div of two constants with
// broadcasting: in integers (division truncating, as ONNX Runtime) when
// both are integers, otherwise in float32.
func foldArith(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	if len(in) != 2 || in[1] == nil {
		return nil, nodeErr(n, "needs 2 inputs")
	}
	a, b := in[0], in[1]
	shape, err := graph.Broadcast(a.Shape, b.Shape)
	if err != nil {
		return nil, nodeErr(n, "%v", err)
	}
	cnt := 1
	for _, d := range shape {
		cnt *= d
	}
	if err := im.spend(n, cnt); err != nil {
		return nil, err
	}
	index := func(c *constant, f int) int {
		off, st := 0, 1
		for i := len(shape) - 1; i >= 0; i-- {
			k := f % shape[i]
			f /= shape[i]
			if j := len(c.Shape) - len(shape) + i; j >= 0 {
				if c.Shape[j] > 1 {
					off += k * st
				}
				st *= c.Shape[j]
			}
		}
		return off
	}
	out := &constant{Shape: shape}
	isInt := a.isInt() && b.isInt()
	af, bf := a.floats(), b.floats()
	for f := range cnt {
		ia, ib := index(a, f), index(b, f)
		if isInt {
			if n.Op == "Div" && b.I[ib] == 0 {
				return nil, nodeErr(n, "integer division by zero")
			}
			out.I = append(out.I, arith(n.Op, a.I[ia], b.I[ib]))
			continue
		}
		out.F = append(out.F, arith(n.Op, af[ia], bf[ib]))
	}
	if out.I == nil && out.F == nil {
		out.I = []int64{}
	}
	return out, nil
}

// foldConstantOfShape fills a constant of the given shape with the value
// attribute (default float 0).
func foldConstantOfShape(im *importer, n *graph.Node, attrs map[string]*pb.AttributeProto, in []*constant) (*constant, error) {
	shape, err := in[0].ints()
	if err != nil || len(in[0].Shape) != 1 {
		return nil, nodeErr(n, "input shape must be a 1-D integer tensor")
	}
	cnt := 1
	for _, d := range shape {
		if d < 0 || d > MaxElements {
			return nil, nodeErr(n, "shape %v is out of range", shape)
		}
		cnt *= d
		if cnt > MaxElements {
			return nil, nodeErr(n, "shape %v exceeds %d elements", shape, MaxElements)
		}
	}
	if err := im.spend(n, cnt); err != nil {
		return nil, err
	}
	val := &constant{Shape: []int{1}, F: []float32{0}}
	if p, ok := attrs["value"]; ok {
		if val, err = decodeTensor(p.GetT()); err != nil {
			return nil, nodeErr(n, "attribute value: %v", err)
		}
		if len(val.F)+len(val.I) != 1 {
			return nil, nodeErr(n, "attribute value must hold one element")
		}
	}
	out := &constant{Shape: shape}
	if val.isInt() {
		out.I = make([]int64, cnt)
		for i := range out.I {
			out.I[i] = val.I[0]
		}
	} else {
		out.F = make([]float32, cnt)
		for i := range out.F {
			out.F[i] = val.F[0]
		}
	}
	if out.I == nil && out.F == nil {
		out.I = []int64{}
	}
	return out, nil
}

// arith is x op y for op Add, Sub, Mul or Div (integer division truncates,
// as ONNX's; the caller rules out an integer zero divisor).
func arith[T int64 | float32](op string, x, y T) T {
	switch op {
	case "Add":
		return x + y
	case "Sub":
		return x - y
	case "Mul":
		return x * y
	}
	return x / y
}
