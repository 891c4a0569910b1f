package report

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Names of the PNG files Write draws next to report.md.
const (
	PlotGamma        = "gamma_hist.png"       // histogram of log10 |gamma|, before vs after sparse training
	PlotChannels     = "channels.png"         // channels per layer, original vs delivered
	PlotReward       = "ddpg_reward.png"      // DDPG reward per episode, warm-up shaded, best marked
	PlotBlocks       = "blocks.png"           // residual-block scores, removed blocks highlighted
	PlotClusters     = "clusters.png"         // clusters K per layer, bits per weight on the bars
	PlotAccuracySize = "accuracy_vs_size.png" // accuracy vs stored size across stages
	PlotDetections   = "detections.png"       // a detector's predicted boxes on a few test images, input vs delivered model (DrawDetections)
)

// GammaFloor is the smallest |gamma| the histogram resolves: smaller values
// (exact zeros included) are counted at log10(GammaFloor).
const GammaFloor = 1e-6

// plotDPI is the resolution of the PNG files.
const plotDPI = 120

var (
	colBefore  = color.NRGBA{R: 31, G: 119, B: 180, A: 255}
	colAfter   = color.NRGBA{R: 255, G: 127, B: 14, A: 255}
	colRemoved = color.NRGBA{R: 214, G: 39, B: 40, A: 255}
	colGrey    = color.NRGBA{R: 127, G: 127, B: 127, A: 255}
	colBest    = color.NRGBA{R: 44, G: 160, B: 44, A: 255}
)

func alpha(c color.NRGBA, a uint8) color.NRGBA { c.A = a; return c }

// figure is a plot ready to draw at a size.
type figure struct {
	p    *plot.Plot
	w, h vg.Length
}

// writePNG draws f as a PNG into w.
func (f figure) writePNG(w io.Writer) error {
	c := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(plotDPI))
	f.p.Draw(draw.New(c))
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	return p
}

// shortName truncates a label to n runes so axis labels stay legible.
func shortName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-2]) + ".."
}

// nominalWidth is the figure width for n categories on the X axis: 0.9 cm
// a category, at least 16 cm, at most 60 cm (about 2800 pixels).
func nominalWidth(n int) vg.Length {
	return min(60*vg.Centimeter, max(16*vg.Centimeter, vg.Length(n)*0.9*vg.Centimeter+3*vg.Centimeter))
}

// nominalX labels n categories at x = 0..n-1 with room for the outer bars
// and tilts the labels so long layer names do not overlap.
func nominalX(p *plot.Plot, names []string) {
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.7, float64(len(names))-0.3
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
}

// log10Gammas maps |gamma| to log10(max(|gamma|, GammaFloor)).
func log10Gammas(g []float64) []float64 {
	out := make([]float64, len(g))
	for i, v := range g {
		out[i] = math.Log10(max(math.Abs(v), GammaFloor))
	}
	return out
}

// histBins counts xs into n equal bins over [lo, hi] (the last bin closed).
func histBins(xs []float64, lo, hi float64, n int) []plotter.HistogramBin {
	bins := make([]plotter.HistogramBin, n)
	w := (hi - lo) / float64(n)
	for i := range bins {
		bins[i].Min = lo + float64(i)*w
		bins[i].Max = lo + float64(i+1)*w
	}
	for _, x := range xs {
		i := int((x - lo) / w)
		i = min(max(i, 0), n-1)
		bins[i].Weight++
	}
	return bins
}

// gammaPlot overlays the histograms of log10 |gamma| before and after sparse
// training on common bins.
func gammaPlot(s *Summary) (figure, error) {
	before, after := log10Gammas(s.GammaBefore), log10Gammas(s.GammaAfter)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range append(append([]float64{}, before...), after...) {
		lo, hi = min(lo, x), max(hi, x)
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	const nbins = 40
	p := newPlot("BN scale factors: before vs after sparse training",
		fmt.Sprintf("log10 |gamma|  (values below %g counted at %g)", GammaFloor, math.Log10(GammaFloor)),
		"BN channels")
	for _, set := range []struct {
		name string
		xs   []float64
		col  color.NRGBA
	}{{"before", before, colBefore}, {"after", after, colAfter}} {
		if len(set.xs) == 0 {
			continue
		}
		h := &plotter.Histogram{
			Bins:      histBins(set.xs, lo, hi, nbins),
			Width:     (hi - lo) / nbins,
			FillColor: alpha(set.col, 110),
			LineStyle: draw.LineStyle{Color: set.col, Width: vg.Points(0.8)},
		}
		p.Add(h)
		p.Legend.Add(fmt.Sprintf("%s (%d channels)", set.name, len(set.xs)), h)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	return figure{p, 16 * vg.Centimeter, 10 * vg.Centimeter}, nil
}

// channelsPlot draws grouped bars of channels per layer before and after.
func channelsPlot(s *Summary) (figure, error) {
	n := len(s.Layers)
	before, after := make(plotter.Values, n), make(plotter.Values, n)
	names := make([]string, n)
	for i, l := range s.Layers {
		before[i], after[i] = float64(l.Before), float64(l.After)
		names[i] = shortName(l.Name, 22)
	}
	p := newPlot("Channels per layer", "", "output channels")
	w := nominalWidth(n)
	bw := min(vg.Centimeter, (w-3*vg.Centimeter)/vg.Length(n)*0.38)
	bb, err := plotter.NewBarChart(before, bw)
	if err != nil {
		return figure{}, err
	}
	bb.Color, bb.LineStyle.Width, bb.Offset = colBefore, 0, -bw/2
	ba, err := plotter.NewBarChart(after, bw)
	if err != nil {
		return figure{}, err
	}
	ba.Color, ba.LineStyle.Width, ba.Offset = colAfter, 0, bw/2
	p.Add(bb, ba)
	p.Legend.Add("before (original)", bb)
	p.Legend.Add("after (delivered)", ba)
	p.Legend.Top = true
	// Headroom above the tallest bar for the legend.
	p.Y.Min, p.Y.Max = 0, max(1, maxOf(before), maxOf(after))*1.25
	nominalX(p, names)
	return figure{p, w, 11 * vg.Centimeter}, nil
}

// rewardPlot draws the reward of each DDPG episode, the best reward so far,
// warm-up episodes shaded and the best episode marked.
func rewardPlot(s *Summary) (figure, error) {
	n := len(s.Episodes)
	all := make(plotter.XYs, n)
	running := make(plotter.XYs, n)
	var warm, explore plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	nwarm := 0
	for i, e := range s.Episodes {
		x := float64(i + 1)
		all[i] = plotter.XY{X: x, Y: e.Reward}
		running[i] = plotter.XY{X: x, Y: e.Reward}
		if i > 0 {
			running[i].Y = max(running[i].Y, running[i-1].Y)
		}
		if e.Warmup {
			warm = append(warm, all[i])
			nwarm++
		} else {
			explore = append(explore, all[i])
		}
		lo, hi = min(lo, e.Reward), max(hi, e.Reward)
	}
	// Room below the curve for the legend (bottom right): rewards mostly
	// rise, so the lower right is the emptiest corner.
	span := max(hi-lo, 1e-3)
	lo, hi = lo-0.55*span, hi+0.08*span
	p := newPlot("DDPG search: reward per episode", "episode", "reward")
	p.Y.Min, p.Y.Max = lo, hi
	p.X.Min, p.X.Max = 0.5, float64(n)+0.5
	if nwarm > 0 {
		// Shade the span of warm-up episodes (they are leading, as rl.Search
		// runs them; a scattered one is still marked by its glyph).
		first, last := -1, -1
		for i, e := range s.Episodes {
			if e.Warmup {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		x0, x1 := float64(first)+0.5, float64(last)+1.5
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: lo}, {X: x1, Y: lo}, {X: x1, Y: hi}, {X: x0, Y: hi}})
		if err != nil {
			return figure{}, err
		}
		poly.Color = alpha(colGrey, 40)
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	line, err := plotter.NewLine(all)
	if err != nil {
		return figure{}, err
	}
	line.Color, line.Width = alpha(colBefore, 150), vg.Points(1)
	p.Add(line)
	best, err := plotter.NewLine(running)
	if err != nil {
		return figure{}, err
	}
	best.Color, best.Width, best.Dashes = colBest, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(2)}
	p.Add(best)
	p.Legend.Add("reward", line)
	p.Legend.Add("best so far", best)
	if len(warm) > 0 {
		sc, err := plotter.NewScatter(warm)
		if err != nil {
			return figure{}, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colGrey, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("warm-up, random (%d, shaded)", nwarm), sc)
	}
	if len(explore) > 0 {
		sc, err := plotter.NewScatter(explore)
		if err != nil {
			return figure{}, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colBefore, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("agent + noise (%d)", len(explore)), sc)
	}
	bi := s.BestEpisode()
	bp := plotter.XYs{all[bi]}
	bs, err := plotter.NewScatter(bp)
	if err != nil {
		return figure{}, err
	}
	bs.GlyphStyle = draw.GlyphStyle{Color: colRemoved, Radius: vg.Points(4.5), Shape: draw.PyramidGlyph{}}
	p.Add(bs)
	p.Legend.Add(fmt.Sprintf("best: episode %d, reward %.4g", bi+1, all[bi].Y), bs)
	p.Legend.Top = false
	p.Legend.Left = false
	return figure{p, 16 * vg.Centimeter, 10 * vg.Centimeter}, nil
}

// blocksPlot draws the score of every residual block, removed ones in red.
func blocksPlot(s *Summary) (figure, error) {
	n := len(s.Blocks)
	kept, removed := make(plotter.Values, n), make(plotter.Values, n)
	names := make([]string, n)
	for i, b := range s.Blocks {
		if b.Removed {
			removed[i] = b.Score
		} else {
			kept[i] = b.Score
		}
		names[i] = shortName(b.Name, 22)
	}
	p := newPlot("Residual blocks: score (mean |gamma| of the 3x3 conv's BN)", "", "score")
	w := nominalWidth(n)
	bw := min(1.2*vg.Centimeter, (w-3*vg.Centimeter)/vg.Length(n)*0.7)
	bk, err := plotter.NewBarChart(kept, bw)
	if err != nil {
		return figure{}, err
	}
	bk.Color, bk.LineStyle.Width = colBefore, 0
	br, err := plotter.NewBarChart(removed, bw)
	if err != nil {
		return figure{}, err
	}
	br.Color, br.LineStyle.Width = colRemoved, 0
	p.Add(bk, br)
	p.Legend.Add("kept", bk)
	p.Legend.Add("removed", br)
	p.Legend.Top = true
	lo, hi := min(0, minOf(kept), minOf(removed)), max(maxOf(kept), maxOf(removed))
	p.Y.Min, p.Y.Max = lo, hi+max(hi-lo, 1e-9)*0.25
	nominalX(p, names)
	return figure{p, w, 11 * vg.Centimeter}, nil
}

// clustersPlot draws K per clustered layer, with bits per weight above each
// bar.
func clustersPlot(s *Summary) (figure, error) {
	n := len(s.Clusters)
	ks := make(plotter.Values, n)
	names := make([]string, n)
	lbl := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
	maxK := 0.0
	for i, c := range s.Clusters {
		ks[i] = float64(c.K)
		names[i] = shortName(c.Name, 22)
		lbl.XYs[i] = plotter.XY{X: float64(i), Y: float64(c.K)}
		lbl.Labels[i] = fmt.Sprintf("%.2f", c.BitsPerWeight)
		maxK = max(maxK, float64(c.K))
	}
	p := newPlot("Weight sharing: clusters per layer (bits per weight on the bars)", "", "clusters K")
	w := nominalWidth(n)
	bw := min(1.2*vg.Centimeter, (w-3*vg.Centimeter)/vg.Length(n)*0.7)
	bars, err := plotter.NewBarChart(ks, bw)
	if err != nil {
		return figure{}, err
	}
	bars.Color, bars.LineStyle.Width = colBefore, 0
	labels, err := plotter.NewLabels(lbl)
	if err != nil {
		return figure{}, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = draw.XCenter
		labels.TextStyle[i].YAlign = draw.YBottom
		labels.TextStyle[i].Font.Size = vg.Points(8)
	}
	labels.Offset = vg.Point{Y: vg.Points(2)}
	p.Add(bars, labels)
	p.Y.Min, p.Y.Max = 0, maxK*1.15
	nominalX(p, names)
	return figure{p, w, 11 * vg.Centimeter}, nil
}

// accuracySizePlot draws accuracy against stored size (KiB, log scale) for
// the stages with a stored size, joined in stage order and labelled.
func accuracySizePlot(s *Summary) (figure, error) {
	var xys plotter.XYs
	var names []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, st := range s.Stages {
		if st.Bytes <= 0 {
			continue
		}
		x := float64(st.Bytes) / 1024
		xys = append(xys, plotter.XY{X: x, Y: st.Accuracy})
		names = append(names, st.Name)
		lo, hi = min(lo, x), max(hi, x)
	}
	p := newPlot("Accuracy vs stored size across stages", "stored size (KiB, log scale)", "test accuracy (%)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	// Room for the labels, and a valid range when all sizes are equal.
	p.X.Min, p.X.Max = lo/1.6, hi*1.6
	line, sc, err := plotter.NewLinePoints(xys)
	if err != nil {
		return figure{}, err
	}
	line.Color, line.Width = alpha(colGrey, 180), vg.Points(1)
	line.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	sc.GlyphStyle = draw.GlyphStyle{Color: colBefore, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: names})
	if err != nil {
		return figure{}, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(9)
		labels.TextStyle[i].YAlign = draw.YBottom
		labels.TextStyle[i].XAlign = draw.XCenter
	}
	labels.Offset = vg.Point{Y: vg.Points(5)}
	p.Add(line, sc, labels)
	// Headroom above the highest label.
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, q := range xys {
		ylo, yhi = min(ylo, q.Y), max(yhi, q.Y)
	}
	pad := max((yhi-ylo)*0.15, 0.25)
	p.Y.Min, p.Y.Max = ylo-pad, yhi+2*pad
	return figure{p, 16 * vg.Centimeter, 10 * vg.Centimeter}, nil
}

// maxOf and minOf return the largest and smallest value (0 when empty).
func maxOf(v plotter.Values) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}

func minOf(v plotter.Values) float64 {
	if len(v) == 0 {
		return 0
	}
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}
