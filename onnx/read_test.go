package onnx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
)

// Builders for hand-made ONNX models.

func vinfo(name string, dims ...any) *pb.ValueInfoProto {
	var ds []*pb.TensorShapeProto_Dimension
	for _, d := range dims {
		switch v := d.(type) {
		case int:
			ds = append(ds, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}})
		case string:
			ds = append(ds, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: v}})
		case nil:
			ds = append(ds, &pb.TensorShapeProto_Dimension{})
		}
	}
	return &pb.ValueInfoProto{Name: ptr(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
		ElemType: ptr(dtFloat), Shape: &pb.TensorShapeProto{Dim: ds}}}}}
}

func node(name, op string, in, out []string, attrs ...*pb.AttributeProto) *pb.NodeProto {
	return &pb.NodeProto{Name: ptr(name), OpType: ptr(op), Input: in, Output: out, Attribute: attrs}
}

func fvals(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

type modelSpec struct {
	opset  int
	input  *pb.ValueInfoProto
	nodes  []*pb.NodeProto
	inits  []*pb.TensorProto
	output string
}

func (s modelSpec) proto() *pb.ModelProto {
	in := s.input
	if in == nil {
		in = vinfo("x", "N", 2, 4, 4)
	}
	out := s.output
	if out == "" {
		out = "y"
	}
	return &pb.ModelProto{
		IrVersion:   ptr(int64(7)),
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(s.opset))}},
		Graph: &pb.GraphProto{Name: ptr("t"), Node: s.nodes, Initializer: s.inits,
			Input: []*pb.ValueInfoProto{in}, Output: []*pb.ValueInfoProto{vinfo(out)}},
	}
}

func (s modelSpec) bytes(t testing.TB) []byte {
	b, err := proto.Marshal(s.proto())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func convW() *pb.TensorProto {
	return floatTensor("w", []int{3, 2, 3, 3}, fvals(54, func(i int) float32 { return float32(i%7) - 3 }))
}

// TestImportRewrites checks each non-canonical ONNX spelling becomes the
// canonical node documented in graph/spec_*.go.
func TestImportRewrites(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name  string
		spec  modelSpec
		op    string      // op of the node producing y
		attrs graph.Attrs // expected attributes of that node (exact)
		ins   int         // expected input count
	}{
		{"clip attrs opset 9", modelSpec{opset: 9, nodes: []*pb.NodeProto{node("c", "Clip", []string{"x"}, []string{"y"}, aFloat("min", -1), aFloat("max", 2))}},
			"Clip", graph.Attrs{"min": float32(-1), "max": float32(2)}, 1},
		{"clip inputs opset 13", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Clip", []string{"x", "lo", "hi"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("lo", []int{}, []float32{0}), floatTensor("hi", []int{}, []float32{6})}},
			"Clip", graph.Attrs{"min": float32(0), "max": float32(6)}, 1},
		{"clip min only opset 11", modelSpec{opset: 11, nodes: []*pb.NodeProto{node("c", "Clip", []string{"x", "lo"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("lo", []int{}, []float32{0.5})}},
			"Clip", graph.Attrs{"min": float32(0.5), "max": inf}, 1},
		{"clip from Constant nodes", modelSpec{opset: 12, nodes: []*pb.NodeProto{
			node("k1", "Constant", nil, []string{"lo"}, &pb.AttributeProto{Name: ptr("value_float"), Type: pb.AttributeProto_FLOAT.Enum(), F: ptr(float32(-2))}),
			node("k2", "Constant", nil, []string{"hi"}, &pb.AttributeProto{Name: ptr("value"), Type: pb.AttributeProto_TENSOR.Enum(), T: floatTensor("", []int{}, []float32{3})}),
			node("c", "Clip", []string{"x", "lo", "hi"}, []string{"y"})}},
			"Clip", graph.Attrs{"min": float32(-2), "max": float32(3)}, 1},
		{"upsample attr opset 7", modelSpec{opset: 7, nodes: []*pb.NodeProto{node("u", "Upsample", []string{"x"}, []string{"y"}, &pb.AttributeProto{Name: ptr("scales"), Type: pb.AttributeProto_FLOATS.Enum(), Floats: []float32{1, 1, 2, 3}})}},
			"Resize", graph.Attrs{"scales": []float32{1, 1, 2, 3}, "mode": "nearest"}, 1},
		{"upsample input opset 9", modelSpec{opset: 9, nodes: []*pb.NodeProto{node("u", "Upsample", []string{"x", "s"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 2, 2})}},
			"Resize", graph.Attrs{"scales": []float32{1, 1, 2, 2}, "mode": "nearest"}, 1},
		{"resize opset 10", modelSpec{opset: 10, nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "s"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 3, 3})}},
			"Resize", graph.Attrs{"scales": []float32{1, 1, 3, 3}, "mode": "nearest"}, 1},
		{"resize scales half_pixel default", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "", "s"}, []string{"y"}, aString("mode", "nearest"))},
			inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 2, 2})}},
			"Resize", graph.Attrs{"scales": []float32{1, 1, 2, 2}, "mode": "nearest"}, 1},
		{"resize sizes", modelSpec{opset: 11, input: vinfo("x", 1, 2, 4, 4), nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "roi", "sc", "sz"}, []string{"y"},
			aString("coordinate_transformation_mode", "asymmetric"), aString("nearest_mode", "floor"))},
			inits: []*pb.TensorProto{floatTensor("roi", []int{0}, nil), floatTensor("sc", []int{0}, nil), int64Tensor("sz", []int{4}, []int{1, 2, 12, 8})}},
			"Resize", graph.Attrs{"scales": []float32{1, 1, 3, 2}, "mode": "nearest"}, 1},
		{"reshape constant", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Reshape", []string{"x", "s"}, []string{"y"})},
			inits: []*pb.TensorProto{int64Tensor("s", []int{2}, []int{0, -1})}},
			"Reshape", graph.Attrs{"shape": []int{0, -1}}, 1},
		{"dropout ratio input", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("d", "Dropout", []string{"x", "r"}, []string{"y", "mask"})},
			inits: []*pb.TensorProto{floatTensor("r", []int{}, []float32{0.25})}},
			"Dropout", graph.Attrs{"ratio": float32(0.25)}, 1},
		{"dropout ratio attr opset 10", modelSpec{opset: 10, nodes: []*pb.NodeProto{node("d", "Dropout", []string{"x"}, []string{"y"}, aFloat("ratio", 0.1))}},
			"Dropout", graph.Attrs{"ratio": float32(0.1)}, 1},
		{"conv auto_pad VALID", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"}, aString("auto_pad", "VALID"), aInts("strides", []int{1, 2}))},
			inits: []*pb.TensorProto{convW()}},
			"Conv", graph.Attrs{"strides": []int{1, 2}}, 2},
		{"batchnorm defaults", modelSpec{opset: 15, nodes: []*pb.NodeProto{node("b", "BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("s", []int{2}, []float32{1, 2}), floatTensor("b", []int{2}, []float32{0, 1}), floatTensor("m", []int{2}, []float32{0, 0}), floatTensor("v", []int{2}, []float32{1, 1})}},
			"BatchNormalization", graph.Attrs{"epsilon": float32(1e-5), "momentum": float32(0.9)}, 5},
		{"maxpool drops unused indices", modelSpec{opset: 12, nodes: []*pb.NodeProto{node("p", "MaxPool", []string{"x"}, []string{"y", "idx"}, aInts("kernel_shape", []int{2, 2}), aInts("strides", []int{2, 2}), aInt("ceil_mode", 1))}},
			"MaxPool", graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "ceil_mode": 1}, 1},
	}
	for _, tc := range tests {
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
			if len(p.Inputs) != tc.ins {
				t.Errorf("inputs %v, want %d", p.Inputs, tc.ins)
			}
			for _, in := range p.Inputs[1:] {
				if !g.IsParam(in) {
					t.Errorf("input %q of %s is not a parameter", in, p.Op)
				}
			}
		})
	}
}

// TestImportMatMulGemm checks the MatMul/Gemm rewrites numerically on the
// parameters: Transpose folding keeps the weight's name, alpha and beta are
// folded into the constants, and a following bias Add is fused.
func TestImportMatMulGemm(t *testing.T) {
	w := fvals(6, func(i int) float32 { return float32(i + 1) }) // [3, 2]
	in2 := vinfo("x", "N", 3)
	t.Run("matmul transpose add", func(t *testing.T) {
		spec := modelSpec{opset: 13, input: in2, nodes: []*pb.NodeProto{
			node("t", "Transpose", []string{"wt"}, []string{"wtt"}, aInts("perm", []int{1, 0})),
			node("mm", "MatMul", []string{"x", "wtt"}, []string{"h"}),
			node("add", "Add", []string{"bias", "h"}, []string{"y"})},
			inits: []*pb.TensorProto{floatTensor("wt", []int{2, 3}, w), floatTensor("bias", []int{2}, []float32{5, 6})}}
		g, err := Read(spec.bytes(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Nodes) != 1 {
			t.Fatalf("nodes %v, want one Gemm", g.Nodes)
		}
		n := g.Nodes[0]
		if n.Op != "Gemm" || !slices.Equal(n.Inputs, []string{"x", "wt", "bias"}) || n.Attrs.Int("transB", 0) != 1 || n.Outputs[0] != "y" {
			t.Fatalf("got %+v", n)
		}
		if !slices.Equal(g.Outputs[0].Shape, []int{-1, 2}) {
			t.Errorf("output shape %v", g.Outputs[0].Shape)
		}
	})
	t.Run("gemm alpha beta", func(t *testing.T) {
		spec := modelSpec{opset: 11, input: in2, nodes: []*pb.NodeProto{
			node("fc", "Gemm", []string{"x", "w", "c"}, []string{"y"}, aFloat("alpha", 0.5), aFloat("beta", 2))},
			inits: []*pb.TensorProto{floatTensor("w", []int{3, 2}, w), floatTensor("c", []int{2}, []float32{1, -1})}}
		g, err := Read(spec.bytes(t))
		if err != nil {
			t.Fatal(err)
		}
		n := g.Nodes[0]
		if len(n.Attrs) != 0 {
			t.Fatalf("attrs %v left; alpha and beta should be folded", n.Attrs)
		}
		b, c := g.Params[n.Inputs[1]], g.Params[n.Inputs[2]]
		for i, v := range w {
			if b.Data[i] != 0.5*v {
				t.Fatalf("B = %v, want 0.5*%v", b.Data, w)
			}
		}
		if !slices.Equal(c.Data, []float32{2, -2}) {
			t.Fatalf("C = %v", c.Data)
		}
	})
}

func TestImportDynamicDims(t *testing.T) {
	tests := []struct {
		name string
		in   *pb.ValueInfoProto
		want []int
	}{
		{"dim_param", vinfo("x", "batch", 2, 4, 4), []int{-1, 2, 4, 4}},
		{"missing dim", vinfo("x", nil, 2, 4, 4), []int{-1, 2, 4, 4}},
		{"minus one", vinfo("x", -1, 2, 4, 4), []int{-1, 2, 4, 4}},
		{"static", vinfo("x", 3, 2, 4, 4), []int{3, 2, 4, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := modelSpec{opset: 13, input: tc.in, nodes: []*pb.NodeProto{node("r", "Relu", []string{"x"}, []string{"y"})}}
			g, err := Read(spec.bytes(t))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g.Inputs[0].Shape, tc.want) {
				t.Fatalf("input shape %v, want %v", g.Inputs[0].Shape, tc.want)
			}
			if !slices.Equal(g.Outputs[0].Shape, tc.want) {
				t.Fatalf("output shape %v, want %v", g.Outputs[0].Shape, tc.want)
			}
		})
	}
}

// TestTypedAndRawInitializers: the same weights stored as raw_data and as
// typed float_data/double_data/int32 import identically.
func TestTypedAndRawInitializers(t *testing.T) {
	vals := []float32{1.5, -2, 3.25, 0}
	typed := &pb.TensorProto{Name: ptr("b"), Dims: []int64{4}, DataType: ptr(dtFloat), FloatData: vals}
	dbl := &pb.TensorProto{Name: ptr("b"), Dims: []int64{4}, DataType: ptr(dtDouble), DoubleData: []float64{1.5, -2, 3.25, 0}}
	for _, tc := range []struct {
		name string
		t    *pb.TensorProto
	}{{"raw", floatTensor("b", []int{4}, vals)}, {"float_data", typed}, {"double_data", dbl}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := modelSpec{opset: 13, input: vinfo("x", "N", 4), nodes: []*pb.NodeProto{
				node("a", "Add", []string{"x", "b"}, []string{"y"})}, inits: []*pb.TensorProto{tc.t}}
			g, err := Read(spec.bytes(t))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(g.Params["b"].Data, vals) {
				t.Fatalf("b = %v", g.Params["b"].Data)
			}
		})
	}
	// Reshape shape from int32 typed data.
	spec := modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Reshape", []string{"x", "s"}, []string{"y"})},
		inits: []*pb.TensorProto{{Name: ptr("s"), Dims: []int64{2}, DataType: ptr(dtInt32), Int32Data: []int32{0, -1}}}}
	g, err := Read(spec.bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Nodes[0].Attrs.Ints("shape", nil); !slices.Equal(s, []int{0, -1}) {
		t.Fatalf("shape %v", s)
	}
}

// TestReadErrors: malformed files give errors that say what and where.
func TestReadErrors(t *testing.T) {
	relu := []*pb.NodeProto{node("r", "Relu", []string{"x"}, []string{"y"})}
	good := modelSpec{opset: 13, nodes: relu}.bytes(t)
	mk := func(f func(m *pb.ModelProto)) []byte {
		m := modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Relu", []string{"x"}, []string{"y"})}}.proto()
		f(m)
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	convWith := func(attrs ...*pb.AttributeProto) []byte {
		return modelSpec{opset: 13, nodes: []*pb.NodeProto{node("Conv_3", "Conv", []string{"x", "w"}, []string{"y"}, attrs...)}, inits: []*pb.TensorProto{convW()}}.bytes(t)
	}
	huge := floatTensor("w", nil, []float32{1, 2, 3})
	huge.Dims = []int64{1000000, 1000000}
	short := floatTensor("w", []int{3, 2, 3, 3}, make([]float32, 53))
	typedShort := &pb.TensorProto{Name: ptr("w"), Dims: []int64{3, 2, 3, 3}, DataType: ptr(dtFloat), FloatData: make([]float32, 10)}
	ext := convW()
	ext.RawData = nil
	ext.DataLocation = pb.TensorProto_EXTERNAL.Enum()
	ext.ExternalData = []*pb.StringStringEntryProto{{Key: ptr("location"), Value: ptr("weights.bin")}}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "model has no graph"},
		{"not protobuf", []byte("this is a text file, not a model\n"), "not a valid ONNX model"},
		{"truncated", good[:len(good)-7], "not a valid ONNX model"},
		{"unknown op", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("s", "Einsum", []string{"x"}, []string{"y"})}}.bytes(t), `node "s" (Einsum): op type "Einsum" is not supported`},
		{"unknown attribute", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Relu", []string{"x"}, []string{"y"}, aInt("foo", 1))}}.bytes(t), `node "r" (Relu): attribute foo is not supported`},
		{"auto_pad same", convWith(aString("auto_pad", "SAME_UPPER")), `onnx: node "Conv_3" (Conv): attribute auto_pad="SAME_UPPER" is not supported`},
		{"attribute wrong type", convWith(aString("group", "two")), `node "Conv_3" (Conv): attribute group must be an integer`},
		{"3-D conv", convWith(aInts("strides", []int{1, 1, 1})), `attribute strides=[1 1 1]: only 2-D`},
		{"missing initializer", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "nowhere"}, []string{"y"})}}.bytes(t), `reads "nowhere", which nothing provides`},
		{"huge tensor", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"})}, inits: []*pb.TensorProto{huge}}.bytes(t), "exceeds the limit"},
		{"raw data short", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"})}, inits: []*pb.TensorProto{short}}.bytes(t), `tensor "w": shape [3 2 3 3] of FLOAT needs 216 bytes, raw_data holds 212`},
		{"typed data short", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"})}, inits: []*pb.TensorProto{typedShort}}.bytes(t), "declares 54 elements, the file holds 10"},
		{"external data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"})}, inits: []*pb.TensorProto{ext}}.bytes(t), `tensor "w" uses external data`},
		{"string tensor", modelSpec{opset: 13, nodes: relu, inits: []*pb.TensorProto{{Name: ptr("s"), Dims: []int64{1}, DataType: ptr(int32(pb.TensorProto_STRING)), StringData: [][]byte{[]byte("a")}}}}.bytes(t), "element type STRING"},
		{"non-constant reshape", modelSpec{opset: 13, input: vinfo("x", 1, 8), nodes: []*pb.NodeProto{node("r", "Reshape", []string{"x", "x"}, []string{"y"})}}.bytes(t), `node "r" (Reshape): input 1 (shape) "x" must be a constant`},
		{"int tensor as data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("a", "Add", []string{"x", "k"}, []string{"y"})}, inits: []*pb.TensorProto{int64Tensor("k", []int{1}, []int{1})}}.bytes(t), `integer tensor "k" is used as data`},
		{"resize bad mode", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "", "s"}, []string{"y"}, aString("mode", "linear"))}, inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 2, 2})}}.bytes(t), `attribute mode="linear" is not supported`},
		{"resize shifting mode", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "", "s"}, []string{"y"}, aString("nearest_mode", "floor"))}, inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 2, 2})}}.bytes(t), `coordinate_transformation_mode="half_pixel" with nearest_mode="floor" is not supported`},
		{"resize fractional", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("r", "Resize", []string{"x", "", "s"}, []string{"y"})}, inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 1.5, 2})}}.bytes(t), "only integer up-scaling"},
		{"matmul by data", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("m", "MatMul", []string{"x", "x"}, []string{"y"})}}.bytes(t), "only MatMul by a constant 2-D float weight"},
		{"bn training mode", modelSpec{opset: 15, nodes: []*pb.NodeProto{node("b", "BatchNormalization", []string{"x", "s", "s", "s", "s"}, []string{"y"}, aInt("training_mode", 1))}, inits: []*pb.TensorProto{floatTensor("s", []int{2}, []float32{1, 1})}}.bytes(t), "training_mode=1 is not supported"},
		{"reads dropped output", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("d", "Dropout", []string{"x"}, []string{"h", "mask"}), node("c", "Relu", []string{"mask"}, []string{"y"})}}.bytes(t), `reads "mask", an optional output of node "d"`},
		{"shape mismatch", modelSpec{opset: 13, input: vinfo("x", 1, 5, 4, 4), nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"})}, inits: []*pb.TensorProto{convW()}}.bytes(t), `node "c" (Conv): input channels 5 do not match`},
		{"opset too old", modelSpec{opset: 6, nodes: relu}.bytes(t), "opset 6 is not supported"},
		{"other domain", mk(func(m *pb.ModelProto) { m.Graph.Node[0].Domain = ptr("com.microsoft") }), `operator domain "com.microsoft" is not supported`},
		{"int input", mk(func(m *pb.ModelProto) { m.Graph.Input[0].Type.GetTensorType().ElemType = ptr(dtInt64) }), `graph input "x" has element type INT64`},
		{"no outputs", mk(func(m *pb.ModelProto) { m.Graph.Output = nil }), "graph has no outputs"},
		{"output nobody makes", mk(func(m *pb.ModelProto) { m.Graph.Output[0].Name = ptr("zz") }), `graph output "zz" is produced by no node`},
		{"cycle", modelSpec{opset: 13, nodes: []*pb.NodeProto{node("a", "Relu", []string{"b"}, []string{"a"}), node("b", "Relu", []string{"a"}, []string{"b"}), node("c", "Add", []string{"x", "a"}, []string{"y"})}}.bytes(t), "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Read(tc.b)
			if err == nil {
				t.Fatalf("no error; graph %v", g.Nodes)
			}
			if !strings.HasPrefix(err.Error(), "onnx: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestHugeTensorNotAllocated: a file claiming a 10^12-element tensor (in
// raw_data, typed data, a Constant node, and an input dimension) is refused
// without allocating anything like its claimed size.
func TestHugeTensorNotAllocated(t *testing.T) {
	claim := func(tp *pb.TensorProto) *pb.TensorProto {
		tp.Dims = []int64{1000000, 1000000}
		return tp
	}
	cases := map[string][]byte{
		"raw": modelSpec{opset: 13, nodes: []*pb.NodeProto{node("a", "Add", []string{"x", "w"}, []string{"y"})},
			inits: []*pb.TensorProto{claim(floatTensor("w", nil, []float32{1}))}}.bytes(t),
		"typed": modelSpec{opset: 13, nodes: []*pb.NodeProto{node("a", "Add", []string{"x", "w"}, []string{"y"})},
			inits: []*pb.TensorProto{claim(&pb.TensorProto{Name: ptr("w"), DataType: ptr(dtFloat), FloatData: []float32{1, 2}})}}.bytes(t),
		"constant node": modelSpec{opset: 13, nodes: []*pb.NodeProto{
			node("k", "Constant", nil, []string{"w"}, &pb.AttributeProto{Name: ptr("value"), Type: pb.AttributeProto_TENSOR.Enum(), T: claim(floatTensor("", nil, []float32{1}))}),
			node("a", "Add", []string{"x", "w"}, []string{"y"})}}.bytes(t),
		"elements fit int64 only": modelSpec{opset: 13, nodes: []*pb.NodeProto{node("a", "Add", []string{"x", "w"}, []string{"y"})},
			inits: []*pb.TensorProto{{Name: ptr("w"), DataType: ptr(dtFloat), Dims: []int64{math.MaxInt64, 2}}}}.bytes(t),
		"concat amplification": func() []byte {
			ins := make([]string, 4000)
			for i := range ins {
				ins[i] = "k"
			}
			return modelSpec{opset: 13, input: vinfo("x", "N", 1), nodes: []*pb.NodeProto{
				node("cat", "Concat", ins, []string{"big"}, aInt("axis", 0)),
				node("a", "Add", []string{"x", "big"}, []string{"y"})},
				inits: []*pb.TensorProto{floatTensor("k", []int{4096}, make([]float32, 4096))}}.bytes(t)
		}(),
		"input dimension": modelSpec{opset: 13, input: vinfo("x", 1000000000000, 2), nodes: []*pb.NodeProto{node("r", "Relu", []string{"x"}, []string{"y"})}}.bytes(t),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(b)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("no error")
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Fatalf("allocated %d bytes before refusing: %v", d, err)
			}
			t.Log(err)
		})
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	g, err := ReadFile(filepath.Join("..", "testdata", "onnx", "hand_opset9.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Meta["classes"] != "a,b,c,d,e" || g.Meta["arch"] != "hand" {
		t.Fatalf("meta %v", g.Meta)
	}
	g.Meta["slimgo.stage"] = "pruned"
	b, err := Marshal(g, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(h.Meta) != fmt.Sprint(g.Meta) {
		t.Fatalf("meta %v, want %v", h.Meta, g.Meta)
	}
	// Deterministic output: the same graph marshals to the same bytes.
	b2, _ := Marshal(g, WriteOptions{})
	if !bytes.Equal(b, b2) {
		t.Fatal("Marshal is not deterministic")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	g, err := ReadFile(filepath.Join("..", "testdata", "onnx", "hand_opset13.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := WriteFile(path, g, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	bad := g.Clone()
	bad.Nodes = append(bad.Nodes, &graph.Node{Name: "weird", Op: "Einsum", Inputs: []string{"x"}, Outputs: []string{"zz"}})
	if err := WriteFile(path, bad, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "Einsum") {
		t.Fatalf("err = %v", err)
	}
	now, _ := os.ReadFile(path)
	if !bytes.Equal(old, now) {
		t.Fatal("a failed export changed the existing file")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d directory entries, want 1", len(ents))
	}
}

// FuzzRead: arbitrary bytes never panic and never allocate without bound
// (every tensor is size-checked against its bytes before conversion).
func FuzzRead(f *testing.F) {
	fs, _ := filepath.Glob(filepath.Join("..", "testdata", "onnx", "*.onnx"))
	for _, p := range fs {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Add(modelSpec{opset: 13, nodes: []*pb.NodeProto{node("c", "Conv", []string{"x", "w"}, []string{"y"}, aInts("pads", []int{1, 1, 1, 1}))}, inits: []*pb.TensorProto{convW()}}.bytes(f))
	f.Add(modelSpec{opset: 9, nodes: []*pb.NodeProto{node("u", "Upsample", []string{"x", "s"}, []string{"y"})}, inits: []*pb.TensorProto{floatTensor("s", []int{4}, []float32{1, 1, 2, 2})}}.bytes(f))
	for _, c := range layoutSpecs() { // the YOLO-head ops and shape folding
		f.Add(c.spec.bytes(f))
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], 1)
	f.Add(le[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Read(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "onnx: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if _, err := g.InferShapes(nil); err != nil {
			t.Fatalf("imported graph fails shape inference: %v", err)
		}
		for k, p := range g.Params {
			if p.Len() > len(b)+1<<16 {
				t.Fatalf("param %q has %d values from a %d-byte file", k, p.Len(), len(b))
			}
		}
	})
}
