package latency

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

// Timing is how every entry and every whole model is timed: ONNX Runtime
// with one intra-op thread at batch 1, a few untimed runs, then timed runs
// until both Runs and MinMs are reached; the figure is the fastest run,
// the most repeatable one on a shared machine.
var Timing = ort.TimeOptions{Threads: 1, Warmup: 3, Runs: 30, MinMs: 25}

// ModelTiming is Timing for whole models (longer: their figure is
// reported).
var ModelTiming = ort.TimeOptions{Threads: 1, Warmup: 5, Runs: 100, MinMs: 500}

// chunk is how many one-layer models one ONNX Runtime process times.
const chunk = 120

// entry is one one-layer model: a Conv with bias from in to out channels
// on an h x w input of batch 1.
type entry struct {
	geom           string
	in, out, group int
	kh, kw, h, w   int
	attrs          graph.Attrs
	chain          int // > 1: that many such Convs in a row (in = out)
}

func (e entry) key() string { return fmt.Sprintf("%s i%d o%d", e.geom, e.in, e.out) }

// overheadEntries are the trivial models from which ONNX Runtime's
// per-run cost is found: one and overheadChain 1x1 Convs of one channel
// on a 1x1 image in a row. Their difference is the cost of the added
// nodes, and a run's own cost is the first's time less one node's.
func overheadEntries() [2]entry {
	e := entry{geom: "overhead conv k1x1 in1x1", in: 1, out: 1, group: 1, kh: 1, kw: 1, h: 1, w: 1, chain: 1,
		attrs: graph.Attrs{"kernel_shape": []int{1, 1}, "strides": []int{1, 1}, "pads": []int{0, 0, 0, 0}, "dilations": []int{1, 1}}}
	f := e
	f.geom, f.chain = fmt.Sprintf("overhead conv k1x1 in1x1 chain%d", overheadChain), overheadChain
	return [2]entry{e, f}
}

// overheadChain is the longer trivial model's length.
const overheadChain = 9

// runOverhead is the per-run cost from the two overhead entries' times.
func runOverhead(one, chain float64) float64 {
	node := max(0, (chain-one)/float64(overheadChain-1))
	return max(0, one-node)
}

// graph builds e's one-layer model (weights N(0, 0.1), seed 1).
func (e entry) graph() (*graph.Graph, error) {
	g := graph.New("latency")
	a := e.attrs.Clone()
	a["group"] = e.group
	w := tensor.New(e.out, e.in/e.group, e.kh, e.kw)
	w.FillNormal(tensor.NewRNG(1), 0, 0.1)
	g.Params["w"], g.Params["b"] = w, tensor.New(e.out)
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, e.in, e.h, e.w}}}
	x := "x"
	for i := range max(e.chain, 1) - 1 {
		y := fmt.Sprintf("y%d", i)
		g.Nodes = append(g.Nodes, &graph.Node{Name: fmt.Sprintf("conv%d", i), Op: graph.OpConv, Inputs: []string{x, "w", "b"}, Outputs: []string{y}, Attrs: a})
		x = y
	}
	g.Nodes = append(g.Nodes, &graph.Node{Name: "conv", Op: graph.OpConv, Inputs: []string{x, "w", "b"}, Outputs: []string{"y"}, Attrs: a})
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, fmt.Errorf("latency: one-layer model %s: %w", e.key(), err)
	}
	g.Outputs = []graph.Value{{Name: "y", Shape: shapes["y"]}}
	return g, nil
}

// measure times each entry's one-layer model in ONNX Runtime (Timing;
// chunk models per process) and returns the fastest runs, milliseconds.
func measure(entries []entry) ([]float64, error) {
	if err := ort.Installed(); err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	dir, err := os.MkdirTemp("", "slimgo-latency")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	inputs := map[[3]int]string{}
	jobs := make([]ort.TimeJob, len(entries))
	for i, e := range entries {
		g, err := e.graph()
		if err != nil {
			return nil, err
		}
		jobs[i].Model = filepath.Join(dir, fmt.Sprintf("m%d.onnx", i))
		if err := onnx.WriteFile(jobs[i].Model, g, onnx.WriteOptions{}); err != nil {
			return nil, err
		}
		k := [3]int{e.in, e.h, e.w}
		if inputs[k] == "" {
			inputs[k] = filepath.Join(dir, fmt.Sprintf("x%d.npy", len(inputs)))
			x := tensor.New(1, e.in, e.h, e.w)
			x.FillNormal(tensor.NewRNG(1), 0, 1)
			if err := npy.WriteFile(inputs[k], x); err != nil {
				return nil, err
			}
		}
		jobs[i].In = inputs[k]
	}
	out := make([]float64, 0, len(entries))
	for s := 0; s < len(jobs); s += chunk {
		res, err := ort.TimeMany(jobs[s:min(s+chunk, len(jobs))], filepath.Join(dir, "y.npy"), Timing)
		if err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		for _, r := range res {
			out = append(out, r.BestMs)
		}
	}
	return out, nil
}

// MeasureModel times the .onnx file model at batch 1 in ONNX Runtime
// (ModelTiming) on N(0,1) input of shape [1, chw...] and returns the
// fastest run in milliseconds.
func MeasureModel(model string, chw []int) (float64, error) {
	if err := ort.Installed(); err != nil {
		return 0, fmt.Errorf("latency: %w", err)
	}
	dir, err := os.MkdirTemp("", "slimgo-latency")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	x := tensor.New(append([]int{1}, chw...)...)
	x.FillNormal(tensor.NewRNG(1), 0, 1)
	in := filepath.Join(dir, "x.npy")
	if err := npy.WriteFile(in, x); err != nil {
		return 0, err
	}
	r, err := ort.TimeMany([]ort.TimeJob{{Model: model, In: in}}, filepath.Join(dir, "y.npy"), ModelTiming)
	if err != nil {
		return 0, fmt.Errorf("latency: %w", err)
	}
	return r[0].BestMs, nil
}

// MeasureGraph writes g in its deployment form (BN folded) to a temporary
// file and times it as MeasureModel does.
func MeasureGraph(g *graph.Graph) (float64, error) {
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) != 4 {
		return 0, fmt.Errorf("latency: need one NCHW image input, got %v", g.Inputs)
	}
	chw := g.Inputs[0].Shape[1:]
	for _, d := range chw {
		if d <= 0 {
			return 0, fmt.Errorf("latency: need a fixed image size, input %v", g.Inputs[0].Shape)
		}
	}
	dir, err := os.MkdirTemp("", "slimgo-latency")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "m.onnx")
	if err := onnx.WriteFile(model, g, onnx.WriteOptions{FoldBN: true}); err != nil {
		return 0, err
	}
	return MeasureModel(model, chw)
}
