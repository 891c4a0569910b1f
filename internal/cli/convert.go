package cli

import (
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/pipeline"
)

func parseConvert(e *env, args []string) (*pipeline.ConvertOptions, error) {
	o := &pipeline.ConvertOptions{}
	fs := newFlags("convert", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.StringVar(&o.Out, "out", "", "output ONNX model (required)")
	fs.BoolVar(&o.FoldBN, "fold-bn", false, "fold BatchNormalization into the preceding Conv (for deployment)")
	fs.BoolVar(&o.UnfoldBN, "unfold-bn", false, "insert an identity BatchNormalization after every Conv without one (to prune a BN-folded export; recompute its statistics with train)")
	fs.IntVar(&o.Opset, "opset", onnx.DefaultOpset, "ONNX opset to write (11-21)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	pf := &prepFlags{}
	pf.register(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := pf.parse(&o.Prep); err != nil {
		return nil, err
	}
	switch {
	case o.Model == "" || o.Out == "":
		return nil, badInput("--model and --out are required")
	case o.FoldBN && o.UnfoldBN:
		return nil, badInput("--fold-bn and --unfold-bn exclude each other")
	case o.Opset < 11 || o.Opset > 21:
		return nil, badInput("--opset must be in [11, 21], got %d", o.Opset)
	}
	return o, nil
}
func runConvert(e *env, args []string) error {
	o, err := parseConvert(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Convert(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
