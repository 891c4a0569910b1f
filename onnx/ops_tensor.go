package onnx

// Import and export hooks of the ops PyTorch's YOLO exports use in their
// heads: Transpose, Slice, Split, Softmax, Pow, Exp, Sub, Div (the last two
// go through importArith/exportPlain, Exp through importUnary).
//
// Constant inputs become attributes on import (Slice's starts, ends, axes
// and steps from opset 10, Split's sizes from opset 13, Pow's exponent) and
// initializers again on export.

import (
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

func importTranspose(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "perm")
	if err != nil {
		return err
	}
	perm, ok, err := attrInts(n, a, "perm")
	if err != nil {
		return err
	}
	if ok {
		n.Attrs["perm"] = perm
	}
	im.markData(n, 0)
	return nil
}

// constInts reads constant input i as integers clamped to the int32 range
// (ONNX writes "to the end" as INT64_MAX); nil when the input is absent.
func (im *importer) constInts(n *graph.Node, i int, what string) ([]int, error) {
	c, err := im.constInput(n, i, what)
	if err != nil || c == nil {
		return nil, err
	}
	v, err := c.ints()
	if err != nil {
		return nil, nodeErr(n, "input %s: %v", what, err)
	}
	for j := range v {
		v[j] = min(max(v[j], math.MinInt32), math.MaxInt32)
	}
	return v, nil
}

// slice reads starts/ends/axes as attributes before opset 10 and
// starts/ends/axes/steps as constant inputs from opset 10.
func (im *importer) slice(n *graph.Node, p *pb.NodeProto) error {
	vals := map[string][]int{}
	names := []string{"starts", "ends", "axes", "steps"}
	if im.opset < 10 {
		a, err := im.attrs(n, p, "starts", "ends", "axes")
		if err != nil {
			return err
		}
		for _, k := range names[:3] {
			v, ok, err := attrInts(n, a, k)
			if err != nil {
				return err
			}
			if ok {
				vals[k] = v
			}
		}
	} else {
		if _, err := im.attrs(n, p); err != nil {
			return err
		}
		if len(n.Inputs) < 3 || len(n.Inputs) > 5 {
			return nodeErr(n, "needs 3 to 5 inputs, has %d", len(n.Inputs))
		}
		for i, k := range names {
			v, err := im.constInts(n, i+1, k)
			if err != nil {
				return err
			}
			if v != nil {
				vals[k] = v
			}
		}
		n.Inputs = n.Inputs[:1]
	}
	if vals["starts"] == nil || vals["ends"] == nil {
		return nodeErr(n, "starts and ends are required")
	}
	for _, k := range names {
		if v, ok := vals[k]; ok {
			n.Attrs[k] = v
		}
	}
	im.markData(n, 0)
	return nil
}

// split reads the sizes from the split attribute (before opset 13) or
// input (from 13); without them the axis is cut into equal parts, one per
// output (num_outputs, opset 18, must equal the outputs listed). The sizes
// are resolved against the input's shape when it is known, so the
// canonical node carries them.
func (im *importer) split(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "axis", "split", "num_outputs")
	if err != nil {
		return err
	}
	ax, err := attrInt(n, a, "axis", 0)
	if err != nil {
		return err
	}
	n.Attrs["axis"] = ax
	var sizes []int
	if im.opset < 13 {
		if sizes, _, err = attrInts(n, a, "split"); err != nil {
			return err
		}
	} else {
		if _, ok := a["split"]; ok {
			return nodeErr(n, "attribute split is not allowed from opset 13 (it is an input)")
		}
		if sizes, err = im.constInts(n, 1, "split"); err != nil {
			return err
		}
	}
	if no, ok := a["num_outputs"]; ok {
		if k := no.GetI(); k != int64(len(n.Outputs)) || sizes != nil {
			return nodeErr(n, "attribute num_outputs=%d with %d outputs (and split %v)", k, len(n.Outputs), sizes)
		}
	}
	n.Inputs = n.Inputs[:1]
	if sizes == nil {
		// Resolved when the axis has a fixed size; otherwise left to the
		// engine, which splits what it is given.
		if x, err := im.shapeOf(n, n.Inputs[0]); err == nil && ax >= -len(x) && ax < len(x) && x[(ax+len(x))%len(x)] >= 0 {
			if _, sizes, err = graph.SplitSizes(n, x); err != nil {
				return nodeErr(n, "%v", err)
			}
		}
	}
	if sizes != nil {
		n.Attrs["split"] = sizes
	}
	im.markData(n, 0)
	return nil
}

// softmax keeps axis; before opset 13 Softmax flattens the input to 2-D at
// axis, which is the one-axis softmax only when every dimension after the
// axis is 1 or the axis is the last one (what PyTorch writes; it transposes
// the axis to the end when it is not).
func (im *importer) softmax(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "axis")
	if err != nil {
		return err
	}
	def := -1
	if im.opset < 13 {
		def = 1
	}
	ax, err := attrInt(n, a, "axis", def)
	if err != nil {
		return err
	}
	if im.opset < 13 && ax != -1 {
		x, err := im.shapeOf(n, n.Inputs[0])
		if err != nil {
			return err
		}
		r := len(x)
		k := ax
		if k < 0 {
			k += r
		}
		if k < 0 || k >= r {
			return nodeErr(n, "attribute axis=%d out of range for rank %d", ax, r)
		}
		for _, d := range x[k+1:] {
			if d != 1 {
				return nodeErr(n, "opset %d Softmax over axes %d.. of shape %v (a 2-D coercion) is not supported; only one axis", im.opset, k, x)
			}
		}
	}
	n.Attrs["axis"] = ax
	im.markData(n, 0)
	return nil
}

// pow accepts a constant scalar exponent only (x ** c).
func (im *importer) pow(n *graph.Node, p *pb.NodeProto) error {
	if _, err := im.attrs(n, p); err != nil {
		return err
	}
	if len(n.Inputs) != 2 {
		return nodeErr(n, "needs 2 inputs, has %d", len(n.Inputs))
	}
	c, ok := im.consts[n.Inputs[1]]
	if !ok {
		return nodeErr(n, "exponent %q is not a constant; only x to a constant power is supported", n.Inputs[1])
	}
	f := c.floats()
	if len(f) != 1 {
		return nodeErr(n, "exponent has %d values; only a scalar exponent is supported", len(f))
	}
	if math.IsNaN(float64(f[0])) || math.IsInf(float64(f[0]), 0) {
		return nodeErr(n, "exponent %g is not finite", f[0])
	}
	n.Inputs = n.Inputs[:1]
	n.Attrs["exponent"] = f[0]
	im.markData(n, 0)
	return nil
}

func exportTranspose(e *exporter, n *graph.Node, in, out []string) error {
	var attrs []*pb.AttributeProto
	if p := n.Attrs.Ints("perm", nil); p != nil {
		attrs = append(attrs, aInts("perm", p))
	}
	e.emit(n.Name, n.Op, in, out, attrs...)
	return nil
}

// slice writes starts, ends, axes and steps as INT64 initializers.
func (e *exporter) slice(n *graph.Node, in, out []string) error {
	ins := []string{in[0]}
	for _, k := range []string{"starts", "ends", "axes", "steps"} {
		v := n.Attrs.Ints(k, nil)
		if v == nil {
			ins = append(ins, "")
			continue
		}
		nm := e.fresh(n.Name + "_" + k)
		e.gp.Initializer = append(e.gp.Initializer, int64Tensor(nm, []int{len(v)}, v))
		ins = append(ins, nm)
	}
	for len(ins) > 3 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	e.emit(n.Name, n.Op, ins, out)
	return nil
}

// split writes the sizes as an input (opset 13+) or attribute; without
// sizes, num_outputs from opset 18 (before it, ONNX's equal split, which
// needs the axis to divide evenly).
func (e *exporter) split(n *graph.Node, in, out []string) error {
	attrs := []*pb.AttributeProto{aInt("axis", n.Attrs.Int("axis", 0))}
	sizes := n.Attrs.Ints("split", nil)
	ins := in[:1]
	switch {
	case sizes != nil && e.opset >= 13:
		nm := e.fresh(n.Name + "_split")
		e.gp.Initializer = append(e.gp.Initializer, int64Tensor(nm, []int{len(sizes)}, sizes))
		ins = []string{in[0], nm}
	case sizes != nil:
		attrs = append(attrs, aInts("split", sizes))
	case e.opset >= 18:
		attrs = append(attrs, aInt("num_outputs", len(out)))
	}
	e.emit(n.Name, n.Op, ins, out, attrs...)
	return nil
}

// softmax writes axis; before opset 13, where Softmax coerces to 2-D, an
// axis that is not the last one with something after it is moved to the
// end by Transposes (as PyTorch does).
func (e *exporter) softmax(n *graph.Node, in, out []string) error {
	ax := n.Attrs.Int("axis", -1)
	x := e.shapes[in[0]]
	r := len(x)
	k := ax
	if k < 0 {
		k += r
	}
	if e.opset >= 13 || k == r-1 {
		e.emit(n.Name, n.Op, in, out, aInt("axis", ax))
		return nil
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[k], perm[r-1] = r-1, k // its own inverse
	t1, t2 := e.fresh(n.Name+"_to_last"), e.fresh(n.Name+"_softmax")
	e.emit(e.fresh(n.Name+"_to_last"), "Transpose", in, []string{t1}, aInts("perm", perm))
	e.emit(e.fresh(n.Name+"_softmax"), "Softmax", []string{t1}, []string{t2}, aInt("axis", r-1))
	e.emit(n.Name, "Transpose", []string{t2}, out, aInts("perm", perm))
	return nil
}

func (e *exporter) pow(n *graph.Node, in, out []string) error {
	e.emit(n.Name, n.Op, []string{in[0], e.scalarInit(n.Name+"_exponent", n.Attrs.Float("exponent", 2))}, out)
	return nil
}
