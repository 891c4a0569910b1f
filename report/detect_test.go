package report

import (
	"strings"
	"testing"
)

// A detector's summary carries the mAP keys in place of the accuracy
// keys, and report.md names its score mAP@0.5 with a mAP@0.5:0.95 column.
func TestDetectorKeys(t *testing.T) {
	s := &Summary{Model: "det.onnx", Data: "sample", Task: TaskDetect, Stages: []Stage{
		{Name: "original", Accuracy: 52.6, MAP50_95: 31.0, Params: 577390, MACs: 18510000, Bytes: 2331070},
		{Name: "quantized", Accuracy: 51.9, MAP50_95: 30.2, Params: 100000, MACs: 5000000, Bytes: 100000},
	}}
	m, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"map50_before": 52.6, "map50": 51.9, "map50_95_before": 31.0, "map50_95": 30.2, "bytes_before": 2331070, "bytes": 100000} {
		if v, ok := m[k].(float64); !ok || v != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	for _, k := range []string{"accuracy", "accuracy_before"} {
		if _, ok := m[k]; ok {
			t.Errorf("a detector's summary has %q", k)
		}
	}
	if c, _ := m["compression"].(float64); c < 23 || c > 23.4 {
		t.Errorf("compression %v", m["compression"])
	}
	st := m["stages"].([]any)[1].(map[string]any)
	if st["map50"] != 51.9 || st["accuracy"] != nil {
		t.Errorf("stage keys %v", st)
	}
	md := string(s.markdown(t.TempDir()))
	for _, w := range []string{"mAP@0.5 52.60% -> 51.90%", "mAP@0.5:0.95", "31.00%"} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	// A classifier's summary keeps its keys.
	s.Task = ""
	if m, _ = s.JSON(); m["accuracy"] != 51.9 || m["map50"] != nil {
		t.Errorf("classifier keys: accuracy %v, map50 %v", m["accuracy"], m["map50"])
	}
}

// The guard's line names a detector's score; a classifier's stays as it was.
func TestGuardLineScore(t *testing.T) {
	g := map[string]any{"val_loss": 0.3, "val_size": 400.0, "val_accuracy_before": 74.5, "val_accuracy": 74.2, "max_loss": 0.5, "score": "mAP@0.5"}
	if l := guardLine(g); !strings.HasPrefix(l, "Guard (mAP@0.5): 0.30 points lost on 400 validation images") {
		t.Errorf("detector: %q", l)
	}
	g["score"] = "accuracy"
	if l := guardLine(g); !strings.HasPrefix(l, "Accuracy guard: 0.30 points") {
		t.Errorf("classifier: %q", l)
	}
}
