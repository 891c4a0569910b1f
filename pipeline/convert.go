package pipeline

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
)

// ConvertOptions configure Convert: FoldBN folds BN into convolutions,
// UnfoldBN restores an identity BN after each; Prep is stamped into the
// model.
type ConvertOptions struct {
	Model    string
	Out      string
	FoldBN   bool
	UnfoldBN bool
	Opset    int
	JSON     bool
	Prep     PrepOptions
}

// Convert reads a model and writes it back (the ONNX round trip).
func Convert(e *Env, o *ConvertOptions) (map[string]any, error) {
	g, err := loadForOutput(o.Model, o.Out)
	if err != nil {
		return nil, err
	}
	if err := o.Prep.stamp(e, g); err != nil {
		return nil, err
	}
	if o.UnfoldBN {
		if g, err = graph.UnfoldBN(g); err != nil {
			return nil, AsInput(err)
		}
	}
	if err := onnx.WriteFile(o.Out, g, onnx.WriteOptions{FoldBN: o.FoldBN, Opset: o.Opset}); err != nil {
		return nil, AsInput(err)
	}
	// Report what was written, as a reader of the file will see it.
	back, err := onnx.ReadFile(o.Out)
	if err != nil {
		return nil, err
	}
	st, err := back.ComputeStats()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "wrote %s (%s, %d BatchNormalization nodes)\n", o.Out, st, st.Ops[graph.OpBN])
	summary := map[string]any{"params": st.Params, "macs": st.MACs, "bytes": fileSize(o.Out), "bytes_before": fileSize(o.Model), "out": o.Out}
	if p := modelPrep(back); p != nil {
		summary["preprocessing"] = p
	}
	return summary, nil
}
