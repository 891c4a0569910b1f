package report

import (
	"bytes"
	"image/png"
	"testing"
)

// TestPlotsEdgeData draws every plot from degenerate but valid data (one
// point, all values equal, zeros, negative rewards) and checks each yields
// a decodable PNG.
func TestPlotsEdgeData(t *testing.T) {
	one := []Stage{{Name: "only", Accuracy: 0, Params: 1, MACs: 1, Bytes: 1}}
	tests := []struct {
		name string
		plot func(*Summary) (figure, error)
		s    *Summary
	}{
		{"gamma all zero", gammaPlot, &Summary{Stages: one, GammaBefore: []float64{0, 0}}},
		{"gamma one value after only", gammaPlot, &Summary{Stages: one, GammaAfter: []float64{0.5}}},
		{"gamma negative values", gammaPlot, &Summary{Stages: one, GammaBefore: []float64{-2, 3, -1e-9}}},
		{"channels one layer removed", channelsPlot, &Summary{Stages: one, Layers: []LayerChannels{{Name: "c", Before: 0, After: 0}}}},
		{"channels long names", channelsPlot, &Summary{Stages: one, Layers: []LayerChannels{
			{Name: "a/very/long/onnx/node/name/that/goes/on", Before: 3, After: 1}, {Name: "b", Before: 2, After: 2}}}},
		{"reward one episode", rewardPlot, &Summary{Stages: one, Episodes: []Episode{{Reward: -3}}}},
		{"reward all warm-up equal", rewardPlot, &Summary{Stages: one, Episodes: []Episode{{Reward: 1, Warmup: true}, {Reward: 1, Warmup: true}}}},
		{"reward no warm-up", rewardPlot, &Summary{Stages: one, Episodes: []Episode{{Reward: -1}, {Reward: 2}}}},
		{"blocks all removed", blocksPlot, &Summary{Stages: one, Blocks: []Block{{Name: "b1", Score: 0, Removed: true}}}},
		{"blocks zero scores", blocksPlot, &Summary{Stages: one, Blocks: []Block{{Name: "b1"}, {Name: "b2"}}}},
		{"clusters K=1", clustersPlot, &Summary{Stages: one, Clusters: []LayerClusters{{Name: "w", K: 1, Weights: 0}}}},
		{"accuracy one stage", accuracySizePlot, &Summary{Stages: one}},
		{"accuracy equal sizes", accuracySizePlot, &Summary{Stages: []Stage{{Name: "a", Accuracy: 50, Bytes: 10}, {Name: "b", Accuracy: 50, Bytes: 10}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); err != nil {
				t.Fatalf("test data invalid: %v", err)
			}
			fig, err := tc.plot(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := fig.writePNG(&buf); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 400 {
				t.Errorf("%dx%d pixels, want at least 600x400", b.Dx(), b.Dy())
			}
		})
	}
}

func TestHistBins(t *testing.T) {
	xs := []float64{0, 0.1, 0.5, 0.99, 1, -5, 7}
	bins := histBins(xs, 0, 1, 4)
	// Naive: values clamp into [0, 1]; bin i holds [i/4, (i+1)/4), the last one closed.
	want := make([]float64, 4)
	for _, x := range xs {
		x = min(max(x, 0), 1)
		i := 0
		for i < 3 && x >= float64(i+1)/4 {
			i++
		}
		want[i]++
	}
	for i, b := range bins {
		if b.Weight != want[i] {
			t.Errorf("bin %d [%v,%v): %v, want %v", i, b.Min, b.Max, b.Weight, want[i])
		}
	}
	total := 0.0
	for _, b := range bins {
		total += b.Weight
	}
	if total != float64(len(xs)) {
		t.Errorf("bins hold %v values, want %d", total, len(xs))
	}
}

func TestManyLayersWidthCapped(t *testing.T) {
	s := &Summary{Stages: []Stage{{Name: "a"}}}
	for i := range 200 {
		s.Layers = append(s.Layers, LayerChannels{Name: "layer", Before: 64, After: i % 64})
	}
	fig, err := channelsPlot(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fig.writePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// 60 cm at 120 dpi.
	if w := img.Bounds().Dx(); float64(w) > 60/2.54*120+1 {
		t.Errorf("200 layers draw %d pixels wide, want the 60 cm cap", w)
	}
}
