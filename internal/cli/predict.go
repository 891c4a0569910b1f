package cli

import (
	"fmt"
	"time"

	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/train"
)

type predictOptions struct {
	Model string
	Input string
	Out   string
	Batch int
	JSON  bool
}

func parsePredict(e *env, args []string) (*predictOptions, error) {
	o := &predictOptions{}
	fs := newFlags("predict", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.StringVar(&o.Input, "input", "", "NumPy .npy float32 array, batch first, already normalised as the model expects (required)")
	fs.StringVar(&o.Out, "out", "", "output .npy: the model's first output (required)")
	fs.IntVar(&o.Batch, "batch", 256, "rows per inference pass")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case o.Model == "" || o.Input == "" || o.Out == "":
		return nil, badInput("--model, --input and --out are required")
	case o.Batch <= 0:
		return nil, badInput("--batch must be > 0, got %d", o.Batch)
	}
	return o, nil
}

func runPredict(e *env, args []string) error {
	o, err := parsePredict(e, args)
	if err != nil {
		return err
	}
	if err := checkOutput(o.Out); err != nil {
		return err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	x, err := npy.ReadFile(o.Input)
	if err != nil {
		return asInput(err)
	}
	if in := g.Inputs[0].Shape; len(x.Shape) != len(in) {
		return badInput("input %s has shape %v, the model expects %v", o.Input, x.Shape, in)
	} else {
		for i := 1; i < len(in); i++ {
			if in[i] >= 0 && x.Shape[i] != in[i] {
				return badInput("input %s has shape %v, the model expects %v", o.Input, x.Shape, in)
			}
		}
	}
	if x.HasNaN() {
		return badInput("input %s holds NaN or Inf values", o.Input)
	}
	start := time.Now()
	y, err := train.Predict(g, x, o.Batch)
	if err != nil {
		return asInput(err)
	}
	secs := time.Since(start).Seconds()
	if err := npy.WriteFile(o.Out, y); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s %v\n", o.Out, y.Shape)
	return emit(e, o.JSON, map[string]any{"shape": y.Shape, "images_per_s": float64(x.Shape[0]) / secs, "out": o.Out})
}
