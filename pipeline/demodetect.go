package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// DetectDemoEpochs is the detection demo's default training length: on
// the 2000-image sample it keeps the whole demo well under five minutes
// on 2 cores (docs/detection.md, "demo --task detect").
const DetectDemoEpochs = 20

// DetectDemo's files in its output directory.
const (
	FileDetectModel = "yolo-s.onnx"
	FileDetectData  = "data"
	FileSummaryJSON = "summary.json"
)

// ortScoreMin is the score from which the ONNX Runtime check compares
// boxes one by one (near the decoding's 0.001 threshold, a last-bit
// difference may keep or drop a box).
const ortScoreMin = 0.05

// demoDetect is Demo with Task "detect": it writes the bundled detection
// sample (data.GenerateDetSample, seed 1, the default sizes; Quick: 240 /
// 60 images) to OUT/data, trains yolo-s on it for o.Epochs, writes
// OUT/yolo-s.onnx, evaluates it on val/ (COCO mAP, images/s), checks that
// ONNX Runtime's outputs of the written file give the same mAP and boxes
// (unless NoORT or node is missing), draws its boxes on the first val/
// images to OUT/detections.png (writeDemoPicture; key "picture") and
// writes OUT/summary.json. Each run starts afresh.
func demoDetect(e *Env, o *DemoOptions) (map[string]any, error) {
	if err := CheckOutputDir(o.Out); err != nil {
		return nil, err
	}
	start := time.Now()
	dir := filepath.Join(o.Out, FileDetectData)
	if err := removeOldSample(dir); err != nil {
		return nil, err
	}
	opt := data.DetSampleOptions{Seed: 1}
	if o.Quick {
		opt.Train, opt.Val = 240, 60
	}
	fmt.Fprintf(e.Log, "demo: writing the detection sample to %s\n", dir)
	if _, err := data.GenerateDetSample(dir, opt); err != nil {
		return nil, err
	}
	d := DataOptions{Spec: dir}
	tr, va, err := d.loadDet(e, nil, 0)
	if err != nil {
		return nil, err
	}
	g, err := nn.BuildDetector("yolo-s", []int{tr.C, tr.H, tr.W}, len(tr.Classes), o.Seed)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "demo: training yolo-s for %d epochs\n", o.Epochs)
	t0 := time.Now()
	if _, err := train.FitDetector(g, tr, train.DetectOptions{Epochs: o.Epochs, FlipH: true, Jitter: data.DefaultDetJitter, Seed: o.Seed, Log: e.Log, Context: e.Ctx}); err != nil {
		return nil, err
	}
	trainSecs := time.Since(t0).Seconds()
	stampDet(g, tr)
	model := filepath.Join(o.Out, FileDetectModel)
	if err := onnx.WriteFile(model, g, onnx.WriteOptions{}); err != nil {
		return nil, err
	}
	t0 = time.Now()
	dets, err := train.PredictDetector(g, va, detect.DefaultNMS)
	if err != nil {
		return nil, err
	}
	ips := float64(va.Len()) / time.Since(t0).Seconds()
	r, err := train.ScoreDetections(va, dets)
	if err != nil {
		return nil, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return nil, err
	}
	sum := map[string]any{
		"task": TaskDetect, "arch": "yolo-s", "model": model, "data": dir,
		"map50": pct(r.MAP50), "map50_95": pct(r.MAP50_95), "per_class": perClass(r, va.Classes),
		"params": st.Params, "macs": st.MACs, "bytes": fileSize(model), "images_per_s": ips,
		"epochs": o.Epochs, "train_images": tr.Len(), "val_images": va.Len(), "val_boxes": countBoxes(va),
		"train_seconds": trainSecs,
	}
	if err := ortDetectCheck(e, o, model, g, va, r, dets, sum); err != nil {
		return nil, err
	}
	if pic, err := writeDemoPicture(o.Out, g, va, model, pct(r.MAP50)); err != nil {
		fmt.Fprintf(e.Log, "warning: no picture of predicted boxes: %v\n", err)
	} else {
		sum["picture"] = pic
	}
	fmt.Fprintf(e.Log, "\nyolo-s on the detection sample: mAP@0.5 %.2f %%, mAP@0.5:0.95 %.2f %% on %d val images; %d params, %.2f M MACs, %d bytes, %.0f images/s.\n",
		pct(r.MAP50), pct(r.MAP50_95), va.Len(), st.Params, float64(st.MACs)/1e6, fileSize(model), ips)
	out, brief, err := demoCompress(e, o, model, dir, sum)
	if err != nil {
		return nil, err
	}
	out["seconds"] = time.Since(start).Seconds()
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.Out, FileSummaryJSON), append(b, '\n')); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "The trained model is %s, the compressed ones are in %s; the figures are in %s (%.0f s in all).\n",
		model, filepath.Join(o.Out, FileDemoCompress), filepath.Join(o.Out, FileSummaryJSON), out["seconds"])
	if !o.JSON {
		return brief, nil
	}
	return out, nil
}

// DemoDetectConfig is the compress configuration of demo --task detect:
// DefaultDetectorConfig with a shorter search (12 episodes of 20 steps)
// and shorter fine-tunings (5 sparse, 20 channel, 10 layer epochs; Quick:
// 3 episodes of 2 steps, 1 epoch each), so that training and compressing
// stay under five minutes on 2 cores (docs/detection.md, "demo --task
// detect").
func DemoDetectConfig(o *DemoOptions) Config {
	c := DefaultDetectorConfig()
	c.Seed = o.Seed
	ch := &c.Channel
	ch.Episodes, ch.Warmup, ch.EpisodeSteps = 12, 4, 20
	c.Sparse.Epochs, ch.FinetuneEpochs, c.Layer.FinetuneEpochs = 5, 20, 10
	if o.Quick {
		ch.Episodes, ch.Warmup, ch.EpisodeSteps = 3, 2, 2
		c.Sparse.Epochs, ch.FinetuneEpochs, c.Layer.FinetuneEpochs = 1, 1, 1
	}
	return c
}

// FileDemoCompress is the folder of the detection demo's compress run.
const FileDemoCompress = "compress"

// demoCompress compresses the demo's trained detector into
// OUT/compress (DemoDetectConfig) and returns the demo's summary: every
// key of compress's (map50_before is the trained model's mAP@0.5, map50
// the delivered model's), the trained model's figures under "trained",
// and the ONNX Runtime check and picture keys of trained; brief is the
// short form printed without --json.
func demoCompress(e *Env, o *DemoOptions, model, dir string, trained map[string]any) (out, brief map[string]any, err error) {
	co := &CompressOptions{Model: model, Data: DataOptions{Spec: dir}, Out: filepath.Join(o.Out, FileDemoCompress),
		NoORT: o.NoORT, JSON: true, Config: DemoDetectConfig(o), Restart: true}
	c, full := co.Config, DefaultDetectorConfig()
	fmt.Fprintf(e.Log, "demo: compressing yolo-s into %s, shortened to fit the demo's minutes: %d DDPG episodes and %d/%d/%d fine-tuning epochs (sparse/channel/layer) where compress's defaults run %d and %d/%d/%d, so it keeps less of the mAP; `slimgo compress --model %s --data %s --out DIR` runs the defaults\n",
		co.Out, c.Channel.Episodes, c.Sparse.Epochs, c.Channel.FinetuneEpochs, c.Layer.FinetuneEpochs,
		full.Channel.Episodes, full.Sparse.Epochs, full.Channel.FinetuneEpochs, full.Layer.FinetuneEpochs, model, dir)
	s, err := Compress(e, co)
	if err != nil {
		return nil, nil, err
	}
	if out, err = SummaryMap(s, true); err != nil {
		return nil, nil, err
	}
	if brief, err = SummaryMap(s, false); err != nil {
		return nil, nil, err
	}
	out["trained"] = trained
	for k, v := range trained {
		if k == "picture" || k == "arch" || k == "epochs" || k == "train_seconds" || strings.HasPrefix(k, "ort_") {
			out[k] = v
		}
	}
	fmt.Fprintf(e.Log, "\n%s\n", s.Headline())
	return out, brief, nil
}

// removeOldSample removes a detection sample an earlier demo wrote to dir
// (its data.yaml says so); a dir holding anything else is bad input, never
// deleted.
func removeOldSample(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	y, err := os.ReadFile(filepath.Join(dir, "data.yaml"))
	if err != nil || !bytes.Contains(y, []byte(data.DetSampleMark)) {
		return BadInput("%s exists and is not a detection sample slimgo wrote; choose another --out", dir)
	}
	return os.RemoveAll(dir)
}

// ortDetectCheck runs the written model in ONNX Runtime on the val images,
// decodes and scores its outputs as slimgo's and adds to sum: ort_map50,
// ort_map50_95, ort_boxes (confident slimgo boxes compared), ort_boxes_matched
// (those ONNX Runtime gives too: same class, IoU >= 0.999, score within
// 1e-3), ort_box_max_diff (largest corner difference among them, pixels)
// and ort_agrees (mAPs within 0.05 points and every box matched). It
// records ort_checked false with a note when the check cannot run.
func ortDetectCheck(e *Env, o *DemoOptions, model string, g *graph.Graph, va *data.DetDataset, r detect.MAPResult,
	dets [][]detect.Detection, sum map[string]any) error {
	sum["ort_checked"] = false
	if o.NoORT {
		return nil
	}
	if err := ort.Installed(); err != nil {
		sum["ort_note"] = err.Error()
		fmt.Fprintf(e.Log, "demo: ONNX Runtime check skipped: %v\n", err)
		return nil
	}
	outs, err := ort.RunAll(model, tensor.From(va.X, va.Len(), va.C, va.H, va.W))
	if err != nil {
		return err
	}
	od, err := train.DecodeOutputs(g, va, outs, detect.DefaultNMS)
	if err != nil {
		return err
	}
	or, err := train.ScoreDetections(va, od)
	if err != nil {
		return err
	}
	n, matched, maxDiff := compareBoxes(dets, od)
	agree := math.Abs(pct(or.MAP50)-pct(r.MAP50)) <= 0.05 && math.Abs(pct(or.MAP50_95)-pct(r.MAP50_95)) <= 0.05 && matched == n
	sum["ort_checked"], sum["ort_agrees"] = true, agree
	sum["ort_map50"], sum["ort_map50_95"] = pct(or.MAP50), pct(or.MAP50_95)
	sum["ort_boxes"], sum["ort_boxes_matched"], sum["ort_box_max_diff"] = n, matched, maxDiff
	fmt.Fprintf(e.Log, "demo: ONNX Runtime on %s: mAP@0.5 %.4f %% (slimgo %.4f %%), mAP@0.5:0.95 %.4f %% (slimgo %.4f %%); %d of %d boxes with score >= %.2f the same (corners within %.2g px)\n",
		model, pct(or.MAP50), pct(r.MAP50), pct(or.MAP50_95), pct(r.MAP50_95), matched, n, ortScoreMin, maxDiff)
	if !agree {
		fmt.Fprintf(e.Log, "warning: ONNX Runtime and slimgo disagree on %s\n", model)
	}
	return nil
}

// compareBoxes matches each of a's detections with score >= ortScoreMin to
// b's of the same image and class with the highest IoU: n such detections,
// matched those with IoU >= 0.999 and scores within 1e-3, maxDiff the
// largest corner difference among the matched (pixels).
func compareBoxes(a, b [][]detect.Detection) (n, matched int, maxDiff float64) {
	for i := range a {
		for _, d := range a[i] {
			if d.Score < ortScoreMin {
				continue
			}
			n++
			best, bi := -1.0, -1
			for j, c := range b[i] {
				if c.Class == d.Class {
					if iou := detect.IoU(d.Box, c.Box); iou > best {
						best, bi = iou, j
					}
				}
			}
			if bi < 0 || best < 0.999 || math.Abs(b[i][bi].Score-d.Score) > 1e-3 {
				continue
			}
			matched++
			c := b[i][bi].Box
			for _, v := range []float64{c.X1 - d.Box.X1, c.Y1 - d.Box.Y1, c.X2 - d.Box.X2, c.Y2 - d.Box.Y2} {
				maxDiff = max(maxDiff, math.Abs(v))
			}
		}
	}
	return n, matched, maxDiff
}
