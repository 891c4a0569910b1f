package graph

import (
	"fmt"
	"math"
)

// Canonical op forms (inputs; attributes with defaults). Shapes are NCHW.
//
//	Conv               X[N,C,H,W], W[M,C/group,kh,kw], B[M]?; strides[2]=1, pads[4]=0 (top,left,bottom,right), dilations[2]=1, group=1
//	BatchNormalization X, scale[C], B[C], mean[C], var[C]; epsilon=1e-5, momentum=0.9 (running = momentum*running + (1-momentum)*batch)
//	Relu, Sigmoid, Silu (x*sigmoid(x)), Identity        X
//	LeakyRelu          X; alpha=0.01
//	Clip               X; min=-Inf, max=+Inf (float attributes)
//	HardSigmoid        X; alpha=0.2, beta=0.5: max(0, min(1, alpha*x + beta))
//	HardSwish          X: x * max(0, min(1, x/6 + 1/2)) (= x * relu6(x+3)/6)
//	Add, Mul           A, B with NumPy (multidirectional) broadcasting
//	Concat             X1..Xn; axis
//	MaxPool            X; kernel_shape[2], strides[2]=1, pads[4]=0, dilations[2]=1, ceil_mode=0
//	AveragePool        X; kernel_shape, strides, pads, ceil_mode, count_include_pad=0
//	GlobalAveragePool  X[N,C,H,W] -> [N,C,1,1]
//	Flatten            X; axis=1 -> [prod(dims<axis), prod(dims>=axis)]
//	Reshape            X; shape []int (ONNX rules: 0 copies the dimension, -1 is inferred)
//	Gemm               A[N,K], B[K,M] or [M,K] with transB=1, C[M]?; alpha=1, beta=1, transA=0
//	Resize             X; scales[4] (integer factors on H and W), mode="nearest"
//	Dropout            X; ratio=0.5 (identity at inference)
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
		in := make([][]int, len(n.Inputs))
		for i, name := range n.Inputs {
			if name != "" {
				in[i] = shapes[name]
			}
		}
		out, err := nodeShape(n, in)
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

func nodeShape(n *Node, in [][]int) ([][]int, error) {
	switch n.Op {
	case OpConv:
		if err := need(in, 2); err != nil {
			return nil, err
		}
		x, w := in[0], in[1]
		if len(x) != 4 || len(w) != 4 {
			return nil, fmt.Errorf("input %v and weight %v must be 4-D", x, w)
		}
		g, err := Geom(n, w)
		if err != nil {
			return nil, err
		}
		if x[1] != w[1]*g.Group || w[0]%g.Group != 0 {
			return nil, fmt.Errorf("input channels %d do not match weight %v with group %d", x[1], w, g.Group)
		}
		if len(in) > 2 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != w[0]) {
			return nil, fmt.Errorf("bias %v for %d filters", in[2], w[0])
		}
		oh, ow := g.Out(x[2], x[3])
		if oh < 1 || ow < 1 {
			return nil, fmt.Errorf("input %v too small for kernel %dx%d", x, g.KH, g.KW)
		}
		return [][]int{{x[0], w[0], oh, ow}}, nil
	case OpBN:
		if err := need(in, 5); err != nil {
			return nil, err
		}
		if len(in[0]) < 2 {
			return nil, fmt.Errorf("input %v has no channel axis", in[0])
		}
		for i := 1; i < 5; i++ {
			if len(in[i]) != 1 || in[i][0] != in[0][1] {
				return nil, fmt.Errorf("parameter %d shape %v for %d channels", i, in[i], in[0][1])
			}
		}
		return [][]int{in[0]}, nil
	case OpRelu, OpLeakyRelu, OpClip, OpSigmoid, OpSilu, OpHardSigmoid, OpHardSwish, OpIdentity, OpDropout:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		return [][]int{in[0]}, nil
	case OpAdd, OpMul:
		if err := need(in, 2); err != nil {
			return nil, err
		}
		s, err := Broadcast(in[0], in[1])
		return [][]int{s}, err
	case OpConcat:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		ax := n.Attrs.Int("axis", 1)
		r := len(in[0])
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax >= r {
			return nil, fmt.Errorf("axis %d out of range for rank %d", n.Attrs.Int("axis", 1), r)
		}
		out := append([]int(nil), in[0]...)
		for _, s := range in[1:] {
			if s == nil || len(s) != r {
				return nil, fmt.Errorf("inputs %v do not concatenate", in)
			}
			for i := range r {
				if i != ax && s[i] != out[i] {
					return nil, fmt.Errorf("inputs %v do not concatenate on axis %d", in, ax)
				}
			}
			out[ax] += s[ax]
		}
		return [][]int{out}, nil
	case OpMaxPool, OpAveragePool:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if len(x) != 4 {
			return nil, fmt.Errorf("input %v must be 4-D", x)
		}
		g, err := Geom(n, nil)
		if err != nil {
			return nil, err
		}
		oh, ow := g.Out(x[2], x[3])
		if oh < 1 || ow < 1 {
			return nil, fmt.Errorf("input %v too small for window %dx%d", x, g.KH, g.KW)
		}
		return [][]int{{x[0], x[1], oh, ow}}, nil
	case OpGlobalAvg:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		if len(in[0]) != 4 {
			return nil, fmt.Errorf("input %v must be 4-D", in[0])
		}
		return [][]int{{in[0][0], in[0][1], 1, 1}}, nil
	case OpFlatten:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		ax := n.Attrs.Int("axis", 1)
		if ax < 0 {
			ax += len(in[0])
		}
		if ax < 0 || ax > len(in[0]) {
			return nil, fmt.Errorf("axis %d out of range for %v", ax, in[0])
		}
		a, b := 1, 1
		for i, d := range in[0] {
			if i < ax {
				a *= d
			} else {
				b *= d
			}
		}
		return [][]int{{a, b}}, nil
	case OpReshape:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		s, err := ReshapeTarget(in[0], n.Attrs.Ints("shape", nil))
		return [][]int{s}, err
	case OpGemm:
		if err := need(in, 2); err != nil {
			return nil, err
		}
		a, b := in[0], in[1]
		if len(a) != 2 || len(b) != 2 {
			return nil, fmt.Errorf("inputs %v and %v must be 2-D", a, b)
		}
		if n.Attrs.Int("transA", 0) != 0 {
			return nil, fmt.Errorf("transA=1 is not supported")
		}
		k, m := b[0], b[1]
		if n.Attrs.Int("transB", 0) != 0 {
			k, m = b[1], b[0]
		}
		if a[1] != k {
			return nil, fmt.Errorf("inner sizes differ: %v x %v (transB=%d)", a, b, n.Attrs.Int("transB", 0))
		}
		if len(in) > 2 && in[2] != nil {
			if _, err := Broadcast([]int{a[0], m}, in[2]); err != nil {
				return nil, fmt.Errorf("bias: %w", err)
			}
		}
		return [][]int{{a[0], m}}, nil
	case OpResize:
		if err := need(in, 1); err != nil {
			return nil, err
		}
		sc := n.Attrs.Floats("scales", nil)
		x := in[0]
		if len(sc) != len(x) {
			return nil, fmt.Errorf("scales %v for input %v", sc, x)
		}
		out := make([]int, len(x))
		for i := range x {
			if sc[i] < 1 || float64(sc[i]) != math.Floor(float64(sc[i])) || (i < 2 && sc[i] != 1) {
				return nil, fmt.Errorf("only integer spatial up-scaling is supported, got scales %v", sc)
			}
			out[i] = x[i] * int(sc[i])
		}
		return [][]int{out}, nil
	}
	return nil, fmt.Errorf("unsupported op %q", n.Op)
}
