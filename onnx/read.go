// Package onnx reads and writes ONNX models (.onnx protobuf files) as
// slimgo graphs.
//
// Import accepts default-domain opsets 7 to 21 and rewrites every supported
// spelling into the canonical forms of graph/spec_*.go: constant inputs become
// attributes (Clip min/max, Reshape shape, Resize/Upsample scales or sizes,
// Dropout ratio, Slice starts/ends/axes/steps, Split sizes, Pow exponent),
// Shape and the shape arithmetic on it fold to constants against the
// shapes inferred during import (fold_shape.go), MatMul with a constant
// 2-D weight becomes Gemm, Constant
// nodes become parameters, and a dynamic dimension (dim_param, missing or -1)
// becomes -1. Initializers may be stored as raw_data or typed fields; FLOAT
// and DOUBLE become float32 parameters, INT64/INT32 serve as shapes. External
// data, oversized tensors and unsupported ops or attributes are errors naming
// the node, its op type and the attribute. Model metadata_props travel in
// graph.Meta both ways.
//
// Export writes canonical graphs as valid ONNX for opsets 11 to 21 (default
// 13) that ONNX Runtime runs, keeping BatchNormalization as nodes unless
// WriteOptions.FoldBN is set, and can store weight-shared parameters as
// uint8 indices plus a float codebook expanded in-graph.
//
// The tests prove both directions against ONNX Runtime through
// internal/ort (node + npm onnxruntime-node in tools/ort, installed on first
// use); they skip those comparisons only when node is absent. Fixtures are
// in testdata/onnx (tiny nets, committed) plus torchvision resnet18,
// mobilenet_v2 and vgg11_bn that testdata/onnx/gen.py exports into the user
// cache directory when /usr/bin/python3 has torch, and the YOLOv5/YOLOv8-
// style detectors testdata/onnx/yolo_heads.py exports (yolo_test.go).
package onnx

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

// Supported default-domain opset range for import.
const (
	minImportOpset = 7
	maxImportOpset = 21
)

// ReadFile reads and imports an .onnx file; errors are prefixed with the path.
func ReadFile(path string) (*graph.Graph, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := Read(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Read imports a serialized ONNX ModelProto. The result is topologically
// sorted and passes graph.InferShapes. Errors start with "onnx: " and name
// the node, op type and attribute or tensor at fault.
func Read(b []byte) (g *graph.Graph, err error) {
	defer func() {
		if r := recover(); r != nil {
			g, err = nil, fmt.Errorf("onnx: internal error while importing: %v", r)
		}
	}()
	var m pb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("onnx: not a valid ONNX model (protobuf decoding failed: %v)", err)
	}
	g, err = importModel(&m, int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return g, nil
}

// importer holds the state of one import.
type importer struct {
	opset  int
	g      *graph.Graph
	consts map[string]*constant // initializers and Constant outputs by value name
	used   map[string]bool      // names of nodes and values already taken
	// floatUse marks constants read as data by some node (they become params).
	floatUse     map[string]bool
	pendingSizes map[*graph.Node][]int // Resize nodes given by sizes, resolved after import
	nodeNames    map[string]bool       // node names assigned so far
	dropped      map[string]string     // optional outputs dropped on import -> node name
	transposeOf  map[string]string     // constant = 2-D transpose of another constant
	shapes       [2]map[string][]int   // value shapes inferred so far with dynamic input dims 1 and 2 (fold_shape.go)
	shaped       int                   // nodes of g whose outputs are in shapes
	bakedBatch   bool                  // a Shape was folded at batch 1 of a dynamic-batch input
	// budget bounds the elements that constant folding may create in total
	// (8 per byte of the file + 64Ki), so a small file cannot make the
	// importer allocate much more than it holds (e.g. one big constant
	// concatenated or transposed a thousand times). Eight, not one: a
	// weight-shared model (compress's model.shared.onnx) folds each
	// 1-byte index into a gathered and then a cast value.
	budget int64
}

// spend takes n elements from the folding budget.
func (im *importer) spend(n *graph.Node, elems int) error {
	im.budget -= int64(elems)
	if im.budget < 0 {
		return nodeErr(n, "constant folding would create more values than the file holds")
	}
	return nil
}

// importModel imports m. A file with a dynamic batch whose shape
// arithmetic was folded at batch 1 is imported a second time with the
// batch fixed at 2, and kept only when every value's shape agrees with the
// first import's at batch 2 (so no folded constant mixed the batch into
// another dimension); otherwise it is an error.
func importModel(m *pb.ModelProto, size int64) (*graph.Graph, error) {
	g, baked, err := importOnce(m, size, 0)
	if err != nil || !baked {
		return g, err
	}
	g2, _, err := importOnce(m, size, 2)
	if err != nil {
		return nil, fmt.Errorf("at batch 2: %w", err)
	}
	in := map[string][]int{g.Inputs[0].Name: g2.Inputs[0].Shape}
	s1, err1 := g.InferShapes(in)
	s2, err2 := g2.InferShapes(nil)
	if err1 != nil {
		return nil, fmt.Errorf("with its shape arithmetic folded at batch 1, the graph does not run at batch 2 (%v): it mixes the dynamic batch into other dimensions; export it with a fixed batch", err1)
	}
	if err2 != nil {
		return nil, fmt.Errorf("at batch 2: %w", err2)
	}
	for _, k := range slices.Sorted(maps.Keys(s2)) {
		if a, ok := s1[k]; ok && !slices.Equal(a, s2[k]) {
			return nil, fmt.Errorf("value %q has shape %v at batch 2 when its shape arithmetic is folded at batch 1, %v when folded at batch 2: the graph mixes the dynamic batch into other dimensions; export it with a fixed batch", k, a, s2[k])
		}
	}
	return g, nil
}

// importOnce imports m; batch > 0 fixes a dynamic first input dimension
// at that size. It also reports whether a Shape was folded at batch 1 of a
// dynamic batch.
func importOnce(m *pb.ModelProto, size int64, batch int) (*graph.Graph, bool, error) {
	g, im, err := importGraph(m, size, batch)
	return g, im != nil && im.bakedBatch, err
}

func importGraph(m *pb.ModelProto, size int64, batch int) (*graph.Graph, *importer, error) {
	gp := m.GetGraph()
	if gp == nil {
		return nil, nil, errors.New("model has no graph")
	}
	im := &importer{
		opset:        -1,
		consts:       map[string]*constant{},
		used:         map[string]bool{},
		floatUse:     map[string]bool{},
		pendingSizes: map[*graph.Node][]int{},
		nodeNames:    map[string]bool{},
		dropped:      map[string]string{},
		transposeOf:  map[string]string{},
		budget:       8*size + 1<<16,
	}
	if err := im.setOpset(m); err != nil {
		return nil, nil, err
	}
	name := gp.GetName()
	if name == "" {
		name = "model"
	}
	g := graph.New(name)
	im.g = g
	for _, p := range m.GetMetadataProps() {
		g.Meta[p.GetKey()] = p.GetValue()
	}
	if err := im.readInputs(gp); err != nil {
		return nil, nil, err
	}
	if len(g.Inputs) > 0 && len(g.Inputs[0].Shape) > 0 && g.Inputs[0].Shape[0] < 0 && batch > 0 {
		g.Inputs[0].Shape[0] = batch
	}
	for _, n := range gp.GetNode() {
		im.used[n.GetName()] = true
		for _, o := range n.GetOutput() {
			im.used[o] = true
		}
	}
	for i, n := range gp.GetNode() {
		if err := im.node(i, n); err != nil {
			return nil, nil, err
		}
	}
	im.fuseMatMulAdd(gp)
	if err := im.checkDropped(gp); err != nil {
		return nil, nil, err
	}
	if err := im.readOutputs(gp); err != nil {
		return nil, nil, err
	}
	g, err := im.finish()
	return g, im, err
}

// setOpset reads the default-domain opset and checks it is supported.
func (im *importer) setOpset(m *pb.ModelProto) error {
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			im.opset = int(o.GetVersion())
		}
	}
	if im.opset < 0 {
		if len(m.GetOpsetImport()) > 0 {
			return errors.New("model imports no default-domain (ai.onnx) opset")
		}
		im.opset = minImportOpset // very old models may omit opset_import
	}
	if im.opset < minImportOpset || im.opset > maxImportOpset {
		return fmt.Errorf("opset %d is not supported (supported: %d to %d)", im.opset, minImportOpset, maxImportOpset)
	}
	return nil
}

// readInputs decodes the initializers and declares the graph inputs.
func (im *importer) readInputs(gp *pb.GraphProto) error {
	g := im.g
	for _, t := range gp.GetInitializer() {
		if t.GetName() == "" {
			return errors.New("an initializer has no name")
		}
		if _, dup := im.consts[t.GetName()]; dup {
			return fmt.Errorf("initializer %q is defined twice", t.GetName())
		}
		c, err := decodeTensor(t)
		if err != nil {
			return fmt.Errorf("initializer: %w", err)
		}
		im.consts[t.GetName()] = c
		im.used[t.GetName()] = true
	}
	if len(gp.GetSparseInitializer()) > 0 {
		return errors.New("sparse initializers are not supported")
	}
	for _, vi := range gp.GetInput() {
		if _, isInit := im.consts[vi.GetName()]; isInit {
			continue // IR < 4 lists initializers among the inputs too
		}
		v, err := valueInfo(vi, "input")
		if err != nil {
			return err
		}
		g.Inputs = append(g.Inputs, v)
		im.used[v.Name] = true
	}
	return nil
}

// checkDropped errors when a node or graph output reads an optional output
// that import dropped.
func (im *importer) checkDropped(gp *pb.GraphProto) error {
	for _, n := range im.g.Nodes {
		for _, in := range n.Inputs {
			if by, ok := im.dropped[in]; ok {
				return fmt.Errorf("node %q (%s) reads %q, an optional output of node %q that is not supported", n.Name, n.Op, in, by)
			}
		}
	}
	for _, o := range gp.GetOutput() {
		if by, ok := im.dropped[o.GetName()]; ok {
			return fmt.Errorf("graph output %q is an optional output of node %q that is not supported", o.GetName(), by)
		}
	}
	return nil
}

// readOutputs turns constants read as data into parameters and declares the
// graph outputs.
func (im *importer) readOutputs(gp *pb.GraphProto) error {
	g := im.g
	// Constants read as data become parameters.
	for name := range im.floatUse {
		c := im.consts[name]
		if c.isInt() {
			return fmt.Errorf("integer tensor %q is used as data; only float tensors can be parameters", name)
		}
		g.Params[name] = c.toTensor()
	}
	for _, vi := range gp.GetOutput() {
		v, err := valueInfo(vi, "output")
		if err != nil {
			return err
		}
		g.Outputs = append(g.Outputs, v)
	}
	if len(g.Outputs) == 0 {
		return errors.New("graph has no outputs")
	}
	if len(g.Inputs) == 0 {
		return errors.New("graph has no inputs")
	}
	return nil
}

// finish prunes, sorts and shape-checks the imported graph and sets the
// outputs' shapes (batch dynamic when the input's is).
func (im *importer) finish() (*graph.Graph, error) {
	g := im.g
	if im.bakedBatch {
		g.Inputs[0].Shape[0] = 1 // folded at batch 1: freeBatch frees it if it can
	}
	g.RemoveUnused()
	if err := g.Sort(); err != nil {
		return nil, err
	}
	if err := im.resolveSizes(); err != nil {
		return nil, err
	}
	if err := freeBatch(g); err != nil {
		return nil, err
	}
	if im.bakedBatch {
		delete(g.Meta, MetaFileBatch) // the file's batch was dynamic, not 1
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, err
	}
	dynBatch := len(g.Inputs[0].Shape) > 0 && g.Inputs[0].Shape[0] < 0
	for i, o := range g.Outputs {
		s, ok := shapes[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q is produced by no node", o.Name)
		}
		s = slices.Clone(s)
		if dynBatch && len(s) > 0 {
			s[0] = -1
		}
		g.Outputs[i].Shape = s
	}
	return g, nil
}

// valueInfo converts a graph input or output; only float tensors are allowed.
func valueInfo(vi *pb.ValueInfoProto, what string) (graph.Value, error) {
	v := graph.Value{Name: vi.GetName()}
	if v.Name == "" {
		return v, fmt.Errorf("a graph %s has no name", what)
	}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return v, fmt.Errorf("graph %s %q is not a tensor", what, v.Name)
	}
	if dt := tt.GetElemType(); dt != dtFloat && dt != 0 {
		return v, fmt.Errorf("graph %s %q has element type %s; only FLOAT is supported", what, v.Name, dtypeName(dt))
	}
	if tt.GetShape() == nil {
		return v, nil
	}
	for _, d := range tt.GetShape().GetDim() {
		dv := d.GetDimValue()
		switch {
		case d.Value == nil, d.GetDimParam() != "", dv <= 0:
			v.Shape = append(v.Shape, -1) // dim_param, unknown or -1: dynamic
		case dv > MaxElements:
			return v, fmt.Errorf("graph %s %q: dimension %d is too large", what, v.Name, dv)
		default:
			v.Shape = append(v.Shape, int(dv))
		}
	}
	return v, nil
}

// nodeErr formats errors naming a node and its op.
func nodeErr(n *graph.Node, format string, a ...any) error {
	return fmt.Errorf("node %q (%s): %s", n.Name, n.Op, fmt.Sprintf(format, a...))
}

// attrs decodes a node's attributes, refusing any not in allowed.
func (im *importer) attrs(n *graph.Node, p *pb.NodeProto, allowed ...string) (map[string]*pb.AttributeProto, error) {
	out := map[string]*pb.AttributeProto{}
	for _, a := range p.GetAttribute() {
		if !slices.Contains(allowed, a.GetName()) {
			return nil, nodeErr(n, "attribute %s is not supported", a.GetName())
		}
		if a.GetRefAttrName() != "" {
			return nil, nodeErr(n, "attribute %s refers to a function attribute, which is not supported", a.GetName())
		}
		out[a.GetName()] = a
	}
	return out, nil
}

// attrIs reports whether p is of type t: by its declared type, or for files
// that leave the type unset, by which field holds a value.
func attrIs(p *pb.AttributeProto, t pb.AttributeProto_AttributeType, present bool) bool {
	if p.Type != nil && p.GetType() != pb.AttributeProto_UNDEFINED {
		return p.GetType() == t
	}
	return present
}

func attrInt(n *graph.Node, a map[string]*pb.AttributeProto, name string, def int) (int, error) {
	p, ok := a[name]
	if !ok {
		return def, nil
	}
	if !attrIs(p, pb.AttributeProto_INT, p.I != nil) {
		return 0, nodeErr(n, "attribute %s must be an integer", name)
	}
	v := p.GetI()
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0, nodeErr(n, "attribute %s=%d is out of range", name, v)
	}
	return int(v), nil
}

func attrFloat(n *graph.Node, a map[string]*pb.AttributeProto, name string, def float32) (float32, error) {
	p, ok := a[name]
	if !ok {
		return def, nil
	}
	if !attrIs(p, pb.AttributeProto_FLOAT, p.F != nil) {
		return 0, nodeErr(n, "attribute %s must be a float", name)
	}
	return p.GetF(), nil
}

func attrInts(n *graph.Node, a map[string]*pb.AttributeProto, name string) ([]int, bool, error) {
	p, ok := a[name]
	if !ok {
		return nil, false, nil
	}
	if !attrIs(p, pb.AttributeProto_INTS, len(p.GetInts()) > 0) {
		return nil, false, nodeErr(n, "attribute %s must be a list of integers", name)
	}
	out := make([]int, len(p.GetInts()))
	for i, v := range p.GetInts() {
		if v > math.MaxInt32 || v < math.MinInt32 {
			return nil, false, nodeErr(n, "attribute %s=%v is out of range", name, p.GetInts())
		}
		out[i] = int(v)
	}
	return out, true, nil
}

func attrFloats(n *graph.Node, a map[string]*pb.AttributeProto, name string) ([]float32, bool, error) {
	p, ok := a[name]
	if !ok {
		return nil, false, nil
	}
	if !attrIs(p, pb.AttributeProto_FLOATS, len(p.GetFloats()) > 0) {
		return nil, false, nodeErr(n, "attribute %s must be a list of floats", name)
	}
	return slices.Clone(p.GetFloats()), true, nil
}

func attrString(n *graph.Node, a map[string]*pb.AttributeProto, name, def string) (string, error) {
	p, ok := a[name]
	if !ok {
		return def, nil
	}
	if !attrIs(p, pb.AttributeProto_STRING, p.S != nil) {
		return "", nodeErr(n, "attribute %s must be a string", name)
	}
	return string(p.GetS()), nil
}

// constInput returns the constant feeding input i, or nil when the input is
// absent. A present input that is not constant is an error.
func (im *importer) constInput(n *graph.Node, i int, what string) (*constant, error) {
	name := n.Input(i)
	if name == "" {
		return nil, nil
	}
	c, ok := im.consts[name]
	if !ok {
		return nil, nodeErr(n, "input %d (%s) %q must be a constant (initializer or Constant node)", i, what, name)
	}
	return c, nil
}

// node converts one ONNX node and appends the result to the graph.
func (im *importer) node(idx int, p *pb.NodeProto) error {
	op := p.GetOpType()
	name := p.GetName()
	if name == "" || im.nodeNames[name] {
		name = im.fresh(fmt.Sprintf("%s_%d", op, idx))
	}
	im.nodeNames[name] = true
	n := &graph.Node{Name: name, Op: op, Inputs: slices.Clone(p.GetInput()), Outputs: slices.Clone(p.GetOutput()), Attrs: graph.Attrs{}}
	if d := p.GetDomain(); d != "" && d != "ai.onnx" {
		return nodeErr(n, "operator domain %q is not supported", d)
	}
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return nodeErr(n, "has no output")
	}
	if folded, err := im.foldConst(n, p); err != nil || folded {
		return err
	}
	if op == "Shape" {
		return im.shapeNode(n, p)
	}
	if op == "Constant" {
		return im.constantNode(n, p)
	}
	imp := importers[op]
	if imp == nil {
		return nodeErr(n, "op type %q is not supported", op)
	}
	if err := imp(im, n, p); err != nil {
		return err
	}
	if len(n.Outputs) > 1 && n.Op != graph.OpSplit {
		return nodeErr(n, "has %d outputs; only one is supported", len(n.Outputs))
	}
	im.g.Nodes = append(im.g.Nodes, n)
	return nil
}

func orErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// fresh returns an unused name based on base.
func (im *importer) fresh(base string) string {
	s := base
	for i := 1; im.used[s]; i++ {
		s = fmt.Sprintf("%s_%d", base, i)
	}
	im.used[s] = true
	return s
}

// markData records that inputs at the given slots are read as tensors, so
// constants there become parameters.
func (im *importer) markData(n *graph.Node, slots ...int) {
	for _, i := range slots {
		if name := n.Input(i); name != "" {
			if _, ok := im.consts[name]; ok {
				im.floatUse[name] = true
			}
		}
	}
}

// singleOutput drops trailing optional outputs (BN's running statistics,
// Dropout's mask, MaxPool's indices); reading one is an error reported
// after all nodes are converted.
func (im *importer) singleOutput(n *graph.Node) error {
	for _, o := range n.Outputs[1:] {
		if o != "" {
			im.dropped[o] = n.Name
		}
	}
	n.Outputs = n.Outputs[:1]
	return nil
}

// copyInts copies integer-list attributes, checking their length.
func (im *importer) copyInts(n *graph.Node, a map[string]*pb.AttributeProto, want int, names ...string) error {
	for _, name := range names {
		v, ok, err := attrInts(n, a, name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if len(v) != want {
			return nodeErr(n, "attribute %s=%v: only 2-D (NCHW) is supported, want %d values", name, v, want)
		}
		n.Attrs[name] = v
	}
	return nil
}

// autoPad accepts auto_pad NOTSET and VALID (explicit zero padding).
func (im *importer) autoPad(n *graph.Node, a map[string]*pb.AttributeProto) error {
	ap, err := attrString(n, a, "auto_pad", "NOTSET")
	if err != nil {
		return err
	}
	switch ap {
	case "NOTSET", "":
	case "VALID":
		if _, ok := a["pads"]; ok {
			return nodeErr(n, "attribute auto_pad=\"VALID\" together with pads is not allowed")
		}
	default:
		return nodeErr(n, "attribute auto_pad=%q is not supported", ap)
	}
	return nil
}

func (im *importer) constantNode(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "value", "value_float", "value_floats", "value_int", "value_ints")
	if err != nil {
		return err
	}
	if len(a) != 1 {
		return nodeErr(n, "needs exactly one value attribute, has %d", len(a))
	}
	var c *constant
	switch {
	case a["value"] != nil:
		t := a["value"].GetT()
		if t == nil {
			return nodeErr(n, "attribute value holds no tensor")
		}
		if c, err = decodeTensor(t); err != nil {
			return nodeErr(n, "attribute value: %v", err)
		}
	case a["value_float"] != nil:
		c = &constant{Shape: []int{}, F: []float32{a["value_float"].GetF()}}
	case a["value_floats"] != nil:
		f := a["value_floats"].GetFloats()
		c = &constant{Shape: []int{len(f)}, F: slices.Clone(f)}
	case a["value_int"] != nil:
		c = &constant{Shape: []int{}, I: []int64{a["value_int"].GetI()}}
	case a["value_ints"] != nil:
		v := a["value_ints"].GetInts()
		c = &constant{Shape: []int{len(v)}, I: slices.Clone(v)}
	}
	if c.F == nil && c.I == nil {
		c.I = []int64{}
	}
	if len(n.Outputs) != 1 {
		return nodeErr(n, "needs one output")
	}
	if _, dup := im.consts[n.Outputs[0]]; dup {
		return nodeErr(n, "output %q redefines a constant", n.Outputs[0])
	}
	im.consts[n.Outputs[0]] = c
	return nil
}

func (im *importer) clip(n *graph.Node, p *pb.NodeProto) error {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if im.opset < 11 {
		a, err := im.attrs(n, p, "min", "max", "consumed_inputs")
		if err != nil {
			return err
		}
		if lo, err = attrFloat(n, a, "min", lo); err != nil {
			return err
		}
		if hi, err = attrFloat(n, a, "max", hi); err != nil {
			return err
		}
		if len(n.Inputs) != 1 {
			return nodeErr(n, "takes 1 input at opset %d, has %d", im.opset, len(n.Inputs))
		}
	} else {
		if _, err := im.attrs(n, p); err != nil {
			return err
		}
		if len(n.Inputs) > 3 {
			return nodeErr(n, "takes at most 3 inputs, has %d", len(n.Inputs))
		}
		for i, dst := range []*float32{&lo, &hi} {
			what := [...]string{"min", "max"}[i]
			c, err := im.constInput(n, i+1, what)
			if err != nil {
				return err
			}
			if c == nil {
				continue
			}
			f := c.floats()
			if len(f) != 1 {
				return nodeErr(n, "input %s must be a scalar, has %d values", what, len(f))
			}
			*dst = f[0]
		}
		n.Inputs = n.Inputs[:1]
	}
	n.Attrs["min"] = lo
	n.Attrs["max"] = hi
	im.markData(n, 0)
	return nil
}

// hardSigmoid keeps alpha and beta (defaults 0.2 and 0.5) as attributes;
// PyTorch writes nn.Hardsigmoid as alpha=1/6 and, before opset 14,
// nn.Hardswish as x * HardSigmoid(x).
func (im *importer) hardSigmoid(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "alpha", "beta", "consumed_inputs")
	if err != nil {
		return err
	}
	alpha, err := attrFloat(n, a, "alpha", 0.2)
	if err != nil {
		return err
	}
	beta, err := attrFloat(n, a, "beta", 0.5)
	if err != nil {
		return err
	}
	for _, v := range []float32{alpha, beta} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nodeErr(n, "attributes alpha=%g and beta=%g must be finite", alpha, beta)
		}
	}
	n.Attrs["alpha"] = alpha
	n.Attrs["beta"] = beta
	im.markData(n, 0)
	return nil
}

func (im *importer) pool(n *graph.Node, p *pb.NodeProto) error {
	allowed := []string{"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode"}
	if n.Op == "MaxPool" {
		allowed = append(allowed, "dilations", "storage_order")
	} else {
		allowed = append(allowed, "count_include_pad", "dilations")
	}
	a, err := im.attrs(n, p, allowed...)
	if err != nil {
		return err
	}
	if err := im.autoPad(n, a); err != nil {
		return err
	}
	if _, ok := a["kernel_shape"]; !ok {
		return nodeErr(n, "attribute kernel_shape is missing")
	}
	if err := im.copyInts(n, a, 2, "kernel_shape", "strides", "dilations"); err != nil {
		return err
	}
	if err := im.copyInts(n, a, 4, "pads"); err != nil {
		return err
	}
	if d := n.Attrs.Ints("dilations", []int{1, 1}); n.Op == "AveragePool" && (d[0] != 1 || d[1] != 1) {
		return nodeErr(n, "attribute dilations=%v is not supported", d)
	}
	if n.Op == "AveragePool" {
		delete(n.Attrs, "dilations")
	}
	if so, err := attrInt(n, a, "storage_order", 0); err != nil || so != 0 {
		return orErr(err, nodeErr(n, "attribute storage_order=%d is not supported", so))
	}
	cm, err := attrInt(n, a, "ceil_mode", 0)
	if err != nil {
		return err
	}
	if cm != 0 {
		n.Attrs["ceil_mode"] = 1
	}
	if n.Op == "AveragePool" {
		cip, err := attrInt(n, a, "count_include_pad", 0)
		if err != nil {
			return err
		}
		if cip != 0 {
			n.Attrs["count_include_pad"] = 1
		}
	}
	im.singleOutput(n) // MaxPool indices
	im.markData(n, 0)
	return nil
}

func (im *importer) reshape(n *graph.Node, p *pb.NodeProto) error {
	var shape []int
	if im.opset < 5 {
		return nodeErr(n, "Reshape before opset 5 is not supported")
	}
	a, err := im.attrs(n, p, "allowzero")
	if err != nil {
		return err
	}
	c, err := im.constInput(n, 1, "shape")
	if err != nil {
		return err
	}
	if c == nil {
		return nodeErr(n, "input shape is missing")
	}
	if !c.isInt() {
		return nodeErr(n, "input shape must be an INT64 tensor")
	}
	if shape, err = c.ints(); err != nil {
		return nodeErr(n, "input shape: %v", err)
	}
	if az, err := attrInt(n, a, "allowzero", 0); err != nil || (az != 0 && slices.Contains(shape, 0)) {
		return orErr(err, nodeErr(n, "attribute allowzero=1 with a 0 in shape %v is not supported", shape))
	}
	n.Inputs = n.Inputs[:1]
	n.Attrs["shape"] = shape
	im.markData(n, 0)
	return nil
}

func (im *importer) gemm(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "alpha", "beta", "transA", "transB", "broadcast")
	if err != nil {
		return err
	}
	alpha, err := attrFloat(n, a, "alpha", 1)
	if err != nil {
		return err
	}
	beta, err := attrFloat(n, a, "beta", 1)
	if err != nil {
		return err
	}
	ta, err := attrInt(n, a, "transA", 0)
	if err != nil {
		return err
	}
	tb, err := attrInt(n, a, "transB", 0)
	if err != nil {
		return err
	}
	if ta != 0 {
		return nodeErr(n, "attribute transA=%d is not supported", ta)
	}
	if len(n.Inputs) < 2 || len(n.Inputs) > 3 {
		return nodeErr(n, "needs 2 or 3 inputs, has %d", len(n.Inputs))
	}
	if tb != 0 {
		n.Attrs["transB"] = 1
	}
	// Fold alpha and beta into constant operands where possible, so the
	// canonical form has alpha = beta = 1.
	if alpha != 1 {
		if c, ok := im.consts[n.Inputs[1]]; ok && !c.isInt() {
			if err := im.spend(n, len(c.F)); err != nil {
				return err
			}
			nm := im.fresh(n.Inputs[1] + "_alpha")
			s := &constant{Shape: c.Shape, F: scaled(c.F, alpha)}
			im.consts[nm] = s
			n.Inputs[1] = nm
		} else {
			n.Attrs["alpha"] = alpha
		}
	}
	if len(n.Inputs) == 3 && n.Inputs[2] != "" {
		if beta == 0 {
			n.Inputs = n.Inputs[:2]
		} else if beta != 1 {
			if c, ok := im.consts[n.Inputs[2]]; ok && !c.isInt() {
				if err := im.spend(n, len(c.F)); err != nil {
					return err
				}
				nm := im.fresh(n.Inputs[2] + "_beta")
				im.consts[nm] = &constant{Shape: c.Shape, F: scaled(c.F, beta)}
				n.Inputs[2] = nm
			} else {
				n.Attrs["beta"] = beta
			}
		}
	}
	if len(n.Inputs) == 3 && n.Inputs[2] == "" {
		n.Inputs = n.Inputs[:2]
	}
	im.markData(n, 0, 1, 2)
	return nil
}

func scaled(f []float32, s float32) []float32 {
	out := make([]float32, len(f))
	for i, v := range f {
		out[i] = v * s
	}
	return out
}

// matmul rewrites MatMul(A, W) with a constant 2-D W into Gemm(A, W).
func (im *importer) matmul(n *graph.Node, p *pb.NodeProto) error {
	if _, err := im.attrs(n, p); err != nil {
		return err
	}
	if len(n.Inputs) != 2 {
		return nodeErr(n, "needs 2 inputs, has %d", len(n.Inputs))
	}
	c, ok := im.consts[n.Inputs[1]]
	if !ok || c.isInt() || len(c.Shape) != 2 {
		return nodeErr(n, "only MatMul by a constant 2-D float weight is supported (input %q)", n.Inputs[1])
	}
	n.Op = graph.OpGemm
	if src, ok := im.transposeOf[n.Inputs[1]]; ok {
		// MatMul(A, Transpose(W)) is Gemm(A, W, transB=1): keep W's own name.
		n.Inputs[1] = src
		n.Attrs["transB"] = 1
	}
	im.markData(n, 0, 1)
	return nil
}

// fuseMatMulAdd turns Gemm(A, W) (from MatMul) followed by Add(., bias) with
// a constant bias of shape [M] or [1, M] into Gemm(A, W, bias), the form
// PyTorch's Linear has, so pruning sees one layer.
func (im *importer) fuseMatMulAdd(gp *pb.GraphProto) {
	outs := map[string]bool{}
	for _, o := range gp.GetOutput() {
		outs[o.GetName()] = true
	}
	drop := map[*graph.Node]bool{}
	for _, n := range im.g.Nodes {
		if n.Op != graph.OpGemm || len(n.Inputs) != 2 || outs[n.Outputs[0]] || n.Attrs["alpha"] != nil {
			continue
		}
		w := im.consts[n.Inputs[1]]
		if w == nil || len(w.Shape) != 2 {
			continue
		}
		m := w.Shape[1]
		if n.Attrs.Int("transB", 0) != 0 {
			m = w.Shape[0]
		}
		cons := im.g.Consumers(n.Outputs[0])
		if len(cons) != 1 || cons[0].Op != graph.OpAdd || drop[cons[0]] {
			continue
		}
		add := cons[0]
		other := add.Inputs[0]
		if other == n.Outputs[0] {
			other = add.Inputs[1]
		}
		b := im.consts[other]
		if b == nil || b.isInt() || other == n.Outputs[0] || len(b.F) != m || len(b.Shape) == 0 || len(b.Shape) > 2 || (len(b.Shape) == 2 && b.Shape[0] != 1) {
			continue
		}
		b.Shape = []int{m} // canonical Gemm bias is [M]; [1, M] broadcasts the same
		n.Inputs = append(n.Inputs, other)
		n.Outputs[0] = add.Outputs[0]
		drop[add] = true
	}
	nodes := im.g.Nodes[:0]
	for _, n := range im.g.Nodes {
		if !drop[n] {
			nodes = append(nodes, n)
		}
	}
	im.g.Nodes = nodes
}

// resize converts Resize (opset 10+) and Upsample (opset 7-9) with nearest
// mode and integer scales.
func (im *importer) resize(n *graph.Node, p *pb.NodeProto) error {
	var a map[string]*pb.AttributeProto
	var err error
	var scales []float32
	var sizes []int
	if n.Op == "Upsample" {
		if a, err = im.attrs(n, p, "mode", "scales"); err != nil {
			return err
		}
		if v, ok, err := attrFloats(n, a, "scales"); err != nil {
			return err
		} else if ok {
			scales = v
		} else {
			c, err := im.constInput(n, 1, "scales")
			if err != nil {
				return err
			}
			if c == nil {
				return nodeErr(n, "has neither a scales attribute nor a scales input")
			}
			scales = c.floats()
		}
	} else {
		if a, err = im.attrs(n, p, "mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value", "antialias", "keep_aspect_ratio_policy"); err != nil {
			return err
		}
		sIdx, zIdx := 2, 3
		if im.opset == 10 {
			sIdx, zIdx = 1, -1
		}
		if c, err := im.constInput(n, sIdx, "scales"); err != nil {
			return err
		} else if c != nil && len(c.floats()) > 0 {
			scales = c.floats()
		}
		if zIdx > 0 {
			if c, err := im.constInput(n, zIdx, "sizes"); err != nil {
				return err
			} else if c != nil && len(c.I)+len(c.F) > 0 {
				if sizes, err = c.ints(); err != nil {
					return nodeErr(n, "input sizes: %v", err)
				}
			}
		}
		if scales == nil && sizes == nil {
			return nodeErr(n, "has neither scales nor sizes")
		}
		if m, err := attrString(n, a, "mode", "nearest"); err != nil || m != "nearest" {
			return orErr(err, nodeErr(n, "attribute mode=%q is not supported (only \"nearest\")", m))
		}
		ctm, err := attrString(n, a, "coordinate_transformation_mode", "half_pixel")
		if err != nil {
			return err
		}
		nm, err := attrString(n, a, "nearest_mode", "round_prefer_floor")
		if err != nil {
			return err
		}
		if im.opset == 10 {
			ctm, nm = "asymmetric", "floor" // opset 10 Resize is Upsample's mapping
		}
		// With an integer factor s, output x maps to input floor(x/s) exactly
		// for these pairs; other pairs shift some rows by one.
		ok := (ctm == "asymmetric" && nm == "floor") ||
			((ctm == "half_pixel" || ctm == "pytorch_half_pixel") && (nm == "round_prefer_floor" || nm == "round_prefer_ceil")) ||
			(ctm == "tf_half_pixel_for_nn" && nm == "floor")
		if !ok {
			return nodeErr(n, "attribute coordinate_transformation_mode=%q with nearest_mode=%q is not supported", ctm, nm)
		}
		if v, err := attrInt(n, a, "antialias", 0); err != nil || v != 0 {
			return orErr(err, nodeErr(n, "attribute antialias=%d is not supported", v))
		}
		if v, err := attrInt(n, a, "exclude_outside", 0); err != nil || v != 0 {
			return orErr(err, nodeErr(n, "attribute exclude_outside=%d is not supported", v))
		}
		if _, ok := a["keep_aspect_ratio_policy"]; ok && sizes != nil {
			if v, _ := attrString(n, a, "keep_aspect_ratio_policy", "stretch"); v != "stretch" {
				return nodeErr(n, "attribute keep_aspect_ratio_policy=%q is not supported", v)
			}
		}
	}
	mode, err := attrString(n, a, "mode", "nearest")
	if err != nil {
		return err
	}
	if mode != "nearest" {
		return nodeErr(n, "attribute mode=%q is not supported (only \"nearest\")", mode)
	}
	n.Op = graph.OpResize
	n.Inputs = n.Inputs[:1]
	n.Attrs["mode"] = "nearest"
	if scales != nil {
		for _, s := range scales {
			if s < 1 || s != float32(math.Trunc(float64(s))) {
				return nodeErr(n, "scales %v: only integer up-scaling is supported", scales)
			}
		}
		n.Attrs["scales"] = scales
	} else {
		im.pendingSizes[n] = sizes
	}
	im.markData(n, 0)
	return nil
}

// resolveSizes turns the sizes of Resize nodes into integer scales, using
// the shapes inferred up to each node (graph must be sorted).
func (im *importer) resolveSizes() error {
	for _, n := range im.g.Nodes {
		sizes, ok := im.pendingSizes[n]
		if !ok {
			continue
		}
		sub := &graph.Graph{Name: im.g.Name, Inputs: im.g.Inputs, Params: im.g.Params}
		for _, m := range im.g.Nodes {
			if m == n {
				break
			}
			sub.Nodes = append(sub.Nodes, m)
		}
		shapes, err := sub.InferShapes(nil)
		if err != nil {
			return err
		}
		in, ok := shapes[n.Inputs[0]]
		if !ok {
			return nodeErr(n, "cannot infer the shape of input %q", n.Inputs[0])
		}
		if len(sizes) != len(in) {
			return nodeErr(n, "sizes %v for an input of rank %d", sizes, len(in))
		}
		sc := make([]float32, len(in))
		for i := range in {
			switch {
			case i == 0 && im.g.Inputs[0].Shape != nil && len(im.g.Inputs[0].Shape) > 0 && im.g.Inputs[0].Shape[0] < 0:
				sc[i] = 1 // dynamic batch: sizes[0] is whatever batch the exporter traced
			case in[i] > 0 && sizes[i]%in[i] == 0 && sizes[i] >= in[i]:
				sc[i] = float32(sizes[i] / in[i])
			default:
				return nodeErr(n, "sizes %v for input %v: only integer up-scaling is supported", sizes, in)
			}
		}
		n.Attrs["scales"] = sc
	}
	return nil
}

func (im *importer) dropout(n *graph.Node, p *pb.NodeProto) error {
	a, err := im.attrs(n, p, "ratio", "is_test", "seed", "consumed_inputs")
	if err != nil {
		return err
	}
	ratio, err := attrFloat(n, a, "ratio", 0.5)
	if err != nil {
		return err
	}
	if im.opset >= 12 {
		c, err := im.constInput(n, 1, "ratio")
		if err != nil {
			return err
		}
		if c != nil {
			if f := c.floats(); len(f) == 1 {
				ratio = f[0]
			} else {
				return nodeErr(n, "input ratio must be a scalar")
			}
		}
		tm, err := im.constInput(n, 2, "training_mode")
		if err != nil {
			return err
		}
		if tm != nil && len(tm.I) == 1 && tm.I[0] != 0 {
			return nodeErr(n, "input training_mode=true is not supported (export in eval mode)")
		}
	}
	n.Inputs = n.Inputs[:1]
	im.singleOutput(n) // the mask
	n.Attrs["ratio"] = ratio
	im.markData(n, 0)
	return nil
}

// sortedMeta returns metadata keys in order, for deterministic export.
func sortedMeta(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
