// Command detect trains yolo-s on the generated detection sample and
// reports the validation mAP per evaluated epoch (docs/detection.md).
//
//	go run ./bench/detect [-data DIR] [-epochs 30] [-batch 32] [-lr 2e-3] [-seed 1]
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
	flag.Parse()
	if err := run(*dir, *epochs, *batch, *lr, *seed, *every, *flip); err != nil {
		fmt.Fprintln(os.Stderr, "detect:", err)
		os.Exit(1)
	}
}

func run(dir string, epochs, batch int, lr float64, seed uint64, every int, flip bool) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "detsample")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if _, err := data.GenerateDetSample(tmp, data.DetSampleOptions{Seed: 1}); err != nil {
			return err
		}
		dir = tmp
	}
	tr, va, err := data.LoadYOLO(dir, data.YOLOOptions{H: 64, W: 64, C: 1})
	if err != nil {
		return err
	}
	g, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, len(tr.Classes), seed)
	if err != nil {
		return err
	}
	fmt.Printf("yolo-s on %s: %d train / %d val images, %d classes\n", dir, tr.Len(), va.Len(), len(tr.Classes))
	start := time.Now()
	_, err = train.FitDetector(g, tr, train.DetectOptions{Epochs: epochs, Batch: batch, LR: lr, Seed: seed,
		FlipH: flip, Val: va, EvalEvery: every, Log: os.Stdout})
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
