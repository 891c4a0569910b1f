package pipeline

import (
	"fmt"
	"time"

	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/train"
)

// PredictOptions configure Predict: Input is a .npy float32 array, batch
// first, already normalised; Out receives the first output.
type PredictOptions struct {
	Model string
	Input string
	Out   string
	Batch int
	JSON  bool
}

// Predict runs a model on a NumPy array and writes its first output.
func Predict(e *Env, o *PredictOptions) (map[string]any, error) {
	g, err := loadForOutput(o.Model, o.Out)
	if err != nil {
		return nil, err
	}
	x, err := npy.ReadFile(o.Input)
	if err != nil {
		return nil, AsInput(err)
	}
	if in := g.Inputs[0].Shape; len(x.Shape) != len(in) {
		return nil, BadInput("input %s has shape %v, the model expects %v", o.Input, x.Shape, in)
	} else {
		for i := 1; i < len(in); i++ {
			if in[i] >= 0 && x.Shape[i] != in[i] {
				return nil, BadInput("input %s has shape %v, the model expects %v", o.Input, x.Shape, in)
			}
		}
	}
	if x.HasNaN() {
		return nil, BadInput("input %s holds NaN or Inf values", o.Input)
	}
	start := time.Now()
	y, err := train.Predict(g, x, o.Batch)
	if err != nil {
		return nil, AsInput(err)
	}
	secs := time.Since(start).Seconds()
	if err := npy.WriteFile(o.Out, y); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "wrote %s %v\n", o.Out, y.Shape)
	return map[string]any{"shape": y.Shape, "images_per_s": float64(x.Shape[0]) / secs, "out": o.Out}, nil
}
