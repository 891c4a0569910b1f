package train

import (
	"fmt"
	"slices"

	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// detDistiller runs a detector teacher beside FitDetector's student and
// mixes detect.DistillLoss into the student's gradients.
type detDistiller struct {
	g       *graph.Graph
	exec    *engine.Executor
	weight  float64
	strides []float64
}

// newDetDistiller returns nil without a teacher. Errors: a weight outside
// (0, 1], a weight without a teacher, a teacher the engine cannot run or
// whose head strides differ from the student's.
func newDetDistiller(teacher *graph.Graph, weight float64, strides []float64) (*detDistiller, error) {
	if teacher == nil {
		if weight != 0 {
			return nil, fmt.Errorf("train: distillation weight %g without a teacher", weight)
		}
		return nil, nil
	}
	if !(weight > 0 && weight <= 1) {
		return nil, fmt.Errorf("train: detector distillation weight %g is not in (0, 1]", weight)
	}
	ts, err := HeadStrides(teacher)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(ts, strides) {
		return nil, fmt.Errorf("train: teacher's head strides %v differ from the model's %v", ts, strides)
	}
	exec, err := engine.New(teacher)
	if err != nil {
		return nil, fmt.Errorf("train: teacher: %w", err)
	}
	exec.SetRecycle(true)
	return &detDistiller{g: teacher, exec: exec, weight: weight, strides: strides}, nil
}

// mix runs the teacher on x and replaces grads (YOLOXLoss's, for the
// student's maps) by (1 - w) grads + w DistillLoss's, normalised by the
// batch's positives as YOLOXLoss is.
func (d *detDistiller) mix(x *tensor.Tensor, student []detect.HeadMap, grads [][]float32, positives int) error {
	out, err := d.exec.Run(map[string]*tensor.Tensor{d.g.Inputs[0].Name: x}, false)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	teacher, err := headMaps(d.g, out, d.strides)
	if err != nil {
		return err
	}
	_, dg, err := detect.DistillLoss(student, teacher, 1/float64(max(positives, 1)))
	if err != nil {
		return err
	}
	w := float32(d.weight)
	for m := range grads {
		for i := range grads[m] {
			grads[m][i] = (1-w)*grads[m][i] + w*dg[m][i]
		}
	}
	return nil
}
