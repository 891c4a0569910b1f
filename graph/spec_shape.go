package graph

import (
	"fmt"
	"math"
)

// Shape ops on X:
//
//	Flatten  axis=1 -> [prod(dims<axis), prod(dims>=axis)]
//	Reshape  shape []int (ONNX rules: 0 copies the dimension, -1 is inferred)
//	Resize   scales[4] (integer factors on H and W), mode="nearest"
func init() {
	register(&OpSpec{Name: OpFlatten, Attrs: []AttrSpec{{"axis", 1}}, Shape: flattenShape, Coupling: CoupleFlatten, ONNX: []string{"Flatten"}})
	register(&OpSpec{Name: OpReshape, Attrs: []AttrSpec{{"shape", nil}}, Shape: reshapeShape, Coupling: CoupleBarrier, ONNX: []string{"Reshape"}})
	register(&OpSpec{Name: OpResize, Attrs: []AttrSpec{{"scales", nil}, {"mode", "nearest"}}, Shape: resizeShape,
		Coupling: CoupleSpatial, ONNX: []string{"Resize", "Upsample"}})
}

func flattenShape(n *Node, in [][]int) ([][]int, error) {
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
}

func reshapeShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	s, err := ReshapeTarget(in[0], n.Attrs.Ints("shape", nil))
	return [][]int{s}, err
}

func resizeShape(n *Node, in [][]int) ([][]int, error) {
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
