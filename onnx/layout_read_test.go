package onnx

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

// layoutSpecs are the ONNX spellings of the YOLO-head ops, each with the
// canonical node it must import as (the node producing y).
func layoutSpecs() []struct {
	name  string
	spec  modelSpec
	op    string
	attrs graph.Attrs
} {
	fixed := vinfo("x", 1, 6, 4, 4)
	i64 := func(name string, v ...int) *pb.TensorProto { return int64Tensor(name, []int{len(v)}, v) }
	return []struct {
		name  string
		spec  modelSpec
		op    string
		attrs graph.Attrs
	}{
		{"slice attrs opset 9", modelSpec{opset: 9, nodes: []*pb.NodeProto{node("s", "Slice", []string{"x"}, []string{"y"}, aInts("starts", []int{1}), aInts("ends", []int{3}), aInts("axes", []int{1}))}},
			"Slice", graph.Attrs{"starts": []int{1}, "ends": []int{3}, "axes": []int{1}}},
		{"slice inputs, INT64_MAX end, negative step", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Slice", []string{"x", "st", "en", "ax", "sp"}, []string{"y"})},
			inits: []*pb.TensorProto{i64("st", -1), {Name: ptr("en"), Dims: []int64{1}, DataType: ptr(dtInt64), Int64Data: []int64{math.MinInt64}}, i64("ax", -1), i64("sp", -1)}},
			"Slice", graph.Attrs{"starts": []int{-1}, "ends": []int{math.MinInt32}, "axes": []int{-1}, "steps": []int{-1}}},
		{"split attr opset 11", modelSpec{opset: 11, input: fixed, nodes: []*pb.NodeProto{node("s", "Split", []string{"x"}, []string{"y", "z"}, aInt("axis", 1), aInts("split", []int{2, 4}))}},
			"Split", graph.Attrs{"axis": 1, "split": []int{2, 4}}},
		{"split input opset 13", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Split", []string{"x", "k"}, []string{"y", "z"}, aInt("axis", -1))}, inits: []*pb.TensorProto{i64("k", 1, 3)}},
			"Split", graph.Attrs{"axis": -1, "split": []int{1, 3}}},
		{"split equal, fixed shape", modelSpec{opset: 13, input: fixed, nodes: []*pb.NodeProto{node("s", "Split", []string{"x"}, []string{"y", "z", "w"}, aInt("axis", 1))}},
			"Split", graph.Attrs{"axis": 1, "split": []int{2, 2, 2}}},
		{"split num_outputs opset 18", modelSpec{opset: 18, input: vinfo("x", 1, 7, 4, 4), nodes: []*pb.NodeProto{node("s", "Split", []string{"x"}, []string{"y", "z"}, aInt("axis", 1), aInt("num_outputs", 2))}},
			"Split", graph.Attrs{"axis": 1, "split": []int{4, 3}}},
		{"split equal, dynamic axis", modelSpec{opset: 13, input: vinfo("x", 1, 6, "H", 4), nodes: []*pb.NodeProto{node("s", "Split", []string{"x"}, []string{"y", "z"}, aInt("axis", 2))}},
			"Split", graph.Attrs{"axis": 2}},
		{"softmax opset 13 default", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Softmax", []string{"x"}, []string{"y"})}},
			"Softmax", graph.Attrs{"axis": -1}},
		{"softmax opset 11 last axis", modelSpec{opset: 11, nodes: []*pb.NodeProto{node("s", "Softmax", []string{"x"}, []string{"y"}, aInt("axis", 3))}},
			"Softmax", graph.Attrs{"axis": 3}},
		{"transpose default perm", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("t", "Transpose", []string{"x"}, []string{"y"})}},
			"Transpose", graph.Attrs{}},
		{"pow constant exponent", modelSpec{opset: 15, nodes: []*pb.NodeProto{node("p", "Pow", []string{"x", "e"}, []string{"y"})}, inits: []*pb.TensorProto{floatTensor("e", []int{}, []float32{2})}},
			"Pow", graph.Attrs{"exponent": float32(2)}},
		{"pow integer exponent", modelSpec{opset: 15, nodes: []*pb.NodeProto{node("p", "Pow", []string{"x", "e"}, []string{"y"})}, inits: []*pb.TensorProto{i64("e", 3)}},
			"Pow", graph.Attrs{"exponent": float32(3)}},
		// x.view(x.shape[0], 3, -1) as torch writes it: Shape -> Gather ->
		// Unsqueeze -> Concat -> Reshape, folded to a constant shape.
		{"shape chain into reshape", modelSpec{opset: 13, input: fixed, nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}),
			node("ga", "Gather", []string{"s", "zero"}, []string{"b"}, aInt("axis", 0)),
			node("un", "Unsqueeze", []string{"b", "ax0"}, []string{"bu"}),
			node("ca", "Concat", []string{"bu", "rest"}, []string{"shp"}, aInt("axis", 0)),
			node("re", "Reshape", []string{"x", "shp"}, []string{"y"})},
			inits: []*pb.TensorProto{int64Tensor("zero", []int{}, []int{0}), i64("ax0", 0), i64("rest", 3, -1)}},
			"Reshape", graph.Attrs{"shape": []int{0, 3, -1}}}, // the batch 1 freed to 0
		// chunk(2, 1) as torch writes it: Shape -> Gather -> Add -> Div ->
		// Mul -> Slice ends; Shape with start (opset 15) into Slice.
		{"shape arithmetic into slice", modelSpec{opset: 15, input: fixed, nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}, aInt("start", 1), aInt("end", -2)),
			node("ad", "Add", []string{"s", "one"}, []string{"s1"}),
			node("dv", "Div", []string{"s1", "two"}, []string{"h"}),
			node("ml", "Mul", []string{"h", "one"}, []string{"e"}),
			node("sl", "Slice", []string{"x", "z1", "e", "one"}, []string{"y"})},
			inits: []*pb.TensorProto{i64("one", 1), i64("two", 2), i64("z1", 0)}},
			"Slice", graph.Attrs{"starts": []int{0}, "ends": []int{3}, "axes": []int{1}}},
		// The same with a dynamic batch: folded at batch 1, freed again.
		{"shape chain of a dynamic batch", modelSpec{opset: 13, nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}),
			node("ga", "Gather", []string{"s", "zero"}, []string{"b"}, aInt("axis", 0)),
			node("un", "Unsqueeze", []string{"b", "ax0"}, []string{"bu"}),
			node("ca", "Concat", []string{"bu", "rest"}, []string{"shp"}, aInt("axis", 0)),
			node("re", "Reshape", []string{"x", "shp"}, []string{"y"})},
			inits: []*pb.TensorProto{int64Tensor("zero", []int{}, []int{0}), i64("ax0", 0), i64("rest", 4, -1)}},
			"Reshape", graph.Attrs{"shape": []int{0, 4, -1}}},
		{"constant of shape into add", modelSpec{opset: 13, input: vinfo("x", 1, 2), nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}),
			node("co", "ConstantOfShape", []string{"s"}, []string{"c"}, &pb.AttributeProto{Name: ptr("value"), Type: pb.AttributeProto_TENSOR.Enum(), T: floatTensor("", []int{1}, []float32{0.5})}),
			node("a", "Sub", []string{"x", "c"}, []string{"y"})}},
			"Sub", graph.Attrs{}},
	}
}

// TestImportLayoutRewrites: each spelling imports as its canonical node.
func TestImportLayoutRewrites(t *testing.T) {
	for _, tc := range layoutSpecs() {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Read(tc.spec.bytes(t))
			if err != nil {
				t.Fatal(err)
			}
			p := g.Producer("y")
			if p == nil || p.Op != tc.op {
				t.Fatalf("y produced by %+v, want a %s", p, tc.op)
			}
			if fmt.Sprint(p.Attrs) != fmt.Sprint(tc.attrs) {
				t.Errorf("attrs %v, want %v", p.Attrs, tc.attrs)
			}
			if len(g.Nodes) != 1 {
				t.Errorf("nodes %v: the shape arithmetic should be folded away", g.Nodes)
			}
		})
	}
}

// TestLayoutReadErrors: what cannot be imported is an error naming the
// node and its op, and saying why.
func TestLayoutReadErrors(t *testing.T) {
	i64 := func(name string, v ...int) *pb.TensorProto { return int64Tensor(name, []int{len(v)}, v) }
	tests := []struct {
		name string
		spec modelSpec
		want string
	}{
		{"pow by data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("p", "Pow", []string{"x", "x"}, []string{"y"})}},
			`node "p" (Pow): exponent "x" is not a constant`},
		{"pow by a tensor", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("p", "Pow", []string{"x", "e"}, []string{"y"})}, inits: []*pb.TensorProto{floatTensor("e", []int{2}, []float32{1, 2})}},
			`node "p" (Pow): exponent has 2 values`},
		{"shape of a dynamic height", modelSpec{opset: 13, input: vinfo("x", 1, 2, "H", 4), nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}), node("r", "Reshape", []string{"x", "s"}, []string{"y"})}},
			`node "sh" (Shape): the shape of "x" is [1 2 -1 4], with dynamic dimensions`},
		{"gather of data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("g", "Gather", []string{"x", "i"}, []string{"y"})}, inits: []*pb.TensorProto{i64("i", 0)}},
			`node "g" (Gather): op type "Gather" is not supported`},
		{"slice by data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Slice", []string{"x", "x", "e"}, []string{"y"})}, inits: []*pb.TensorProto{i64("e", 1)}},
			`node "s" (Slice): input 1 (starts) "x" must be a constant`},
		{"slice zero step", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Slice", []string{"x", "b", "e", "a", "z"}, []string{"y"})}, inits: []*pb.TensorProto{i64("b", 0), i64("e", 1), i64("a", 1), i64("z", 0)}},
			`node "s" (Slice): steps [0]: a step is 0`},
		{"softmax 2-D coercion", modelSpec{opset: 11, input: vinfo("x", 1, 2, 4, 4), nodes: []*pb.NodeProto{node("s", "Softmax", []string{"x"}, []string{"y"})}},
			`node "s" (Softmax): opset 11 Softmax over axes 1.. of shape [1 2 4 4]`},
		{"split sizes wrong", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Split", []string{"x", "k"}, []string{"y", "z"}, aInt("axis", 1))}, inits: []*pb.TensorProto{i64("k", 1, 3)}},
			`node "s" (Split): split [1 3] of axis 1 (size 2) into 2 outputs`},
		{"split num_outputs mismatch", modelSpec{opset: 18, nodes: []*pb.NodeProto{node("s", "Split", []string{"x"}, []string{"y", "z"}, aInt("num_outputs", 3))}},
			`node "s" (Split): attribute num_outputs=3 with 2 outputs`},
		{"transpose bad perm", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("t", "Transpose", []string{"x"}, []string{"y"}, aInts("perm", []int{0, 1, 1, 2}))}},
			`node "t" (Transpose): perm [0 1 1 2] is not a permutation`},
		{"constant of shape too big", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "ConstantOfShape", []string{"s"}, []string{"k"}), node("a", "Add", []string{"x", "k"}, []string{"y"})}, inits: []*pb.TensorProto{i64("s", 1<<20, 1<<20)}},
			`node "c" (ConstantOfShape): shape [1048576 1048576] exceeds`},
		// x.view(bs * 2, -1) with a dynamic batch: folded at batch 1 it
		// would run at batch 2 with the wrong shape.
		{"batch mixed into a dimension", modelSpec{opset: 13, nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}),
			node("ga", "Gather", []string{"s", "zero"}, []string{"b"}, aInt("axis", 0)),
			node("ml", "Mul", []string{"b", "two"}, []string{"b2"}),
			node("un", "Unsqueeze", []string{"b2", "ax0"}, []string{"bu"}),
			node("ca", "Concat", []string{"bu", "rest"}, []string{"shp"}, aInt("axis", 0)),
			node("re", "Reshape", []string{"x", "shp"}, []string{"y"})},
			inits: []*pb.TensorProto{int64Tensor("zero", []int{}, []int{0}), int64Tensor("two", []int{}, []int{2}), i64("ax0", 0), i64("rest", -1)}},
			`value "y" has shape [2 32] at batch 2 when its shape arithmetic is folded at batch 1, [4 16] when folded at batch 2`},
		{"integer division by zero", modelSpec{opset: 13, input: vinfo("x", 1, 2, 4, 4), nodes: []*pb.NodeProto{
			node("sh", "Shape", []string{"x"}, []string{"s"}), node("d", "Div", []string{"s", "z"}, []string{"q"}), node("r", "Reshape", []string{"x", "q"}, []string{"y"})}, inits: []*pb.TensorProto{i64("z", 0)}},
			`node "d" (Div): integer division by zero`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Read(tc.spec.bytes(t))
			if err == nil {
				t.Fatalf("no error; graph %v", g.Nodes)
			}
			if !strings.HasPrefix(err.Error(), "onnx: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFoldArith: arithmetic on constants alone is folded, with
// broadcasting, in float (grid * stride) and in integers (truncating
// division, as ONNX Runtime).
func TestFoldArith(t *testing.T) {
	spec := modelSpec{opset: 13, input: vinfo("x", 1, 2, 2, 3), nodes: []*pb.NodeProto{
		node("m", "Mul", []string{"grid", "stride"}, []string{"gs"}),
		node("d", "Div", []string{"gs", "four"}, []string{"g4"}),
		node("a", "Add", []string{"x", "g4"}, []string{"y"})},
		inits: []*pb.TensorProto{floatTensor("grid", []int{2, 1, 3}, []float32{0, 1, 2, 3, 4, 5}), floatTensor("stride", []int{2, 1}, []float32{8, 16}), floatTensor("four", []int{}, []float32{4})}}
	g, err := Read(spec.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != graph.OpAdd {
		t.Fatalf("nodes %v", g.Nodes)
	}
	p := g.Params[g.Nodes[0].Inputs[1]]
	want := []float32{0, 2, 4, 0, 4, 8, 6, 8, 10, 12, 16, 20} // [2,2,3]: grid[i] * stride[j] / 4
	if p == nil || fmt.Sprint(p.Shape) != "[2 2 3]" || fmt.Sprint(p.Data) != fmt.Sprint(want) {
		t.Fatalf("folded %v, want [2 2 3] %v", p, want)
	}
	i64 := func(name string, v ...int) *pb.TensorProto { return int64Tensor(name, []int{len(v)}, v) }
	// [7, -7] / [2, 2] = [3, -3] truncated (floor would give -4), + [0, 2]
	// = [3, -1]: x [1, 12] reshaped to [3, 4].
	spec = modelSpec{opset: 13, input: vinfo("x", 1, 12), nodes: []*pb.NodeProto{
		node("d", "Div", []string{"s", "k"}, []string{"q"}),
		node("b", "Add", []string{"q", "c"}, []string{"r"}),
		node("r", "Reshape", []string{"x", "r"}, []string{"y"})},
		inits: []*pb.TensorProto{i64("s", 7, -7), i64("k", 2, 2), i64("c", 0, 2)}}
	if g, err = Read(spec.bytes(t)); err != nil {
		t.Fatal(err)
	}
	if s := g.Nodes[0].Attrs.Ints("shape", nil); fmt.Sprint(s) != "[3 -1]" || fmt.Sprint(g.Outputs[0].Shape) != "[3 4]" {
		t.Fatalf("shape %v, output %v; want [3 -1] and [3 4]", s, g.Outputs[0].Shape)
	}
}
