package onnx

import (
	"testing"

	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// PyTorch writes identical initializers once and the others as Identity of
// it (a fresh mobilenet_v3's BN gammas and running variances are all ones).
// Each name must import as a parameter with memory of its own: training or
// BN recalibration writing one must not change the others.
func TestImportIdentityConstantIsACopy(t *testing.T) {
	ones := fvals(2, func(int) float32 { return 1 })
	spec := modelSpec{opset: 13, input: vinfo("x", 1, 2, 4, 4),
		inits: []*pb.TensorProto{floatTensor("gamma", []int{2}, ones), floatTensor("beta", []int{2}, make([]float32, 2))},
		nodes: []*pb.NodeProto{
			node("id_var", "Identity", []string{"gamma"}, []string{"var"}),
			node("id_mean", "Identity", []string{"beta"}, []string{"mean"}),
			node("bn", "BatchNormalization", []string{"x", "gamma", "beta", "mean", "var"}, []string{"y"}),
		}}
	g, err := Read(spec.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"gamma", "var"}, {"beta", "mean"}} {
		a, b := g.Params[pair[0]], g.Params[pair[1]]
		if a == nil || b == nil || tensor.MaxAbsDiff(a, b) != 0 {
			t.Fatalf("%s and %s: %v and %v, want equal values", pair[0], pair[1], a, b)
		}
		b.Data[0] = 7
		if a.Data[0] == 7 {
			t.Errorf("%s and %s share memory", pair[0], pair[1])
		}
	}
}
