package onnx

// The op tables: one import hook per ONNX op type and one export hook per
// canonical op (graph.Spec lists each op's ONNX spellings; ops_test.go
// checks that every spec is covered both ways). Hooks of ops whose ONNX form
// needs rewriting (Clip inputs, Resize scales, MatMul as Gemm, ...) live
// next to their helpers in read.go and write.go.

import (
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

// importFunc rewrites ONNX node p into n's canonical form (op, attributes,
// inputs) and marks the inputs read as data; n is appended by the caller.
type importFunc func(im *importer, n *graph.Node, p *pb.NodeProto) error

// exportFunc writes canonical node n as ONNX nodes; in has trailing absent
// inputs removed. Attributes outside the op's spec are rejected before.
type exportFunc func(e *exporter, n *graph.Node, in, out []string) error

var (
	importers map[string]importFunc // by ONNX op type ("Constant" is handled apart)
	exporters map[string]exportFunc // by canonical op
)

func init() {
	importers = map[string]importFunc{
		"Conv":               importConv,
		"BatchNormalization": importBN,
		"Relu":               importUnary,
		"Sigmoid":            importUnary,
		"Identity":           importUnary,
		"LeakyRelu":          importLeakyRelu,
		"Clip":               (*importer).clip,
		"HardSigmoid":        (*importer).hardSigmoid,
		"HardSwish":          importNoAttrs,
		"Add":                importArith,
		"Mul":                importArith,
		"Concat":             importConcat,
		"MaxPool":            (*importer).pool,
		"AveragePool":        (*importer).pool,
		"GlobalAveragePool":  importNoAttrs,
		"Flatten":            importFlatten,
		"Reshape":            (*importer).reshape,
		"Gemm":               (*importer).gemm,
		"MatMul":             (*importer).matmul,
		"Resize":             (*importer).resize,
		"Upsample":           (*importer).resize,
		"Dropout":            (*importer).dropout,
		"Exp":                importUnary,
		"Sub":                importArith,
		"Div":                importArith,
		"Pow":                (*importer).pow,
		"Transpose":          importTranspose,
		"Slice":              (*importer).slice,
		"Split":              (*importer).split,
		"Softmax":            (*importer).softmax,
	}
	exporters = map[string]exportFunc{
		graph.OpConv:        (*exporter).conv,
		graph.OpBN:          exportBN,
		graph.OpRelu:        exportPlain,
		graph.OpSigmoid:     exportPlain,
		graph.OpIdentity:    exportPlain,
		graph.OpAdd:         exportPlain,
		graph.OpMul:         exportPlain,
		graph.OpGlobalAvg:   exportPlain,
		graph.OpLeakyRelu:   exportLeakyRelu,
		graph.OpClip:        (*exporter).clip,
		graph.OpSilu:        exportSilu,
		graph.OpHardSigmoid: exportHardSigmoid,
		graph.OpHardSwish:   (*exporter).hardSwish,
		graph.OpConcat:      exportAxis,
		graph.OpFlatten:     exportAxis,
		graph.OpMaxPool:     (*exporter).pool,
		graph.OpAveragePool: (*exporter).pool,
		graph.OpReshape:     (*exporter).reshape,
		graph.OpGemm:        exportGemm,
		graph.OpResize:      (*exporter).resize,
		graph.OpDropout:     (*exporter).dropout,
		graph.OpExp:         exportPlain,
		graph.OpSub:         exportPlain,
		graph.OpDiv:         exportPlain,
		graph.OpPow:         (*exporter).pow,
		graph.OpTranspose:   exportTranspose,
		graph.OpSlice:       (*exporter).slice,
		graph.OpSplit:       (*exporter).split,
		graph.OpSoftmax:     (*exporter).softmax,
	}
}

func importConv(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, append(graph.Spec(graph.OpConv).AttrNames(), "auto_pad")...)
	if err != nil {
		return err
	}
	if err := im.autoPad(n, a); err != nil {
		return err
	}
	if err := im.copyInts(n, a, 2, "kernel_shape", "strides", "dilations"); err != nil {
		return err
	}
	if err := im.copyInts(n, a, 4, "pads"); err != nil {
		return err
	}
	g, err := attrInt(n, a, "group", 1)
	if err != nil {
		return err
	}
	if g != 1 {
		n.Attrs["group"] = g
	}
	if len(n.Inputs) < 2 || n.Inputs[1] == "" {
		return nodeErr(n, "has no weight input")
	}
	im.markData(n, 0, 1, 2)
	return nil
}

func importBN(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs")
	if err != nil {
		return err
	}
	eps, err := attrFloat(n, a, "epsilon", 1e-5)
	if err != nil {
		return err
	}
	mom, err := attrFloat(n, a, "momentum", 0.9)
	if err != nil {
		return err
	}
	if sp, err := attrInt(n, a, "spatial", 1); err != nil || sp != 1 {
		return (orErr(err, nodeErr(n, "attribute spatial=%d is not supported", sp)))
	}
	if tm, err := attrInt(n, a, "training_mode", 0); err != nil || tm != 0 {
		return (orErr(err, nodeErr(n, "attribute training_mode=%d is not supported (export the model in eval mode)", tm)))
	}
	n.Attrs["epsilon"] = eps
	n.Attrs["momentum"] = mom
	if len(n.Inputs) != 5 {
		return nodeErr(n, "needs 5 inputs, has %d", len(n.Inputs))
	}
	if err := im.singleOutput(n); err != nil {
		return err
	}
	im.markData(n, 0, 1, 2, 3, 4)
	return nil
}

// importUnary: Relu, Sigmoid, Identity (opset < 6 consumed_inputs ignored).
func importUnary(im *importer, n *graph.Node, p *pb.NodeProto) error {
	if _, err := im.attrs(n, p, "consumed_inputs"); err != nil {
		return err
	}
	im.markData(n, 0)
	return nil
}

func importLeakyRelu(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "alpha")
	if err != nil {
		return err
	}
	alpha, err := attrFloat(n, a, "alpha", 0.01)
	if err != nil {
		return err
	}
	n.Attrs["alpha"] = alpha
	im.markData(n, 0)
	return nil
}

// importNoAttrs: ops without attributes reading one data input
// (HardSwish, GlobalAveragePool).
func importNoAttrs(im *importer, n *graph.Node, p *pb.NodeProto) error {
	if _, err := im.attrs(n, p); err != nil {
		return err
	}
	im.markData(n, 0)
	return nil
}

func importArith(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "broadcast", "axis", "consumed_inputs")
	if err != nil {
		return err
	}
	if b, _ := attrInt(n, a, "broadcast", 0); b != 0 {
		return nodeErr(n, "attribute broadcast=1 (opset < 7 broadcasting) is not supported")
	}
	if len(n.Inputs) != 2 {
		return nodeErr(n, "needs 2 inputs, has %d", len(n.Inputs))
	}
	im.markData(n, 0, 1)
	return nil
}

func importConcat(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "axis")
	if err != nil {
		return err
	}
	if _, ok := a["axis"]; !ok {
		return nodeErr(n, "attribute axis is missing")
	}
	ax, err := attrInt(n, a, "axis", 1)
	if err != nil {
		return err
	}
	n.Attrs["axis"] = ax
	im.markData(n, seq(len(n.Inputs))...)
	return nil
}

func importFlatten(im *importer, n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "axis")
	if err != nil {
		return err
	}
	ax, err := attrInt(n, a, "axis", 1)
	if err != nil {
		return err
	}
	n.Attrs["axis"] = ax
	im.markData(n, 0)
	return nil
}

// exportPlain writes ops whose ONNX form is the canonical one without
// attributes.
func exportPlain(e *exporter, n *graph.Node, in, out []string) error {
	e.emit(n.Name, n.Op, in, out)
	return nil
}

func exportBN(e *exporter, n *graph.Node, in, out []string) error {
	a := n.Attrs
	e.emit(n.Name, "BatchNormalization", in, out, aFloat("epsilon", a.Float("epsilon", 1e-5)), aFloat("momentum", a.Float("momentum", 0.9)))
	return nil
}

func exportLeakyRelu(e *exporter, n *graph.Node, in, out []string) error {
	e.emit(n.Name, n.Op, in, out, aFloat("alpha", n.Attrs.Float("alpha", 0.01)))
	return nil
}

// exportSilu writes x * Sigmoid(x) (ONNX has no Silu).
func exportSilu(e *exporter, n *graph.Node, in, out []string) error {
	sig := e.fresh(n.Name + "_sigmoid")
	e.emit(e.fresh(n.Name+"_sigmoid"), "Sigmoid", in, []string{sig})
	e.emit(n.Name, "Mul", []string{in[0], sig}, out)
	return nil
}

func exportHardSigmoid(e *exporter, n *graph.Node, in, out []string) error {
	a := n.Attrs
	e.emit(n.Name, n.Op, in, out, aFloat("alpha", a.Float("alpha", 0.2)), aFloat("beta", a.Float("beta", 0.5)))
	return nil
}

// exportAxis writes ops whose one attribute is axis (Concat, Flatten).
func exportAxis(e *exporter, n *graph.Node, in, out []string) error {
	e.emit(n.Name, n.Op, in, out, aInt("axis", n.Attrs.Int("axis", 1)))
	return nil
}

func exportGemm(e *exporter, n *graph.Node, in, out []string) error {
	a := n.Attrs
	attrs := []*pb.AttributeProto{aFloat("alpha", a.Float("alpha", 1)), aFloat("beta", a.Float("beta", 1)), aInt("transB", a.Int("transB", 0))}
	if ta := a.Int("transA", 0); ta != 0 {
		attrs = append(attrs, aInt("transA", ta))
	}
	e.emit(n.Name, n.Op, in, out, attrs...)
	return nil
}
