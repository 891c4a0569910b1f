package graph

import (
	"fmt"

	"github.com/slimgo/slimgo/tensor"
)

// Conv: X[N,C,H,W], W[M,C/group,kh,kw], B[M]? -> Y[N,M,OH,OW]; strides[2]=1,
// pads[4]=0 (top,left,bottom,right), dilations[2]=1, group=1, kernel_shape
// (optional, must agree with W).
func init() {
	register(&OpSpec{
		Name: OpConv,
		Attrs: []AttrSpec{
			{"kernel_shape", nil}, {"strides", []int{1, 1}}, {"pads", []int{0, 0, 0, 0}},
			{"dilations", []int{1, 1}}, {"group", 1},
		},
		Shape:    convShape,
		MACs:     convMACs,
		Coupling: CoupleConv,
		Layer:    convLayer,
		ONNX:     []string{"Conv"},
	})
}

func convShape(n *Node, in [][]int) ([][]int, error) {
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
}

// convMACs: one multiply-accumulate per output value and weight of its filter.
func convMACs(_ *Node, in [][]int, out []int) int64 {
	w := in[1]
	return int64(tensor.Size(out)) * int64(w[1]*w[2]*w[3])
}

// convLayer: input channels (weight's per-group channels times group), the
// input's height and width, the vertical stride and kernel height.
func convLayer(n *Node, in [][]int) (LayerGeom, error) {
	w := in[1]
	geo, err := Geom(n, w)
	if err != nil {
		return LayerGeom{}, err
	}
	x := in[0]
	return LayerGeom{InC: w[1] * geo.Group, H: x[2], W: x[3], Stride: geo.SH, Kernel: geo.KH}, nil
}
