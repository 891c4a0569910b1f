package cli

import "github.com/slimgo/slimgo/pipeline"

func parsePredict(e *env, args []string) (*pipeline.PredictOptions, error) {
	o := &pipeline.PredictOptions{}
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
	summary, err := pipeline.Predict(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
