package onnx

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/onnx/pb"
)

// Probe is what a look at an ONNX file tells without importing its graph:
// the first graph input (initializers excluded), its shape (-1 where
// dynamic) and whether the file is a static int8 QDQ model
// (QuantizeLinear/DequantizeLinear nodes), which slimgo does not run.
type Probe struct {
	Input string
	Shape []int
	QDQ   bool
}

// ProbeFile decodes the .onnx file at path far enough to fill a Probe.
// Errors (unreadable file, bad protobuf, no tensor input) name the path.
func ProbeFile(path string) (Probe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Probe{}, err
	}
	var m pb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &m); err != nil {
		return Probe{}, fmt.Errorf("%s: not a valid ONNX model (protobuf decoding failed: %v)", path, err)
	}
	gp := m.GetGraph()
	inits := map[string]bool{}
	for _, t := range gp.GetInitializer() {
		inits[t.GetName()] = true
	}
	var p Probe
	for _, vi := range gp.GetInput() {
		if inits[vi.GetName()] {
			continue
		}
		v, err := valueInfo(vi, "input")
		if err != nil {
			return Probe{}, fmt.Errorf("%s: %w", path, err)
		}
		p.Input, p.Shape = v.Name, v.Shape
		break
	}
	if p.Input == "" {
		return Probe{}, fmt.Errorf("%s: the graph has no input", path)
	}
	for _, n := range gp.GetNode() {
		if t := n.GetOpType(); t == "QuantizeLinear" || t == "DequantizeLinear" {
			p.QDQ = true
		}
	}
	return p, nil
}

// DynamicBatch returns the serialized ONNX model b with the first dimension
// of every graph input and output (initializers excluded) made symbolic
// ("N") and the intermediate shape annotations (value_info) dropped, so a
// file exported with a fixed batch (torch.onnx.export's default) runs at
// any batch in ONNX Runtime. It rewrites nothing inside the graph: a model
// whose nodes hard-code the batch (a Reshape to [1,-1]) still fails there.
// Unknown protobuf fields are kept.
func DynamicBatch(b []byte) ([]byte, error) {
	var m pb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("onnx: not a valid ONNX model (protobuf decoding failed: %v)", err)
	}
	gp := m.GetGraph()
	if gp == nil {
		return nil, errors.New("onnx: the model has no graph")
	}
	inits := map[string]bool{}
	for _, t := range gp.GetInitializer() {
		inits[t.GetName()] = true
	}
	free := func(vi *pb.ValueInfoProto) {
		if inits[vi.GetName()] {
			return
		}
		dims := vi.GetType().GetTensorType().GetShape().GetDim()
		if len(dims) > 0 {
			dims[0].Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}
		}
	}
	for _, vi := range gp.GetInput() {
		free(vi)
	}
	for _, vi := range gp.GetOutput() {
		free(vi)
	}
	gp.ValueInfo = nil
	return proto.Marshal(&m)
}
