package train

import (
	"errors"
	"fmt"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Eval is the outcome of Evaluate. Accuracy is in [0, 1]; Loss is the mean
// cross-entropy.
type Eval struct {
	Accuracy     float64 `json:"accuracy"`
	Loss         float64 `json:"loss"`
	ImagesPerSec float64 `json:"images_per_s"`
	N            int     `json:"n"`
	Correct      int     `json:"correct"`
}

// Evaluate runs g in inference mode over set in batches of batch (default
// 256) and returns accuracy and mean loss. It errors on an empty set, an
// input shape the model does not take, or a label the model cannot output.
func Evaluate(g *graph.Graph, set *data.Dataset, batch int) (Eval, error) {
	e, err := inferenceExecutor(g)
	if err != nil {
		return Eval{}, err
	}
	return evaluate(e, set, batch)
}

// inferenceExecutor compiles engine.Optimize(g) (BN folded into convs,
// ReLU and residual adds fused), the form inference runs fastest in; the
// optimised graph holds g's BN statistics as of now, so callers build it
// afresh after training steps.
func inferenceExecutor(g *graph.Graph) (*engine.Executor, error) {
	o, err := engine.Optimize(g)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(o)
	if err != nil {
		return nil, err
	}
	e.SetRecycle(true) // only outputs are read: intermediates' buffers are reused within a pass
	return e, nil
}

func evaluate(e *engine.Executor, set *data.Dataset, batch int) (Eval, error) {
	if set == nil || set.Len() == 0 {
		return Eval{}, errors.New("train: evaluation on an empty data set")
	}
	if batch <= 0 {
		batch = 256
	}
	if err := checkInput(e.G, set); err != nil {
		return Eval{}, err
	}
	start := time.Now()
	var ev Eval
	idx := make([]int, 0, batch)
	var x *tensor.Tensor
	total := 0.0
	for lo := 0; lo < set.Len(); lo += batch {
		idx = idx[:0]
		for i := lo; i < min(lo+batch, set.Len()); i++ {
			idx = append(idx, i)
		}
		var labels []int32
		x, labels = set.Batch(idx, x, nil, nil)
		out, err := e.Forward(x, false)
		if err != nil {
			return Eval{}, fmt.Errorf("train: evaluating %s: %w", set.Name, err)
		}
		loss, c, err := SoftmaxCrossEntropy(out, labels, nil)
		if err != nil {
			return Eval{}, fmt.Errorf("train: evaluating %s, examples %d..%d: %w", set.Name, lo, lo+len(idx)-1, err)
		}
		total += loss * float64(len(idx))
		ev.Correct += c
		ev.N += len(idx)
	}
	ev.Accuracy = float64(ev.Correct) / float64(ev.N)
	ev.Loss = total / float64(ev.N)
	if s := time.Since(start).Seconds(); s > 0 {
		ev.ImagesPerSec = float64(ev.N) / s
	}
	return ev, nil
}

// Predict runs g in inference mode on x ([N, ...] batch first, in chunks of
// batch rows; default 256) and returns the first output for all N rows,
// [N, ...]. It errors when the model rejects the input shape.
func Predict(g *graph.Graph, x *tensor.Tensor, batch int) (*tensor.Tensor, error) {
	if x == nil || x.Dims() < 1 || x.Shape[0] == 0 {
		return nil, errors.New("train: predict needs a non-empty batch-first input")
	}
	if batch <= 0 {
		batch = 256
	}
	e, err := inferenceExecutor(g)
	if err != nil {
		return nil, err
	}
	n := x.Shape[0]
	row := x.Len() / n
	var res *tensor.Tensor
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		shape := append([]int{hi - lo}, x.Shape[1:]...)
		out, err := e.Forward(tensor.From(x.Data[lo*row:hi*row], shape...), false)
		if err != nil {
			return nil, fmt.Errorf("train: predict rows %d..%d: %w", lo, hi-1, err)
		}
		if res == nil {
			s := append([]int{n}, out.Shape[1:]...)
			res = tensor.New(s...)
		}
		orow := res.Len() / n
		if out.Len() != (hi-lo)*orow {
			return nil, fmt.Errorf("train: predict: output shape %v changes between batches", out.Shape)
		}
		copy(res.Data[lo*orow:], out.Data)
	}
	return res, nil
}

// checkInput verifies that a data set's images fit the graph's single input.
func checkInput(g *graph.Graph, set *data.Dataset) error {
	if len(g.Inputs) != 1 || len(g.Outputs) < 1 {
		return fmt.Errorf("train: model %q needs one input and an output, has %d and %d", g.Name, len(g.Inputs), len(g.Outputs))
	}
	s := g.Inputs[0].Shape
	want := []int{set.C, set.H, set.W}
	if len(s) != 4 {
		return fmt.Errorf("train: model input %q has shape %v, not [N,C,H,W] for %s images %v", g.Inputs[0].Name, s, set.Name, want)
	}
	for i, d := range s[1:] {
		if d >= 0 && d != want[i] {
			return fmt.Errorf("train: model input %q has shape %v, data set %s has images %v", g.Inputs[0].Name, s, set.Name, want)
		}
	}
	if len(set.X) != set.Len()*set.ImageSize() {
		return fmt.Errorf("train: data set %s has %d values for %d images of %v", set.Name, len(set.X), set.Len(), want)
	}
	return nil
}

// DatasetLogits runs g in inference mode on every image of set, batch at a
// time (<= 0: 256), and returns its outputs, which must be logits [N, K].
// Errors: g does not take set's images, or gives another shape.
func DatasetLogits(g *graph.Graph, set *data.Dataset, batch int) (*tensor.Tensor, error) {
	if err := checkInput(g, set); err != nil {
		return nil, err
	}
	x := tensor.From(set.X, set.Len(), set.C, set.H, set.W)
	out, err := Predict(g, x, batch)
	if err != nil {
		return nil, err
	}
	if len(out.Shape) != 2 {
		return nil, fmt.Errorf("train: the model gives outputs of shape %v, not logits [N, K]", out.Shape)
	}
	return out, nil
}
