package cli

import "github.com/slimgo/slimgo/pipeline"

func parseInfo(e *env, args []string) (*pipeline.InfoOptions, error) {
	o := &pipeline.InfoOptions{}
	fs := newFlags("info", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.BoolVar(&o.Verbose, "v", false, "also list every layer and every prunable group")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if o.Model == "" {
		return nil, badInput("--model is required")
	}
	return o, nil
}
func runInfo(e *env, args []string) error {
	o, err := parseInfo(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Info(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
