package latency

import (
	"fmt"
	"io"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
)

// Options configure Build.
type Options struct {
	// Prune is the channel rounding the search uses (MinChannels, RoundTo,
	// RoundMin): the candidate widths are those prune.KeepCount gives.
	Prune prune.Options
	// RBound is the largest pruning ratio an action may take (default 0.8).
	RBound float64
	// MaxWidths is how many widths per axis are measured at most (default
	// DefaultMaxWidths; see pick for which); the others are interpolated.
	MaxWidths int
	// CacheDir holds the cache file (default DefaultCacheDir()).
	CacheDir string
	// Log, when set, gets one line about what was measured.
	Log io.Writer
}

// DefaultMaxWidths is Options.MaxWidths' default.
const DefaultMaxWidths = 16

// convLayer is a covered Conv with its geometry and candidate widths.
type convLayer struct {
	node      string
	geom      string
	depthwise bool
	in, out   []int // all candidate widths, ascending
	fullIn    int
	fullOut   int
	kh, kw    int
	h, w      int
	attrs     graph.Attrs
}

// Build returns the lookup table of g's Convs: those with group 1 and the
// depthwise ones (other grouped Convs are left to the constant). Entries
// missing from the cache are measured in ONNX Runtime (see measure) and
// added to it. The table still needs Calibrate with g's measured time. It
// errors when g's shapes cannot be inferred or ONNX Runtime fails.
func Build(g *graph.Graph, o Options) (*Table, error) {
	if o.RBound <= 0 {
		o.RBound = 0.8
	}
	if o.MaxWidths <= 0 {
		o.MaxWidths = DefaultMaxWidths
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	layers, err := convLayers(g, o)
	if err != nil {
		return nil, err
	}
	c, err := openCache(o.CacheDir)
	if err != nil {
		return nil, err
	}
	t := &Table{Layers: map[string]*Layer{}, CacheFile: c.path}
	var missing []entry
	seen := map[string]bool{}
	want := func(e entry) {
		k := e.key()
		if _, ok := c.Entries[k]; ok || seen[k] {
			if !seen[k] {
				t.Cached++
				seen[k] = true
			}
			return
		}
		seen[k] = true
		missing = append(missing, e)
	}
	oh := overheadEntries()
	want(oh[0])
	want(oh[1])
	for _, l := range layers {
		l.in, l.out = pick(l.in, o.MaxWidths), pick(l.out, o.MaxWidths)
		for _, e := range l.entries() {
			want(e)
		}
	}
	if len(missing) > 0 {
		ms, err := measure(missing)
		if err != nil {
			return nil, err
		}
		for i, e := range missing {
			c.Entries[e.key()] = ms[i]
		}
		if err := c.save(); err != nil {
			return nil, err
		}
	}
	t.Measured = len(missing)
	t.OverheadMs = runOverhead(c.Entries[oh[0].key()], c.Entries[oh[1].key()])
	for _, l := range layers {
		t.Layers[l.node] = l.table(c.Entries, t.OverheadMs)
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "latency table: %d convs, %d entries measured in ONNX Runtime, %d from %s\n",
			len(layers), t.Measured, t.Cached, c.path)
	}
	return t, nil
}

// entries lists the one-layer models of l's measured widths.
func (l *convLayer) entries() []entry {
	var out []entry
	for _, in := range l.in {
		if l.depthwise {
			out = append(out, l.entry(in, in))
			continue
		}
		for _, o := range l.out {
			out = append(out, l.entry(in, o))
		}
	}
	return out
}

func (l *convLayer) entry(in, out int) entry {
	group := 1
	if l.depthwise {
		group = in
	}
	return entry{geom: l.geom, in: in, out: out, group: group, kh: l.kh, kw: l.kw, h: l.h, w: l.w, attrs: l.attrs}
}

// table turns the cached times into l's Layer.
func (l *convLayer) table(ms map[string]float64, overhead float64) *Layer {
	t := &Layer{Node: l.node, Geometry: l.geom, Depthwise: l.depthwise, In: l.in, FullIn: l.fullIn, FullOut: l.fullOut}
	if !l.depthwise {
		t.Out = l.out
	}
	for _, in := range l.in {
		var row []float64
		outs := l.out
		if l.depthwise {
			outs = []int{in}
		}
		for _, o := range outs {
			row = append(row, max(0, ms[l.entry(in, o).key()]-overhead))
		}
		t.Ms = append(t.Ms, row)
	}
	return t
}

// axisKey names one axis of a parameter.
type axisKey struct {
	param string
	axis  int
}

// convLayers finds g's covered Convs, their geometry and the widths each
// axis can take under o's rounding: for every ratio on a fine grid of
// [0, RBound] applied to all groups, the width left (full minus each
// cutting group's removed channels).
func convLayers(g *graph.Graph, o Options) ([]*convLayer, error) {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, err
	}
	groups, err := prune.Groups(g)
	if err != nil {
		return nil, err
	}
	type cut struct{ group, block int }
	cuts := map[axisKey][]cut{}
	for gi, grp := range groups {
		for _, m := range grp.Members {
			for _, ta := range m.Tensors {
				k := axisKey{ta.Param, ta.Axis}
				cuts[k] = append(cuts[k], cut{gi, max(m.Block, 1)})
			}
		}
	}
	widths := func(param string, axis, full int) []int {
		set := map[int]bool{full: true}
		for s := 0; s <= 200; s++ {
			r := o.RBound * float64(s) / 200
			w := full
			for _, c := range cuts[axisKey{param, axis}] {
				n := groups[c.group].Size
				w -= (n - prune.KeepCount(n, r, o.Prune.MinChannels, o.Prune.RoundFor(n))) * c.block
			}
			set[w] = true
		}
		var out []int
		for w := range set {
			out = append(out, w)
		}
		slices.Sort(out)
		return out
	}
	var out []*convLayer
	for _, n := range g.Nodes {
		l, err := newConvLayer(g, n, shapes)
		if err != nil || l == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		w := n.Input(1)
		l.out = widths(w, 0, l.fullOut)
		if l.depthwise {
			l.in = l.out
		} else {
			l.in = widths(w, 1, l.fullIn)
		}
		out = append(out, l)
	}
	return out, nil
}

// newConvLayer describes Conv n for the table, nil when n is not a
// covered Conv (not a Conv, weight not a parameter, grouped but not
// depthwise).
func newConvLayer(g *graph.Graph, n *graph.Node, shapes map[string][]int) (*convLayer, error) {
	if n.Op != graph.OpConv || !g.IsParam(n.Input(1)) {
		return nil, nil
	}
	w := g.Params[n.Input(1)]
	x := shapes[n.Inputs[0]]
	if len(w.Shape) != 4 || len(x) != 4 || x[2] <= 0 || x[3] <= 0 {
		return nil, fmt.Errorf("latency: conv %q: weight %v, input %v: need 4-D with a fixed image size", n.Name, w.Shape, x)
	}
	geo, err := graph.Geom(n, w.Shape)
	if err != nil {
		return nil, err
	}
	dw := geo.Group > 1 && w.Shape[1] == 1 && w.Shape[0] == geo.Group
	if geo.Group > 1 && !dw {
		return nil, nil
	}
	attrs := graph.Attrs{"kernel_shape": []int{geo.KH, geo.KW}, "strides": []int{geo.SH, geo.SW},
		"pads": []int{geo.PadT, geo.PadL, geo.PadB, geo.PadR}, "dilations": []int{geo.DH, geo.DW}}
	l := &convLayer{node: n.Name, depthwise: dw, fullIn: w.Shape[1] * geo.Group, fullOut: w.Shape[0],
		kh: geo.KH, kw: geo.KW, h: x[2], w: x[3], attrs: attrs}
	kind := "conv"
	if dw {
		kind = "dwconv"
	}
	l.geom = fmt.Sprintf("%s k%dx%d s%dx%d p%d,%d,%d,%d d%dx%d in%dx%d", kind, geo.KH, geo.KW, geo.SH, geo.SW,
		geo.PadT, geo.PadL, geo.PadB, geo.PadR, geo.DH, geo.DW, x[2], x[3])
	return l, nil
}
