package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/tensor"
)

// TestSameSeedSameFiles runs the same training twice with one seed and
// once with another: the first two must write identical models and report
// identical figures, the third must differ (so the comparison can fail).
// Then predict on the model twice must write identical .npy files.
func TestSameSeedSameFiles(t *testing.T) {
	dir := t.TempDir()
	args := func(seed, out string) []string {
		return []string{"train", "--arch", "resnet8", "--data", "sample", "--train-limit", "384", "--test-limit", "128",
			"--epochs", "1", "--batch", "64", "--augment", "crop,flip", "--seed", seed, "--out", out, "--json"}
	}
	a := decode(t, "a", mustRun(t, dir, args("11", "a.onnx")...).stdout)
	b := decode(t, "b", mustRun(t, dir, args("11", "b.onnx")...).stdout)
	mustRun(t, dir, args("12", "c.onnx")...)
	sameFile(t, filepath.Join(dir, "a.onnx"), filepath.Join(dir, "b.onnx"))
	sameKeys(t, a, b, "accuracy", "loss", "params", "macs")
	x, _ := os.ReadFile(filepath.Join(dir, "a.onnx"))
	y, _ := os.ReadFile(filepath.Join(dir, "c.onnx"))
	if bytes.Equal(x, y) {
		t.Errorf("seeds 11 and 12 wrote the same model: the seed is not used")
	}

	// predict: the same input gives the same output file.
	in := filepath.Join(dir, "x.npy")
	writeInput(t, in)
	mustRun(t, dir, "predict", "--model", "a.onnx", "--input", "x.npy", "--out", "y1.npy", "--batch", "3")
	mustRun(t, dir, "predict", "--model", "a.onnx", "--input", "x.npy", "--out", "y2.npy", "--batch", "3")
	sameFile(t, filepath.Join(dir, "y1.npy"), filepath.Join(dir, "y2.npy"))
}

// writeInput writes a fixed-seed [7,1,28,28] float32 array.
func writeInput(t *testing.T, path string) {
	t.Helper()
	x := tensor.New(7, 1, 28, 28)
	x.FillNormal(tensor.NewRNG(5), 0, 1)
	if err := npy.WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
}
