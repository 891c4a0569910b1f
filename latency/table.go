// Package latency is the latency lookup table of the DDPG search's latency
// budget (AMC's and MetaPruning's idea): for every Conv of a model and for
// the widths (input, output channels) pruning can give it, the batch-1 time
// of that one layer in ONNX Runtime on this machine, measured once by
// timing one-layer ONNX models (tools/ort/run.js, one intra-op thread) and
// cached on disk per machine, so the search only looks times up.
//
// A model's estimate is the sum of its Convs' entries plus a constant for
// everything else (activations, adds, pooling, the classifier and
// ONNX Runtime's per-run cost), calibrated once per model as its measured
// time minus the sum of its layers at full width (Table.Calibrate).
package latency

import (
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
)

// Layer is one Conv's entries: its times at the measured widths In x Out
// (ascending), milliseconds at batch 1 with ONNX Runtime's per-run cost
// taken out, made non-decreasing along both axes (a wider layer is never
// estimated faster: timing noise is levelled up). Widths between measured
// ones are interpolated linearly; a depthwise Conv (one width, in = out)
// has Out = nil and Ms[i][0].
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
	// OverheadMs is the time of a trivial one-layer model (ONNX Runtime's
	// per-run cost, which a whole model pays once), subtracted from every
	// measured entry.
	OverheadMs float64
	// RestMs is the calibrated constant: the model's measured time minus
	// its layers' entries at full width (may be negative when the layers
	// alone time slower than fused in the whole model).
	RestMs float64
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
	return l.at(in, out), true
}

// Rest implements the DDPG environment's latency model: RestMs.
func (t *Table) Rest() float64 { return t.RestMs }

// Full is the sum of the layers' entries at their full widths.
func (t *Table) Full() float64 {
	s := 0.0
	for _, l := range t.Layers {
		s += l.at(l.FullIn, l.FullOut)
	}
	return s
}

// Calibrate sets RestMs from the model's measured batch-1 time, so the
// estimate of the unpruned model is exactly measuredMs.
func (t *Table) Calibrate(measuredMs float64) {
	t.MeasuredMs = measuredMs
	t.RestMs = measuredMs - t.Full()
}

// Estimate returns the estimated batch-1 time of g, a model with the same
// Conv node names as the one the table was built for (a pruned copy of
// it): RestMs plus each covered Conv's entry at g's widths. A covered Conv
// missing from g (a removed block) counts 0. It errors when a Conv's
// weight is missing or not 4-D.
func (t *Table) Estimate(g *graph.Graph) (float64, error) {
	sum := t.RestMs
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

// monotone levels m up so it never decreases along either axis (running
// maximum along rows, then columns; both orders then hold).
func monotone(m [][]float64) {
	for i := range m {
		for j := range m[i] {
			if j > 0 {
				m[i][j] = math.Max(m[i][j], m[i][j-1])
			}
		}
	}
	for i := 1; i < len(m); i++ {
		for j := range m[i] {
			m[i][j] = math.Max(m[i][j], m[i-1][j])
		}
	}
}

// pick returns at most n of the sorted widths ws, evenly spaced by index,
// always with the smallest and the largest.
func pick(ws []int, n int) []int {
	if len(ws) <= n || n < 2 {
		return slices.Clone(ws)
	}
	out := make([]int, 0, n)
	for k := range n {
		w := ws[int(math.Round(float64(k)*float64(len(ws)-1)/float64(n-1)))]
		if len(out) == 0 || out[len(out)-1] != w {
			out = append(out, w)
		}
	}
	return out
}
