package cli

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/train"
)

// TestORTAccuracyMatchesEval: a model trained and exported by slimgo,
// evaluated by ONNX Runtime on the Fashion-MNIST test set (all 10,000 images
// when Debian's dataset-fashion-mnist is installed, else the bundled
// sample's 1,000), scores what `slimgo eval` reports to within 0.05 points.
func TestORTAccuracyMatchesEval(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	if !ort.Available() {
		t.Skip("node is not installed: ONNX Runtime cannot run")
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	var out, errb bytes.Buffer
	if code := Main([]string{"train", "--arch", "resnet8", "--data", "sample", "--train-limit", "2000", "--epochs", "1", "--out", model}, &out, &errb); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errb.String())
	}
	_, test, err := data.Load("fashion-mnist", data.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := onnx.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := train.Evaluate(g, test, 500)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	x, labels := test.Batch(idx, nil, nil, nil)
	y, err := ort.RunTensor(model, x)
	if err != nil {
		t.Fatal(err)
	}
	k := y.Shape[1]
	right := 0
	for i, l := range labels {
		if argmax(y.Data[i*k:(i+1)*k]) == int(l) {
			right++
		}
	}
	accORT := 100 * float64(right) / float64(len(labels))
	if d := math.Abs(accORT - 100*ev.Accuracy); d > 0.05 {
		t.Fatalf("ONNX Runtime %.2f%% vs slimgo eval %.2f%% on %d test images: %.2f points apart", accORT, 100*ev.Accuracy, len(labels), d)
	}
	t.Logf("%s (%s), %d test images: slimgo %.2f%%, ONNX Runtime %.2f%%", test.Name, test.Source, len(labels), 100*ev.Accuracy, accORT)
}
