package cli

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
)

type convertOptions struct {
	Model    string
	Out      string
	FoldBN   bool
	UnfoldBN bool
	Opset    int
	JSON     bool
	Prep     prepFlags
}

func parseConvert(e *env, args []string) (*convertOptions, error) {
	o := &convertOptions{}
	fs := newFlags("convert", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.StringVar(&o.Out, "out", "", "output ONNX model (required)")
	fs.BoolVar(&o.FoldBN, "fold-bn", false, "fold BatchNormalization into the preceding Conv (for deployment)")
	fs.BoolVar(&o.UnfoldBN, "unfold-bn", false, "insert an identity BatchNormalization after every Conv without one (to prune a BN-folded export; recompute its statistics with train)")
	fs.IntVar(&o.Opset, "opset", onnx.DefaultOpset, "ONNX opset to write (11-21)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	o.Prep.register(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := o.Prep.validate(); err != nil {
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
	if err := checkOutput(o.Out); err != nil {
		return err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	if err := o.Prep.stamp(e, g); err != nil {
		return err
	}
	if o.UnfoldBN {
		if g, err = onnx.UnfoldBN(g); err != nil {
			return asInput(err)
		}
	}
	if err := onnx.WriteFile(o.Out, g, onnx.WriteOptions{FoldBN: o.FoldBN, Opset: o.Opset}); err != nil {
		return asInput(err)
	}
	// Report what was written, as a reader of the file will see it.
	back, err := onnx.ReadFile(o.Out)
	if err != nil {
		return err
	}
	st, err := back.ComputeStats()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s (%s, %d BatchNormalization nodes)\n", o.Out, st, st.Ops[graph.OpBN])
	summary := map[string]any{"params": st.Params, "macs": st.MACs, "bytes": fileSize(o.Out), "bytes_before": fileSize(o.Model), "out": o.Out}
	if p := modelPrep(back); p != nil {
		summary["preprocessing"] = p
	}
	return emit(e, o.JSON, summary)
}
