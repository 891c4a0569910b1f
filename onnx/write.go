package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/onnx/pb"
)

// Export opset range and default.
const (
	DefaultOpset   = 13
	minExportOpset = 11
	maxExportOpset = 21
)

// WriteOptions controls export.
type WriteOptions struct {
	// FoldBN folds every BatchNormalization that follows a Conv into that
	// Conv's weight and bias (for deployment); by default BN stays a node so
	// the file can be trained further.
	FoldBN bool
	// Opset is the default-domain opset written, 11 to 21; 0 means 13.
	Opset int
	// Shared lists weight-shared parameters by name. Each is written as a
	// uint8 indices initializer plus a float32 codebook initializer, expanded
	// in the graph by Cast -> Gather -> Reshape to the parameter's shape.
	Shared map[string]Shared
	// QDQ, when set, writes a static int8 model in QDQ form (onnx/qdq.go):
	// BN is folded first, the opset must be 13 or more (per-channel
	// DequantizeLinear), and Shared must be empty.
	QDQ *QDQ
}

// Shared is a weight-shared (clustered) parameter: element i of the weight
// (in row-major order) is Codebook[Indices[i]]. Codebook has at most 256
// entries and len(Indices) equals the parameter's element count.
type Shared struct {
	Codebook []float32
	Indices  []uint8
}

// WriteFile exports g to path atomically (temporary file in the same
// directory, fsync, rename): an interrupted write never leaves a truncated
// model where a good one was.
func WriteFile(path string, g *graph.Graph, opt WriteOptions) error {
	b, err := Marshal(g, opt)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("onnx: writing %s: %w", path, err)
	}
	return nil
}

// Marshal serializes g as an ONNX ModelProto. It errors, naming the node,
// on an op it cannot write, a graph that does not pass shape inference, an
// opset out of range, or an inconsistent Shared entry.
func Marshal(g *graph.Graph, opt WriteOptions) ([]byte, error) {
	m, err := exportModel(g, opt)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: encoding: %w", err)
	}
	return b, nil
}

type exporter struct {
	opset  int
	g      *graph.Graph
	shapes map[string][]int // every value's shape (batch 1 where dynamic)
	gp     *pb.GraphProto
	used   map[string]bool
}

func exportModel(g *graph.Graph, opt WriteOptions) (*pb.ModelProto, error) {
	opset := opt.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < minExportOpset || opset > maxExportOpset {
		return nil, fmt.Errorf("export opset %d is not supported (supported: %d to %d)", opset, minExportOpset, maxExportOpset)
	}
	if len(g.Inputs) == 0 || len(g.Outputs) == 0 {
		return nil, fmt.Errorf("graph %q needs at least one input and one output", g.Name)
	}
	if opt.QDQ != nil {
		if opset < 13 {
			return nil, fmt.Errorf("QDQ export needs opset 13 or more (per-channel DequantizeLinear), got %d", opset)
		}
		if len(opt.Shared) > 0 {
			return nil, errors.New("QDQ export of weight-shared parameters is not supported")
		}
		opt.FoldBN = true
	}
	if opt.FoldBN {
		if err := sharedFoldConflict(g, opt.Shared); err != nil {
			return nil, err
		}
		var err error
		if g, err = FoldBN(g); err != nil {
			return nil, err
		}
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, err
	}
	order, err := g.Topo()
	if err != nil {
		return nil, err
	}
	name := g.Name
	if name == "" {
		name = "model"
	}
	e := &exporter{opset: opset, g: g, shapes: shapes, gp: &pb.GraphProto{Name: &name}, used: map[string]bool{}}
	for _, n := range g.Nodes {
		e.used[n.Name] = true
		for _, o := range n.Outputs {
			e.used[o] = true
		}
	}
	for k := range g.Params {
		e.used[k] = true
	}
	for _, v := range g.Inputs {
		e.used[v.Name] = true
		e.gp.Input = append(e.gp.Input, valueProto(v))
	}
	for _, v := range g.Outputs {
		e.gp.Output = append(e.gp.Output, valueProto(v))
	}
	var qdq *qdqExport
	if opt.QDQ != nil {
		qdq = &qdqExport{e: e, opt: opt.QDQ, act: map[string]qparams{}, rename: map[string]string{}, wq: map[string]bool{}, fanout: map[string]bool{}}
		qdq.prepare(order)
	}
	for _, k := range sortedMeta(paramSet(g.Params)) {
		t := g.Params[k]
		if qdq != nil && qdq.wq[k] {
			continue // written by qdq.params as a DequantizeLinear output
		}
		if s, ok := opt.Shared[k]; ok {
			if err := e.shared(k, t.Shape, s); err != nil {
				return nil, err
			}
			continue
		}
		e.gp.Initializer = append(e.gp.Initializer, floatTensor(k, t.Shape, t.Data))
	}
	for k := range opt.Shared {
		if _, ok := g.Params[k]; !ok {
			return nil, fmt.Errorf("shared parameter %q is not a parameter of the graph", k)
		}
	}
	if qdq != nil {
		if err := qdq.nodes(order); err != nil {
			return nil, err
		}
	} else {
		for _, n := range order {
			if err := e.node(n); err != nil {
				return nil, err
			}
		}
	}
	ir := int64(7)
	if opset >= 15 {
		ir = 8
	}
	producer, version := "slimgo", "0"
	m := &pb.ModelProto{
		IrVersion:       &ir,
		ProducerName:    &producer,
		ProducerVersion: &version,
		OpsetImport:     []*pb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(opset))}},
		Graph:           e.gp,
	}
	for _, k := range sortedMeta(g.Meta) {
		if k == MetaFileBatch {
			continue // describes the file read, not this one
		}
		m.MetadataProps = append(m.MetadataProps, &pb.StringStringEntryProto{Key: ptr(k), Value: ptr(g.Meta[k])})
	}
	return m, nil
}

func paramSet[T any](m map[string]T) map[string]string {
	s := make(map[string]string, len(m))
	for k := range m {
		s[k] = ""
	}
	return s
}

// valueProto declares a float tensor value; -1 dimensions become named
// symbolic dimensions ("N" for the first).
func valueProto(v graph.Value) *pb.ValueInfoProto {
	var dims []*pb.TensorShapeProto_Dimension
	for i, d := range v.Shape {
		if d < 0 {
			p := "N"
			if i > 0 {
				p = fmt.Sprintf("d%d", i)
			}
			dims = append(dims, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: p}})
		} else {
			dims = append(dims, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	tt := &pb.TypeProto_Tensor{ElemType: ptr(dtFloat)}
	if v.Shape != nil {
		tt.Shape = &pb.TensorShapeProto{Dim: dims}
	}
	return &pb.ValueInfoProto{Name: ptr(v.Name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: tt}}}
}

// fresh returns an unused value/node name based on base.
func (e *exporter) fresh(base string) string {
	s := base
	for i := 1; e.used[s]; i++ {
		s = fmt.Sprintf("%s_%d", base, i)
	}
	e.used[s] = true
	return s
}

func (e *exporter) emit(name, op string, in, out []string, attrs ...*pb.AttributeProto) {
	e.gp.Node = append(e.gp.Node, &pb.NodeProto{Name: ptr(name), OpType: ptr(op), Input: in, Output: out, Attribute: attrs})
}

func aInts(name string, v []int) *pb.AttributeProto {
	return &pb.AttributeProto{Name: ptr(name), Type: pb.AttributeProto_INTS.Enum(), Ints: dims64(v)}
}

func aInt(name string, v int) *pb.AttributeProto {
	return &pb.AttributeProto{Name: ptr(name), Type: pb.AttributeProto_INT.Enum(), I: ptr(int64(v))}
}

func aFloat(name string, v float32) *pb.AttributeProto {
	return &pb.AttributeProto{Name: ptr(name), Type: pb.AttributeProto_FLOAT.Enum(), F: ptr(v)}
}

func aString(name, v string) *pb.AttributeProto {
	return &pb.AttributeProto{Name: ptr(name), Type: pb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// scalarInit adds a scalar float initializer and returns its name.
func (e *exporter) scalarInit(base string, v float32) string {
	nm := e.fresh(base)
	e.gp.Initializer = append(e.gp.Initializer, floatTensor(nm, []int{}, []float32{v}))
	return nm
}

// known rejects attributes an op's canonical form does not have, so nothing
// is silently lost on export.
func known(n *graph.Node, names ...string) error {
	for k := range n.Attrs {
		if !slices.Contains(names, k) {
			return fmt.Errorf("node %q (%s): attribute %s cannot be exported", n.Name, n.Op, k)
		}
	}
	return nil
}

func (e *exporter) node(n *graph.Node) error {
	in, out := slices.Clone(n.Inputs), slices.Clone(n.Outputs)
	for len(in) > 0 && in[len(in)-1] == "" {
		in = in[:len(in)-1]
	}
	exp, spec := exporters[n.Op], graph.Spec(n.Op)
	if exp == nil || spec == nil {
		return fmt.Errorf("node %q: op %q cannot be exported to ONNX", n.Name, n.Op)
	}
	if err := known(n, spec.AttrNames()...); err != nil {
		return err
	}
	return exp(e, n, in, out)
}

func (e *exporter) conv(n *graph.Node, in, out []string) error {
	a := n.Attrs
	var w []int
	if t, ok := e.g.Params[n.Input(1)]; ok {
		w = t.Shape
	}
	geo, err := graph.Geom(n, w)
	if err != nil && w != nil {
		return err
	}
	attrs := []*pb.AttributeProto{
		aInts("strides", a.Ints("strides", []int{1, 1})),
		aInts("pads", a.Ints("pads", []int{0, 0, 0, 0})),
		aInts("dilations", a.Ints("dilations", []int{1, 1})),
		aInt("group", a.Int("group", 1)),
	}
	if w != nil {
		attrs = append(attrs, aInts("kernel_shape", []int{geo.KH, geo.KW}))
	}
	e.emit(n.Name, "Conv", in, out, attrs...)
	return nil
}

// clip writes min and max as optional scalar inputs (opset >= 11).
func (e *exporter) clip(n *graph.Node, in, out []string) error {
	a := n.Attrs
	lo, hi := a.Float("min", float32(math.Inf(-1))), a.Float("max", float32(math.Inf(1)))
	ins := []string{in[0], "", ""}
	if !math.IsInf(float64(lo), -1) {
		ins[1] = e.scalarInit(n.Name+"_min", lo)
	}
	if !math.IsInf(float64(hi), 1) {
		ins[2] = e.scalarInit(n.Name+"_max", hi)
	}
	for len(ins) > 1 && ins[len(ins)-1] == "" {
		ins = ins[:len(ins)-1]
	}
	e.emit(n.Name, n.Op, ins, out)
	return nil
}

func (e *exporter) hardSwish(n *graph.Node, in, out []string) error {
	if e.opset >= 14 {
		e.emit(n.Name, n.Op, in, out)
		return nil
	}
	// HardSwish is opset 14; before it, write what PyTorch writes:
	// x * HardSigmoid(x; alpha=1/6, beta=1/2).
	hs := e.fresh(n.Name + "_hardsigmoid")
	e.emit(e.fresh(n.Name+"_hardsigmoid"), "HardSigmoid", in, []string{hs}, aFloat("alpha", 1.0/6), aFloat("beta", 0.5))
	e.emit(n.Name, "Mul", []string{in[0], hs}, out)
	return nil
}

func (e *exporter) pool(n *graph.Node, in, out []string) error {
	a := n.Attrs
	geo, err := graph.Geom(n, nil)
	if err != nil {
		return err
	}
	attrs := []*pb.AttributeProto{
		aInts("kernel_shape", []int{geo.KH, geo.KW}),
		aInts("strides", []int{geo.SH, geo.SW}),
		aInts("pads", []int{geo.PadT, geo.PadL, geo.PadB, geo.PadR}),
		aInt("ceil_mode", a.Int("ceil_mode", 0)),
	}
	if n.Op == graph.OpMaxPool {
		if geo.DH != 1 || geo.DW != 1 {
			attrs = append(attrs, aInts("dilations", []int{geo.DH, geo.DW}))
		}
	} else {
		attrs = append(attrs, aInt("count_include_pad", a.Int("count_include_pad", 0)))
	}
	e.emit(n.Name, n.Op, in, out, attrs...)
	return nil
}

// reshape writes the shape attribute as an INT64 initializer input.
func (e *exporter) reshape(n *graph.Node, in, out []string) error {
	shape := n.Attrs.Ints("shape", nil)
	sn := e.fresh(n.Name + "_shape")
	e.gp.Initializer = append(e.gp.Initializer, int64Tensor(sn, []int{len(shape)}, shape))
	e.emit(n.Name, n.Op, []string{in[0], sn}, out)
	return nil
}

// resize writes nearest up-scaling as Resize with an empty roi and scales.
func (e *exporter) resize(n *graph.Node, in, out []string) error {
	if m := n.Attrs.String("mode", "nearest"); m != "nearest" {
		return fmt.Errorf("node %q (Resize): mode %q cannot be exported", n.Name, m)
	}
	sc := n.Attrs.Floats("scales", nil)
	roi := e.fresh(n.Name + "_roi")
	e.gp.Initializer = append(e.gp.Initializer, floatTensor(roi, []int{0}, nil))
	sn := e.fresh(n.Name + "_scales")
	e.gp.Initializer = append(e.gp.Initializer, floatTensor(sn, []int{len(sc)}, sc))
	e.emit(n.Name, n.Op, []string{in[0], roi, sn}, out,
		aString("mode", "nearest"), aString("coordinate_transformation_mode", "asymmetric"), aString("nearest_mode", "floor"))
	return nil
}

// dropout writes ratio as an input from opset 12, an attribute before.
func (e *exporter) dropout(n *graph.Node, in, out []string) error {
	r := n.Attrs.Float("ratio", 0.5)
	if e.opset >= 12 {
		e.emit(n.Name, n.Op, []string{in[0], e.scalarInit(n.Name+"_ratio", r)}, out[:1])
	} else {
		e.emit(n.Name, n.Op, in[:1], out[:1], aFloat("ratio", r))
	}
	return nil
}

// shared writes parameter name as uint8 indices + float codebook, expanded
// by Cast(indices -> int64) -> Gather(codebook) -> Reshape(shape).
func (e *exporter) shared(name string, shape []int, s Shared) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(s.Indices) != n {
		return fmt.Errorf("shared parameter %q: %d indices for shape %v (%d values)", name, len(s.Indices), shape, n)
	}
	if len(s.Codebook) == 0 || len(s.Codebook) > 256 {
		return fmt.Errorf("shared parameter %q: codebook has %d entries, want 1 to 256", name, len(s.Codebook))
	}
	for i, ix := range s.Indices {
		if int(ix) >= len(s.Codebook) {
			return fmt.Errorf("shared parameter %q: index %d at position %d is outside the %d-entry codebook", name, ix, i, len(s.Codebook))
		}
	}
	cb, idx, idx64, flat, shp := e.fresh(name+"_codebook"), e.fresh(name+"_indices"), e.fresh(name+"_indices_i64"), e.fresh(name+"_flat"), e.fresh(name+"_shape")
	e.gp.Initializer = append(e.gp.Initializer,
		floatTensor(cb, []int{len(s.Codebook)}, s.Codebook),
		uint8Tensor(idx, []int{n}, s.Indices),
		int64Tensor(shp, []int{len(shape)}, shape))
	e.emit(e.fresh(name+"_cast"), "Cast", []string{idx}, []string{idx64}, aInt("to", int(dtInt64)))
	e.emit(e.fresh(name+"_gather"), "Gather", []string{cb, idx64}, []string{flat}, aInt("axis", 0))
	e.emit(e.fresh(name+"_reshape"), "Reshape", []string{flat, shp}, []string{name})
	return nil
}

// sharedFoldConflict refuses to fold BN into a weight that is also exported
// as shared: the folded weight would no longer be codebook values.
func sharedFoldConflict(g *graph.Graph, shared map[string]Shared) error {
	if len(shared) == 0 {
		return nil
	}
	for _, c := range graph.ConvBNPairs(g) {
		for _, in := range c.Conv.Inputs[1:] {
			if _, ok := shared[in]; ok && in != "" {
				return errors.New("FoldBN would change shared parameter " + in + " of node " + c.Conv.Name + "; fold BN before clustering")
			}
		}
	}
	return nil
}
