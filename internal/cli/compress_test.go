package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/pipeline"
	"github.com/slimgo/slimgo/report"
	"github.com/slimgo/slimgo/train"
)

// TestCompressEndToEnd runs the whole pipeline on a slice of the bundled
// sample with small settings and checks what a user relies on: every output
// exists; ONNX Runtime runs both ONNX outputs and agrees with slimgo; and
// summary.json's figures match what the files themselves give.
func TestCompressEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end pipeline skipped with -short")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.onnx")
	var stderr string
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 0 {
			t.Fatalf("slimgo %v: exit %d\n%s", args, code, errb.String())
		}
		stderr = errb.String()
		return out.Bytes()
	}
	run("train", "--arch", "resnet8", "--data", "sample", "--train-limit", "1200", "--test-limit", "300",
		"--epochs", "2", "--out", base)
	out := filepath.Join(dir, "out")
	args := []string{"compress", "--model", base, "--data", "sample", "--train-limit", "1200", "--test-limit", "300",
		"--out", out, "--sparse-epochs", "1", "--episodes", "6", "--warmup", "2", "--val-size", "150",
		"--finetune-epochs", "1", "--layer-finetune-epochs", "1", "--quant-finetune-epochs", "1", "--blocks", "1", "--json"}
	if !ort.Available() {
		args = append(args, "--no-ort")
	}
	js := run(args...)
	// Both pruned models are distilled from the input model (the default),
	// whose logits are computed once.
	if n := strings.Count(stderr, "the input model's logits of 1200 training images"); n != 1 {
		t.Errorf("the teacher's logits were computed %d times, want once; stderr:\n%s", n, stderr)
	}
	if n := strings.Count(stderr, "distilling the teacher"); n != 2 {
		t.Errorf("%d distilled fine-tunings, want 2 (channel and layer stages)", n)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, js)
	}
	for _, k := range []string{"accuracy_before", "accuracy", "params_before", "params", "macs_before", "macs",
		"bytes_before", "bytes", "compression", "speedup", "stages", "report"} {
		if _, ok := got[k]; !ok {
			t.Errorf("summary lacks the contract key %q", k)
		}
	}
	for _, f := range []string{pipeline.FilePruned, pipeline.FileShared, pipeline.FilePacked, pipeline.FileSummary, report.ReportFile, report.PlotReward} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", f, err)
		}
	}

	sum, test, shared := checkSummaryFigures(t, out, base, got)

	checkPackedRestores(t, out, shared)

	checkGuard(t, out, got, stderr)

	checkEvalPacked(t, run, dir, out, base, sum.After().Accuracy)

	checkRerunWithoutPruned(t, dir, out, args)

	checkORTAgrees(t, out, test, sum.After().Accuracy)
}

// checkGuard: the quantize stage ran the accuracy guard (on by default):
// its figures are in the summary, the loss is within the tolerance or a
// warning says why not, every clustered layer has a guard level, and
// report.md states the loss.
func checkGuard(t *testing.T, out string, got map[string]any, stderr string) {
	t.Helper()
	g, _ := got["guard"].(map[string]any)
	if g == nil || g["max_loss"] != 0.5 {
		t.Fatalf("summary guard = %v, want the default guard at 0.5 points", got["guard"])
	}
	loss, _ := g["val_loss"].(float64)
	if _, warned := g["warning"]; (loss > 0.5) != warned || (loss <= 0.5) != (g["within"] == true) {
		t.Errorf("guard loss %.2f, within %v, warning %v: inconsistent", loss, g["within"], g["warning"])
	}
	if !strings.Contains(stderr, "guard: sensitivity") {
		t.Error("no guard progress on stderr")
	}
	lc, _ := got["layer_clusters"].([]any)
	for _, l := range lc {
		if _, ok := l.(map[string]any)["level"].(float64); !ok {
			t.Errorf("clustered layer without a guard level: %v", l)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, report.ReportFile))
	if err != nil || !strings.Contains(string(md), fmt.Sprintf("Accuracy guard: %.2f points lost", loss)) {
		t.Errorf("report.md lacks the guard's loss %.2f (%v)", loss, err)
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// fileSize returns a file's size in bytes (0 if it cannot be read).
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// checkSummaryFigures recomputes summary.json's figures from the files
// compress wrote; it returns the summary, the test split and the shared model.
func checkSummaryFigures(t *testing.T, out, base string, got map[string]any) (*report.Summary, *data.Dataset, *graph.Graph) {
	t.Helper()
	// The figures of summary.json, recomputed from the files.
	sum, err := report.ReadJSON(filepath.Join(out, pipeline.FileSummary))
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := data.Load("sample", data.LoadOptions{TrainLimit: 1200, TestLimit: 300})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := onnx.ReadFile(filepath.Join(out, pipeline.FileShared))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := train.Evaluate(shared, test, 100)
	if err != nil {
		t.Fatal(err)
	}
	after := sum.After()
	if math.Abs(100*ev.Accuracy-after.Accuracy) > 1e-9 {
		t.Errorf("summary accuracy %.4f, the shared model evaluates to %.4f", after.Accuracy, 100*ev.Accuracy)
	}
	st, _ := shared.ComputeStats()
	if int64(st.Params) != after.Params || st.MACs != after.MACs {
		t.Errorf("summary params/MACs %d/%d, shared model %d/%d", after.Params, after.MACs, st.Params, st.MACs)
	}
	if packed := fileSize(filepath.Join(out, pipeline.FilePacked)); packed != after.Bytes {
		t.Errorf("summary bytes %d, packed file %d", after.Bytes, packed)
	}
	if b := fileSize(base); b != sum.Before().Bytes {
		t.Errorf("summary bytes_before %d, input model %d", sum.Before().Bytes, b)
	}
	if c := got["compression"].(float64); math.Abs(c-float64(fileSize(base))/float64(after.Bytes)) > 1e-9 {
		t.Errorf("compression %g != bytes_before/bytes", c)
	}
	// The speed-ups come from the side-by-side check, which timed both
	// models (in ONNX Runtime too, when it is there).
	if c := sum.SpeedCheck; c == nil || c.Rounds != pipeline.SpeedRounds || c.Before.ImagesPerSec <= 0 || c.After.ImagesPerSec <= 0 {
		t.Errorf("speed check %+v: want %d rounds with both models timed", c, pipeline.SpeedRounds)
	} else {
		if sp := got["speedup"].(float64); math.Abs(sp-c.After.ImagesPerSec/c.Before.ImagesPerSec) > 1e-9 {
			t.Errorf("speedup %g is not the check's %g / %g", sp, c.After.ImagesPerSec, c.Before.ImagesPerSec)
		}
		if ort.Available() {
			sp, _ := got["speedup_ort_batch1"].(float64)
			if c.Before.ORTBatch1ImagesPerSec <= 0 || math.Abs(sp-c.After.ORTBatch1ImagesPerSec/c.Before.ORTBatch1ImagesPerSec) > 1e-9 {
				t.Errorf("speedup_ort_batch1 %g, check %+v", sp, c)
			}
			sp1, _ := got["speedup_ort_batch1_1thread"].(float64)
			if c.Before.ORTBatch1OneThread <= 0 || math.Abs(sp1-c.After.ORTBatch1OneThread/c.Before.ORTBatch1OneThread) > 1e-9 {
				t.Errorf("speedup_ort_batch1_1thread %g, check %+v", sp1, c)
			}
		}
	}

	return sum, test, shared
}

// checkPackedRestores: the packed file restores exactly the shared model's weights.
func checkPackedRestores(t *testing.T, out string, shared *graph.Graph) {
	t.Helper()
	pk, err := cluster.ReadPackedFile(filepath.Join(out, pipeline.FilePacked))
	if err != nil {
		t.Fatal(err)
	}
	restored := shared.Clone()
	for _, p := range restored.Params {
		p.Zero()
	}
	if err := pk.Apply(restored); err != nil {
		t.Fatal(err)
	}
	// and alone (graph included) it restores the same model.
	alone, _, err := cluster.ReadModelFile(filepath.Join(out, pipeline.FilePacked))
	if err != nil {
		t.Fatal(err)
	}
	if len(alone.Params) != len(shared.Params) || len(alone.Nodes) == 0 {
		t.Fatalf("the slimpack alone restores %d params, %d nodes; shared ONNX has %d params", len(alone.Params), len(alone.Nodes), len(shared.Params))
	}
	for k, p := range shared.Params {
		for i, v := range p.Data {
			if restored.Params[k].Data[i] != v || alone.Params[k].Data[i] != v {
				t.Fatalf("packed file restores %s[%d] = %g (alone %g), shared ONNX has %g", k, i, restored.Params[k].Data[i], alone.Params[k].Data[i], v)
			}
		}
	}

}

// checkEvalPacked: eval --packed scores what the summary says; damaged or
// mismatched packed files are bad input.
func checkEvalPacked(t *testing.T, run func(...string) []byte, dir, out, base string, want float64) {
	t.Helper()
	// `eval --packed` restores the stored weights onto model.pruned.onnx's
	// structure and scores what the summary says; a damaged or mismatched
	// packed file is bad input.
	evalJS := run("eval", "--model", filepath.Join(out, pipeline.FilePruned), "--packed", filepath.Join(out, pipeline.FilePacked),
		"--data", "sample", "--train-limit", "1200", "--test-limit", "300", "--json")
	var ev2 map[string]any
	if err := json.Unmarshal(evalJS, &ev2); err != nil {
		t.Fatal(err)
	}
	if a := ev2["accuracy"].(float64); math.Abs(a-want) > 1e-9 {
		t.Errorf("eval --packed: %.4f%%, summary %.4f%%", a, want)
	}
	packedBytes, _ := os.ReadFile(filepath.Join(out, pipeline.FilePacked))
	bad := filepath.Join(dir, "bad.slimpack")
	os.WriteFile(bad, packedBytes[:len(packedBytes)/2], 0o644)
	for _, model := range []string{filepath.Join(out, pipeline.FilePruned), base} {
		pk := bad
		if model == base {
			pk = filepath.Join(out, pipeline.FilePacked) // intact, but for another structure
		}
		var o2, e2 bytes.Buffer
		if code := Main([]string{"eval", "--model", model, "--packed", pk, "--data", "sample", "--test-limit", "10"}, &o2, &e2); code != ExitInput {
			t.Errorf("eval --model %s --packed %s: exit %d, want 2 (%s)", filepath.Base(model), filepath.Base(pk), code, e2.String())
		}
	}

}

// checkRerunWithoutPruned: rerunning the finished directory only retimes;
// with model.pruned.onnx gone it warns and leaves the speed check out.
func checkRerunWithoutPruned(t *testing.T, dir, out string, args []string) {
	t.Helper()
	// Rerunning the finished directory only retimes the two models; when
	// one is gone it warns, leaves the check out and still succeeds.
	moved := filepath.Join(dir, "moved.onnx")
	if err := os.Rename(filepath.Join(out, pipeline.FilePruned), moved); err != nil {
		t.Fatal(err)
	}
	var o3, e3 bytes.Buffer
	if code := Main(append(slices.Clone(args), "--no-ort"), &o3, &e3); code != 0 || !strings.Contains(e3.String(), "no side-by-side speed check") {
		t.Errorf("rerun without model.pruned.onnx: exit %d, stderr:\n%s", code, e3.String())
	}
	if s2, err := report.ReadJSON(filepath.Join(out, pipeline.FileSummary)); err != nil {
		t.Error(err)
	} else if s2.SpeedCheck != nil {
		t.Errorf("rerun without model.pruned.onnx: the summary keeps a speed check %+v", s2.SpeedCheck)
	}
	if err := os.Rename(moved, filepath.Join(out, pipeline.FilePruned)); err != nil {
		t.Fatal(err)
	}

}

// checkORTAgrees: ONNX Runtime runs both ONNX outputs and agrees with slimgo.
func checkORTAgrees(t *testing.T, out string, test *data.Dataset, wantAcc float64) {
	t.Helper()
	// ONNX Runtime runs both ONNX outputs and agrees with slimgo.
	if !ort.Available() {
		t.Log("node is not installed: ONNX Runtime agreement not checked")
		return
	}
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	x, labels := test.Batch(idx, nil, nil, nil)
	for _, f := range []string{pipeline.FilePruned, pipeline.FileShared} {
		path := filepath.Join(out, f)
		g, err := onnx.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := train.Predict(g, x, 100)
		if err != nil {
			t.Fatal(err)
		}
		y, err := ort.RunTensor(path, x)
		if err != nil {
			t.Fatalf("ONNX Runtime on %s: %v", f, err)
		}
		scale, maxDiff := 0.0, 0.0
		for i, v := range want.Data {
			scale = math.Max(scale, math.Abs(float64(v)))
			maxDiff = math.Max(maxDiff, math.Abs(float64(v-y.Data[i])))
		}
		if maxDiff > 1e-4*scale {
			t.Errorf("%s: ONNX Runtime differs from slimgo by %g (output scale %g)", f, maxDiff, scale)
		}
		accORT, accGo := 0, 0
		k := want.Shape[1]
		for i, l := range labels {
			if argmax(y.Data[i*k:(i+1)*k]) == int(l) {
				accORT++
			}
			if argmax(want.Data[i*k:(i+1)*k]) == int(l) {
				accGo++
			}
		}
		if accORT != accGo {
			t.Errorf("%s: ONNX Runtime classifies %d/%d right, slimgo %d", f, accORT, len(labels), accGo)
		}
		if f == pipeline.FileShared && math.Abs(100*float64(accORT)/float64(len(labels))-wantAcc) > 0.05 {
			t.Errorf("ONNX Runtime accuracy %.2f%% vs summary %.2f%%", 100*float64(accORT)/float64(len(labels)), wantAcc)
		}
	}
}
