package graph

import (
	"fmt"
)

// Canonical op names. Each op's form (inputs, attributes with defaults,
// shape rule, costs, channel coupling, ONNX spellings) is its OpSpec in
// spec_*.go; shapes are NCHW.
const (
	OpConv        = "Conv"
	OpBN          = "BatchNormalization"
	OpRelu        = "Relu"
	OpLeakyRelu   = "LeakyRelu"
	OpClip        = "Clip"
	OpSigmoid     = "Sigmoid"
	OpSilu        = "Silu"
	OpHardSigmoid = "HardSigmoid"
	OpHardSwish   = "HardSwish"
	OpAdd         = "Add"
	OpMul         = "Mul"
	OpConcat      = "Concat"
	OpMaxPool     = "MaxPool"
	OpAveragePool = "AveragePool"
	OpGlobalAvg   = "GlobalAveragePool"
	OpFlatten     = "Flatten"
	OpReshape     = "Reshape"
	OpGemm        = "Gemm"
	OpResize      = "Resize"
	OpDropout     = "Dropout"
	OpIdentity    = "Identity"
	OpExp         = "Exp"
	OpPow         = "Pow"
	OpSub         = "Sub"
	OpDiv         = "Div"
	OpTranspose   = "Transpose"
	OpSlice       = "Slice"
	OpSplit       = "Split"
	OpSoftmax     = "Softmax"
)

// ConvGeom is the resolved geometry of a Conv or pooling node.
type ConvGeom struct {
	KH, KW                 int
	SH, SW                 int
	PadT, PadL, PadB, PadR int
	DH, DW                 int
	Group                  int
	CeilMode               bool
}

// Geom reads a Conv/MaxPool/AveragePool node's geometry. For Conv the kernel
// size comes from the weight shape w ([M, C/group, kh, kw]); for pools from
// kernel_shape. It errors on malformed attributes.
func Geom(n *Node, w []int) (ConvGeom, error) {
	g := ConvGeom{Group: n.Attrs.Int("group", 1), CeilMode: n.Attrs.Int("ceil_mode", 0) != 0}
	ks := n.Attrs.Ints("kernel_shape", nil)
	if len(w) == 4 {
		if ks != nil && (len(ks) != 2 || ks[0] != w[2] || ks[1] != w[3]) {
			return g, fmt.Errorf("node %q (%s): kernel_shape %v disagrees with weight shape %v", n.Name, n.Op, ks, w)
		}
		ks = []int{w[2], w[3]}
	}
	if len(ks) != 2 {
		return g, fmt.Errorf("node %q (%s): need a 2-D kernel_shape, got %v", n.Name, n.Op, ks)
	}
	g.KH, g.KW = ks[0], ks[1]
	st := n.Attrs.Ints("strides", []int{1, 1})
	dl := n.Attrs.Ints("dilations", []int{1, 1})
	pd := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	if len(st) != 2 || len(dl) != 2 || len(pd) != 4 {
		return g, fmt.Errorf("node %q (%s): strides %v, dilations %v, pads %v: want 2, 2 and 4 values", n.Name, n.Op, st, dl, pd)
	}
	g.SH, g.SW, g.DH, g.DW = st[0], st[1], dl[0], dl[1]
	g.PadT, g.PadL, g.PadB, g.PadR = pd[0], pd[1], pd[2], pd[3]
	if g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.Group < 1 ||
		g.PadT < 0 || g.PadL < 0 || g.PadB < 0 || g.PadR < 0 {
		return g, fmt.Errorf("node %q (%s): invalid geometry %+v", n.Name, n.Op, g)
	}
	return g, nil
}

// Out returns the output spatial size for an input of h x w.
func (g ConvGeom) Out(h, w int) (int, int) {
	f := func(in, k, s, d, p0, p1 int) int {
		num := in + p0 + p1 - d*(k-1) - 1
		if num < 0 {
			return 0
		}
		if g.CeilMode {
			o := (num+s-1)/s + 1
			// ONNX/PyTorch: the last window must start inside the input or left padding.
			if (o-1)*s >= in+p0 {
				o--
			}
			return o
		}
		return num/s + 1
	}
	return f(h, g.KH, g.SH, g.DH, g.PadT, g.PadB), f(w, g.KW, g.SW, g.DW, g.PadL, g.PadR)
}

// Broadcast returns the NumPy broadcast of two shapes or an error.
func Broadcast(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// ReshapeTarget resolves an ONNX Reshape shape against an input shape.
func ReshapeTarget(in, shape []int) ([]int, error) {
	out := make([]int, len(shape))
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == 0:
			if i >= len(in) {
				return nil, fmt.Errorf("reshape %v of %v: 0 at axis %d copies nothing", shape, in, i)
			}
			out[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape %v: two -1 dimensions", shape)
			}
			infer = i
			continue
		case d < -1:
			return nil, fmt.Errorf("reshape %v: negative dimension", shape)
		default:
			out[i] = d
		}
		known *= out[i]
	}
	total := 1
	for _, d := range in {
		total *= d
	}
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, shape)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", in, total, shape)
	}
	return out, nil
}

// InferShapes computes the shape of every value for the given graph input
// shapes (a missing entry takes the declared shape with -1 replaced by 1).
// Parameters have their tensor shapes. It errors, naming the node, on an
// unknown op or inconsistent shapes.
func (g *Graph) InferShapes(inputs map[string][]int) (map[string][]int, error) {
	shapes := map[string][]int{}
	for _, v := range g.Inputs {
		if s, ok := inputs[v.Name]; ok {
			shapes[v.Name] = s
			continue
		}
		s := append([]int(nil), v.Shape...)
		for i := range s {
			if s[i] < 0 {
				s[i] = 1
			}
		}
		shapes[v.Name] = s
	}
	for k, t := range g.Params {
		shapes[k] = t.Shape
	}
	order, err := g.Topo()
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		out, err := nodeShape(n, inputShapes(n, shapes))
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		for i, o := range n.Outputs {
			if i < len(out) && o != "" {
				shapes[o] = out[i]
			}
		}
	}
	return shapes, nil
}

// inputShapes returns the shapes of n's inputs (nil for an absent one).
func inputShapes(n *Node, shapes map[string][]int) [][]int {
	in := make([][]int, len(n.Inputs))
	for i, name := range n.Inputs {
		if name != "" {
			in[i] = shapes[name]
		}
	}
	return in
}
