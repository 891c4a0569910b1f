package onnx

import (
	"strings"
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

// TestFoldBudget: constant folding may create up to about eight values
// per byte of the file (a weight-shared model's uint8 index becomes a
// gathered half and then a cast float: two values a byte), and a file
// that would fold into many more (one constant concatenated hundreds of
// times) is refused with a clear error instead of allocating it.
func TestFoldBudget(t *testing.T) {
	const n = 1000
	spec := func(copies int) modelSpec {
		in := make([]string, copies)
		for i := range in {
			in[i] = "c"
		}
		return modelSpec{opset: 13, input: vinfo("x", n*copies),
			inits: []*pb.TensorProto{floatTensor("c", []int{n}, fvals(n, func(i int) float32 { return float32(i) }))},
			nodes: []*pb.NodeProto{
				node("cat", "Concat", in, []string{"big"}, &pb.AttributeProto{Name: ptr("axis"), Type: pb.AttributeProto_INT.Enum(), I: ptr(int64(0))}),
				node("add", "Add", []string{"x", "big"}, []string{"y"}),
			}}
	}
	b := spec(30).bytes(t) // 30,000 values folded from a file of about 4 KB
	if _, err := Read(b); err != nil {
		t.Fatalf("a %d-byte file folding into 30,000 values: %v", len(b), err)
	}
	// A uint8 tensor of m bytes cast twice folds into 2m values (as a
	// shared model's indices gathered and cast): beyond the file size
	// plus 64Ki for m = 100,000, within eight values a byte.
	const m = 100000
	idx := &pb.TensorProto{Name: ptr("idx"), Dims: []int64{m}, DataType: ptr(int32(pb.TensorProto_UINT8)), RawData: make([]byte, m)}
	shared := modelSpec{opset: 13, input: vinfo("x", m), inits: []*pb.TensorProto{idx},
		nodes: []*pb.NodeProto{
			node("c1", "Cast", []string{"idx"}, []string{"f"}, &pb.AttributeProto{Name: ptr("to"), Type: pb.AttributeProto_INT.Enum(), I: ptr(int64(pb.TensorProto_FLOAT))}),
			node("c2", "Cast", []string{"f"}, []string{"w"}, &pb.AttributeProto{Name: ptr("to"), Type: pb.AttributeProto_INT.Enum(), I: ptr(int64(pb.TensorProto_FLOAT))}),
			node("add", "Add", []string{"x", "w"}, []string{"y"}),
		}}
	if _, err := Read(shared.bytes(t)); err != nil {
		t.Fatalf("%d bytes of indices cast twice: %v", m, err)
	}
	b = spec(300).bytes(t)
	_, err := Read(b)
	if err == nil || !strings.Contains(err.Error(), "more values than the file holds") {
		t.Fatalf("a %d-byte file folding into 300,000 values: %v", len(b), err)
	}
}
