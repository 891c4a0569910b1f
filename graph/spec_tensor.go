package graph

import "fmt"

// Tensor-layout ops of detection heads, on inputs of any rank r (axes may
// be negative, counting from the end):
//
//	Transpose  perm (default: reversed axes) -> Y[i...] = X[i permuted]
//	Slice      starts, ends (required), axes (default 0..len-1), steps
//	           (default 1; none 0): ONNX Slice (opset 10+) semantics, with
//	           indices clamped into the axis as ONNX clamps them
//	Split      axis=0, split (sizes; default: the axis cut into as many
//	           equal parts as the node has outputs, the last one shorter
//	           when it does not divide, as opset 18) -> Y1..Yn
//	Softmax    axis=-1: exp(x)/sum(exp(x)) along one axis (opset 13)
//
// Their channels cannot be followed by channel pruning (CoupleBarrier).
func init() {
	register(&OpSpec{Name: OpTranspose, Attrs: []AttrSpec{{"perm", nil}}, Shape: transposeShape, Coupling: CoupleBarrier, ONNX: []string{"Transpose"}})
	register(&OpSpec{Name: OpSlice, Attrs: []AttrSpec{{"starts", nil}, {"ends", nil}, {"axes", nil}, {"steps", nil}}, Shape: sliceShape, Coupling: CoupleBarrier, ONNX: []string{"Slice"}})
	register(&OpSpec{Name: OpSplit, Attrs: []AttrSpec{{"axis", 0}, {"split", nil}}, Shape: splitShape, Coupling: CoupleBarrier, ONNX: []string{"Split"}})
	register(&OpSpec{Name: OpSoftmax, Attrs: []AttrSpec{{"axis", -1}}, Shape: softmaxShape, Coupling: CoupleBarrier, ONNX: []string{"Softmax"}})
}

// Perm returns a Transpose node's permutation for rank r, checked.
func Perm(n *Node, r int) ([]int, error) {
	p := n.Attrs.Ints("perm", nil)
	if p == nil {
		for i := r - 1; i >= 0; i-- {
			p = append(p, i)
		}
	}
	if len(p) != r {
		return nil, fmt.Errorf("perm %v for rank %d", p, r)
	}
	seen := make([]bool, r)
	for _, a := range p {
		if a < 0 || a >= r || seen[a] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", p, r-1)
		}
		seen[a] = true
	}
	return p, nil
}

func transposeShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	p, err := Perm(n, len(in[0]))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(p))
	for i, a := range p {
		out[i] = in[0][a]
	}
	return [][]int{out}, nil
}

// SliceAxis is the resolved slice of one axis: Count elements from Start
// (an index into the axis) with Step.
type SliceAxis struct {
	Start, Step, Count int
}

// SliceGeom resolves a Slice node against input shape x: one SliceAxis per
// axis of x (the whole axis where the node slices nothing). Errors name the
// bad attribute.
func SliceGeom(n *Node, x []int) ([]SliceAxis, error) {
	starts, ends := n.Attrs.Ints("starts", nil), n.Attrs.Ints("ends", nil)
	if starts == nil || ends == nil || len(starts) != len(ends) {
		return nil, fmt.Errorf("starts %v and ends %v must be given with the same length", starts, ends)
	}
	r := len(x)
	axes := n.Attrs.Ints("axes", nil)
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	steps := n.Attrs.Ints("steps", nil)
	if steps == nil {
		for range starts {
			steps = append(steps, 1)
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, fmt.Errorf("axes %v and steps %v must have as many values as starts %v", axes, steps, starts)
	}
	g := make([]SliceAxis, r)
	for i, d := range x {
		g[i] = SliceAxis{0, 1, d}
	}
	done := make([]bool, r)
	for i, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || done[a] {
			return nil, fmt.Errorf("axes %v out of range or repeated for rank %d", axes, r)
		}
		done[a] = true
		st, e, s, d := starts[i], ends[i], steps[i], x[a]
		if s == 0 {
			return nil, fmt.Errorf("steps %v: a step is 0", steps)
		}
		if st < 0 {
			st += d
		}
		if e < 0 {
			e += d
		}
		var cnt int
		if s > 0 {
			st, e = min(max(st, 0), d), min(max(e, 0), d)
			cnt = max(0, (e-st+s-1)/s)
		} else {
			st, e = min(max(st, 0), d-1), min(max(e, -1), d-1)
			cnt = max(0, (st-e-s-1)/(-s))
		}
		g[a] = SliceAxis{st, s, cnt}
	}
	return g, nil
}

func sliceShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	g, err := SliceGeom(n, in[0])
	if err != nil {
		return nil, err
	}
	out := make([]int, len(g))
	for i, a := range g {
		out[i] = a.Count
	}
	return [][]int{out}, nil
}

// SplitSizes resolves a Split node against input shape x: the axis (not
// negative) and the size of each output along it.
func SplitSizes(n *Node, x []int) (axis int, sizes []int, err error) {
	r := len(x)
	axis = n.Attrs.Int("axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return 0, nil, fmt.Errorf("axis %d out of range for rank %d", n.Attrs.Int("axis", 0), r)
	}
	d := x[axis]
	sizes = n.Attrs.Ints("split", nil)
	if sizes == nil {
		k := len(n.Outputs)
		if k < 1 {
			return 0, nil, fmt.Errorf("has no outputs")
		}
		c := (d + k - 1) / k
		for i := range k {
			sizes = append(sizes, max(0, min(c, d-i*c)))
		}
	}
	sum := 0
	for _, s := range sizes {
		if s < 0 {
			return 0, nil, fmt.Errorf("split %v has a negative size", sizes)
		}
		sum += s
	}
	if sum != d || (len(n.Outputs) > 0 && len(sizes) != len(n.Outputs)) {
		return 0, nil, fmt.Errorf("split %v of axis %d (size %d) into %d outputs", sizes, axis, d, len(n.Outputs))
	}
	return axis, sizes, nil
}

func splitShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	ax, sizes, err := SplitSizes(n, in[0])
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(sizes))
	for i, s := range sizes {
		o := append([]int(nil), in[0]...)
		o[ax] = s
		out[i] = o
	}
	return out, nil
}

// SoftmaxAxis returns a Softmax node's axis for rank r, not negative.
func SoftmaxAxis(n *Node, r int) (int, error) {
	a := n.Attrs.Int("axis", -1)
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", n.Attrs.Int("axis", -1), r)
	}
	return a, nil
}

func softmaxShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if _, err := SoftmaxAxis(n, len(in[0])); err != nil {
		return nil, err
	}
	return [][]int{in[0]}, nil
}
