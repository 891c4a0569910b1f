package report

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// synthetic builds a full summary from a fixed seed: six stages with
// shrinking size, gammas that collapse under sparse training, a DDPG search
// with warm-up, blocks and clusters.
func synthetic(seed uint64) *Summary {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &Summary{
		Model: "resnet8.onnx", Data: "fashion-mnist", Seed: seed,
		Settings:   map[string]any{"sparsity": 1e-4, "episodes": 30.0, "arch": "resnet8"},
		Started:    time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		Finished:   time.Date(2025, 3, 1, 10, 42, 5, 0, time.UTC),
		BenchBatch: 64,
		Files:      map[string]string{"model": "/elsewhere/final.onnx"},
		Notes:      []string{"synthetic run"},
	}
	names := []string{"original", "sparse", "ddpg", "layer", "finetune", "quantized"}
	params, macs, bytes := int64(78_000+r.IntN(1000)), int64(12_000_000+r.IntN(10000)), int64(320_000+r.IntN(1000))
	acc := 90 + 2*r.Float64()
	for i, n := range names {
		st := Stage{Name: n, Accuracy: acc, Params: params, MACs: macs, Bytes: bytes,
			ImagesPerSec: 1000 * float64(macs0(i)), Seconds: 10 * r.Float64()}
		if i%2 == 0 {
			st.ORTImagesPerSec = 3000 * float64(macs0(i))
			st.ORTBatch1ImagesPerSec = 900 * float64(macs0(i))
		}
		if i == 1 || i == 3 {
			st.Bytes = 0 // intermediate model not stored
		}
		s.Stages = append(s.Stages, st)
		acc -= 0.3 * r.Float64()
		if i >= 1 && i <= 3 {
			params = params * 6 / 10
			macs = macs * 6 / 10
		}
		bytes = bytes * 6 / 10
		if i == 4 {
			bytes /= 6
		}
	}
	for range 300 {
		s.GammaBefore = append(s.GammaBefore, 0.2+0.8*r.Float64())
		g := math.Pow(10, -5*r.Float64())
		if r.IntN(20) == 0 {
			g = 0
		}
		s.GammaAfter = append(s.GammaAfter, g)
	}
	for i := range 9 {
		b := 16 << (i / 3)
		s.Layers = append(s.Layers, LayerChannels{Name: fmt.Sprintf("stage%d.block.conv%d", i/3, i%3), Before: b,
			After: max(1, b-r.IntN(b)), Ratio: r.Float64()})
	}
	s.Layers[4].After = 0
	s.Layers[4].Ratio = 0
	for i := range 30 {
		e := Episode{Reward: r.Float64() + float64(i)/20, Warmup: i < 8,
			Info: map[string]float64{"accuracy": 80 + 10*r.Float64(), "params_ratio": r.Float64()}}
		s.Episodes = append(s.Episodes, e)
	}
	for i := range 4 {
		s.Blocks = append(s.Blocks, Block{Name: fmt.Sprintf("layer%d.0", i+1), Score: r.Float64(), Removed: i == 2})
	}
	for i := range 7 {
		k := 2 + r.IntN(60)
		s.Clusters = append(s.Clusters, LayerClusters{Name: fmt.Sprintf("conv%d.weight", i), K: k,
			Weights: 500 + r.IntN(5000), BitsPerWeight: 3 + r.Float64()*3})
	}
	return s
}

// macs0 is a speed factor rising along the stages.
func macs0(i int) float64 { return 1 + 0.4*float64(i) }

// findLine returns the first line of md that starts with prefix.
func findLine(md, prefix string) string {
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func checkNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestWriteFull(t *testing.T) {
	dir := t.TempDir()
	s := synthetic(1)
	path, err := Write(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "report.md"); path != want || s.Report != want {
		t.Fatalf("report path %q (s.Report %q), want %q", path, s.Report, want)
	}
	checkNoTemp(t, dir)

	plots := []string{"gamma_hist.png", "channels.png", "ddpg_reward.png", "blocks.png", "clusters.png", "accuracy_vs_size.png"}
	if !slices.Equal(s.Plots, plots) {
		t.Errorf("s.Plots = %v, want %v", s.Plots, plots)
	}
	checkPlotsDrawn(t, dir, plots)

	mdb, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(mdb)
	for _, p := range plots {
		if !strings.Contains(md, "]("+p+")") {
			t.Errorf("report.md does not link %s", p)
		}
	}
	if strings.Contains(md, "Skipped:") {
		t.Errorf("a full summary has a skipped section:\n%s", md)
	}

	// Headline figures computed here from the input.
	first, last := s.Stages[0], s.Stages[len(s.Stages)-1]
	x := func(r float64) string {
		if r >= 10 {
			return fmt.Sprintf("%.1fx", r)
		}
		return fmt.Sprintf("%.2fx", r)
	}
	headline := findLine(md, "**")
	for _, want := range []string{
		x(float64(first.Bytes)/float64(last.Bytes)) + " smaller",
		x(float64(first.MACs)/float64(last.MACs)) + " fewer MACs",
		x(float64(first.Params)/float64(last.Params)) + " fewer parameters",
		// ORT was timed on stages 0, 2, 4: the last timed one is stage 4.
		x(s.Stages[4].ORTImagesPerSec/first.ORTImagesPerSec) + " faster in ONNX Runtime",
		x(last.ImagesPerSec/first.ImagesPerSec) + " faster in slimgo",
		fmt.Sprintf("accuracy %.2f%% -> %.2f%%", first.Accuracy, last.Accuracy),
	} {
		if !strings.Contains(headline, want) {
			t.Errorf("headline %q lacks %q", headline, want)
		}
	}

	// One table row per stage with its own figures.
	for _, st := range s.Stages {
		row := findLine(md, "| "+st.Name+" ")
		if row == "" {
			t.Fatalf("no table row for stage %q", st.Name)
		}
		cells := strings.Split(row, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		want := []string{fmt.Sprintf("%.2f%%", st.Accuracy), fmt.Sprintf("%+.2f", st.Accuracy-first.Accuracy),
			fmt.Sprintf("%.0f", st.ImagesPerSec)}
		if st.Bytes > 0 {
			want = append(want, HumanBytes(st.Bytes))
		}
		for _, w := range want {
			if !slices.Contains(cells, w) {
				t.Errorf("stage row %q lacks cell %q", row, w)
			}
		}
	}

	checkSections(t, md, s)
	// Run facts and files.
	for _, want := range []string{"`resnet8.onnx`", "`fashion-mnist`", "seed: 1", "(42m5s)", "| sparsity", "/elsewhere/final.onnx", "synthetic run", "summary.json"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// checkPlotsDrawn: every plot is a PNG of a sensible size with ink on it.
func checkPlotsDrawn(t *testing.T, dir string, plots []string) {
	t.Helper()
	for _, p := range plots {
		f, err := os.Open(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b := img.Bounds()
		if b.Dx() < 600 || b.Dx() > 3000 || b.Dy() < 400 || b.Dy() > 2000 {
			t.Errorf("%s: %dx%d pixels, want about 600..3000 x 400..2000", p, b.Dx(), b.Dy())
		}
		// A drawn plot is not a blank canvas: count non-white pixels.
		ink := 0
		for y := b.Min.Y; y < b.Max.Y; y += 2 {
			for x := b.Min.X; x < b.Max.X; x += 2 {
				r, g, bl, _ := img.At(x, y).RGBA()
				if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
					ink++
				}
			}
		}
		if frac := float64(ink) / float64(b.Dx()*b.Dy()/4); frac < 0.01 {
			t.Errorf("%s: only %.3f of the pixels are drawn", p, frac)
		}
	}

}

// checkSections: the DDPG, blocks, clusters, channels and gamma sections
// show the figures computed here from the summary.
func checkSections(t *testing.T, md string, s *Summary) {
	t.Helper()
	// DDPG: best episode found here.
	best := 0
	for i, e := range s.Episodes {
		if e.Reward > s.Episodes[best].Reward {
			best = i
		}
	}
	if want := fmt.Sprintf("best: episode %d, reward %.4g", best+1, s.Episodes[best].Reward); !strings.Contains(md, want) {
		t.Errorf("report lacks %q", want)
	}
	if want := "30 episodes (8 warm-up"; !strings.Contains(md, want) {
		t.Errorf("report lacks %q", want)
	}
	// Blocks: the removed one is marked, the kept ones are not.
	for _, b := range s.Blocks {
		row := findLine(md, "| "+b.Name+" ")
		if got := strings.Contains(row, "removed"); got != b.Removed {
			t.Errorf("block row %q: removed marked %v, want %v", row, got, b.Removed)
		}
	}
	// Clusters: the weighted mean bits per weight.
	var bits, n float64
	for _, c := range s.Clusters {
		bits += c.BitsPerWeight * float64(c.Weights)
		n += float64(c.Weights)
	}
	if row := findLine(md, "| all "); !strings.Contains(row, fmt.Sprintf("%.2f", bits/n)) {
		t.Errorf("clusters total row %q lacks mean bits %.2f", row, bits/n)
	}
	// Channels: totals.
	var cb, ca int
	for _, l := range s.Layers {
		cb += l.Before
		ca += l.After
	}
	if row := findLine(md, "| total "); !strings.Contains(row, fmt.Sprintf(" %d |", cb)) || !strings.Contains(row, fmt.Sprintf(" %d |", ca)) {
		t.Errorf("channels total row %q lacks %d / %d", row, cb, ca)
	}
	// Gamma: the fraction of |gamma| below 1e-3 after sparse training.
	below := 0
	for _, g := range s.GammaAfter {
		if math.Abs(g) < 1e-3 {
			below++
		}
	}
	if row := findLine(md, "| after "); !strings.Contains(row, fmt.Sprintf("%.1f%%", 100*float64(below)/float64(len(s.GammaAfter)))) {
		t.Errorf("gamma row %q lacks the share below 1e-3", row)
	}
}

func TestSummaryJSON(t *testing.T) {
	dir := t.TempDir()
	s := synthetic(2)
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	first, last := s.Stages[0], s.Stages[len(s.Stages)-1]
	want := map[string]float64{
		"accuracy_before": first.Accuracy,
		"accuracy":        last.Accuracy,
		"params_before":   float64(first.Params),
		"params":          float64(last.Params),
		"macs_before":     float64(first.MACs),
		"macs":            float64(last.MACs),
		"bytes_before":    float64(first.Bytes),
		"bytes":           float64(last.Bytes),
		"compression":     float64(first.Bytes) / float64(last.Bytes),
		"speedup":         last.ImagesPerSec / first.ImagesPerSec,
		"speedup_ort":     s.Stages[4].ORTImagesPerSec / first.ORTImagesPerSec,
	}
	for k, v := range want {
		got, ok := m[k].(float64)
		if !ok {
			t.Errorf("summary.json key %q = %v (%T), want number %v", k, m[k], m[k], v)
			continue
		}
		if math.Abs(got-v) > 1e-12*math.Abs(v) {
			t.Errorf("summary.json %s = %v, want %v", k, got, v)
		}
	}
	if st, ok := m["stages"].([]any); !ok || len(st) != len(s.Stages) {
		t.Errorf("stages = %v, want %d entries", m["stages"], len(s.Stages))
	}
	if m["report"] != filepath.Join(dir, "report.md") {
		t.Errorf("report = %v", m["report"])
	}
	if got := m["removed_blocks"]; !reflect.DeepEqual(got, []any{s.Blocks[2].Name}) {
		t.Errorf("removed_blocks = %v", got)
	}
	if ks, ok := m["clusters"].(map[string]any); !ok || ks[s.Clusters[0].Name] != float64(s.Clusters[0].K) {
		t.Errorf("clusters = %v", m["clusters"])
	}
	if rs, ok := m["ratios"].(map[string]any); !ok || len(rs) != len(s.Layers)-1 {
		t.Errorf("ratios = %v, want the %d layers with a ratio", m["ratios"], len(s.Layers)-1)
	}
	// Keys are snake_case.
	for k := range m {
		if strings.ToLower(k) != k || strings.ContainsAny(k, " -") {
			t.Errorf("key %q is not snake_case", k)
		}
	}
	// The CLI's object equals the file.
	cli, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cli, m) {
		t.Errorf("s.JSON() differs from summary.json")
	}
	// Brief keeps the scalar contract keys and drops the lists.
	br, err := s.Brief()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range br {
		if _, ok := v.([]any); ok && k != "removed_blocks" && k != "plots" && k != "notes" {
			t.Errorf("Brief keeps list %q", k)
		}
		if !reflect.DeepEqual(v, m[k]) {
			t.Errorf("Brief %q = %v, summary.json has %v", k, v, m[k])
		}
	}
	for k := range want {
		if _, ok := br[k]; !ok {
			t.Errorf("Brief lacks %q", k)
		}
	}
	if _, ok := br["gamma_before"]; ok {
		t.Error("Brief keeps gamma_before")
	}
	// Round trip.
	back, err := ReadJSON(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		a, _ := json.Marshal(back)
		b, _ := json.Marshal(s)
		t.Errorf("round trip differs:\n got %s\nwant %s", a, b)
	}
}

func TestWriteEmptySections(t *testing.T) {
	dir := t.TempDir()
	// A full report first, so the plots exist and must be removed after.
	if _, err := Write(dir, synthetic(3)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		s         *Summary
		plots     []string
		skipped   []string
		speedup   float64
		headParts int
	}{
		{"stages only, no sizes",
			&Summary{Model: "m.onnx", Data: "d", Stages: []Stage{{Name: "original", Accuracy: 50, Params: 10, MACs: 100}}},
			nil,
			[]string{"no sparse training ran", "no channel pruning ran", "no DDPG search ran", "no residual-block pruning ran", "no clustering quantization ran", "no stage has a stored size"},
			0, 3},
		{"one gamma set and sizes",
			&Summary{Model: "m.onnx", Data: "d", GammaAfter: []float64{0, 0, 0},
				Stages: []Stage{{Name: "original", Accuracy: 50, Params: 10, MACs: 100, Bytes: 4000, ImagesPerSec: 10},
					{Name: "pruned", Accuracy: 49, Params: 5, MACs: 40, Bytes: 4000, ImagesPerSec: 25}}},
			[]string{PlotGamma, PlotAccuracySize},
			[]string{"no DDPG search ran", "no clustering quantization ran"},
			2.5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Write(dir, tc.s); err != nil {
				t.Fatal(err)
			}
			checkNoTemp(t, dir)
			for _, p := range []string{PlotGamma, PlotChannels, PlotReward, PlotBlocks, PlotClusters, PlotAccuracySize} {
				_, err := os.Stat(filepath.Join(dir, p))
				if want := slices.Contains(tc.plots, p); (err == nil) != want {
					t.Errorf("%s exists = %v, want %v", p, err == nil, want)
				}
			}
			md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
			for _, w := range tc.skipped {
				if !strings.Contains(string(md), "Skipped: "+w) {
					t.Errorf("report lacks skip reason %q", w)
				}
			}
			if got := tc.s.Speedup(); got != tc.speedup {
				t.Errorf("Speedup = %v, want %v", got, tc.speedup)
			}
			if got := len(strings.Split(tc.s.Headline(), ", ")); got != tc.headParts {
				t.Errorf("headline %q has %d parts, want %d", tc.s.Headline(), got, tc.headParts)
			}
			m, err := tc.s.JSON()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"accuracy_before", "accuracy", "params_before", "params", "macs_before", "macs",
				"bytes_before", "bytes", "compression", "speedup", "stages", "report"} {
				if _, ok := m[k]; !ok {
					t.Errorf("JSON lacks contract key %q", k)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := func() *Summary {
		return &Summary{Stages: []Stage{{Name: "original", Accuracy: 90, Params: 10, MACs: 10, Bytes: 40}}}
	}
	tests := []struct {
		name   string
		modify func(s *Summary)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(s *Summary) {}, ""},
		{"no stages", func(s *Summary) { s.Stages = nil }, "no stages"},
		{"empty name", func(s *Summary) { s.Stages[0].Name = "" }, "empty name"},
		{"duplicate", func(s *Summary) { s.Stages = append(s.Stages, s.Stages[0]) }, "duplicate"},
		{"accuracy fraction", func(s *Summary) { s.Stages[0].Accuracy = 101 }, "accuracy"},
		{"NaN accuracy", func(s *Summary) { s.Stages[0].Accuracy = math.NaN() }, "accuracy"},
		{"negative bytes", func(s *Summary) { s.Stages[0].Bytes = -1 }, "negative"},
		{"inf speed", func(s *Summary) { s.Stages[0].ORTImagesPerSec = math.Inf(1) }, "ort_images_per_s"},
		{"NaN gamma", func(s *Summary) { s.GammaAfter = []float64{1, math.NaN()} }, "gamma_after[1]"},
		{"ratio above 1", func(s *Summary) { s.Layers = []LayerChannels{{Name: "c1", Before: 4, After: 2, Ratio: 1.5}} }, `"c1"`},
		{"NaN reward", func(s *Summary) { s.Episodes = []Episode{{Reward: 1}, {Reward: math.NaN()}} }, "episode 2"},
		{"inf info", func(s *Summary) { s.Episodes = []Episode{{Info: map[string]float64{"acc": math.Inf(-1)}}} }, `"acc"`},
		{"NaN block score", func(s *Summary) { s.Blocks = []Block{{Name: "b", Score: math.NaN()}} }, `block 0 ("b")`},
		{"zero K", func(s *Summary) { s.Clusters = []LayerClusters{{Name: "w", K: 0}} }, `"w"`},
		{"NaN speed check", func(s *Summary) { s.SpeedCheck = &SpeedCheck{After: SpeedFigures{ORTImagesPerSec: math.NaN()}} }, "speed_check after"},
		{"NaN latency", func(s *Summary) { s.LatencyMs = math.NaN() }, "latency_ms"},
		{"negative latency target", func(s *Summary) { s.TargetLatencyMs = -1 }, "target_latency_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.modify(s)
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			// Write refuses it too, writing nothing.
			dir := t.TempDir()
			if _, err := Write(dir, s); err == nil {
				t.Fatal("Write accepted an invalid summary")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("Write left %d files for an invalid summary", len(ents))
			}
		})
	}
	var nilS *Summary
	if err := nilS.Validate(); err == nil {
		t.Error("nil summary validated")
	}
}

func TestWriteIntoFileFails(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(f, synthetic(4)); err == nil {
		t.Fatal("Write into a regular file as directory succeeded")
	}
}

func TestDerived(t *testing.T) {
	tests := []struct {
		name                         string
		stages                       []Stage
		compression, speedup, ortSpd float64
	}{
		{"both ends", []Stage{{Name: "a", Bytes: 1000, ImagesPerSec: 10, ORTImagesPerSec: 20}, {Name: "b", Bytes: 250, ImagesPerSec: 30, ORTImagesPerSec: 50}}, 4, 3, 2.5},
		{"last stage not timed", []Stage{{Name: "a", Bytes: 1000, ImagesPerSec: 10}, {Name: "b", ImagesPerSec: 15}, {Name: "c", Bytes: 100}}, 10, 1.5, 0},
		{"one timed stage", []Stage{{Name: "a", ImagesPerSec: 10}, {Name: "b", Bytes: 10}}, 0, 0, 0},
		{"single stage", []Stage{{Name: "a", Bytes: 10, ImagesPerSec: 10}}, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Summary{Stages: tc.stages}
			if got := s.Compression(); got != tc.compression {
				t.Errorf("Compression = %v, want %v", got, tc.compression)
			}
			if got := s.Speedup(); got != tc.speedup {
				t.Errorf("Speedup = %v, want %v", got, tc.speedup)
			}
			if got := s.SpeedupORT(); got != tc.ortSpd {
				t.Errorf("SpeedupORT = %v, want %v", got, tc.ortSpd)
			}
		})
	}
}

// The side-by-side check, when it measured both models, decides the
// speed-ups; a figure it lacks falls back to the stage table's.
func TestSpeedCheckDecides(t *testing.T) {
	s := &Summary{BenchBatch: 64, Stages: []Stage{
		{Name: "original", Bytes: 1000, ImagesPerSec: 100, ORTImagesPerSec: 200, ORTBatch1ImagesPerSec: 50},
		{Name: "quantized", Bytes: 100, ImagesPerSec: 150, ORTImagesPerSec: 250, ORTBatch1ImagesPerSec: 100},
	}}
	s.SpeedCheck = &SpeedCheck{Rounds: 3,
		Before: SpeedFigures{ImagesPerSec: 100, ORTImagesPerSec: 200},
		After:  SpeedFigures{ImagesPerSec: 400, ORTImagesPerSec: 500}}
	if a, b, c := s.Speedup(), s.SpeedupORT(), s.SpeedupORTBatch1(); a != 4 || b != 2.5 || c != 2 {
		t.Errorf("speed-ups %v %v %v, want 4 (check), 2.5 (check), 2 (stages: the check has no batch-1 figures)", a, b, c)
	}
	m, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if m["speedup_ort"] != 2.5 || m["speedup_ort_batch1"] != 2.0 || m["speed_check"] == nil {
		t.Errorf("JSON speedup_ort %v, speedup_ort_batch1 %v, speed_check %v", m["speedup_ort"], m["speedup_ort_batch1"], m["speed_check"])
	}
	md := string(s.markdown(t.TempDir()))
	for _, want := range []string{"3 rounds alternating", "| ONNX Runtime, batch 64 |", "2.50x", "4.00x", "4.00x faster in slimgo"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if strings.Contains(md, "| ONNX Runtime, batch 1 ") {
		t.Error("report.md shows a batch-1 row the check did not measure")
	}
}

// The one-thread batch-1 figure has its own speed-up and report row, which
// names the threads of the row above it; on one thread the two rows would
// be the same measurement, so only one is shown.
func TestSpeedCheckOneThread(t *testing.T) {
	s := &Summary{BenchBatch: 64, Stages: []Stage{{Name: "original", Bytes: 1000}, {Name: "quantized", Bytes: 100}}}
	s.SpeedCheck = &SpeedCheck{Rounds: 3, Threads: 2,
		Before: SpeedFigures{ORTBatch1ImagesPerSec: 100, ORTBatch1OneThread: 80},
		After:  SpeedFigures{ORTBatch1ImagesPerSec: 150, ORTBatch1OneThread: 200}}
	if a, b := s.SpeedupORTBatch1(), s.SpeedupORTBatch1OneThread(); a != 1.5 || b != 2.5 {
		t.Errorf("speed-ups %v %v, want 1.5 and 2.5", a, b)
	}
	m, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if m["speedup_ort_batch1_1thread"] != 2.5 {
		t.Errorf("JSON speedup_ort_batch1_1thread %v, want 2.5", m["speedup_ort_batch1_1thread"])
	}
	md := string(s.markdown(t.TempDir()))
	for _, want := range []string{"| ONNX Runtime, batch 1, 2 threads ", "| ONNX Runtime, batch 1, 1 thread ", "2.50x"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	s.SpeedCheck.Threads = 1
	s.SpeedCheck.Before.ORTBatch1OneThread, s.SpeedCheck.After.ORTBatch1OneThread = 100, 150
	if md := string(s.markdown(t.TempDir())); strings.Count(md, "| ONNX Runtime, batch 1, 1 thread ") != 1 {
		t.Errorf("on one thread report.md should show the batch-1 row once:\n%s", md)
	}
	s.SpeedCheck.After.ORTBatch1OneThread = math.NaN()
	if err := s.Validate(); err == nil {
		t.Error("Validate accepts a NaN one-thread figure")
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"bytes small", HumanBytes(512), "512 B"},
		{"bytes 1 KiB", HumanBytes(1024), "1.00 KiB"},
		{"bytes 1.5 KiB", HumanBytes(1536), "1.50 KiB"},
		{"bytes 12.5 MiB", HumanBytes(12*1024*1024 + 512*1024), "12.5 MiB"},
		{"bytes 300 MiB", HumanBytes(300 * 1024 * 1024), "300 MiB"},
		{"count small", HumanCount(950), "950"},
		{"count k", HumanCount(12_345), "12.3k"},
		{"count M", HumanCount(1_250_000), "1.25M"},
		{"count G", HumanCount(4_100_000_000), "4.10G"},
		{"times small", Times(2.345), "2.35x"},
		{"times large", Times(12.34), "12.3x"},
		{"percent", Percent(91.256), "91.26%"},
		{"more below 1", more(0.5, "faster", "slower"), "2.00x slower"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestTableAligned(t *testing.T) {
	tb := newTable("name", ">value")
	tb.add("a|b", "1")
	tb.add("longer name é", "12345")
	lines := strings.Split(strings.TrimSuffix(tb.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), tb)
	}
	w := len([]rune(lines[0]))
	for _, l := range lines {
		if len([]rune(l)) != w {
			t.Errorf("line %q has width %d, want %d", l, len([]rune(l)), w)
		}
	}
	if !strings.Contains(lines[1], ": |") || !strings.Contains(lines[2], `a\|b`) {
		t.Errorf("alignment row or pipe escape missing:\n%s", tb)
	}
}

func TestRewardRows(t *testing.T) {
	for _, n := range []int{1, 5, 20, 21, 57, 300} {
		for _, best := range []int{0, n / 3, n - 1} {
			rows := rewardRows(n, best)
			if n <= maxRewardRows && len(rows) != n {
				t.Errorf("n=%d: %d rows, want all", n, len(rows))
			}
			if len(rows) > maxRewardRows+1 {
				t.Errorf("n=%d: %d rows, want at most %d", n, len(rows), maxRewardRows+1)
			}
			if !slices.IsSorted(rows) || len(slices.Compact(slices.Clone(rows))) != len(rows) {
				t.Errorf("n=%d: rows %v not sorted and unique", n, rows)
			}
			for _, must := range []int{0, best, n - 1} {
				if !slices.Contains(rows, must) {
					t.Errorf("n=%d best=%d: rows %v lack %d", n, best, rows, must)
				}
			}
		}
	}
}

func TestGammasAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 2, 7, 100} {
		g := make([]float64, n)
		for i := range g {
			g[i] = (r.Float64() - 0.5) * math.Pow(10, -4*r.Float64())
		}
		st := Gammas(g)
		abs := make([]float64, n)
		var sum, mx float64
		b2, b3 := 0, 0
		for i, v := range g {
			abs[i] = math.Abs(v)
			sum += abs[i]
			mx = math.Max(mx, abs[i])
			if abs[i] < 1e-2 {
				b2++
			}
			if abs[i] < 1e-3 {
				b3++
			}
		}
		slices.Sort(abs)
		med := abs[n/2]
		if n%2 == 0 {
			med = (abs[n/2-1] + abs[n/2]) / 2
		}
		if st.N != n || math.Abs(st.Median-med) > 1e-15 || math.Abs(st.Mean-sum/float64(n)) > 1e-15 || st.Max != mx ||
			st.Below1e2 != float64(b2)/float64(n) || st.Below1e3 != float64(b3)/float64(n) {
			t.Errorf("n=%d: %+v, want median %v mean %v max %v below %d/%d", n, st, med, sum/float64(n), mx, b2, b3)
		}
	}
}

func TestStageTableColumns(t *testing.T) {
	tests := []struct {
		name    string
		stages  []Stage
		present []string
		absent  []string
	}{
		{"no ORT, time or notes", []Stage{{Name: "a", ImagesPerSec: 5}},
			[]string{"slimgo img/s"}, []string{"ORT img/s", "ORT batch-1", "time", "notes"}},
		{"ORT batch 64 only, notes", []Stage{{Name: "a", ORTImagesPerSec: 5, Notes: "fp32"}},
			[]string{"ORT img/s", "notes", "fp32"}, []string{"ORT batch-1", "time"}},
		{"all", []Stage{{Name: "a", ORTImagesPerSec: 5, ORTBatch1ImagesPerSec: 2, Seconds: 3}},
			[]string{"ORT img/s", "ORT batch-1 img/s", "time", "3.0 s"}, []string{"notes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := (&Summary{Stages: tc.stages}).stageTable()
			for _, w := range tc.present {
				if !strings.Contains(tb, w) {
					t.Errorf("table lacks %q:\n%s", w, tb)
				}
			}
			for _, w := range tc.absent {
				if strings.Contains(tb, w) {
					t.Errorf("table has %q:\n%s", w, tb)
				}
			}
		})
	}
}

// TestClustersTableGuard: with the accuracy guard's figures the weight
// sharing table shows each layer's level (finest for 0), threshold,
// stored bits and sensitivity, and a line with the measured loss and any
// warning; without them the columns show "-".
func TestClustersTableGuard(t *testing.T) {
	half, zero := 0.5, 0.0
	s := &Summary{Clusters: []LayerClusters{
		{Name: "conv1.weight", K: 40, Weights: 432, BitsPerWeight: 8.96, StoredBits: 7.5, Threshold: 0.0125, Level: &half, Sensitivity: 0.0148},
		{Name: "fc.weight", K: 256, Weights: 640, BitsPerWeight: 20.8, StoredBits: 14.1, Level: &zero, Sensitivity: 0.002},
		{Name: "plain.weight", K: 16, Weights: 100, BitsPerWeight: 9.12},
	}, Guard: map[string]any{"val_loss": 0.35, "val_size": 2000, "val_accuracy_before": 79.25, "val_accuracy": 78.9, "max_loss": 0.5,
		"warning": "no clustering setting keeps the validation loss within 0.50 points"}}
	md := clustersTable(s)
	for _, want := range []string{
		"Accuracy guard: 0.35 points lost on 2000 validation images",
		"(79.25% -> 78.90%; tolerance 0.50). Warning: no clustering setting",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	for name, cells := range map[string][]string{
		"conv1.weight": {"7.50", "0.0125", "x0.5", "0.0148"},
		"fc.weight":    {"14.10", "finest", "0.002"},
		"plain.weight": {"9.12", "|           - |"},
	} {
		row := findLine(md, "| "+name+" ")
		for _, c := range cells {
			if !strings.Contains(row, c) {
				t.Errorf("row %q lacks %q", row, c)
			}
		}
	}
	if strings.Contains(clustersTable(&Summary{Clusters: s.Clusters[2:]}), "Accuracy guard") {
		t.Error("a guard line without guard figures")
	}
}

// TestLatencyLine: the latency keys reach the JSON summary and report.md
// says the delivered speed-up against the budget, met or missed.
func TestLatencyLine(t *testing.T) {
	s := &Summary{Stages: []Stage{{Name: "original", Accuracy: 90}}}
	if s.LatencyLine() != "" {
		t.Fatal("a line without a latency budget")
	}
	s.LatencyMsBefore, s.LatencyMs, s.LatencyMsEstimated, s.TargetLatencyMs = 0.5, 0.24, 0.25, 0.25
	m, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"latency_ms_before": 0.5, "latency_ms": 0.24, "latency_ms_estimated": 0.25, "target_latency_ms": 0.25} {
		if m[k] != want {
			t.Errorf("%s = %v, want %g", k, m[k], want)
		}
	}
	if l := s.LatencyLine(); !strings.Contains(l, "2.08x faster") || !strings.Contains(l, "(2.00x): met") || !strings.Contains(l, "+4.2%") {
		t.Errorf("line %q", l)
	}
	s.LatencyMs = 0.3
	if l := s.LatencyLine(); !strings.Contains(l, "missed by 20.0%") {
		t.Errorf("line %q", l)
	}
	if md := string(s.markdown(t.TempDir())); !strings.Contains(md, "Latency budget (batch 1") {
		t.Error("report.md lacks the latency line")
	}
}
