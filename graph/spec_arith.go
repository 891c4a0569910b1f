package graph

// Add, Mul, Sub (A - B), Div (A / B): A, B -> Y with NumPy
// (multidirectional) broadcasting.
func init() {
	for _, op := range []string{OpAdd, OpMul, OpSub, OpDiv} {
		register(&OpSpec{Name: op, Shape: broadcastShape, Coupling: CoupleElementwise, ONNX: []string{op}})
	}
}

func broadcastShape(_ *Node, in [][]int) ([][]int, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	s, err := Broadcast(in[0], in[1])
	return [][]int{s}, err
}
