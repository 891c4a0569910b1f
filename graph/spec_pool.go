package graph

import "fmt"

// Pooling, X[N,C,H,W] -> Y[N,C,OH,OW]:
//
//	MaxPool            kernel_shape[2], strides[2]=1, pads[4]=0, dilations[2]=1, ceil_mode=0
//	AveragePool        kernel_shape, strides, pads, ceil_mode, count_include_pad=0
//	GlobalAveragePool  -> [N,C,1,1]
func init() {
	common := []AttrSpec{{"kernel_shape", nil}, {"strides", []int{1, 1}}, {"pads", []int{0, 0, 0, 0}}, {"ceil_mode", 0}}
	register(&OpSpec{Name: OpMaxPool, Attrs: append(common[:4:4], AttrSpec{"dilations", []int{1, 1}}),
		Shape: poolShape, Coupling: CoupleSpatial, ONNX: []string{"MaxPool"}})
	register(&OpSpec{Name: OpAveragePool, Attrs: append(common[:4:4], AttrSpec{"count_include_pad", 0}),
		Shape: poolShape, Coupling: CoupleSpatial, ONNX: []string{"AveragePool"}})
	register(&OpSpec{Name: OpGlobalAvg, Shape: globalPoolShape, Coupling: CoupleSpatial, ONNX: []string{"GlobalAveragePool"}})
}

func poolShape(n *Node, in [][]int) ([][]int, error) {
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
}

func globalPoolShape(_ *Node, in [][]int) ([][]int, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if len(in[0]) != 4 {
		return nil, fmt.Errorf("input %v must be 4-D", in[0])
	}
	return [][]int{{in[0][0], in[0][1], 1, 1}}, nil
}
