package graph

import "fmt"

// BatchNormalization: X, scale[C], B[C], mean[C], var[C] -> Y; epsilon=1e-5,
// momentum=0.9 (running = momentum*running + (1-momentum)*batch). Mean and
// var are buffers, not trainable.
func init() {
	register(&OpSpec{
		Name:     OpBN,
		Attrs:    []AttrSpec{{"epsilon", float32(1e-5)}, {"momentum", float32(0.9)}},
		Shape:    bnShape,
		Buffers:  []int{3, 4},
		Coupling: CoupleBN,
		ONNX:     []string{"BatchNormalization"},
	})
}

func bnShape(_ *Node, in [][]int) ([][]int, error) {
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
}
