package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/internal/ort"
)

// TestQuantizeInt8 runs `quantize --int8` end to end on a slice of the
// bundled sample: resnet8 trained 2 epochs by `slimgo train`, calibrated on
// a held-out split, its QDQ model run in ONNX Runtime. The int8 accuracy on
// the test slice must be within 1 point of the float32 model's, both
// measured in ONNX Runtime, for min-max and percentile calibration and for
// u8 and s8 activations; the parse defaults leave quantize as it was.
func TestQuantizeInt8(t *testing.T) {
	if testing.Short() {
		t.Skip("quantize --int8 on the sample skipped with -short")
	}
	if !ort.Available() {
		t.Skip("node is not installed: ONNX Runtime accuracy of the int8 model not measurable")
	}
	dir := t.TempDir()
	data := []string{"--data", "sample", "--train-limit", "600", "--test-limit", "200"}
	run := func(args ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(append(args, "--json"), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("%v: stdout is not one JSON object: %v\n%s", args, err, out.String())
		}
		return m
	}
	model := filepath.Join(dir, "r8.onnx")
	run(append([]string{"train", "--arch", "resnet8", "--epochs", "2", "--out", model}, data...)...)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"minmax u8", nil},
		{"percentile s8", []string{"--calibrate", "percentile", "--percentile", "99.99", "--activations", "s8"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name+".int8.onnx")
			args := append([]string{"quantize", "--int8", "--model", model, "--out", out}, data...)
			m := run(append(args, c.args...)...)
			for _, k := range []string{"accuracy_before", "accuracy", "float_accuracy_ort", "bytes", "bytes_before",
				"ort_images_per_s_batch1", "ort_images_per_s_batch64", "ort_images_per_s_int8_batch1", "ort_images_per_s_int8_batch64"} {
				if _, ok := m[k].(float64); !ok {
					t.Errorf("summary lacks %s: %v", k, m)
				}
			}
			acc, fl, before := m["accuracy"].(float64), m["float_accuracy_ort"].(float64), m["accuracy_before"].(float64)
			t.Logf("accuracy: slimgo float %.2f%%, ORT float %.2f%%, ORT int8 %.2f%%", before, fl, acc)
			if math.Abs(acc-fl) > 1 {
				t.Errorf("int8 accuracy %.2f%% is more than 1 point from float32's %.2f%% (both in ONNX Runtime)", acc, fl)
			}
			if math.Abs(fl-before) > 0.51 {
				t.Errorf("float32 accuracy in ONNX Runtime %.2f%% differs from slimgo's %.2f%%", fl, before)
			}
			st, err := os.Stat(out)
			if err != nil || float64(st.Size()) != m["bytes"].(float64) {
				t.Errorf("bytes %v does not match %s (%v)", m["bytes"], out, err)
			}
			if b := m["bytes_before"].(float64); m["bytes"].(float64) > b/3 {
				t.Errorf("int8 model %v bytes, not under a third of %v", m["bytes"], b)
			}
			if _, err := os.Stat(filepath.Join(dir, c.name+".int8.slimpack")); err == nil {
				t.Error("--int8 wrote a packed file")
			}
		})
	}
	// compress with quantize.int8 (and nothing else) writes model.int8.onnx
	// and its figures.
	t.Run("compress quantize.int8", func(t *testing.T) {
		cfg := filepath.Join(dir, "int8.yaml")
		y := "sparse: {epochs: 0}\nchannel: {method: none}\nlayer: {blocks: 0}\nquantize: {enabled: false, int8: true}\n"
		if err := os.WriteFile(cfg, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "compress")
		m := run(append([]string{"compress", "--model", model, "--out", out, "--config", cfg}, data...)...)
		f8, _ := m["int8"].(map[string]any)
		acc, ok1 := f8["accuracy"].(float64)
		fl, ok2 := f8["float_accuracy_ort"].(float64)
		if !ok1 || !ok2 {
			t.Fatalf("summary int8 = %v, want accuracy and float_accuracy_ort", m["int8"])
		}
		if math.Abs(acc-fl) > 1 {
			t.Errorf("compress int8 accuracy %.2f%% is more than 1 point from float32's %.2f%%", acc, fl)
		}
		st, err := os.Stat(filepath.Join(out, "model.int8.onnx"))
		if err != nil || float64(st.Size()) != f8["bytes"].(float64) {
			t.Errorf("model.int8.onnx: %v, summary bytes %v", err, f8["bytes"])
		}
	})
	e, _, _ := testEnv()
	o, err := parseQuantize(e, []string{"--model", "m", "--out", "q.onnx"})
	if err != nil || o.Int8 != nil || o.Packed != "q.slimpack" {
		t.Fatalf("without --int8 quantize changed: %v %+v", err, o)
	}
}
