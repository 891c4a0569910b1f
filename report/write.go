package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/slimgo/slimgo/internal/atomicfile"
)

// Names of the text files Write produces.
const (
	ReportFile  = "report.md"
	SummaryFile = "summary.json"
)

// section is one plot of the report with the table of its numbers.
type section struct {
	file  string
	title string
	empty string              // why the section is skipped when has is false
	has   func(*Summary) bool // whether there is data to plot
	plot  func(*Summary) (figure, error)
	table func(*Summary) string // Markdown under the image
	// render, when set, draws the PNG in place of plot.
	render func(*Summary, io.Writer) error
	// only, when set, limits the section to the summaries it accepts
	// (others' reports leave it out, without a "Skipped" line).
	only func(*Summary) bool
}

func sections() []section {
	return []section{
		{PlotGamma, "BN scale factors (sparse training)",
			"no sparse training ran (no BN |gamma| recorded)",
			func(s *Summary) bool { return len(s.GammaBefore)+len(s.GammaAfter) > 0 },
			gammaPlot, gammaTable, nil, nil},
		{PlotChannels, "Channels per layer",
			"no channel pruning ran (no per-layer widths recorded)",
			func(s *Summary) bool { return len(s.Layers) > 0 },
			channelsPlot, channelsTable, nil, nil},
		{PlotReward, "DDPG search",
			"no DDPG search ran",
			func(s *Summary) bool { return len(s.Episodes) > 0 },
			rewardPlot, rewardTable, nil, nil},
		{PlotBlocks, "Residual blocks (layer pruning)",
			"no residual-block pruning ran",
			func(s *Summary) bool { return len(s.Blocks) > 0 },
			blocksPlot, blocksTable, nil, nil},
		{PlotClusters, "Weight sharing (clustering quantization)",
			"no clustering quantization ran",
			func(s *Summary) bool { return len(s.Clusters) > 0 },
			clustersPlot, clustersTable, nil, nil},
		{PlotAccuracySize, "Accuracy vs stored size",
			"no stage has a stored size",
			func(s *Summary) bool {
				for _, st := range s.Stages {
					if st.Bytes > 0 {
						return true
					}
				}
				return false
			},
			accuracySizePlot, accuracySizeTable, nil, nil},
		{file: PlotDetections, title: "Predicted boxes",
			empty:  "no picture of predicted boxes was drawn",
			has:    func(s *Summary) bool { return s.Detections != nil },
			table:  func(s *Summary) string { return s.Detections.markdown() },
			render: func(s *Summary, w io.Writer) error { return DrawDetections(w, s.Detections) },
			only:   (*Summary).IsDetect},
	}
}

// Write writes the report of s into dir (created if needed): the PNG plots
// whose data is present (see the Plot* names), summary.json (MarshalJSONIndent)
// and report.md, each atomically (temporary file + rename). A plot file left
// in dir by an earlier run whose data is now absent is removed, so the
// directory never shows a stale plot. Write sets s.Report to the report's path
// (filepath.Join(dir, ReportFile)) and s.Plots to the drawn files before
// writing summary.json, so s.JSON() afterwards carries them too. It returns
// the report's path. Errors: an invalid summary (Validate), or any failed
// write, named with its file.
func Write(dir string, s *Summary) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	s.Report = filepath.Join(dir, ReportFile)
	s.Plots = nil
	for _, sec := range sections() {
		path := filepath.Join(dir, sec.file)
		if !sec.has(s) || sec.only != nil && !sec.only(s) {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("report: removing stale %s: %w", path, err)
			}
			continue
		}
		draw := func(w io.Writer) error { return sec.render(s, w) }
		if sec.render == nil {
			fig, err := sec.plot(s)
			if err != nil {
				return "", fmt.Errorf("report: plotting %s: %w", sec.file, err)
			}
			draw = fig.writePNG
		}
		if err := atomicfile.Write(path, draw); err != nil {
			return "", fmt.Errorf("report: writing %s: %w", path, err)
		}
		s.Plots = append(s.Plots, sec.file)
	}
	js, err := s.MarshalJSONIndent()
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SummaryFile), js); err != nil {
		return "", fmt.Errorf("report: writing %s: %w", filepath.Join(dir, SummaryFile), err)
	}
	md := s.markdown(dir)
	if err := atomicfile.WriteFile(s.Report, md); err != nil {
		return "", fmt.Errorf("report: writing %s: %w", s.Report, err)
	}
	return s.Report, nil
}

// Markdown renders report.md for a report directory dir (used to show
// output files relative to it) without writing anything; image links point
// to the Plot* files whose data is present. It returns Validate's error.
func (s *Summary) Markdown(dir string) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.markdown(dir), nil
}

// more phrases a ratio r (an improvement factor) as "12.3x <better>" when r >= 1 and
// "1.25x <worse>" (the inverse) when it is below 1.
func more(r float64, better, worse string) string {
	if r >= 1 {
		return Times(r) + " " + better
	}
	return Times(1/r) + " " + worse
}

// Headline is the one-line result: "12.3x smaller, 2.10x fewer MACs, 3.40x
// fewer parameters, 1.80x faster in ONNX Runtime, 1.50x faster in slimgo,
// accuracy 91.20% -> 90.90%"; figures that were not measured are left out.
func (s *Summary) Headline() string {
	var parts []string
	if r := s.Compression(); r > 0 {
		parts = append(parts, more(r, "smaller", "larger"))
	}
	if r := s.MACReduction(); r > 0 {
		parts = append(parts, more(r, "fewer MACs", "more MACs"))
	}
	if r := s.ParamReduction(); r > 0 {
		parts = append(parts, more(r, "fewer parameters", "more parameters"))
	}
	if r := s.SpeedupORT(); r > 0 {
		parts = append(parts, more(r, "faster in ONNX Runtime", "slower in ONNX Runtime"))
	}
	if r := s.Speedup(); r > 0 {
		parts = append(parts, more(r, "faster in slimgo", "slower in slimgo"))
	}
	parts = append(parts, fmt.Sprintf("%s %s -> %s", s.scoreName(), Percent(s.Before().Accuracy), Percent(s.After().Accuracy)))
	return strings.Join(parts, ", ")
}

func (s *Summary) markdown(dir string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# slimgo compression report\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", s.Headline())
	s.runSection(&b)

	fmt.Fprintf(&b, "## Stages\n\n")
	fmt.Fprintf(&b, "Stored size is the model file of the stage (ONNX, or the bit-packed file once clustered). ")
	if s.BenchBatch > 0 {
		fmt.Fprintf(&b, "Throughput in images/s at batch %d; ", s.BenchBatch)
	} else {
		fmt.Fprintf(&b, "Throughput in images/s; ")
	}
	fmt.Fprintf(&b, "\"-\" = not measured.\n\n")
	b.WriteString(s.stageTable())
	b.WriteString("\n")
	s.speedCheckSection(&b)
	if l := s.LatencyLine(); l != "" {
		fmt.Fprintf(&b, "%s\n\n", l)
	}

	for _, sec := range sections() {
		if sec.only != nil && !sec.only(s) {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n", sec.title)
		if !sec.has(s) {
			fmt.Fprintf(&b, "Skipped: %s.\n\n", sec.empty)
			continue
		}
		fmt.Fprintf(&b, "![%s](%s)\n\n", sec.title, sec.file)
		b.WriteString(sec.table(s))
		b.WriteString("\n")
	}
	if len(s.Notes) > 0 {
		fmt.Fprintf(&b, "## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	s.filesSection(&b, dir)
	return b.Bytes()
}

// LatencyLine is the delivered speed-up against the latency budget in
// words, "" without a budget or before the delivered model was timed.
func (s *Summary) LatencyLine() string {
	if s.TargetLatencyMs <= 0 || s.LatencyMs <= 0 || s.LatencyMsBefore <= 0 {
		return ""
	}
	met := "met"
	if s.LatencyMs > s.TargetLatencyMs {
		met = fmt.Sprintf("missed by %.1f%%", 100*(s.LatencyMs/s.TargetLatencyMs-1))
	}
	line := fmt.Sprintf("Latency budget (batch 1, ONNX Runtime, 1 thread, fastest run): %.4f -> %.4f ms, %.2fx faster, against a budget of %.4f ms (%.2fx): %s.",
		s.LatencyMsBefore, s.LatencyMs, s.LatencyMsBefore/s.LatencyMs, s.TargetLatencyMs, s.LatencyMsBefore/s.TargetLatencyMs, met)
	if s.LatencyMsEstimated > 0 {
		line += fmt.Sprintf(" The lookup table estimated the channel stage's policy at %.4f ms (%+.1f%% against the measured model).",
			s.LatencyMsEstimated, 100*(s.LatencyMsEstimated/s.LatencyMs-1))
	}
	return line
}

// speedCheckSection renders SpeedCheck, when present, as a small table of
// the two models' side-by-side speeds and their ratios.
func (s *Summary) speedCheckSection(b *bytes.Buffer) {
	c := s.SpeedCheck
	if c == nil {
		return
	}
	fmt.Fprintf(b, "Speed side by side after the run (%d rounds alternating the original and the delivered model, best of each; "+
		"the headline's speed-ups come from here, as the stage table's speeds were taken at different times):\n\n", c.Rounds)
	t := newTable("images/s", ">original", ">delivered", ">speed-up")
	batch := "batch"
	if s.BenchBatch > 0 {
		batch = fmt.Sprintf("batch %d", s.BenchBatch)
	}
	threads := ""
	switch {
	case c.Threads == 1:
		threads = ", 1 thread"
	case c.Threads > 1:
		threads = fmt.Sprintf(", %d threads", c.Threads)
	}
	for _, r := range []struct {
		name string
		f    func(SpeedFigures) float64
	}{
		{"slimgo, " + batch, func(f SpeedFigures) float64 { return f.ImagesPerSec }},
		{"ONNX Runtime, " + batch, func(f SpeedFigures) float64 { return f.ORTImagesPerSec }},
		{"ONNX Runtime, batch 1" + threads, func(f SpeedFigures) float64 { return f.ORTBatch1ImagesPerSec }},
		{"ONNX Runtime, batch 1, 1 thread", func(f SpeedFigures) float64 {
			if c.Threads == 1 {
				return 0 // the row above
			}
			return f.ORTBatch1OneThread
		}},
	} {
		x, y := r.f(c.Before), r.f(c.After)
		if x <= 0 || y <= 0 {
			continue
		}
		t.add(r.name, rate(x), rate(y), fmt.Sprintf("%.2fx", y/x))
	}
	b.WriteString(t.String())
	b.WriteString("\n")
}

func (s *Summary) runSection(b *bytes.Buffer) {
	fmt.Fprintf(b, "## Run\n\n")
	fmt.Fprintf(b, "- model: `%s`\n", s.Model)
	fmt.Fprintf(b, "- data: `%s`\n", s.Data)
	if s.PreprocessingText != "" {
		fmt.Fprintf(b, "- preprocessing: %s\n", s.PreprocessingText)
	}
	fmt.Fprintf(b, "- seed: %d\n", s.Seed)
	if !s.Started.IsZero() {
		fmt.Fprintf(b, "- started: %s\n", s.Started.Format("2006-01-02 15:04:05 MST"))
	}
	if !s.Finished.IsZero() {
		fmt.Fprintf(b, "- finished: %s", s.Finished.Format("2006-01-02 15:04:05 MST"))
		if !s.Started.IsZero() {
			fmt.Fprintf(b, " (%s)", s.Finished.Sub(s.Started).Round(1e9))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if len(s.Settings) > 0 {
		t := newTable("setting", "value")
		for _, k := range sortedKeys(s.Settings) {
			v, err := json.Marshal(s.Settings[k])
			if err != nil {
				v = []byte(fmt.Sprint(s.Settings[k]))
			}
			t.add(k, string(v))
		}
		b.WriteString(t.String())
		b.WriteString("\n")
	}
}

// stageTable renders one row per stage; the ONNX Runtime, time and notes
// columns appear only when some stage has them.
func (s *Summary) stageTable() string {
	var ort, ort1, secs, notes bool
	for _, st := range s.Stages {
		ort = ort || st.ORTImagesPerSec > 0
		ort1 = ort1 || st.ORTBatch1ImagesPerSec > 0
		secs = secs || st.Seconds > 0
		notes = notes || st.Notes != ""
	}
	head := []string{"stage", ">" + s.scoreName(), ">change", ">params", ">MACs", ">stored", ">slimgo img/s"}
	if s.IsDetect() {
		head = slices.Insert(head, 3, ">mAP@0.5:0.95")
	}
	if ort {
		head = append(head, ">ORT img/s")
	}
	if ort1 {
		head = append(head, ">ORT batch-1 img/s")
	}
	if secs {
		head = append(head, ">time")
	}
	if notes {
		head = append(head, "notes")
	}
	t := newTable(head...)
	a0 := s.Before().Accuracy
	for _, st := range s.Stages {
		stored := "-"
		if st.Bytes > 0 {
			stored = HumanBytes(st.Bytes)
		}
		row := []string{st.Name, Percent(st.Accuracy), fmt.Sprintf("%+.2f", st.Accuracy-a0),
			HumanCount(st.Params), HumanCount(st.MACs), stored, rate(st.ImagesPerSec)}
		if s.IsDetect() {
			row = slices.Insert(row, 3, Percent(st.MAP50_95))
		}
		if ort {
			row = append(row, rate(st.ORTImagesPerSec))
		}
		if ort1 {
			row = append(row, rate(st.ORTBatch1ImagesPerSec))
		}
		if secs {
			tm := "-"
			if st.Seconds > 0 {
				tm = fmt.Sprintf("%.1f s", st.Seconds)
			}
			row = append(row, tm)
		}
		if notes {
			row = append(row, st.Notes)
		}
		t.add(row...)
	}
	return t.String()
}

// quantile returns the q-quantile (0..1) of sorted xs by linear
// interpolation.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// GammaStats summarises a set of |gamma|: count, median, mean, largest and
// the fractions below 1e-2 and 1e-3.
type GammaStats struct {
	N                  int
	Median, Mean, Max  float64
	Below1e2, Below1e3 float64 // fractions in 0..1
}

// Gammas computes GammaStats of the absolute values of g.
func Gammas(g []float64) GammaStats {
	st := GammaStats{N: len(g)}
	if len(g) == 0 {
		return st
	}
	abs := make([]float64, len(g))
	for i, v := range g {
		abs[i] = math.Abs(v)
		st.Mean += abs[i]
		if abs[i] < 1e-2 {
			st.Below1e2++
		}
		if abs[i] < 1e-3 {
			st.Below1e3++
		}
	}
	sort.Float64s(abs)
	n := float64(len(g))
	st.Mean /= n
	st.Below1e2 /= n
	st.Below1e3 /= n
	st.Median = quantile(abs, 0.5)
	st.Max = abs[len(abs)-1]
	return st
}

func gammaTable(s *Summary) string {
	t := newTable("", ">channels", ">median abs(gamma)", ">mean", ">max", ">below 1e-2", ">below 1e-3")
	for _, set := range []struct {
		name string
		g    []float64
	}{{"before", s.GammaBefore}, {"after", s.GammaAfter}} {
		if len(set.g) == 0 {
			t.add(set.name, "-", "-", "-", "-", "-", "-")
			continue
		}
		st := Gammas(set.g)
		t.add(set.name, fmt.Sprint(st.N), fmt.Sprintf("%.4g", st.Median), fmt.Sprintf("%.4g", st.Mean),
			fmt.Sprintf("%.4g", st.Max), fmt.Sprintf("%.1f%%", 100*st.Below1e2), fmt.Sprintf("%.1f%%", 100*st.Below1e3))
	}
	return t.String()
}

func channelsTable(s *Summary) string {
	t := newTable("layer", ">before", ">after", ">kept", ">ratio")
	var sb, sa int
	for _, l := range s.Layers {
		sb += l.Before
		sa += l.After
		r := "-"
		if l.Ratio > 0 {
			r = fmt.Sprintf("%.3f", l.Ratio)
		}
		t.add(l.Name, fmt.Sprint(l.Before), fmt.Sprint(l.After), keptPct(l.After, l.Before), r)
	}
	t.add("total", fmt.Sprint(sb), fmt.Sprint(sa), keptPct(sa, sb), "")
	return t.String()
}

func keptPct(after, before int) string {
	if before <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(after)/float64(before))
}

// maxRewardRows bounds the episode rows printed under the reward plot.
const maxRewardRows = 20

// rewardRows picks the episodes (0-based) shown in the table: all of them up
// to maxRewardRows, else an even sample that always holds the first, the
// best and the last.
func rewardRows(n, best int) []int {
	if n <= maxRewardRows {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows
	}
	pick := map[int]bool{0: true, n - 1: true, best: true}
	for k := 1; k < maxRewardRows-2; k++ {
		pick[k*(n-1)/(maxRewardRows-2)] = true
	}
	rows := make([]int, 0, len(pick))
	for i := range pick {
		rows = append(rows, i)
	}
	sort.Ints(rows)
	return rows
}

func rewardTable(s *Summary) string {
	best := s.BestEpisode()
	nwarm := 0
	infoKeys := map[string]bool{}
	for _, e := range s.Episodes {
		if e.Warmup {
			nwarm++
		}
		for k := range e.Info {
			infoKeys[k] = true
		}
	}
	keys := sortedKeys(infoKeys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d episodes (%d warm-up with random actions); best: episode %d, reward %.4g.\n\n",
		len(s.Episodes), nwarm, best+1, s.Episodes[best].Reward)
	head := []string{">episode", "kind", ">reward"}
	for _, k := range keys {
		head = append(head, ">"+k)
	}
	t := newTable(head...)
	for _, i := range rewardRows(len(s.Episodes), best) {
		e := s.Episodes[i]
		kind := "agent"
		if e.Warmup {
			kind = "warm-up"
		}
		if i == best {
			kind += " (best)"
		}
		row := []string{fmt.Sprint(i + 1), kind, fmt.Sprintf("%.4g", e.Reward)}
		for _, k := range keys {
			if v, ok := e.Info[k]; ok {
				row = append(row, fmt.Sprintf("%.4g", v))
			} else {
				row = append(row, "-")
			}
		}
		t.add(row...)
	}
	b.WriteString(t.String())
	return b.String()
}

func blocksTable(s *Summary) string {
	t := newTable("block", ">score", "removed")
	for _, bl := range s.Blocks {
		r := ""
		if bl.Removed {
			r = "removed"
		}
		t.add(bl.Name, fmt.Sprintf("%.4g", bl.Score), r)
	}
	return fmt.Sprintf("%d of %d blocks removed.\n\n", len(s.RemovedBlocks()), len(s.Blocks)) + t.String()
}

// clustersTable lists each clustered layer: weights, K, bits per weight
// (fixed-width indices + float32 codebook), the bits as stored, the BIRCH
// threshold, and, when the accuracy guard chose the settings, its level
// and the layer's sensitivity; a line above states the guard's outcome.
func clustersTable(s *Summary) string {
	t := newTable("layer", ">weights", ">K", ">bits/weight", ">stored bits", ">threshold", ">guard level", ">sensitivity (KL)", ">vs float32")
	var n int
	opt := func(v float64, f string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(f, v)
	}
	for _, c := range s.Clusters {
		n += c.Weights
		level, sens := "-", "-"
		if c.Level != nil {
			level, sens = fmt.Sprintf("x%g", *c.Level), fmt.Sprintf("%.3g", c.Sensitivity)
			if *c.Level == 0 {
				level = "finest"
			}
		}
		t.add(c.Name, fmt.Sprint(c.Weights), fmt.Sprint(c.K), fmt.Sprintf("%.2f", c.BitsPerWeight),
			opt(c.StoredBits, "%.2f"), opt(c.Threshold, "%.3g"), level, sens, vsFloat(c.BitsPerWeight))
	}
	mb := s.MeanBitsPerWeight()
	t.add("all", fmt.Sprint(n), "", fmt.Sprintf("%.2f", mb), "", "", "", "", vsFloat(mb))
	return guardLine(s.Guard) + t.String()
}

// guardLine says what the accuracy guard measured (empty without one).
func guardLine(g map[string]any) string {
	if g == nil {
		return ""
	}
	num := func(k string) float64 { v, _ := g[k].(float64); return v }
	if _, ok := g["val_loss"]; !ok {
		return ""
	}
	var vs int
	switch v := g["val_size"].(type) {
	case int:
		vs = v
	case float64:
		vs = int(v)
	}
	what := "Accuracy guard"
	if sc, ok := g["score"].(string); ok && sc != "accuracy" {
		what = "Guard (" + sc + ")"
	}
	line := fmt.Sprintf("%s: %.2f points lost on %d validation images held out from the training data (%.2f%% -> %.2f%%; tolerance %.2f).",
		what, num("val_loss"), vs, num("val_accuracy_before"), num("val_accuracy"), num("max_loss"))
	if w, ok := g["warning"].(string); ok {
		line += " Warning: " + w + "."
	}
	return line + "\n\n"
}

func vsFloat(bits float64) string {
	if bits <= 0 {
		return "-"
	}
	return Times(32 / bits)
}

func accuracySizeTable(s *Summary) string {
	t := newTable("stage", ">stored", ">"+s.scoreName(), ">smaller than original")
	b0 := float64(s.Before().Bytes)
	for _, st := range s.Stages {
		if st.Bytes <= 0 {
			continue
		}
		r := "-"
		if b0 > 0 {
			r = Times(b0 / float64(st.Bytes))
		}
		t.add(st.Name, HumanBytes(st.Bytes), Percent(st.Accuracy), r)
	}
	return t.String()
}

// filesSection lists s.Files (role, path relative to dir when inside it,
// size when the file exists) and the files of the report itself.
func (s *Summary) filesSection(w io.Writer, dir string) {
	fmt.Fprintf(w, "## Output files\n\n")
	t := newTable("file", "path", ">size")
	rel := func(p string) string {
		if r, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(r, "..") && !filepath.IsAbs(r) {
			return r
		}
		return p
	}
	size := func(p string) string {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return HumanBytes(fi.Size())
		}
		return "-"
	}
	for _, k := range sortedKeys(s.Files) {
		p := s.Files[k]
		t.add(k, rel(p), size(p))
	}
	t.add("summary", SummaryFile, size(filepath.Join(dir, SummaryFile)))
	for _, p := range s.Plots {
		t.add("plot", p, size(filepath.Join(dir, p)))
	}
	fmt.Fprint(w, t.String())
}

// scoreName names the stages' score: "accuracy", or "mAP@0.5" for a
// detector.
func (s *Summary) scoreName() string {
	if s.IsDetect() {
		return "mAP@0.5"
	}
	return "accuracy"
}
