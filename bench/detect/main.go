// Command detect trains yolo-s on the generated detection sample and
// reports the validation mAP per evaluated epoch (docs/detection.md).
//
//	go run ./bench/detect [-data DIR] [-epochs 30] [-batch 32] [-lr 2e-3] [-seed 1] [-radius 2.5] [-gen-train 2000]
//
// -data defaults to a fresh sample written by data.GenerateDetSample
// (seed 1, the defaults) in a temporary directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/train"
)

func main() {
	dir := flag.String("data", "", "YOLO-layout directory (default: generate the sample)")
	epochs := flag.Int("epochs", 30, "epochs")
	batch := flag.Int("batch", 32, "batch size")
	lr := flag.Float64("lr", 2e-3, "peak learning rate")
	seed := flag.Uint64("seed", 1, "model and shuffling seed")
	every := flag.Int("eval-every", 5, "evaluate every N epochs")
	flip := flag.Bool("flip", true, "random horizontal flips")
	radius := flag.Float64("radius", 2.5, "centre-sampling radius of the assignment, in cells")
	genTrain := flag.Int("gen-train", 2000, "training images of the generated sample (without -data)")
	flag.Parse()
	opt := train.DetectOptions{Epochs: *epochs, Batch: *batch, LR: *lr, Seed: *seed, FlipH: *flip, EvalEvery: *every,
		Loss: detect.LossOptions{Radius: *radius}, Log: os.Stdout}
	if err := run(*dir, *genTrain, opt); err != nil {
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
	_, err = train.FitDetector(g, tr, opt)
	if err != nil {
		return err
	}
	r, err := train.EvaluateDetector(g, va, detect.DefaultNMS)
	if err != nil {
		return err
	}
	fmt.Printf("final: mAP@0.5 %.2f%%, mAP@0.5:0.95 %.2f%% after %.0f s\n", 100*r.MAP50, 100*r.MAP50_95, time.Since(start).Seconds())
	for _, c := range r.PerClass {
		fmt.Printf("  class %d (%s): %d boxes, AP@0.5 %.2f%%, AP@0.5:0.95 %.2f%%\n", c.Class, tr.Classes[c.Class], c.GT, 100*c.AP50, 100*c.AP50_95)
	}
	return nil
}
