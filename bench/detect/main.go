// Command detect trains yolo-s on the generated detection sample and
// reports the validation mAP per evaluated epoch, then the diagnosis of
// the trained model: class-agnostic mAP, AP@0.5 per class and by object
// size (docs/detection.md, *Training*).
//
//	go run ./bench/detect [-data DIR] [-epochs 30] [-batch 32] [-lr 2e-3] [-seed 1] [-radius 2.5] [-gen-train 2000]
//	go run ./bench/detect -model M.onnx -data DIR     # only the diagnosis of a trained model on DIR's val/
//
// -data defaults to a fresh sample written by data.GenerateDetSample
// (seed 1, the defaults) in a temporary directory.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/train"
)

func main() {
	dir := flag.String("data", "", "YOLO-layout directory (default: generate the sample)")
	model := flag.String("model", "", "diagnose this trained detector on -data's val/ instead of training")
	epochs := flag.Int("epochs", 30, "epochs")
	batch := flag.Int("batch", 32, "batch size")
	lr := flag.Float64("lr", 2e-3, "peak learning rate")
	seed := flag.Uint64("seed", 1, "model and shuffling seed")
	every := flag.Int("eval-every", 5, "evaluate every N epochs")
	flip := flag.Bool("flip", true, "random horizontal flips")
	radius := flag.Float64("radius", 2.5, "centre-sampling radius of the assignment, in cells")
	scale := flag.Float64("scale", 0, "scale jitter: factor in [1-s, 1+s] on half the images")
	shift := flag.Float64("shift", 0, "shift jitter: up to this fraction of the side, boxes kept inside")
	iouCls := flag.Bool("iou-cls", false, "class target of the true class: the IoU of the decoded box (detect.LossOptions.IoUClassTarget)")
	genTrain := flag.Int("gen-train", 2000, "training images of the generated sample (without -data)")
	flag.Parse()
	opt := train.DetectOptions{Epochs: *epochs, Batch: *batch, LR: *lr, Seed: *seed, FlipH: *flip, EvalEvery: *every,
		Loss: detect.LossOptions{Radius: *radius, IoUClassTarget: *iouCls}, Log: os.Stdout, Jitter: data.DetJitter{Scale: *scale, Shift: *shift}}
	var err error
	if *model != "" {
		err = diagnoseFile(*model, *dir)
	} else {
		err = run(*dir, *genTrain, opt)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "detect:", err)
		os.Exit(1)
	}
}

func run(dir string, genTrain int, opt train.DetectOptions) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "detsample")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if _, err := data.GenerateDetSample(tmp, data.DetSampleOptions{Seed: 1, Train: genTrain}); err != nil {
			return err
		}
		dir = tmp
	}
	tr, va, err := data.LoadYOLO(dir, data.YOLOOptions{H: 64, W: 64, C: 1})
	if err != nil {
		return err
	}
	g, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, len(tr.Classes), opt.Seed)
	if err != nil {
		return err
	}
	fmt.Printf("yolo-s on %s: %d train / %d val images, %d classes\n", dir, tr.Len(), va.Len(), len(tr.Classes))
	start := time.Now()
	opt.Val = va
	if _, err = train.FitDetector(g, tr, opt); err != nil {
		return err
	}
	fmt.Printf("trained in %.0f s\n", time.Since(start).Seconds())
	return diagnose(g, va)
}

// diagnoseFile reads a detector written by slimgo train and diagnoses it
// on dir's val/, preprocessed as its metadata says.
func diagnoseFile(model, dir string) error {
	g, err := onnx.ReadFile(model)
	if err != nil {
		return err
	}
	p, ok, err := data.PreprocessFromMeta(g.Meta)
	if err != nil || !ok {
		return fmt.Errorf("%s: no preprocessing in its metadata (%v)", model, err)
	}
	s := g.Inputs[0].Shape
	_, va, err := data.LoadYOLO(dir, data.YOLOOptions{C: s[1], H: s[2], W: s[3], Mean: p.Mean, Std: p.Std, TrainLimit: 1})
	if err != nil {
		return err
	}
	return diagnose(g, va)
}

// sideBins bound the object sizes of the diagnosis: the side of a box's
// square of equal area, in the image's pixels (the sample's objects are
// pasted at 16-40 px; their tight boxes are smaller).
var sideBins = []float64{0, 12, 16, 20, 24, 32, math.Inf(1)}

// diagnose prints mAP, the class-agnostic mAP, AP@0.5 per class and mAP
// by object size of g on va.
func diagnose(g *graph.Graph, va *data.DetDataset) error {
	dets, err := train.PredictDetector(g, va, detect.DefaultNMS)
	if err != nil {
		return err
	}
	r, err := train.ScoreDetections(va, dets)
	if err != nil {
		return err
	}
	ag, err := train.ScoreAgnostic(va, dets, detect.DefaultNMS)
	if err != nil {
		return err
	}
	fmt.Printf("final: mAP@0.5 %.2f%%, mAP@0.5:0.95 %.2f%%; class-agnostic %.2f%% / %.2f%%\n",
		100*r.MAP50, 100*r.MAP50_95, 100*ag.MAP50, 100*ag.MAP50_95)
	single := detect.DefaultNMS
	single.MultiLabel = false
	if sd, err := train.PredictDetector(g, va, single); err == nil {
		if sr, err := train.ScoreDetections(va, sd); err == nil {
			fmt.Printf("single-label decoding (the best class of a cell only): mAP@0.5 %.2f%%, mAP@0.5:0.95 %.2f%%\n", 100*sr.MAP50, 100*sr.MAP50_95)
		}
	}
	for _, c := range r.PerClass {
		fmt.Printf("  class %d (%s): %d boxes, AP@0.5 %.2f%%, AP@0.5:0.95 %.2f%%\n", c.Class, va.Classes[c.Class], c.GT, 100*c.AP50, 100*c.AP50_95)
	}
	for i := 1; i < len(sideBins); i++ {
		lo, hi := sideBins[i-1], sideBins[i]
		o := detect.MAPOptions{MinArea: lo * lo}
		if !math.IsInf(hi, 1) {
			o.MaxArea = hi * hi
		}
		s, err := train.ScoreDetectionsWith(va, dets, o)
		if err != nil {
			return err
		}
		n := 0
		for _, c := range s.PerClass {
			n += c.GT
		}
		fmt.Printf("  side %g-%g px: %d boxes, mAP@0.5 %.2f%%, mAP@0.5:0.95 %.2f%%\n", lo, hi, n, 100*s.MAP50, 100*s.MAP50_95)
	}
	return nil
}
