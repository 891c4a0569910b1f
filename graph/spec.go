package graph

import (
	"fmt"
	"slices"
	"sort"
)

// OpSpec is everything slimgo knows about one canonical op that is not an
// execution kernel: its attributes, shape rule, cost, how its channels
// couple for pruning and the ONNX op types that import as it. Each op has
// one spec file (spec_*.go); the engine registers a kernel under the same
// name, and onnx, prune, rl and ComputeStats read the spec. Adding an op is
// one spec file, one engine kernel file and their tests (plus an ONNX
// import/export hook in onnx/ops_*.go when its ONNX spelling is not plain).
type OpSpec struct {
	// Name is the canonical op name (an ONNX op type, e.g. "Conv").
	Name string
	// Attrs lists the canonical attributes with their defaults (nil: no
	// default). A graph node has no other attributes.
	Attrs []AttrSpec
	// Shape infers the output shapes from the input shapes (nil for an
	// absent optional input). It errors on inconsistent shapes.
	Shape func(n *Node, in [][]int) ([][]int, error)
	// MACs is the multiply-accumulate count of one node given its input
	// shapes and its first output's shape (nil: no MACs counted).
	MACs func(n *Node, in [][]int, out []int) int64
	// Buffers lists input slots that hold non-trainable buffers (BN's
	// running mean and variance): they count in no parameter total.
	Buffers []int
	// Coupling says how the op's output channels relate to its input
	// channels, for channel pruning (see prune.Groups).
	Coupling Coupling
	// Layer is non-nil for ops with a weight matrix (Conv, Gemm): it gives
	// the geometry the pruning agent sees as layer features.
	Layer func(n *Node, in [][]int) (LayerGeom, error)
	// ONNX lists the ONNX op types the importer turns into this op (the
	// onnx package registers one import hook per type and one export hook
	// per op; its tests check that every spec is covered).
	ONNX []string
}

// AttrSpec is one canonical attribute and its default.
type AttrSpec struct {
	Name    string
	Default any
}

// LayerGeom is a weighted layer's geometry at its input: input channels,
// input height and width, stride and kernel size (1 where they do not apply).
type LayerGeom struct {
	InC, H, W, Stride, Kernel int
}

// Coupling is how an op's output channels couple to its input channels.
type Coupling int

const (
	// CoupleNone: no rule; channel analysis errors on such an op.
	CoupleNone Coupling = iota
	// CoupleConv: a Conv, which creates new channels (or, grouped, ties them).
	CoupleConv
	// CoupleBN: per-channel parameters follow the input's channels.
	CoupleBN
	// CouplePass: element-wise on one input; channels pass through.
	CouplePass
	// CoupleSpatial: works per channel on the spatial axes; channels pass
	// through while they are plain NCHW channels.
	CoupleSpatial
	// CoupleElementwise: two inputs broadcast together (Add, Mul); their
	// channels are tied.
	CoupleElementwise
	// CoupleConcat: channels of the inputs are laid end to end.
	CoupleConcat
	// CoupleFlatten: channels become blocks of features.
	CoupleFlatten
	// CoupleGemm: a fully connected layer, which creates new features.
	CoupleGemm
	// CoupleBarrier: channels cannot be followed through the op.
	CoupleBarrier
)

var specs = map[string]*OpSpec{}

// register adds a spec; it panics on a duplicate (a programmer error).
func register(s *OpSpec) {
	if _, dup := specs[s.Name]; dup {
		panic("graph: op spec registered twice: " + s.Name)
	}
	specs[s.Name] = s
}

// Spec returns the spec of a canonical op, or nil for an unknown op.
func Spec(op string) *OpSpec { return specs[op] }

// Specs returns the names of all canonical ops, sorted.
func Specs() []string {
	var ops []string
	for k := range specs {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// AttrNames returns the names of the op's canonical attributes.
func (s *OpSpec) AttrNames() []string {
	names := make([]string, len(s.Attrs))
	for i, a := range s.Attrs {
		names[i] = a.Name
	}
	return names
}

// CheckAttrs errors, naming the node, on an attribute that is neither
// canonical for the op nor listed in extra.
func (s *OpSpec) CheckAttrs(n *Node, extra ...string) error {
	for k := range n.Attrs {
		if !slices.ContainsFunc(s.Attrs, func(a AttrSpec) bool { return a.Name == k }) && !slices.Contains(extra, k) {
			return fmt.Errorf("node %q (%s): attribute %s is not supported", n.Name, n.Op, k)
		}
	}
	return nil
}

// CouplingOf returns the channel coupling of op (CoupleNone when unknown).
func CouplingOf(op string) Coupling {
	if s := specs[op]; s != nil {
		return s.Coupling
	}
	return CoupleNone
}

// IsBuffer reports whether input slot i of an op is a non-trainable buffer
// (BatchNormalization's running mean and variance).
func IsBuffer(op string, slot int) bool {
	s := specs[op]
	return s != nil && slices.Contains(s.Buffers, slot)
}

// nodeShape applies the op's shape rule.
func nodeShape(n *Node, in [][]int) ([][]int, error) {
	s := specs[n.Op]
	if s == nil || s.Shape == nil {
		return nil, fmt.Errorf("unsupported op %q", n.Op)
	}
	return s.Shape(n, in)
}

// need checks that the first k inputs are present.
func need(in [][]int, k int) error {
	if len(in) < k {
		return fmt.Errorf("needs %d inputs, has %d", k, len(in))
	}
	for i := range k {
		if in[i] == nil {
			return fmt.Errorf("input %d is missing", i)
		}
	}
	return nil
}

// sameShape is the shape rule of ops whose one output has their first
// input's shape.
func sameShape(_ *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	return [][]int{in[0]}, nil
}
