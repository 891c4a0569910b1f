package pipeline

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/train"
)

// The detection path (docs/detection.md): the task is told from the data
// (a YOLO-format folder, data.IsYOLODir) or from the model (metadata
// slimgo.task=detect, as nn.BuildDetector writes it).

// TaskDetect is the value of a detector's slimgo.task metadata.
const TaskDetect = "detect"

// maxAutoSize caps the input side train picks from the images (the side
// of ultralytics' default imgsz).
const maxAutoSize = 640

// IsDetector reports whether g is a detector (metadata slimgo.task=detect).
func IsDetector(g *graph.Graph) bool { return g.Meta[nn.MetaTask] == TaskDetect }

// IsDetectionData reports whether a --data value names a YOLO-format
// detection folder.
func IsDetectionData(spec string) bool { return data.IsYOLODir(spec) }

// notForDetection is the error of a command that does not handle
// detection models or data yet (exit 2); g may be nil.
func notForDetection(cmd string, g *graph.Graph, spec string) error {
	if (g != nil && IsDetector(g)) || (spec != "" && IsDetectionData(spec)) {
		return BadInput("detection models are not supported by %s yet (train and eval handle them; docs/detection.md)", cmd)
	}
	return nil
}

// detectorWithoutData is the check of prune and quantize, which handle a
// detector structurally (channel or block pruning by BN factors, weight
// clustering) but do not score or fine-tune one yet: a detector, or
// detection data, with --data is bad input (exit 2) pointing to compress.
func detectorWithoutData(cmd string, g *graph.Graph, spec string) error {
	if spec != "" && (IsDetector(g) || IsDetectionData(spec)) {
		return BadInput("%s with --data does not handle detectors yet: run it without --data (structural, no fine-tuning) or use compress, which scores and fine-tunes detectors (docs/detection.md)", cmd)
	}
	return nil
}

// detClasses returns a detector's class count from its first output
// [N, 5+K, H, W]. Errors: an output of another shape.
func detClasses(g *graph.Graph) (int, error) {
	if len(g.Outputs) == 0 || len(g.Outputs[0].Shape) != 4 || g.Outputs[0].Shape[1] < 6 {
		return 0, BadInput("detector %q: first output is not [N, 5+classes, H, W]", g.Name)
	}
	return g.Outputs[0].Shape[1] - 5, nil
}

// autoSize picks a new detector's input side from the first training
// image: its longer side rounded up to a multiple of 16, at most 640.
func autoSize(dir string) (int, error) {
	w, h, err := data.YOLOImageSize(dir)
	if err != nil {
		return 0, AsInput(err)
	}
	s := (max(w, h) + 15) / 16 * 16
	return min(s, maxAutoSize), nil
}

// loadDet reads a YOLO-format set for detector g (nil when one is to be
// built; then size is the input side, 0: autoSize, and the channels
// follow the images). The preprocessing is resolved as load's; the
// set's class count must be the model's.
func (d *DataOptions) loadDet(e *Env, g *graph.Graph, size int) (tr, va *data.DetDataset, err error) {
	if !IsDetectionData(d.Spec) {
		return nil, nil, BadInput("--data %q is not a YOLO-format detection folder (DIR/data.yaml or DIR/classes.txt, DIR/images/train, DIR/labels/train)", d.Spec)
	}
	opt := data.YOLOOptions{TrainLimit: d.TrainLimit, ValLimit: d.TestLimit}
	c := 0
	if g != nil {
		chw, err := inputCHW(g)
		if err != nil {
			return nil, nil, err
		}
		c, opt.C, opt.H, opt.W = chw[0], chw[0], chw[1], chw[2]
	} else {
		if size == 0 {
			if size, err = autoSize(d.Spec); err != nil {
				return nil, nil, err
			}
		}
		opt.H, opt.W = size, size
	}
	prep, ok, err := d.Prep.resolve(e, g, c)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		opt.Mean, opt.Std = prep.Mean, prep.Std
		if d.TestOnly {
			opt.TrainLimit = 1 // the statistics are known: only val/ is needed
		}
	}
	tr, va, err = data.LoadYOLO(d.Spec, opt)
	if err != nil {
		return nil, nil, AsInput(err)
	}
	if g != nil {
		k, err := detClasses(g)
		if err != nil {
			return nil, nil, err
		}
		if k != len(tr.Classes) {
			return nil, nil, BadInput("detector %q has %d classes, the data set %s %d", g.Name, k, d.Spec, len(tr.Classes))
		}
	}
	fmt.Fprintf(e.Log, "data: %s (detection, %d train, %d val images, %d classes, letterboxed to %dx%dx%d)\n",
		tr.Name, tr.Len(), va.Len(), len(tr.Classes), tr.C, tr.H, tr.W)
	if g != nil && !ok {
		if err := guessDetNorm(e, g, tr, va); err != nil {
			return nil, nil, err
		}
	}
	return tr, va, nil
}

// detPrep is the preprocessing of a detection set (the letterbox itself
// is implied by the task).
func detPrep(s *data.DetDataset) data.Preprocess {
	order := data.OrderRGB
	if s.C == 1 {
		order = data.OrderGray
	}
	return data.Preprocess{Mean: s.Mean, Std: s.Std, H: s.H, W: s.W, Order: order}
}

// detPrepSummary is detPrep's summary, its resize rule the letterbox.
func detPrepSummary(s *data.DetDataset) map[string]any {
	m := detPrep(s).Summary()
	m["resize"] = "letterbox"
	return m
}

// stampDet records a detection set's class names and preprocessing in g.
func stampDet(g *graph.Graph, s *data.DetDataset) {
	g.Meta["slimgo.classes"] = strings.Join(s.Classes, ",")
	g.Meta[MetaDataName] = s.Name
	detPrep(s).SetMeta(g.Meta)
}

// checkTask refuses a classifier on detection data and a detector on
// anything else (exit 2, naming both).
func checkTask(what string, detector bool, spec string) error {
	if spec == "" {
		return nil // load reports the missing --data
	}
	det := IsDetectionData(spec)
	switch {
	case det && !detector:
		return BadInput("%s is a classifier but %s is a detection set (YOLO layout); train a detector (--arch %s)", what, spec, strings.Join(nn.DetectorArchs(), ", "))
	case !det && detector:
		return BadInput("%s is a detector but --data %q is not a YOLO-format detection folder (DIR/data.yaml or classes.txt, DIR/images/{train,val}, DIR/labels/{train,val})", what, spec)
	}
	return nil
}

// trainDetector is Train for a detector: a built-in one (o.Arch) or a
// detector model to fine-tune (o.Model, g), trained with
// train.FitDetector. Options not in o.Given take FitDetector's defaults.
func trainDetector(e *Env, o *TrainOptions, g *graph.Graph) (map[string]any, error) {
	if o.Resume {
		if _, _, _, err := train.LoadLatestCheckpoint(o.Ckpt); errors.Is(err, train.ErrCorruptCheckpoint) {
			return nil, BadInput("%s; remove %s or train without --resume", strings.TrimPrefix(err.Error(), "train: "), o.Ckpt)
		}
	}
	aug := o.Augment
	if aug == "" {
		aug = DefaultDetectAugment // train's detector recipe; "none" turns it off
	}
	flip, jitter, err := ParseDetAugment(aug)
	if err != nil {
		return nil, err
	}
	if o.given("optimizer") && o.Optimizer != "adam" {
		return nil, BadInput("--optimizer %s: detection training uses AdamW (--optimizer adam)", o.Optimizer)
	}
	tr, va, err := o.Data.loadDet(e, g, o.ImageSize)
	if err != nil {
		return nil, err
	}
	if g == nil {
		if g, err = nn.BuildDetector(o.Arch, []int{tr.C, tr.H, tr.W}, len(tr.Classes), o.Seed); err != nil {
			return nil, AsInput(err)
		}
	}
	opt := train.DetectOptions{FlipH: flip, Jitter: jitter, Seed: o.Seed, Log: e.Log, Val: va, Context: e.Ctx}
	if o.given("epochs") {
		opt.Epochs = o.Epochs
	}
	if o.given("batch") {
		opt.Batch = o.Batch
	}
	switch {
	case o.given("lr"):
		opt.LR = o.LR
	case o.Model != "":
		opt.LR = FineTuneDetectLR // a trained detector: the gentler rate
	}
	if o.given("wd") {
		opt.WeightDecay = o.WD
	}
	epochs := cmp0(opt.Epochs, 30)
	opt.EvalEvery = max(5, epochs/6)
	fmt.Fprintf(e.Log, "train: %s, %d epochs (AdamW at peak %g, cosine, augmentation %s), mAP on %d val images every %d epochs and at the end\n",
		g.Name, epochs, cmpF(opt.LR, train.DefaultDetectLR), aug, va.Len(), opt.EvalEvery)
	if err := CheckOutputDir(o.Ckpt); err != nil {
		return nil, err
	}
	opt.CheckpointDir, opt.Resume = o.Ckpt, o.Resume
	if o.Sparsity > 0 {
		opt.Regularizers = []train.Regularizer{train.BNShrink{Lambda: o.Sparsity}}
	}
	hist, err := train.FitDetector(g, tr, opt)
	if errors.Is(err, train.ErrStopped) {
		return nil, fmt.Errorf("interrupted: %s; %s was not written; rerun the same command with --resume to continue from the checkpoint in %s",
			strings.TrimPrefix(err.Error(), "train: "), o.Out, o.Ckpt)
	}
	if errors.Is(err, train.ErrCorruptCheckpoint) {
		return nil, BadInput("%s; remove %s or train without --resume", strings.TrimPrefix(err.Error(), "train: "), o.Ckpt)
	}
	if err != nil {
		return nil, err
	}
	last := hist[len(hist)-1]
	ips := 0.0
	for _, h := range hist {
		ips += h.ImagesPerSec / float64(len(hist))
	}
	stampDet(g, tr)
	st, err := writeTrained(e, g, o.Out)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"task":          TaskDetect,
		"map50":         pct(last.MAP50),
		"map50_95":      pct(last.MAP50_95),
		"loss":          last.Loss,
		"epochs":        epochs,
		"augment":       aug,
		"images_per_s":  ips,
		"params":        st.Params,
		"macs":          st.MACs,
		"out":           o.Out,
		"preprocessing": detPrepSummary(tr),
	}, nil
}

// FineTuneDetectLR is train's peak rate on a detector given by --model
// (fine-tuning) when --lr is not: a quarter of a new model's
// train.DefaultDetectLR, the rate of compress's detector fine-tunings.
const FineTuneDetectLR = 2e-3

// cmpF returns v, or def when v is 0.
func cmpF(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// cmp0 returns v, or def when v is 0.
func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// evalDetector is Eval for a detector: COCO mAP@0.5 and mAP@0.5:0.95 on
// val/ (percent), per class AP@0.5 and AP@0.5:0.95, the class-agnostic
// mAPs (train.ScoreAgnostic), the inference speed.
func evalDetector(e *Env, o *EvalOptions, g *graph.Graph) (map[string]any, error) {
	d := o.Data
	d.TestOnly = true
	_, va, err := d.loadDet(e, g, 0)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	dets, err := train.PredictDetector(g, va, detect.DefaultNMS)
	if err != nil {
		return nil, AsInput(err)
	}
	secs := time.Since(start).Seconds()
	r, err := train.ScoreDetections(va, dets)
	if err != nil {
		return nil, err
	}
	ag, err := train.ScoreAgnostic(va, dets, detect.DefaultNMS)
	if err != nil {
		return nil, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return nil, AsInput(err)
	}
	return map[string]any{
		"task":          TaskDetect,
		"map50":         pct(r.MAP50),
		"map50_95":      pct(r.MAP50_95),
		"per_class":     perClass(r, va.Classes),
		"agnostic":      map[string]any{"map50": pct(ag.MAP50), "map50_95": pct(ag.MAP50_95)},
		"images":        va.Len(),
		"boxes":         countBoxes(va),
		"images_per_s":  float64(va.Len()) / secs,
		"params":        st.Params,
		"macs":          st.MACs,
		"preprocessing": detPrepSummary(va),
	}, nil
}

// pct turns a fraction into percent; NaN (no class with ground truth)
// becomes -1, since JSON has no NaN.
func pct(f float64) float64 {
	if math.IsNaN(f) {
		return -1
	}
	return 100 * f
}

// perClass lists each class with ground truth: name, boxes, AP@0.5 and
// AP@0.5:0.95 in percent.
func perClass(r detect.MAPResult, names []string) []map[string]any {
	out := make([]map[string]any, 0, len(r.PerClass))
	for _, c := range r.PerClass {
		name := strconv.Itoa(c.Class)
		if c.Class < len(names) {
			name = names[c.Class]
		}
		out = append(out, map[string]any{"class": c.Class, "name": name, "boxes": c.GT, "ap50": 100 * c.AP50, "ap50_95": 100 * c.AP50_95})
	}
	return out
}

// countBoxes counts a set's boxes.
func countBoxes(s *data.DetDataset) int {
	n := 0
	for _, o := range s.Objects {
		n += len(o)
	}
	return n
}

// detInfo adds a detector's task, strides, classes and outputs to an info
// summary.
func detInfo(g *graph.Graph, summary map[string]any) {
	summary["task"] = TaskDetect
	if s, err := train.HeadStrides(g); err == nil {
		summary["strides"] = s
	} else {
		summary["strides_error"] = err.Error()
	}
	if k, err := detClasses(g); err == nil {
		summary["classes"] = k
	}
	if names := g.Meta["slimgo.classes"]; names != "" {
		summary["class_names"] = strings.Split(names, ",")
	}
	if h := g.Meta[nn.MetaHead]; h != "" {
		summary["head"] = h
	}
	outs := make([]map[string]any, len(g.Outputs))
	for i, v := range g.Outputs {
		outs[i] = map[string]any{"name": v.Name, "shape": slices.Clone(v.Shape)}
	}
	summary["outputs"] = outs
	if p, ok := summary["preprocessing"].(map[string]any); ok {
		p["resize"] = "letterbox"
	}
}
