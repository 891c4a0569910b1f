package report_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/report"
)

// The compress pipeline appends one Stage per step, fills the per-stage
// details it has, and writes the report directory once at the end.
func Example() {
	s := &report.Summary{Model: "resnet8.onnx", Data: "fashion-mnist", Seed: 1, BenchBatch: 64}
	s.Stages = []report.Stage{
		{Name: "original", Accuracy: 91.2, Params: 78_042, MACs: 12_400_000, Bytes: 320_000, ImagesPerSec: 900, ORTImagesPerSec: 2000},
		{Name: "pruned", Accuracy: 90.9, Params: 30_000, MACs: 5_900_000, Bytes: 125_000, ImagesPerSec: 1700, ORTImagesPerSec: 3600},
		{Name: "quantized", Accuracy: 90.9, Params: 30_000, MACs: 5_900_000, Bytes: 26_000},
	}
	s.Blocks = []report.Block{{Name: "layer2.0", Score: 0.41}, {Name: "layer3.0", Score: 0.02, Removed: true}}

	dir, _ := os.MkdirTemp("", "report")
	defer os.RemoveAll(dir)
	path, err := report.Write(dir, s)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := s.JSON() // the CLI's --json object; summary.json holds the same
	fmt.Println(filepath.Base(path), s.Plots)
	fmt.Println(s.Headline())
	fmt.Printf("compression %.2f, speedup %.2f, removed %v\n", m["compression"], m["speedup"], m["removed_blocks"])
	// Output:
	// report.md [blocks.png accuracy_vs_size.png]
	// 12.3x smaller, 2.10x fewer MACs, 2.60x fewer parameters, 1.80x faster in ONNX Runtime, 1.89x faster in slimgo, accuracy 91.20% -> 90.90%
	// compression 12.31, speedup 1.89, removed [layer3.0]
}
