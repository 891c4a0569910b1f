package pipeline

import (
	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/train"
)

// EvalOptions configure Eval. Packed, when set, names a .slimpack whose
// weights replace the model's before scoring.
type EvalOptions struct {
	Model  string
	Packed string
	Data   DataOptions
	Batch  int
	JSON   bool
}

// Eval scores a model on the test split: accuracy (percent), loss,
// images/s, params, MACs and the preprocessing used; a detector (on a
// YOLO-format folder's val/) mAP@0.5 and mAP@0.5:0.95 (percent) and per
// class AP instead of accuracy and loss.
func Eval(e *Env, o *EvalOptions) (map[string]any, error) {
	g, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	if o.Packed != "" {
		pk, err := cluster.ReadPackedFile(o.Packed)
		if err != nil {
			return nil, AsInput(err)
		}
		if err := pk.Apply(g); err != nil {
			return nil, BadInput("%s does not fit %s: %v", o.Packed, o.Model, err)
		}
	}
	if err := checkTask("model "+o.Model, IsDetector(g), o.Data.Spec); err != nil {
		return nil, err
	}
	if IsDetector(g) {
		return evalDetector(e, o, g)
	}
	d := o.Data // eval reads the test split only; the caller's options stay as given
	d.TestOnly = true
	_, test, err := d.load(e, g)
	if err != nil {
		return nil, err
	}
	ev, err := train.Evaluate(g, test, o.Batch)
	if err != nil {
		return nil, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return nil, AsInput(err)
	}
	return map[string]any{
		"accuracy":      100 * ev.Accuracy,
		"loss":          ev.Loss,
		"images":        ev.N,
		"images_per_s":  ev.ImagesPerSec,
		"params":        st.Params,
		"macs":          st.MACs,
		"preprocessing": test.Preprocess().Summary(),
	}, nil
}
