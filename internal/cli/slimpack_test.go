package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// TestSlimpackModel: quantize writes a self-contained .slimpack whose size
// is the reported one; the file alone restores the weight-shared model
// (same outputs in slimgo's engine), eval scores it as quantize said,
// convert turns it into ONNX that ONNX Runtime runs with the same outputs,
// and damaged or weight-only files are bad input (exit 2).
func TestSlimpackModel(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) map[string]any {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 0 {
			t.Fatalf("slimgo %v: exit %d\n%s", args, code, errb.String())
		}
		var m map[string]any
		if len(args) > 0 && strings.Contains(strings.Join(args, " "), "--json") {
			if err := json.Unmarshal(out.Bytes(), &m); err != nil {
				t.Fatalf("slimgo %v: stdout is not JSON: %v", args, err)
			}
		}
		return m
	}
	base := filepath.Join(dir, "base.onnx")
	lim := []string{"--data", "sample", "--train-limit", "300", "--test-limit", "200"}
	run(append([]string{"train", "--arch", "resnet8", "--epochs", "1", "--out", base}, lim...)...)
	q := filepath.Join(dir, "q.onnx")
	pk := filepath.Join(dir, "q.slimpack")
	sum := run(append([]string{"quantize", "--model", base, "--out", q, "--json"}, lim...)...)
	if got := int64(sum["bytes"].(float64)); got != fileSize(pk) {
		t.Errorf("bytes %d, %s has %d", got, pk, fileSize(pk))
	}
	if c := sum["compression"].(float64); math.Abs(c-float64(fileSize(base))/float64(fileSize(pk))) > 1e-9 {
		t.Errorf("compression %g is not input bytes / slimpack bytes", c)
	}
	wo := sum["weights_only_bytes"].(float64)
	if wo <= 0 || wo >= float64(fileSize(pk))+4096 || math.Abs(sum["weights_only_compression"].(float64)-float64(fileSize(base))/wo) > 1e-9 {
		t.Errorf("weights_only_bytes %g, weights_only_compression %v (slimpack %d bytes)", wo, sum["weights_only_compression"], fileSize(pk))
	}

	// The file alone restores the weight-shared model.
	restored, _, err := cluster.ReadModelFile(pk)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := onnx.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	shape := append([]int{16}, restored.Inputs[0].Shape[1:]...)
	x := tensor.New(shape...)
	x.FillNormal(tensor.NewRNG(3), 0, 1)
	want, err := train.Predict(shared, x, 16)
	if err != nil {
		t.Fatal(err)
	}
	got, err := train.Predict(restored, x, 16)
	if err != nil {
		t.Fatal(err)
	}
	if d, s := maxDiff(want, got); d > 1e-5*s {
		t.Errorf("model restored from the slimpack differs from the shared ONNX by %g (scale %g)", d, s)
	}
	if restored.Meta["slimgo.mean"] == "" || restored.Meta["slimgo.stage"] != "quantized" {
		t.Errorf("metadata not restored: %v", restored.Meta)
	}

	// eval reads it as --model, alone, and scores what quantize reported.
	ev := run(append([]string{"eval", "--model", pk, "--json"}, lim...)...)
	if a, b := ev["accuracy"].(float64), sum["accuracy"].(float64); math.Abs(a-b) > 1e-9 {
		t.Errorf("eval --model %s: %.4f%%, quantize reported %.4f%%", filepath.Base(pk), a, b)
	}
	// The magic decides, not the extension.
	disguised := filepath.Join(dir, "disguised.onnx")
	pb, _ := os.ReadFile(pk)
	os.WriteFile(disguised, pb, 0o644)
	run("info", "--model", disguised, "--json")

	// convert gives back ONNX that ONNX Runtime runs with the same outputs.
	back := filepath.Join(dir, "back.onnx")
	run("convert", "--model", pk, "--out", back, "--json")
	if ort.Available() {
		y, err := ort.RunTensor(back, x)
		if err != nil {
			t.Fatal(err)
		}
		if d, s := maxDiff(want, y); d > 1e-4*s {
			t.Errorf("ONNX Runtime on the converted slimpack differs by %g (scale %g)", d, s)
		}
	} else {
		t.Log("node is not installed: ONNX Runtime on the converted slimpack not checked")
	}

	checkBadSlimpacks(t, dir, pb, restored)
}

// checkBadSlimpacks: truncated, corrupt and weight-only files exit 2 with
// one line naming the file and what is wrong.
func checkBadSlimpacks(t *testing.T, dir string, good []byte, g *graph.Graph) {
	t.Helper()
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	var v2 bytes.Buffer
	if _, err := cluster.WritePacked(&v2, g, nil, cluster.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	v9 := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(v9[8:], 9)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated", good[:len(good)-7], "truncated"},
		{"header", good[:12], "truncated"},
		{"flipped", flip, "checksum mismatch"},
		{"weights-only", v2.Bytes(), "--packed"},
		{"version", v9, "version 9"},
	} {
		path := filepath.Join(dir, tc.name+".slimpack")
		os.WriteFile(path, tc.b, 0o644)
		for _, cmd := range [][]string{{"info", "--model", path}, {"eval", "--model", path, "--data", "sample", "--test-limit", "10"}} {
			var o, e bytes.Buffer
			code := Main(cmd, &o, &e)
			msg := e.String()
			if code != ExitInput || !strings.HasPrefix(msg, "slimgo: ") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, path) ||
				strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Errorf("%s %s: exit %d, stderr %q; want 2 and one line naming the file and %q", cmd[0], tc.name, code, msg, tc.want)
			}
		}
	}
}

// maxDiff returns max |a-b| and max |a|.
func maxDiff(a, b *tensor.Tensor) (d, scale float64) {
	for i, v := range a.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
		d = math.Max(d, math.Abs(float64(v-b.Data[i])))
	}
	return d, scale
}
