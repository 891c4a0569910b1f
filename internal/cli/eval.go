package cli

import (
	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/train"
)

type evalOptions struct {
	Model  string
	Packed string
	Data   dataFlags
	Batch  int
	JSON   bool
}

func parseEval(e *env, args []string) (*evalOptions, error) {
	o := &evalOptions{}
	fs := newFlags("eval", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.StringVar(&o.Packed, "packed", "", "a .slimpack file whose weights replace the model's (the model gives the structure: compress's model.pruned.onnx for its model.slimpack)")
	o.Data.register(fs)
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
	return o, o.Data.validate()
}

func runEval(e *env, args []string) error {
	o, err := parseEval(e, args)
	if err != nil {
		return err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	if o.Packed != "" {
		pk, err := cluster.ReadPackedFile(o.Packed)
		if err != nil {
			return asInput(err)
		}
		if err := pk.Apply(g); err != nil {
			return badInput("%s does not fit %s: %v", o.Packed, o.Model, err)
		}
	}
	o.Data.testOnly = true
	_, test, err := o.Data.load(e, g)
	if err != nil {
		return err
	}
	if err := checkClasses(g, test); err != nil {
		return err
	}
	ev, err := train.Evaluate(g, test, o.Batch)
	if err != nil {
		return err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return asInput(err)
	}
	return emit(e, o.JSON, map[string]any{
		"accuracy":      100 * ev.Accuracy,
		"loss":          ev.Loss,
		"images":        ev.N,
		"images_per_s":  ev.ImagesPerSec,
		"params":        st.Params,
		"macs":          st.MACs,
		"preprocessing": test.Preprocess().Summary(),
	})
}
