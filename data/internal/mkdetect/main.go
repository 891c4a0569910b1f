// Command mkdetect writes the synthetic detection sample (YOLO layout) of
// data.GenerateDetSample; see docs/detection.md.
//
//	go run ./data/internal/mkdetect -out /tmp/detect-sample [-seed 1] [-train 2000] [-val 500] [-size 64]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/slimgo/slimgo/data"
)

func main() {
	var o data.DetSampleOptions
	out := flag.String("out", "", "output directory (required)")
	flag.Uint64Var(&o.Seed, "seed", 1, "random seed")
	flag.IntVar(&o.Train, "train", 0, "training images (0: 2000)")
	flag.IntVar(&o.Val, "val", 0, "validation images (0: 500)")
	flag.IntVar(&o.Size, "size", 0, "image side in pixels (0: 64)")
	flag.StringVar(&o.Objects, "objects", "", "object source (default: the bundled Fashion-MNIST sample)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mkdetect -out DIR [-seed N] [-train N] [-val N] [-size N] [-objects SRC]")
		os.Exit(2)
	}
	s, err := data.GenerateDetSample(*out, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdetect:", err)
		os.Exit(2)
	}
	fmt.Printf("%s: %d+%d images, %d+%d boxes, %d+%d background; boxes per class %v\n",
		*out, s.Images[0], s.Images[1], s.Objects[0], s.Objects[1], s.Background[0], s.Background[1], s.PerClass)
}
