// Package latency is the latency lookup table of the DDPG search's latency
// budget (AMC's and MetaPruning's idea): for every Conv of a model and for
// the widths (input, output channels) pruning can give it, the batch-1 time
// of that one layer in ONNX Runtime on this machine, measured once by
// timing one-layer ONNX models (tools/ort/run.js, one intra-op thread) and
// cached on disk per machine, so the search only looks times up.
//
// A model's estimate is a constant for everything else (activations,
// adds, pooling, the classifier, ONNX Runtime's per-run cost) plus the sum
// of its Convs' entries times a scale. Both are calibrated once per model
// from two measured times (Table.Fit): the model itself and the model
// with every group pruned by the search's largest ratio. With the scale
// held at 1 (Table.Calibrate: the constant alone, from the model's time)
// the estimate of resnet20 pruned by 75 % was 47 % short: one-layer
// models time the small layers faster than they run inside the model.
package latency

import (
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
)

// Layer is one Conv's entries: its times at the measured widths In x Out
// (ascending), milliseconds at batch 1 with ONNX Runtime's per-run cost
// taken out. They are kept as measured, not levelled: ONNX Runtime's
// convolutions are faster at some widths than at narrower ones (on this
// project's machine a 3x3 Conv of 26 channels runs slower than one of 32),
// and the search should see it. Widths between measured ones are
// interpolated linearly; a depthwise Conv (one width, in = out) has Out =
// nil and Ms[i][0].
type Layer struct {
	Node      string
	Geometry  string // the shape key without the widths, as in the cache
	Depthwise bool
	In, Out   []int
	Ms        [][]float64
	FullIn    int // the layer's widths in the model the table was built for
	FullOut   int
}

// Table holds the entries of one model's Convs (by node name) and the
// constant for the rest.
type Table struct {
	Layers map[string]*Layer
	// OverheadMs is ONNX Runtime's per-run cost, which a whole model pays
	// once, subtracted from every measured entry: a trivial one-Conv
	// model's time less the cost of one more such node (measured on a
	// chain of them), so each entry keeps its node's own fixed cost.
	OverheadMs float64
	// RestMs is the calibrated constant and Scale the factor on the
	// layers' entries (1 until Fit): the estimate is RestMs + Scale * sum
	// of entries. RestMs may be negative when the layers time slower
	// alone than inside the model.
	RestMs float64
	Scale  float64
	// MeasuredMs is the model's measured time given to Calibrate.
	MeasuredMs float64
	// Measured and Cached count the entries timed by Build and found in
	// the cache.
	Measured, Cached int
	// CacheFile is where the entries are kept.
	CacheFile string
}

// LayerMs returns the time of Conv node at in input and out output
// channels (depthwise: in is used), interpolated between measured widths
// and held at the ends; ok is false for a node the table does not cover.
func (t *Table) LayerMs(node string, in, out int) (float64, bool) {
	l, ok := t.Layers[node]
	if !ok {
		return 0, false
	}
	return t.scale() * l.at(in, out), true
}

func (t *Table) scale() float64 {
	if t.Scale > 0 {
		return t.Scale
	}
	return 1
}

// Rest implements the DDPG environment's latency model: RestMs.
func (t *Table) Rest() float64 { return t.RestMs }

// Full is the sum of the layers' entries at their full widths (unscaled).
func (t *Table) Full() float64 {
	s := 0.0
	for _, l := range t.Layers {
		s += l.at(l.FullIn, l.FullOut)
	}
	return s
}

// Calibrate sets RestMs from the model's measured batch-1 time with Scale
// 1, so the estimate of the unpruned model is exactly measuredMs.
func (t *Table) Calibrate(measuredMs float64) {
	t.MeasuredMs, t.Scale = measuredMs, 1
	t.RestMs = measuredMs - t.Full()
}

// Fit sets RestMs and Scale so the estimate is exact for two measured
// models: the one the table was built for (measuredMs) and small, a
// pruned copy of it (smallMs). When their entries' sums are too close to
// tell a scale apart, or the fit gives no positive scale, it falls back to
// Calibrate. It errors when small's Convs cannot be read.
func (t *Table) Fit(measuredMs float64, small *graph.Graph, smallMs float64) error {
	s, err := t.sum(small)
	if err != nil {
		return err
	}
	full := t.Full()
	t.Calibrate(measuredMs)
	if full-s > 1e-3*full {
		if k := (measuredMs - smallMs) / (full - s); k > 0 {
			t.Scale, t.RestMs = k, measuredMs-k*full
		}
	}
	return nil
}

// Estimate returns the estimated batch-1 time of g, a model with the same
// Conv node names as the one the table was built for (a pruned copy of
// it): RestMs plus Scale times each covered Conv's entry at g's widths. A covered Conv
// missing from g (a removed block) counts 0. It errors when a Conv's
// weight is missing or not 4-D.
func (t *Table) Estimate(g *graph.Graph) (float64, error) {
	s, err := t.sum(g)
	return t.RestMs + t.scale()*s, err
}

// sum is the unscaled sum of g's covered Convs' entries.
func (t *Table) sum(g *graph.Graph) (float64, error) {
	sum := 0.0
	for _, n := range g.Nodes {
		if n.Op != graph.OpConv {
			continue
		}
		l, ok := t.Layers[n.Name]
		if !ok {
			continue
		}
		w := g.Params[n.Input(1)]
		if w == nil || len(w.Shape) != 4 {
			return 0, fmt.Errorf("latency: conv %q has no 4-D weight", n.Name)
		}
		in := w.Shape[1] * n.Attrs.Int("group", 1)
		sum += l.at(in, w.Shape[0])
	}
	return sum, nil
}

// at interpolates the layer's entries.
func (l *Layer) at(in, out int) float64 {
	i, fi := locate(l.In, in)
	if l.Depthwise || len(l.Out) == 0 {
		return lerp(l.Ms[i][0], l.Ms[min(i+1, len(l.In)-1)][0], fi)
	}
	j, fj := locate(l.Out, out)
	i1, j1 := min(i+1, len(l.In)-1), min(j+1, len(l.Out)-1)
	a := lerp(l.Ms[i][j], l.Ms[i][j1], fj)
	b := lerp(l.Ms[i1][j], l.Ms[i1][j1], fj)
	return lerp(a, b, fi)
}

func lerp(a, b, f float64) float64 { return a + (b-a)*f }

// locate returns the index i and fraction f with x = xs[i] + f*(xs[i+1] -
// xs[i]), x held to [xs[0], xs[last]] (f = 0 at the ends).
func locate(xs []int, x int) (int, float64) {
	if len(xs) == 0 || x <= xs[0] {
		return 0, 0
	}
	last := len(xs) - 1
	if x >= xs[last] {
		return last, 0
	}
	i := 0
	for xs[i+1] <= x {
		i++
	}
	return i, float64(x-xs[i]) / float64(xs[i+1]-xs[i])
}

// pick returns at most n of the sorted widths ws: all of them when they
// are few enough; else the smallest, the largest and the multiples of 8
// between (the widths ONNX Runtime's kernels favour), as many as fit,
// topped up to n with widths evenly spaced by index.
func pick(ws []int, n int) []int {
	if len(ws) <= n || n < 2 {
		return slices.Clone(ws)
	}
	set := map[int]bool{ws[0]: true, ws[len(ws)-1]: true}
	for _, w := range ws[1 : len(ws)-1] {
		if w%8 == 0 && len(set) < n {
			set[w] = true
		}
	}
	for k := 1; len(set) < n && k < n-1; k++ {
		set[ws[int(math.Round(float64(k)*float64(len(ws)-1)/float64(n-1)))]] = true
	}
	out := make([]int, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}
