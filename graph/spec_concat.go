package graph

import "fmt"

// Concat: X1..Xn -> Y joined on axis (required; negative counts from the end).
func init() {
	register(&OpSpec{Name: OpConcat, Attrs: []AttrSpec{{"axis", 1}}, Shape: concatShape, Coupling: CoupleConcat, ONNX: []string{"Concat"}})
}

func concatShape(n *Node, in [][]int) ([][]int, error) {
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
}
