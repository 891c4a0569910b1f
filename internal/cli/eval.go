package cli

import "github.com/slimgo/slimgo/pipeline"

func parseEval(e *env, args []string) (*pipeline.EvalOptions, error) {
	o := &pipeline.EvalOptions{}
	fs := newFlags("eval", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.StringVar(&o.Packed, "packed", "", "a .slimpack file whose weights replace the model's (the model gives the structure: compress's model.pruned.onnx for its model.slimpack)")
	df := registerData(fs, &o.Data)
	fs.IntVar(&o.Batch, "batch", 256, "batch size for inference")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if o.Model == "" {
		return nil, badInput("--model is required")
	}
	if o.Batch <= 0 {
		return nil, badInput("--batch must be > 0, got %d", o.Batch)
	}
	return o, df.validate()
}
func runEval(e *env, args []string) error {
	o, err := parseEval(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Eval(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
