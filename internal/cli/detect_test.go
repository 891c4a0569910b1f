package cli

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/pipeline"
)

// detSet writes a generated detection sample (seed 1, 64 x 64) of the
// given sizes into a temporary directory.
func detSet(t *testing.T, trainN, valN int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "det")
	if _, err := data.GenerateDetSample(dir, data.DetSampleOptions{Seed: 1, Train: trainN, Val: valN}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// num reads a JSON number key, failing the test when it is missing.
func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("key %q missing or not a number in %v", key, m)
	}
	return v
}

// TestDetectTrainEvalInfo: train --arch yolo-s on a small generated
// YOLO-format set reports mAP keys in percent, writes a detector whose
// eval on the same val/ gives exactly the figures train reported (the
// preprocessing travels in the metadata), with per-class AP; info
// describes it as a detector.
func TestDetectTrainEvalInfo(t *testing.T) {
	dir := detSet(t, 256, 64)
	model := filepath.Join(t.TempDir(), "det.onnx")
	tr, log := slimgo(t, "train", "--arch", "yolo-s", "--data", dir, "--epochs", "6", "--lr", "5e-3", "--mean", "0", "--std", "1", "--out", model)
	if !strings.Contains(log, "epoch 6/6") || !strings.Contains(log, "AdamW at peak 0.005,") || !strings.Contains(log, "augmentation flip,jitter)") {
		t.Errorf("no progress, not the given rate or not the default augmentation on stderr:\n%s", log)
	}
	if tr["augment"] != pipeline.DefaultDetectAugment {
		t.Errorf("train without --augment: augment %v, want the detector default %q", tr["augment"], pipeline.DefaultDetectAugment)
	}
	m50, m5095 := num(t, tr, "map50"), num(t, tr, "map50_95")
	// 6 epochs on 256 images: far from trained, but above chance.
	if !(m50 > 0 && m50 <= 100 && m5095 >= 0 && m5095 <= m50) {
		t.Errorf("train: map50 %g, map50_95 %g", m50, m5095)
	}
	if num(t, tr, "epochs") != 6 || num(t, tr, "params") != 577390 || num(t, tr, "macs") <= 0 || tr["out"] != model || tr["task"] != "detect" {
		t.Errorf("train summary %v", tr)
	}
	ev, _ := slimgo(t, "eval", "--model", model, "--data", dir)
	if e50, e5095 := num(t, ev, "map50"), num(t, ev, "map50_95"); e50 != m50 || e5095 != m5095 {
		t.Errorf("eval map50 %g map50_95 %g, train reported %g %g", e50, e5095, m50, m5095)
	}
	if num(t, ev, "images") != 64 || num(t, ev, "images_per_s") <= 0 {
		t.Errorf("eval summary %v", ev)
	}
	pc, ok := ev["per_class"].([]any)
	if !ok || len(pc) != 10 {
		t.Fatalf("per_class %v", ev["per_class"])
	}
	sum := 0.0
	for _, c := range pc {
		c := c.(map[string]any)
		ap := num(t, c, "ap50")
		if ap < 0 || ap > 100 || c["name"] == "" || num(t, c, "boxes") < 1 {
			t.Errorf("per_class entry %v", c)
		}
		sum += ap
	}
	if d := math.Abs(sum/10 - m50); d > 1e-9 {
		t.Errorf("mean of per-class AP@0.5 %g, map50 %g", sum/10, m50)
	}
	// Class-agnostic: every box counted whatever its class, so at least
	// the per-class mAP on this set (its objects overlap too little for
	// agnostic NMS to drop a hit).
	ag, ok := ev["agnostic"].(map[string]any)
	if !ok {
		t.Fatalf("eval: no agnostic object in %v", ev)
	}
	if a50, a5095 := num(t, ag, "map50"), num(t, ag, "map50_95"); !(a50 >= m50 && a50 <= 100 && a5095 >= 0 && a5095 <= a50) {
		t.Errorf("agnostic map50 %g map50_95 %g, per-class map50 %g", a50, a5095, m50)
	}
	// Without its normalisation in the metadata (as a PyTorch export
	// comes), the usual normalisations are scored on training images and
	// the val/ images are renormalised to the chosen one exactly as if
	// they had been loaded with it as flags.
	g, err := onnx.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	delete(g.Meta, data.MetaMean)
	delete(g.Meta, data.MetaStd)
	bare := filepath.Join(t.TempDir(), "bare.onnx")
	if err := onnx.WriteFile(bare, g, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	bv, blog := slimgo(t, "eval", "--model", bare, "--data", dir)
	for _, want := range []string{"scoring 3 usual normalisations on 128 training images", "on 128 training images the model scores", "mAP@0.5 with the data set's statistics", "with pixels in [0,1]", "with pixels in [-1,1]", "normalising with"} {
		if !strings.Contains(blog, want) {
			t.Errorf("bare detector: %q not on stderr:\n%s", want, blog)
		}
	}
	pre := bv["preprocessing"].(map[string]any)
	mean, std := fmt.Sprint(pre["mean"]), fmt.Sprint(pre["std"])
	fv, _ := slimgo(t, "eval", "--model", bare, "--data", dir, "--mean", strings.Trim(mean, "[]"), "--std", strings.Trim(std, "[]"))
	// (Renormalised pixels differ from directly normalised ones in the
	// last bits, which may move a box at a threshold.)
	if math.Abs(num(t, fv, "map50")-num(t, bv, "map50")) > 0.5 || math.Abs(num(t, fv, "map50_95")-num(t, bv, "map50_95")) > 0.5 {
		t.Errorf("chosen normalisation mean %s std %s: map50 %g, the same as flags %g", mean, std, num(t, bv, "map50"), num(t, fv, "map50"))
	}
	// Fine-tuning a detector (--model) keeps its size and classes.
	model2 := filepath.Join(t.TempDir(), "det2.onnx")
	ft, ftlog := slimgo(t, "train", "--model", model, "--data", dir, "--epochs", "1", "--train-limit", "32", "--augment", "none", "--out", model2)
	if !strings.Contains(ftlog, "AdamW at peak 0.002,") { // pipeline.FineTuneDetectLR, not a new model's 8e-3
		t.Errorf("fine-tuning without --lr does not use 2e-3:\n%s", ftlog)
	}
	if m := num(t, ft, "map50"); m < 0 || m > 100 || num(t, ft, "params") != 577390 || ft["augment"] != "none" {
		t.Errorf("fine-tune summary %v", ft)
	}
	info, _ := slimgo(t, "info", "--model", model)
	if info["task"] != "detect" || fmt.Sprint(info["strides"]) != "[8 16]" || num(t, info, "classes") != 10 || info["head"] != "yolox" {
		t.Errorf("info %v", info)
	}
	if outs := fmt.Sprint(info["outputs"]); !strings.Contains(outs, "p3") || !strings.Contains(outs, "p4") || !strings.Contains(outs, "[-1 15 8 8]") {
		t.Errorf("info outputs %s", outs)
	}
}

// TestDetectBadInput: a classifier on detection data, a detector on
// classification data, a set without its training labels, a bad label
// line, and compress/prune/quantize on a detector are one-line exit-2
// errors.
func TestDetectBadInput(t *testing.T) {
	dir := detSet(t, 8, 4)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "m.onnx")
	det, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	detModel := filepath.Join(tmp, "det.onnx")
	if err := onnx.WriteFile(detModel, det, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cls, err := nn.Build("resnet8", []int{1, 64, 64}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	clsModel := filepath.Join(tmp, "cls.onnx")
	if err := onnx.WriteFile(clsModel, cls, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	nolabels := filepath.Join(tmp, "nolabels")
	if err := os.CopyFS(nolabels, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(nolabels, "labels", "train")); err != nil {
		t.Fatal(err)
	}
	badlabel := filepath.Join(tmp, "badlabel")
	if err := os.CopyFS(badlabel, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badlabel, "labels", "train", "00001.txt"), []byte("3 0.5 0.5 0.2 0.2\n12 0.5 0.5 0.1 0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, "data"), 0o755); err != nil { // the demo must not delete it
		t.Fatal(err)
	}
	badCkpt := filepath.Join(tmp, "bad.ckpt")
	if err := os.MkdirAll(badCkpt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badCkpt, "train.ckpt"), []byte("SLIMGOCK not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train", "--arch", "resnet8", "--data", dir, "--out", out}, "--arch resnet8 is a classifier but"},
		{[]string{"train", "--arch", "yolo-s", "--data", "sample", "--out", out}, "is not a YOLO-format detection folder"},
		{[]string{"train", "--model", clsModel, "--data", dir, "--out", out}, "is a classifier but"},
		{[]string{"train", "--arch", "yolo-s", "--data", nolabels, "--out", out}, "no label folder"},
		{[]string{"train", "--arch", "yolo-s", "--data", badlabel, "--out", out}, "00001.txt:2: class 12 outside 0..9"},
		{[]string{"train", "--arch", "yolo-s", "--data", dir, "--resume", "--checkpoint-dir", badCkpt, "--out", out}, "corrupt checkpoint"},
		{[]string{"train", "--arch", "yolo-s", "--data", dir, "--imgsz", "50", "--out", out}, "--imgsz"},
		{[]string{"train", "--arch", "yolo-s", "--data", dir, "--augment", "flip,crop", "--out", out}, "detection training takes flip and jitter"},
		{[]string{"train", "--arch", "resnet8", "--data", "sample", "--augment", "jitter", "--epochs", "1", "--train-limit", "64", "--out", out}, "jitter is for detectors only"},
		{[]string{"eval", "--model", clsModel, "--data", dir}, "is a classifier but"},
		{[]string{"eval", "--model", detModel, "--data", "sample"}, "is a detector but"},
		{[]string{"compress", "--model", detModel, "--data", "sample", "--out", filepath.Join(tmp, "c")}, "is a detector but"},
		{[]string{"compress", "--model", clsModel, "--data", dir, "--out", filepath.Join(tmp, "c")}, "is a classifier but"},
		{[]string{"prune", "--model", detModel, "--data", dir, "--method", "slim", "--ratio", "0.5", "--out", out}, "prune with --data does not handle detectors yet"},
		{[]string{"quantize", "--model", detModel, "--data", dir, "--out", out}, "quantize with --data does not handle detectors yet"},
		{[]string{"quantize", "--model", detModel, "--int8", "--data", dir, "--out", out}, "not supported by quantize --int8 yet"},
		{[]string{"demo", "--task", "detect", "--out", tmp}, "is not a detection sample slimgo wrote"},
		{[]string{"demo", "--task", "segment"}, "--task must be classify or detect"},
	} {
		msg := slimgoFails(t, tc.args...)
		if !strings.Contains(msg, tc.msg) || strings.Count(strings.TrimSpace(msg), "\n") > 1 || strings.Contains(msg, "goroutine") {
			t.Errorf("slimgo %v: stderr %q, want ...%s...", tc.args, msg, tc.msg)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed command wrote %s", out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "data")); err != nil {
		t.Errorf("demo removed a folder it did not write: %v", err)
	}
}

// TestDemoDetect: demo --task detect --quick generates the sample, trains
// yolo-s, writes the model, its figures (under "trained") and the picture
// of its boxes, compresses it into OUT/compress and prints compress's
// keys (map50_before the trained model's); eval of the written model on
// the written data gives the same mAP; ONNX Runtime (when node is there)
// gives the same mAP and boxes.
func TestDemoDetect(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	sum, log := slimgo(t, "demo", "--task", "detect", "--quick", "--epochs", "6", "--out", out)
	trained, ok := sum["trained"].(map[string]any)
	if !ok {
		t.Fatalf("no trained model's figures: %v", sum)
	}
	for _, k := range []string{"map50", "map50_95", "params", "macs", "bytes", "images_per_s"} {
		if num(t, trained, k) < 0 {
			t.Errorf("trained %s = %v", k, trained[k])
		}
	}
	if m := num(t, trained, "map50"); m > 100 || num(t, trained, "map50_95") > m || num(t, trained, "params") != 577390 {
		t.Errorf("trained %v", trained)
	}
	// compress's keys, on the trained model.
	for _, k := range []string{"map50_before", "map50", "map50_95_before", "map50_95", "bytes_before", "bytes", "compression", "params"} {
		if num(t, sum, k) < 0 {
			t.Errorf("%s = %v", k, sum[k])
		}
	}
	if sum["map50_before"] != trained["map50"] || sum["bytes_before"] != trained["bytes"] || !(num(t, sum, "bytes") < num(t, sum, "bytes_before")) ||
		!(num(t, sum, "params") < num(t, sum, "params_before")) || sum["task"] != "detect" {
		t.Errorf("compress keys %v, trained %v", sum, trained)
	}
	if _, err := os.Stat(filepath.Join(out, "compress", "model.slimpack")); err != nil {
		t.Error(err)
	}
	// The shortened compress says so, beside the defaults and the command
	// that runs them.
	if !strings.Contains(log, "shortened to fit the demo's minutes: 3 DDPG episodes and 1/1/1 fine-tuning epochs") ||
		!strings.Contains(log, "compress's defaults run 60 and 20/80/50") || !strings.Contains(log, "slimgo compress --model "+filepath.Join(out, "yolo-s.onnx")) {
		t.Errorf("no line naming the demo's shortened compress:\n%s", log)
	}
	model := filepath.Join(out, "yolo-s.onnx")
	if st, err := os.Stat(model); err != nil || float64(st.Size()) != num(t, trained, "bytes") {
		t.Errorf("model %s: %v (bytes %v)", model, err, trained["bytes"])
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := json.Unmarshal(b, &file); err != nil || file["map50"] != sum["map50"] || file["bytes"] != sum["bytes"] {
		t.Errorf("summary.json %v (%v) differs from the printed summary", file, err)
	}
	// The trained model's boxes on 6 val/ images, one row, 3x.
	pic := filepath.Join(out, "detections.png")
	if sum["picture"] != pic {
		t.Errorf("picture %v, want %s", sum["picture"], pic)
	}
	if f, err := os.Open(pic); err != nil {
		t.Error(err)
	} else {
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", pic, err)
		} else if b := img.Bounds(); b.Dx() < 6*192 || b.Dy() < 192 {
			t.Errorf("%s is %v", pic, b)
		}
	}
	ev, _ := slimgo(t, "eval", "--model", model, "--data", filepath.Join(out, "data"))
	if ev["map50"] != trained["map50"] || ev["map50_95"] != trained["map50_95"] {
		t.Errorf("eval %v / %v, demo %v / %v", ev["map50"], ev["map50_95"], trained["map50"], trained["map50_95"])
	}
	if !ort.Available() {
		t.Skip("node is not installed: the ONNX Runtime check is not run")
	}
	if sum["ort_checked"] != true || sum["ort_agrees"] != true || sum["ort_boxes"] != sum["ort_boxes_matched"] {
		t.Errorf("ONNX Runtime check: %v\n%s", sum, log)
	}
	if d := math.Abs(num(t, sum, "ort_map50") - num(t, trained, "map50")); d > 0.05 {
		t.Errorf("ort_map50 %v, trained map50 %v", sum["ort_map50"], trained["map50"])
	}
	t.Logf("quick demo: trained map50 %.2f, compressed %.2f, %v boxes compared with ONNX Runtime, corners within %v px", num(t, trained, "map50"), num(t, sum, "map50"), sum["ort_boxes"], sum["ort_box_max_diff"])
}

// TestDetectNoValBoxes: a val/ split without labels (all background
// images) has no mAP; train and eval report -1 instead of failing on NaN.
func TestDetectNoValBoxes(t *testing.T) {
	dir := detSet(t, 16, 4)
	if err := os.RemoveAll(filepath.Join(dir, "labels", "val")); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "m.onnx")
	tr, _ := slimgo(t, "train", "--arch", "yolo-s", "--data", dir, "--epochs", "1", "--out", model)
	ev, _ := slimgo(t, "eval", "--model", model, "--data", dir)
	if tr["map50"] != -1.0 || tr["map50_95"] != -1.0 || ev["map50"] != -1.0 || ev["boxes"] != 0.0 {
		t.Errorf("train %v, eval %v: want map50 -1 with no val boxes", tr, ev)
	}
}

// TestDetectPruneQuantizeNoData: without --data, prune (by BN factors) and
// quantize (weight clustering) handle a detector structurally: the
// outputs keep the heads' names and shapes and are smaller.
func TestDetectPruneQuantizeNoData(t *testing.T) {
	tmp := t.TempDir()
	det, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(tmp, "det.onnx")
	if err := onnx.WriteFile(model, det, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	slim, layer, q := filepath.Join(tmp, "slim.onnx"), filepath.Join(tmp, "layer.onnx"), filepath.Join(tmp, "q.onnx")
	ps, _ := slimgo(t, "prune", "--model", model, "--method", "slim", "--ratio", "0.5", "--no-ort", "--out", slim)
	if num(t, ps, "params") >= num(t, ps, "params_before") {
		t.Errorf("prune slim: %v", ps)
	}
	pl, _ := slimgo(t, "prune", "--model", model, "--method", "layer", "--blocks", "2", "--no-ort", "--out", layer)
	if rb, _ := pl["removed_blocks"].([]any); len(rb) != 2 {
		t.Errorf("prune layer: %v", pl)
	}
	qs, _ := slimgo(t, "quantize", "--model", slim, "--out", q)
	if num(t, qs, "compression") < 4 {
		t.Errorf("quantize: %v", qs)
	}
	packed, _ := qs["packed"].(string)
	for _, m := range []string{slim, layer, packed} {
		info, _ := slimgo(t, "info", "--model", m)
		if got := fmt.Sprint(info["outputs"]); got != "[map[name:p3 shape:[-1 15 8 8]] map[name:p4 shape:[-1 15 4 4]]]" || info["task"] != "detect" {
			t.Errorf("%s: outputs %s, task %v", filepath.Base(m), got, info["task"])
		}
	}
}
