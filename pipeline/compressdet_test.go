package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/report"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// detFixture writes a small generated detection sample and a yolo-s
// trained on it for a few epochs; it returns the folder and the model.
func detFixture(t *testing.T) (dir, model string) {
	t.Helper()
	tmp := t.TempDir()
	dir = filepath.Join(tmp, "det")
	if _, err := data.GenerateDetSample(dir, data.DetSampleOptions{Seed: 1, Train: 160, Val: 48}); err != nil {
		t.Fatal(err)
	}
	tr, _, err := data.LoadYOLO(dir, data.YOLOOptions{C: 1, H: 64, W: 64})
	if err != nil {
		t.Fatal(err)
	}
	g, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, len(tr.Classes), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.FitDetector(g, tr, train.DetectOptions{Epochs: 4, LR: 5e-3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	stampDet(g, tr)
	model = filepath.Join(tmp, "det.onnx")
	if err := onnx.WriteFile(model, g, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir, model
}

// tinyDetConfig shortens every stage to a smoke test of it.
func tinyDetConfig() Config {
	c := DefaultConfig()
	c.Sparse.Epochs = 1
	c.Channel.Episodes, c.Channel.Warmup, c.Channel.EpisodeSteps, c.Channel.FinetuneEpochs = 3, 2, 1, 1
	c.Layer.Blocks, c.Layer.FinetuneEpochs = 1, 1
	return c
}

// TestCompressDetector: compress on a detector runs every stage (channel
// pruning by DDPG rewarded on mAP@0.5, layer pruning of a shortcut
// block, guarded clustering), reports the mAP keys in place of the
// accuracy keys with the size keys, records the validation split carved
// from train/, and both ONNX outputs run in ONNX Runtime with slimgo's raw
// head outputs.
func TestCompressDetector(t *testing.T) {
	dir, model := detFixture(t)
	out := filepath.Join(t.TempDir(), "c")
	e := &Env{Ctx: context.Background(), Log: io.Discard}
	sum, err := Compress(e, &CompressOptions{Model: model, Data: DataOptions{Spec: dir}, Out: out, Config: tinyDetConfig(), NoORT: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := SummaryMap(sum, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"map50_before", "map50", "map50_95_before", "map50_95", "params_before", "params", "macs_before", "macs", "bytes_before", "bytes", "compression"} {
		v, ok := m[k].(float64)
		if !ok || v < 0 || math.IsNaN(v) {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if _, ok := m["accuracy"]; ok {
		t.Errorf("a detector's summary has accuracy keys: %v", m["accuracy"])
	}
	if m["map50_before"].(float64) <= 0 || m["map50_95"].(float64) > m["map50"].(float64) {
		t.Errorf("map50_before %v, map50 %v, map50_95 %v", m["map50_before"], m["map50"], m["map50_95"])
	}
	if m["params"].(float64) >= m["params_before"].(float64) || m["compression"].(float64) < 4 {
		t.Errorf("params %v -> %v, compression %v", m["params_before"], m["params"], m["compression"])
	}
	var names []string
	for _, s := range sum.Stages {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "original,sparse,channel,layer,quantized" {
		t.Errorf("stages %v", names)
	}
	if len(sum.Episodes) != 3 || len(sum.Blocks) != 4 || len(sum.RemovedBlocks()) != 1 {
		t.Errorf("%d episodes, %d blocks scored, removed %v", len(sum.Episodes), len(sum.Blocks), sum.RemovedBlocks())
	}
	if sum.Guard["score"] != "mAP@0.5:0.95" || sum.Guard["val_size"] != 32 {
		t.Errorf("guard %v", sum.Guard)
	}
	if len(sum.Notes) == 0 || !strings.Contains(sum.Notes[0], "32 validation images held out from train/") {
		t.Errorf("notes %v", sum.Notes)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "mAP@0.5:0.95") {
		t.Errorf("report.md: %v", err)
	}
	checkDetPicture(t, out, string(md), sum)
	// slimgo's models: the pruned ONNX as read back, and the delivered
	// model as the .slimpack restores it (what model.shared.onnx encodes).
	pruned, err := onnx.ReadFile(sum.Files["pruned_onnx"])
	if err != nil {
		t.Fatal(err)
	}
	restored, _, err := cluster.ReadModelFile(sum.Files["packed"])
	if err != nil {
		t.Fatal(err)
	}
	// slimgo reads its own weight-shared ONNX file too (info, eval).
	if _, err := onnx.ReadFile(sum.Files["shared_onnx"]); err != nil {
		t.Errorf("reading %s back: %v", sum.Files["shared_onnx"], err)
	}
	checkDetORT(t, dir, map[string]*graph.Graph{sum.Files["pruned_onnx"]: pruned, sum.Files["shared_onnx"]: restored})
}

// checkDetORT runs each ONNX file in ONNX Runtime and its graph in slimgo
// on val/ images and compares every raw head output.
func checkDetORT(t *testing.T, dir string, models map[string]*graph.Graph) {
	t.Helper()
	if !ort.Available() {
		t.Skip("node is not installed: the ONNX Runtime comparison is not run")
	}
	for model, g := range models {
		_, va, err := data.LoadYOLO(dir, data.YOLOOptions{C: 1, H: 64, W: 64, Mean: []float32{0.2}, Std: []float32{0.2}})
		if err != nil {
			t.Fatal(err)
		}
		idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
		x, _ := va.Batch(idx, nil)
		want := runGraph(t, g, x)
		got, err := ort.RunAll(model, x)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range g.Outputs {
			a, b := want[v.Name], got[v.Name]
			if b == nil || a.Len() != b.Len() {
				t.Fatalf("%s: output %s: ONNX Runtime gives %v", model, v.Name, b)
			}
			scale := 0.0
			for _, f := range a.Data {
				scale = max(scale, math.Abs(float64(f)))
			}
			if d := tensor.MaxAbsDiff(a, tensor.From(b.Data, a.Shape...)); d > 1e-4*max(1, scale) {
				t.Errorf("%s: output %s differs by %g (largest |value| %g)", filepath.Base(model), v.Name, d, scale)
			}
		}
	}
}

// runGraph runs g in inference mode on x and returns every output.
func runGraph(t *testing.T, g *graph.Graph, x *tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	ex, err := engine.New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ex.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, false)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkDetPicture: compress drew detections.png (decodable, the size of 6
// 64 x 64 val/ images at 3x in two rows at least), listed it among the
// plots and embedded it in report.md with its caption and one table row
// per image, whose true-box counts are the label files'.
func checkDetPicture(t *testing.T, out, md string, sum *report.Summary) {
	t.Helper()
	f, err := os.Open(filepath.Join(out, report.PlotDetections))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < DetPictureImages*192 || b.Dy() < 2*192 {
		t.Errorf("%s is %v", report.PlotDetections, b)
	}
	if !slices.Contains(sum.Plots, report.PlotDetections) {
		t.Errorf("plots %v", sum.Plots)
	}
	for _, w := range []string{"](" + report.PlotDetections + ")", "Predictions of the input model (det.onnx, top row) and of the delivered model (model.slimpack, quantized stage, bottom row)",
		fmt.Sprintf("at least %g after per-class NMS at IoU %g", DetPictureNMS.ScoreThreshold, DetPictureNMS.IoUThreshold)} {
		if !strings.Contains(md, w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	rows := 0
	for _, line := range strings.Split(md, "\n") {
		var name string
		var truth int
		if n, _ := fmt.Sscanf(line, "| %s | %d |", &name, &truth); n != 2 || !strings.HasSuffix(name, ".png") {
			continue
		}
		rows++
		lab, err := os.ReadFile(filepath.Join(sum.Data, "labels", "val", strings.TrimSuffix(name, ".png")+".txt"))
		if err != nil || truth != strings.Count(string(lab), "\n") || truth == 0 {
			t.Errorf("%s: %d true boxes in the table, label file %q (%v)", name, truth, lab, err)
		}
	}
	if rows != DetPictureImages {
		t.Errorf("%d picture rows in report.md, want %d", rows, DetPictureImages)
	}
}

// TestDefaultConfigFor: a detector gets DefaultDetectorConfig (which
// validates), a classifier and an unreadable path DefaultConfig.
func TestDefaultConfigFor(t *testing.T) {
	tmp := t.TempDir()
	det, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	cls, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for name, g := range map[string]*graph.Graph{"det": det, "cls": cls} {
		paths[name] = filepath.Join(tmp, name+".onnx")
		if err := onnx.WriteFile(paths[name], g, onnx.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := DefaultDetectorConfig()
	if err := want.Validate(); err != nil {
		t.Fatalf("DefaultDetectorConfig does not validate: %v", err)
	}
	if got := DefaultConfigFor(paths["det"]); !reflect.DeepEqual(got, want) {
		t.Errorf("detector: %+v, want DefaultDetectorConfig", got)
	}
	for _, p := range []string{paths["cls"], filepath.Join(tmp, "missing.onnx")} {
		if got := DefaultConfigFor(p); !reflect.DeepEqual(got, DefaultConfig()) {
			t.Errorf("%s: %+v, want DefaultConfig", p, got)
		}
	}
	if reflect.DeepEqual(want, DefaultConfig()) {
		t.Error("DefaultDetectorConfig is DefaultConfig")
	}
}

// stopAtLine is a Log writer that cancels its context at the first line
// containing line written after a line containing after.
type stopAtLine struct {
	after, line string
	seen        bool
	cancel      context.CancelFunc
}

func (s *stopAtLine) Write(b []byte) (int, error) {
	l := string(b)
	if strings.Contains(l, s.after) {
		s.seen = true
	} else if s.seen && strings.Contains(l, s.line) {
		s.cancel()
	}
	return len(b), nil
}

// TestCompressDetectorResumesMidStage: compress on a detector stopped
// after the first epoch of the channel stage's fine-tuning keeps that
// epoch's checkpoint, and the rerun resumes from it (not from the stage's
// start), finishes and removes the checkpoint.
func TestCompressDetectorResumesMidStage(t *testing.T) {
	dir, model := detFixture(t)
	c := tinyDetConfig()
	c.Sparse.Epochs, c.Channel.Method, c.Channel.KeepParams, c.Channel.FinetuneEpochs = 0, "slim", 0.5, 3
	c.Layer.Blocks, c.Quantize.Enabled = 0, false
	o := &CompressOptions{Model: model, Data: DataOptions{Spec: dir}, Out: filepath.Join(t.TempDir(), "c"), Config: c, NoORT: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Compress(&Env{Ctx: ctx, Log: &stopAtLine{after: "stage 2: channel", line: "epoch 1/3", cancel: cancel}}, o)
	if err == nil || !strings.Contains(err.Error(), "interrupted in stage channel") {
		t.Fatalf("stopped run: %v, want an interruption in the channel stage", err)
	}
	ck := filepath.Join(o.Out, "stages", "channel.ckpt", train.CheckpointFile)
	if _, err := os.Stat(ck); err != nil {
		t.Fatalf("no checkpoint after the stop: %v", err)
	}
	var log strings.Builder
	sum, err := Compress(&Env{Ctx: context.Background(), Log: &log}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "after epoch 1") || strings.Contains(log.String(), "epoch 1/3") {
		t.Errorf("the rerun did not resume after epoch 1:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Dir(ck)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint left after the stage: %v", err)
	}
	if !slices.ContainsFunc(sum.Stages, func(st report.Stage) bool { return st.Name == "channel" && st.Accuracy >= 0 }) {
		t.Errorf("no channel stage with a score: %+v", sum.Stages)
	}
}

// detect.augment sets the detector fine-tunings' augmentation (jitter
// included) and is validated like train's --augment for a detector.
func TestCompressDetectorAugment(t *testing.T) {
	for _, s := range []string{"rotate", "crop", "flip,blur"} {
		c := DefaultDetectorConfig()
		c.Detect.Augment = s
		if err := c.Validate(); err == nil || !IsInput(err) {
			t.Errorf("detect.augment %q: %v, want a bad-input error", s, err)
		}
	}
	// A config file that sets another detect key keeps the default
	// augmentation (yaml decodes into the default's struct).
	c := DefaultDetectorConfig()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("detect: {lr: 0.001}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadConfig(path, &c); err != nil || c.Detect.LR != 0.001 || c.Detect.Augment != DefaultDetectAugment || c.Detect.Batch != DefaultDetectBatch {
		t.Fatalf("detect: {lr: 0.001} over the defaults: %+v, %v", c.Detect, err)
	}
	dir, model := detFixture(t)
	c = tinyDetConfig()
	c.Sparse.Epochs, c.Channel.Method, c.Channel.KeepParams, c.Channel.FinetuneEpochs = 0, "slim", 0.5, 1
	c.Layer.Blocks, c.Quantize.Enabled = 0, false
	for aug, want := range map[string]string{"": "flips and jitter,", "flip": "flips,", "flip,jitter": "flips and jitter,"} {
		c.Detect = &DetectConfig{Augment: aug}
		if err := c.Validate(); err != nil {
			t.Fatalf("detect.augment %q: %v", aug, err)
		}
		var log strings.Builder
		o := &CompressOptions{Model: model, Data: DataOptions{Spec: dir}, Out: filepath.Join(t.TempDir(), "c"), Config: c, NoORT: true}
		if _, err := Compress(&Env{Ctx: context.Background(), Log: &log}, o); err != nil {
			t.Fatalf("detect.augment %q: %v", aug, err)
		}
		if !strings.Contains(log.String(), "batch 32, "+want) {
			t.Errorf("detect.augment %q: the fine-tuning's log line lacks %q:\n%s", aug, want, log.String())
		}
	}
}
