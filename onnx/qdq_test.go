package onnx

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// TestWeightQuantByHand: per-channel symmetric scales and codes worked out
// on paper for a 2-channel weight, along axis 0 (Conv) and axis 1 (Gemm
// without transB).
func TestWeightQuantByHand(t *testing.T) {
	w := tensor.From([]float32{1, -0.5, 0.25, 0.127}, 2, 1, 1, 2)
	q, s := WeightQuant(w, 0)
	// channel 0: max 1 -> s 1/127, codes 127, round(-63.5) = -64;
	// channel 1: max 0.25 -> s 0.25/127, codes 127, round(0.127*508) = round(64.516) = 65.
	wantS := []float32{1.0 / 127, 0.25 / 127}
	for c := range wantS {
		if math.Abs(float64(s[c]-wantS[c])) > 1e-9 {
			t.Errorf("scale[%d] = %g, want %g", c, s[c], wantS[c])
		}
	}
	if want := []int8{127, -64, 127, 65}; !slices.Equal(q, want) {
		t.Errorf("codes %v, want %v", q, want)
	}
	// Gemm B as [in=2, out=2] (transB=0): channels are columns.
	b := tensor.From([]float32{1, 0.25, -0.5, 0}, 2, 2)
	q, s = WeightQuant(b, 1)
	if want := []float32{1.0 / 127, 0.25 / 127}; math.Abs(float64(s[0]-want[0])) > 1e-9 || math.Abs(float64(s[1]-want[1])) > 1e-9 {
		t.Errorf("axis-1 scales %v, want %v", s, want)
	}
	if want := []int8{127, 127, -64, 0}; !slices.Equal(q, want) {
		t.Errorf("axis-1 codes %v, want %v", q, want)
	}
	// An all-zero channel gets scale 1 and codes 0, not a division by zero.
	q, s = WeightQuant(tensor.From([]float32{0, 3}, 2, 1), 0)
	if s[0] != 1 || q[0] != 0 || q[1] != 127 {
		t.Errorf("zero channel: scales %v codes %v", s, q)
	}
}

func TestActQuant(t *testing.T) {
	for _, c := range []struct {
		name     string
		lo, hi   float32
		unsigned bool
		s        float32
		z        int32
	}{
		{"relu output s8: zero point at the minimum (ORT drops the Relu)", 0, 5.1, false, 0.02, -128},
		{"relu output u8", 0, 5.1, true, 0.02, 0},
		{"symmetric range s8: -128 + 127.5 rounds away from 0", -2.55, 2.55, false, 0.02, -1},
		{"range widened to hold 0", 1, 2.55, false, 0.01, -128},
		{"negative only u8", -2.55, -1, true, 0.01, 255},
		{"one point", 0, 0, false, 1, -128},
	} {
		s, z := ActQuant(c.lo, c.hi, c.unsigned)
		if math.Abs(float64(s-c.s)) > 1e-6 || z != c.z {
			t.Errorf("%s: ActQuant(%g, %g) = %g, %d; want %g, %d", c.name, c.lo, c.hi, s, z, c.s, c.z)
		}
	}
}

// calibrate runs the BN-folded g on x and returns min-max ranges of the
// values a QDQ export quantizes.
func calibrate(t *testing.T, g *graph.Graph, x *tensor.Tensor) (*graph.Graph, map[string][2]float32) {
	t.Helper()
	f, err := FoldBN(g)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := QDQValues(f)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := engine.New(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Forward(x, false); err != nil {
		t.Fatal(err)
	}
	r := map[string][2]float32{}
	for _, v := range vals {
		d := ex.Value(v)
		if d == nil {
			t.Fatalf("value %q not computed", v)
		}
		r[v] = [2]float32{slices.Min(d.Data), slices.Max(d.Data)}
	}
	return f, r
}

// qdqModel builds resnet8 on 3x12x12 inputs with non-trivial BN statistics.
func qdqModel(t *testing.T) *graph.Graph { return qdqArch(t, "resnet8") }

// qdqArch builds arch on 3x12x12 inputs with non-trivial BN statistics.
func qdqArch(t *testing.T, arch string) *graph.Graph {
	t.Helper()
	g, err := nn.Build(arch, []int{3, 12, 12}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(2)
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			g.Params[n.Inputs[1]].FillUniform(rng, 0.5, 1.5)
			g.Params[n.Inputs[2]].FillNormal(rng, 0, 0.1)
			g.Params[n.Inputs[3]].FillNormal(rng, 0, 0.2)
			g.Params[n.Inputs[4]].FillUniform(rng, 0.5, 2)
		}
	}
	return g
}

// TestQDQStructure: the exported graph has the placement onnx/qdq.go
// promises: no Q/DQ between a Conv and its Relu, int8 per-channel weights
// with axis, int32 biases, float outputs.
func TestQDQStructure(t *testing.T) {
	g := qdqModel(t)
	x := tensor.New(4, 3, 12, 12)
	x.FillNormal(tensor.NewRNG(3), 0, 1)
	f, ranges := calibrate(t, g, x)
	b, err := Marshal(f, WriteOptions{QDQ: &QDQ{Ranges: ranges}})
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	prod := map[string]*pb.NodeProto{}
	for _, n := range m.Graph.Node {
		for _, o := range n.Output {
			prod[o] = n
		}
	}
	inits := map[string]*pb.TensorProto{}
	for _, in := range m.Graph.Initializer {
		inits[in.GetName()] = in
	}
	convs, relus := 0, 0
	for _, n := range m.Graph.Node {
		switch n.GetOpType() {
		case "Relu":
			relus++
			if p := prod[n.Input[0]]; p == nil || p.GetOpType() == "DequantizeLinear" {
				t.Errorf("Relu %s reads a dequantized value: the Q/DQ belongs after it", n.GetName())
			}
		case "Conv":
			convs++
			for i, want := range []int32{int32(pb.TensorProto_INT8), int32(pb.TensorProto_INT32)} {
				dq := prod[n.Input[1+i]]
				if dq == nil || dq.GetOpType() != "DequantizeLinear" {
					t.Fatalf("Conv %s input %d is not dequantized", n.GetName(), 1+i)
				}
				if q := inits[dq.Input[0]]; q.GetDataType() != want {
					t.Errorf("Conv %s input %d stored as type %d, want %d", n.GetName(), 1+i, q.GetDataType(), want)
				}
				if len(dq.Attribute) != 1 || dq.Attribute[0].GetName() != "axis" {
					t.Errorf("Conv %s input %d: DequantizeLinear without axis", n.GetName(), 1+i)
				}
			}
			if p := prod[n.Input[0]]; p == nil || p.GetOpType() != "DequantizeLinear" {
				t.Errorf("Conv %s input is not dequantized", n.GetName())
			}
		}
	}
	if convs == 0 || relus == 0 {
		t.Fatalf("%d convs, %d relus", convs, relus)
	}
	if p := prod[m.Graph.Output[0].GetName()]; p.GetOpType() == "DequantizeLinear" {
		t.Error("the graph output is quantized; it should stay float")
	}
	// With int8 activations every activation's DequantizeLinear has one
	// reader (dedicated pairs), so ONNX Runtime's s8 -> u8 conversion can
	// take each pair; with uint8 ones a value read twice keeps one pair.
	for _, signed := range []bool{true, false} {
		b, err = Marshal(f, WriteOptions{QDQ: &QDQ{Ranges: ranges, Signed: signed}})
		if err != nil {
			t.Fatal(err)
		}
		var ms pb.ModelProto
		if err := proto.Unmarshal(b, &ms); err != nil {
			t.Fatal(err)
		}
		readers := map[string]int{}
		for _, n := range ms.Graph.Node {
			for _, in := range n.Input {
				readers[in]++
			}
		}
		shared := 0
		for _, n := range ms.Graph.Node {
			if n.GetOpType() == "DequantizeLinear" && len(n.Attribute) == 0 && readers[n.Output[0]] > 1 {
				shared++
			}
		}
		if signed && shared > 0 {
			t.Errorf("s8: %d activation DequantizeLinear outputs read by several nodes, want dedicated pairs", shared)
		}
		if !signed && shared == 0 {
			t.Error("u8: no shared activation pair; resnet8's block inputs are read twice")
		}
	}
	if _, err := Marshal(f, WriteOptions{QDQ: &QDQ{Ranges: ranges}, Opset: 12}); err == nil {
		t.Error("QDQ at opset 12 accepted")
	}
	if _, err := Marshal(f, WriteOptions{QDQ: &QDQ{}}); err == nil {
		t.Error("QDQ without ranges accepted")
	}
}

// TestQDQRunsInORT: the QDQ export of resnet8 runs in ONNX Runtime (s8 and
// u8 activations) and its logits are close to the float model's.
//
// Tolerance: rounding a tensor to its step adds at most half a step, 1/510
// of an activation's range and 1/254 of a weight channel's largest value.
// Each quantized layer thus adds a relative error of about 0.5/255 + 0.5/127
// ≈ 0.6% of the scale of what it feeds on; with L quantized activations in a
// row and gains near 1 the errors add up to about L * 0.6% of the logits'
// scale. We take L as the number of quantized activations (14 in resnet8,
// an over-count of its longest path), about 8% of max|logit|.
func TestQDQRunsInORT(t *testing.T) {
	needORT(t)
	g := qdqModel(t)
	x := tensor.New(16, 3, 12, 12)
	x.FillNormal(tensor.NewRNG(3), 0, 1)
	f, ranges := calibrate(t, g, x)
	vals, _ := QDQValues(f)
	L := len(vals)
	tol := float64(L) * (0.5/255 + 0.5/127)
	dir := t.TempDir()
	fl, s8, u8 := filepath.Join(dir, "f.onnx"), filepath.Join(dir, "s8.onnx"), filepath.Join(dir, "u8.onnx")
	for _, c := range []struct {
		path string
		opt  WriteOptions
	}{
		{fl, WriteOptions{FoldBN: true}},
		{s8, WriteOptions{QDQ: &QDQ{Ranges: ranges, Signed: true}}},
		{u8, WriteOptions{QDQ: &QDQ{Ranges: ranges}, Opset: 17}},
	} {
		if err := WriteFile(c.path, f, c.opt); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := ort.RunBatch([]ort.Job{{Model: fl, X: x}, {Model: s8, X: x}, {Model: u8, X: x}})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"s8", "u8"} {
		q, ref := outs[1+i], outs[0]
		var worst, scale float64
		for j := range ref.Data {
			worst = max(worst, math.Abs(float64(q.Data[j]-ref.Data[j])))
			scale = max(scale, math.Abs(float64(ref.Data[j])))
		}
		t.Logf("%s: max |int8 - float| = %.4g of max |logit| %.4g (%.2f%%, tolerance %.2f%% for %d quantized values)", name, worst, scale, 100*worst/scale, 100*tol, L)
		if worst > tol*scale {
			t.Errorf("%s: int8 logits differ by %.4g, more than %.2f%% of %.4g", name, worst, 100*tol, scale)
		}
	}
}

// TestQDQClip: in mobilenet-s (ReLU6 = Clip(0, 6), depthwise convs) every
// Clip reads its Conv's output directly, not a dequantized copy, and its
// output is quantized from 0 (zero point at the type's minimum), the form
// ONNX Runtime's ClipQuantFusion removes so the Conv becomes one
// QLinearConv; with node, the int8 model's logits stay within the
// tolerance of TestQDQRunsInORT of the float model's.
func TestQDQClip(t *testing.T) {
	g := qdqArch(t, "mobilenet-s")
	x := tensor.New(16, 3, 12, 12)
	x.FillNormal(tensor.NewRNG(3), 0, 1)
	f, ranges := calibrate(t, g, x)
	b, err := Marshal(f, WriteOptions{QDQ: &QDQ{Ranges: ranges}})
	if err != nil {
		t.Fatal(err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	prod, readers := map[string]*pb.NodeProto{}, map[string][]*pb.NodeProto{}
	for _, n := range m.Graph.Node {
		for _, o := range n.Output {
			prod[o] = n
		}
		for _, in := range n.Input {
			readers[in] = append(readers[in], n)
		}
	}
	clips := 0
	for _, n := range m.Graph.Node {
		if n.GetOpType() != "Clip" {
			continue
		}
		clips++
		if p := prod[n.Input[0]]; p == nil || p.GetOpType() != "Conv" {
			t.Errorf("Clip %s reads %v, want its Conv's output", n.GetName(), p.GetOpType())
		}
		r := readers[n.Output[0]]
		if len(r) != 1 || r[0].GetOpType() != "QuantizeLinear" {
			t.Fatalf("Clip %s output is not quantized", n.GetName())
		}
		if z := r[0].Input[2]; len(z) == 0 {
			t.Errorf("Clip %s: QuantizeLinear without zero point", n.GetName())
		}
	}
	if clips == 0 {
		t.Fatal("mobilenet-s exported without Clip nodes")
	}
	if !ort.Available() {
		return
	}
	vals, _ := QDQValues(f)
	tol := float64(len(vals)) * (0.5/255 + 0.5/127)
	dir := t.TempDir()
	fl, u8 := filepath.Join(dir, "f.onnx"), filepath.Join(dir, "u8.onnx")
	if err := WriteFile(fl, f, WriteOptions{FoldBN: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(u8, f, WriteOptions{QDQ: &QDQ{Ranges: ranges}}); err != nil {
		t.Fatal(err)
	}
	outs, err := ort.RunBatch([]ort.Job{{Model: fl, X: x}, {Model: u8, X: x}})
	if err != nil {
		t.Fatal(err)
	}
	var worst, scale float64
	for j := range outs[0].Data {
		worst = max(worst, math.Abs(float64(outs[1].Data[j]-outs[0].Data[j])))
		scale = max(scale, math.Abs(float64(outs[0].Data[j])))
	}
	t.Logf("mobilenet-s u8: max |int8 - float| = %.4g of max |logit| %.4g (tolerance %.2f%%)", worst, scale, 100*tol)
	if worst > tol*scale {
		t.Errorf("int8 logits differ by %.4g, more than %.2f%% of %.4g", worst, 100*tol, scale)
	}
}
