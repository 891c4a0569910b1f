package onnx

// Static int8 export in ONNX Runtime's QDQ form: the graph stays a float
// graph with QuantizeLinear/DequantizeLinear pairs around every tensor, and
// ONNX Runtime's QDQ transformers rewrite each DequantizeLinear -> op ->
// QuantizeLinear group into its integer kernel (QLinearConv, QLinearAdd,
// QGemm, ...). The placement follows the rules of ONNX Runtime's own
// quantizer and graph transformers:
//
//   - weights: per output channel, symmetric int8 (zero point 0, scale
//     max|w|/127), DequantizeLinear with axis (opset 13);
//   - biases: int32 with scale input_scale * weight_scale[c], zero point 0,
//     the form ONNX Runtime's Conv/Gemm selectors require of a bias;
//   - activations: per tensor, asymmetric over the calibrated [min, max]
//     (widened to hold 0); a value whose only consumers are Relu nodes (or
//     Clip with min 0, ReLU6) is not quantized, the Relu's output is. The Relu output's range starts at
//     0, so its zero point is the type's minimum, and ONNX Runtime's
//     ReluQuantFusion drops the Relu: Conv (or Add) + Relu become one
//     integer kernel;
//   - MaxPool, Flatten, Reshape, Identity and Dropout pass their input's
//     quantization parameters on (ONNX Runtime drops Q/DQ pairs around such
//     ops only when the scales match);
//   - graph outputs stay float;
//   - with int8 activations, a value read by several nodes gets a
//     QuantizeLinear/DequantizeLinear pair per reader, each with its own
//     scale and zero-point initializers (the quantizer's "dedicated QDQ
//     pair"; separate initializers keep ONNX Runtime's common-subexpression
//     elimination from merging them again). On x86 ONNX Runtime runs s8
//     activations by turning them into u8 pair by pair
//     (QDQS8ToU8Transformer), which skips a Q read by several DQs and so
//     leaves its neighbours in float. Measured on resnet8 (ONNX Runtime 1.30, Xeon
//     with AVX512-VNNI): shared pairs fuse 3 of 9 Convs, dedicated pairs 8
//     of 9 (a Relu whose output fans out keeps its own node, as
//     ReluQuantFusion wants a single reader); uint8 activations need no
//     copies and fuse all 9 Convs, 3 Adds, the pooling and the Gemm, which
//     is why the pipeline writes u8 activations by default.

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// QDQ asks for a static int8 QDQ export (see WriteOptions.QDQ).
type QDQ struct {
	// Ranges holds the calibrated [min, max] of activation values by name;
	// every value QDQValues lists needs one.
	Ranges map[string][2]float32
	// Signed writes activations as int8 (S8S8, what ONNX Runtime's docs
	// recommend for QDQ CNNs on x86); by default they are uint8 (U8S8),
	// which ONNX Runtime fuses fully on x86 (see the placement rules above).
	Signed bool
}

// passThrough ops reuse their input's quantization parameters.
var passThrough = map[string]bool{graph.OpMaxPool: true, graph.OpFlatten: true, graph.OpReshape: true, graph.OpIdentity: true, graph.OpDropout: true}

// QDQValues lists, in topological order, the activation values of g (BN
// folded as the export does) that a QDQ export quantizes with calibrated
// ranges: the graph input and every node output, except graph outputs,
// values consumed only by Relu (quantized after the Relu instead) and
// outputs of pass-through ops whose input is quantized (they inherit its
// parameters).
func QDQValues(g *graph.Graph) ([]string, error) {
	order, err := g.Topo()
	if err != nil {
		return nil, err
	}
	q := qdqPlan(g, order)
	var out []string
	for _, v := range g.Inputs {
		if q[v.Name] {
			out = append(out, v.Name)
		}
	}
	for _, n := range order {
		if passThrough[n.Op] && q[n.Input(0)] {
			continue // inherits its input's parameters
		}
		for _, o := range n.Outputs {
			if q[o] {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// qdqPlan marks the activation values that get a Q/DQ pair.
func qdqPlan(g *graph.Graph, order []*graph.Node) map[string]bool {
	isOut := map[string]bool{}
	for _, v := range g.Outputs {
		isOut[v.Name] = true
	}
	users := map[string][]*graph.Node{}
	for _, n := range order {
		for _, in := range n.Inputs {
			if in != "" {
				users[in] = append(users[in], n)
			}
		}
	}
	want := func(v string) bool {
		if isOut[v] || len(users[v]) == 0 {
			return false
		}
		for _, u := range users[v] {
			if !reluLike(u) {
				return true
			}
		}
		return false // quantized after the Relu, so ORT fuses it
	}
	q := map[string]bool{}
	for _, v := range g.Inputs {
		q[v.Name] = want(v.Name)
	}
	for _, n := range order {
		for _, o := range n.Outputs {
			if o != "" {
				q[o] = want(o)
			}
		}
	}
	return q
}

// reluLike reports whether n is a Relu or a Clip with min 0 (ReLU6 in
// mobilenet_v2): the value it reads is not quantized, its output is, with
// a range that starts at 0, so ONNX Runtime's ReluQuantFusion /
// ClipQuantFusion remove it (a Clip goes when the quantized range, at most
// the calibrated maximum, lies within its [0, max]) and the Conv before it
// becomes one QLinearConv. With a Q/DQ pair before the Clip as well, the
// Conv's output would be quantized twice (before and after the Clip).
func reluLike(n *graph.Node) bool {
	return n.Op == graph.OpRelu || (n.Op == graph.OpClip && n.Attrs.Float("min", -1) == 0)
}

// ActQuant returns the scale and zero point of an activation whose values
// lie in [lo, hi]: the range is widened to hold 0 (so 0 is exact, as
// padding needs) and mapped onto [-128, 127] (or [0, 255] when unsigned).
// A range of one point gets scale 1.
func ActQuant(lo, hi float32, unsigned bool) (scale float32, zero int32) {
	lo, hi = min(lo, 0), max(hi, 0)
	qmin, qmax := float64(-128), float64(127)
	if unsigned {
		qmin, qmax = 0, 255
	}
	if !(hi > lo) || math.IsInf(float64(hi-lo), 0) {
		return 1, int32(qmin)
	}
	s := (float64(hi) - float64(lo)) / (qmax - qmin)
	z := math.Round(qmin - float64(lo)/s)
	z = math.Max(qmin, math.Min(qmax, z))
	return float32(s), int32(z)
}

// WeightQuant quantizes w per channel along axis, symmetrically: scale[c] =
// max|w[c]|/127 (1 for an all-zero channel), q = round(w/scale[c]) in
// [-127, 127], zero point 0.
func WeightQuant(w *tensor.Tensor, axis int) (q []int8, scale []float32) {
	shape := w.Shape
	outer, ch, inner := 1, shape[axis], 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	scale = make([]float32, ch)
	for o := range outer {
		for c := range ch {
			for _, v := range w.Data[(o*ch+c)*inner : (o*ch+c+1)*inner] {
				scale[c] = max(scale[c], float32(math.Abs(float64(v))))
			}
		}
	}
	for c := range scale {
		if scale[c] == 0 {
			scale[c] = 1
		} else {
			scale[c] /= 127
		}
	}
	q = make([]int8, len(w.Data))
	for o := range outer {
		for c := range ch {
			base := (o*ch + c) * inner
			for i, v := range w.Data[base : base+inner] {
				r := math.Round(float64(v) / float64(scale[c]))
				q[base+i] = int8(max(-127, min(127, r)))
			}
		}
	}
	return q, scale
}

// qparams are one tensor's quantization parameters.
type qparams struct {
	scale string // initializer names
	zero  string
	s     float32
	z     int32
}

// qdqExport is the state of one QDQ export.
type qdqExport struct {
	e      *exporter
	opt    *QDQ
	act    map[string]qparams // quantized activation -> its parameters
	rename map[string]string  // activation -> its DequantizeLinear output
	wq     map[string]bool    // params written as DequantizeLinear outputs
	fanout map[string]bool    // quantized activations given a pair per reader
}

// weightAxis returns the output-channel axis of n's weight and whether n's
// weight and bias are quantized.
func weightAxis(g *graph.Graph, n *graph.Node) (int, bool) {
	switch n.Op {
	case graph.OpConv:
		if w, ok := g.Params[n.Input(1)]; ok && w.Dims() == 4 {
			return 0, true
		}
	case graph.OpGemm:
		w, ok := g.Params[n.Input(1)]
		if !ok || w.Dims() != 2 || n.Attrs.Int("transA", 0) != 0 {
			return 0, false
		}
		if n.Attrs.Int("transB", 0) != 0 {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// prepare decides which parameters become DequantizeLinear outputs (a
// Conv/Gemm weight or bias used by that node only) before initializers are
// written.
func (x *qdqExport) prepare(order []*graph.Node) {
	uses := map[string]int{}
	for _, n := range order {
		for _, in := range n.Inputs {
			uses[in]++
		}
	}
	for _, n := range order {
		if _, ok := weightAxis(x.e.g, n); !ok || uses[n.Input(1)] != 1 {
			continue
		}
		x.wq[n.Input(1)] = true
		if b := n.Input(2); b != "" && uses[b] == 1 && x.e.g.Params[b].Dims() == 1 &&
			(n.Op == graph.OpConv || (n.Attrs.Float("alpha", 1) == 1 && n.Attrs.Float("beta", 1) == 1)) {
			x.wq[b] = true
		}
	}
}

func (x *qdqExport) zeroTensor(name string, shape []int, n int) *pb.TensorProto {
	if !x.opt.Signed {
		return uint8Tensor(name, shape, make([]uint8, n))
	}
	return int8Tensor(name, shape, make([]int8, n))
}

// quantize adds Q -> DQ after activation v with parameters p, read by
// every consumer of v.
func (x *qdqExport) quantize(v string, p qparams) {
	x.act[v] = p
	x.rename[v] = x.pair(v, p)
}

// pair emits Q -> DQ of v with parameters p and returns the DQ's output.
func (x *qdqExport) pair(v string, p qparams) string {
	e := x.e
	q, dq := e.fresh(v+"_quantized"), e.fresh(v+"_dequantized")
	e.emit(e.fresh(v+"_QuantizeLinear"), "QuantizeLinear", []string{v, p.scale, p.zero}, []string{q})
	e.emit(e.fresh(v+"_DequantizeLinear"), "DequantizeLinear", []string{q, p.scale, p.zero}, []string{dq})
	return dq
}

// calibrated makes v's parameters from its calibrated range.
func (x *qdqExport) calibrated(v string) (qparams, error) {
	r, ok := x.opt.Ranges[v]
	if !ok {
		return qparams{}, fmt.Errorf("QDQ export: no calibrated range for value %q", v)
	}
	if math.IsNaN(float64(r[0])) || math.IsNaN(float64(r[1])) || r[0] > r[1] {
		return qparams{}, fmt.Errorf("QDQ export: value %q has a bad range [%g, %g]", v, r[0], r[1])
	}
	s, z := ActQuant(r[0], r[1], !x.opt.Signed)
	return x.paramInits(v, s, z), nil
}

// paramInits writes scale s and zero point z of v as initializers.
func (x *qdqExport) paramInits(v string, s float32, z int32) qparams {
	e := x.e
	p := qparams{scale: e.fresh(v + "_scale"), zero: e.fresh(v + "_zero_point"), s: s, z: z}
	e.gp.Initializer = append(e.gp.Initializer, floatTensor(p.scale, []int{}, []float32{s}))
	if !x.opt.Signed {
		e.gp.Initializer = append(e.gp.Initializer, uint8Tensor(p.zero, []int{}, []uint8{uint8(z)}))
	} else {
		e.gp.Initializer = append(e.gp.Initializer, int8Tensor(p.zero, []int{}, []int8{int8(z)}))
	}
	return p
}

// params writes n's quantized weight (and bias) as DequantizeLinear nodes
// whose outputs carry the parameters' names, so n reads them unchanged.
func (x *qdqExport) params(n *graph.Node) error {
	axis, ok := weightAxis(x.e.g, n)
	if !ok || !x.wq[n.Input(1)] {
		return nil
	}
	e, name := x.e, n.Input(1)
	w := e.g.Params[name]
	q, s := WeightQuant(w, axis)
	ch := len(s)
	qn, sn, zn := e.fresh(name+"_quantized"), e.fresh(name+"_scale"), e.fresh(name+"_zero_point")
	e.gp.Initializer = append(e.gp.Initializer, int8Tensor(qn, w.Shape, q), floatTensor(sn, []int{ch}, s),
		int8Tensor(zn, []int{ch}, make([]int8, ch)))
	e.emit(e.fresh(name+"_DequantizeLinear"), "DequantizeLinear", []string{qn, sn, zn}, []string{name}, aInt("axis", axis))
	b := n.Input(2)
	if b == "" || !x.wq[b] {
		return nil
	}
	bt := e.g.Params[b]
	in, ok := x.act[n.Input(0)]
	if !ok || bt.Len() != ch {
		// No input scale to derive the bias scale from: keep it float.
		e.gp.Initializer = append(e.gp.Initializer, floatTensor(b, bt.Shape, bt.Data))
		return nil
	}
	bs := make([]float32, ch)
	bq := make([]int32, ch)
	for c := range ch {
		bs[c] = in.s * s[c]
		r := math.Round(float64(bt.Data[c]) / float64(bs[c]))
		bq[c] = int32(max(math.MinInt32, min(math.MaxInt32, r)))
	}
	qn, sn, zn = e.fresh(b+"_quantized"), e.fresh(b+"_scale"), e.fresh(b+"_zero_point")
	e.gp.Initializer = append(e.gp.Initializer, int32Tensor(qn, []int{ch}, bq), floatTensor(sn, []int{ch}, bs),
		int32Tensor(zn, []int{ch}, make([]int32, ch)))
	e.emit(e.fresh(b+"_DequantizeLinear"), "DequantizeLinear", []string{qn, sn, zn}, []string{b}, aInt("axis", 0))
	return nil
}

// nodes writes the graph body: the input's Q/DQ, then per node its
// parameters' DequantizeLinear, the node reading dequantized activations,
// and Q/DQ after each quantized output.
func (x *qdqExport) nodes(order []*graph.Node) error {
	plan := qdqPlan(x.e.g, order)
	readers := map[string]int{}
	for _, n := range order {
		for _, in := range slices.Compact(slices.Sorted(slices.Values(n.Inputs))) {
			readers[in]++
		}
	}
	for _, v := range x.e.g.Inputs {
		if plan[v.Name] {
			p, err := x.calibrated(v.Name)
			if err != nil {
				return err
			}
			if x.opt.Signed && readers[v.Name] > 1 {
				x.act[v.Name], x.fanout[v.Name] = p, true
				continue
			}
			x.quantize(v.Name, p)
		}
	}
	for _, n := range order {
		if err := x.params(n); err != nil {
			return err
		}
		c := *n
		c.Inputs = make([]string, len(n.Inputs))
		mine := map[string]string{} // this reader's own pairs
		for i, in := range n.Inputs {
			c.Inputs[i] = in
			if r, ok := x.rename[in]; ok {
				c.Inputs[i] = r
			}
			if x.fanout[in] {
				if mine[in] == "" {
					p := x.act[in]
					mine[in] = x.pair(in, x.paramInits(in, p.s, p.z))
				}
				c.Inputs[i] = mine[in]
			}
		}
		if err := x.e.node(&c); err != nil {
			return err
		}
		for _, o := range n.Outputs {
			if !plan[o] {
				continue
			}
			p, inherited := x.act[n.Input(0)]
			if !passThrough[n.Op] || !inherited {
				var err error
				if p, err = x.calibrated(o); err != nil {
					return err
				}
			}
			if x.opt.Signed && readers[o] > 1 {
				x.act[o], x.fanout[o] = p, true // pairs made per reader
				continue
			}
			x.quantize(o, p)
		}
	}
	return nil
}

// int8Tensor encodes an int8 tensor (quantized weights, zero points).
func int8Tensor(name string, shape []int, data []int8) *pb.TensorProto {
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	return &pb.TensorProto{Name: &name, Dims: dims64(shape), DataType: ptr(int32(pb.TensorProto_INT8)), RawData: raw}
}

// int32Tensor encodes an int32 tensor (quantized biases).
func int32Tensor(name string, shape []int, data []int32) *pb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
	}
	return &pb.TensorProto{Name: &name, Dims: dims64(shape), DataType: ptr(int32(pb.TensorProto_INT32)), RawData: raw}
}
