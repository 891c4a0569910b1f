package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
)

// MaxElements is the largest element count a single tensor in a model may
// declare (2^28, 1 GiB of float32). Larger tensors are refused before any
// allocation, as are tensors declaring more elements than their bytes hold.
const MaxElements = 1 << 28

// ONNX TensorProto.DataType values used here.
const (
	dtFloat  = int32(pb.TensorProto_FLOAT)
	dtUint8  = int32(pb.TensorProto_UINT8)
	dtInt32  = int32(pb.TensorProto_INT32)
	dtInt64  = int32(pb.TensorProto_INT64)
	dtDouble = int32(pb.TensorProto_DOUBLE)
	dtBool   = int32(pb.TensorProto_BOOL)
)

// constant is a decoded ONNX tensor: float data (float, double) go to F,
// integer data (int32, int64, bool) to I.
type constant struct {
	Shape []int
	F     []float32
	I     []int64
}

// isInt reports whether the constant holds integers.
func (c *constant) isInt() bool { return c.F == nil && c.I != nil }

// floats returns the values as float32 whatever their type.
func (c *constant) floats() []float32 {
	if c.F != nil {
		return c.F
	}
	out := make([]float32, len(c.I))
	for i, v := range c.I {
		out[i] = float32(v)
	}
	return out
}

// ints returns integer values, or an error for float data that are not
// whole numbers.
func (c *constant) ints() ([]int, error) {
	out := make([]int, 0, max(len(c.I), len(c.F)))
	if c.F == nil {
		for _, v := range c.I {
			out = append(out, int(v))
		}
		return out, nil
	}
	for _, v := range c.F {
		if v != float32(math.Trunc(float64(v))) {
			return nil, fmt.Errorf("value %v is not an integer", v)
		}
		out = append(out, int(v))
	}
	return out, nil
}

func dtypeName(dt int32) string {
	if s, ok := pb.TensorProto_DataType_name[dt]; ok {
		return s
	}
	return fmt.Sprintf("data type %d", dt)
}

// decodeTensor converts an ONNX tensor. It refuses external data, unsupported
// element types, negative or oversized shapes, and any declared element
// count that its stored bytes do not cover, all before allocating the result.
func decodeTensor(t *pb.TensorProto) (*constant, error) {
	if t.GetDataLocation() == pb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("tensor %q uses external data, which is not supported; save the model with its weights inside the .onnx file (onnx.save(model, path, save_as_external_data=False))", t.GetName())
	}
	if t.Segment != nil {
		return nil, fmt.Errorf("tensor %q is segmented, which is not supported", t.GetName())
	}
	shape := make([]int, len(t.GetDims()))
	n := int64(1)
	for i, d := range t.GetDims() {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q has negative dimension in shape %v", t.GetName(), t.GetDims())
		}
		if d > MaxElements || (d > 0 && n > MaxElements/d) {
			return nil, fmt.Errorf("tensor %q: shape %v exceeds the limit of %d elements", t.GetName(), t.GetDims(), MaxElements)
		}
		n *= d
		shape[i] = int(d)
	}
	if n > MaxElements {
		return nil, fmt.Errorf("tensor %q: shape %v exceeds the limit of %d elements", t.GetName(), t.GetDims(), MaxElements)
	}
	dt := t.GetDataType()
	var size int64
	switch dt {
	case dtFloat, dtInt32:
		size = 4
	case dtInt64, dtDouble:
		size = 8
	case dtUint8, dtBool:
		size = 1
	default:
		return nil, fmt.Errorf("tensor %q has element type %s; only FLOAT (and INT64/INT32 for shapes) are supported", t.GetName(), dtypeName(dt))
	}
	raw := t.GetRawData()
	have := int64(0)
	switch {
	case raw != nil:
		if int64(len(raw)) != n*size {
			return nil, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, raw_data holds %d", t.GetName(), t.GetDims(), dtypeName(dt), n*size, len(raw))
		}
		have = n
	case dt == dtFloat:
		have = int64(len(t.GetFloatData()))
	case dt == dtInt64:
		have = int64(len(t.GetInt64Data()))
	case dt == dtDouble:
		have = int64(len(t.GetDoubleData()))
	default: // int32, uint8, bool live in int32_data
		have = int64(len(t.GetInt32Data()))
	}
	if have != n {
		return nil, fmt.Errorf("tensor %q: shape %v declares %d elements, the file holds %d", t.GetName(), t.GetDims(), n, have)
	}
	c := &constant{Shape: shape}
	le := binary.LittleEndian
	switch dt {
	case dtFloat:
		c.F = make([]float32, n)
		if raw != nil {
			for i := range c.F {
				c.F[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			}
		} else {
			copy(c.F, t.GetFloatData())
		}
	case dtDouble:
		c.F = make([]float32, n)
		for i := range c.F {
			if raw != nil {
				c.F[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
			} else {
				c.F[i] = float32(t.GetDoubleData()[i])
			}
		}
	default:
		c.I = make([]int64, n)
		for i := range c.I {
			switch {
			case raw == nil && dt == dtInt64:
				c.I[i] = t.GetInt64Data()[i]
			case raw == nil:
				c.I[i] = int64(t.GetInt32Data()[i])
			case dt == dtInt64:
				c.I[i] = int64(le.Uint64(raw[8*i:]))
			case dt == dtInt32:
				c.I[i] = int64(int32(le.Uint32(raw[4*i:])))
			default:
				c.I[i] = int64(raw[i])
			}
		}
	}
	return c, nil
}

// floatTensor encodes a float32 tensor as an initializer (raw little-endian).
func floatTensor(name string, shape []int, data []float32) *pb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &pb.TensorProto{Name: &name, Dims: dims64(shape), DataType: ptr(dtFloat), RawData: raw}
}

// int64Tensor encodes an int64 tensor (shapes, sizes).
func int64Tensor(name string, shape []int, data []int) *pb.TensorProto {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(int64(v)))
	}
	return &pb.TensorProto{Name: &name, Dims: dims64(shape), DataType: ptr(dtInt64), RawData: raw}
}

// uint8Tensor encodes a uint8 tensor (codebook indices).
func uint8Tensor(name string, shape []int, data []uint8) *pb.TensorProto {
	return &pb.TensorProto{Name: &name, Dims: dims64(shape), DataType: ptr(dtUint8), RawData: append([]byte{}, data...)}
}

func dims64(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, v := range shape {
		d[i] = int64(v)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// toTensor wraps float constant data as a slimgo tensor.
func (c *constant) toTensor() *tensor.Tensor {
	return &tensor.Tensor{Shape: append([]int{}, c.Shape...), Data: c.floats()}
}
