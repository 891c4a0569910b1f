package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/pipeline"
	"github.com/slimgo/slimgo/report"
)

// slimgo runs the CLI and returns the JSON summary and stderr; it fails the
// test on a non-zero exit.
func slimgo(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(append(args, "--json"), &out, &errb); code != 0 {
		t.Fatalf("slimgo %v: exit %d\n%s", args, code, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("slimgo %v: stdout is not one JSON object: %v\n%s", args, err, out.String())
	}
	return m, errb.String()
}

// slimgoFails runs the CLI expecting exit code 2 and returns stderr.
func slimgoFails(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, &out, &errb); code != ExitInput {
		t.Fatalf("slimgo %v: exit %d, want %d\n%s", args, code, ExitInput, errb.String())
	}
	return errb.String()
}

func TestPrepFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "m", "--data", "sample", "--mean", "0.5"}, "together"},
		{[]string{"--model", "m", "--data", "sample", "--mean", "0.1,0.2", "--std", "0.3,0.3"}, "one value or three"},
		{[]string{"--model", "m", "--data", "sample", "--mean", "imagenet", "--std", "0"}, "positive"},
		{[]string{"--model", "m", "--data", "sample", "--resize", "nearest"}, "--resize"},
		{[]string{"--model", "m", "--data", "sample", "--resize", "center-crop:0"}, "center-crop:S"},
	} {
		e, _, _ := testEnv()
		_, err := parseEval(e, tc.args)
		var ie inputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("eval %v: err = %v, want a bad-input error mentioning %q", tc.args, err, tc.want)
		}
	}
	e, _, _ := testEnv()
	o, err := parseEval(e, []string{"--model", "m", "--data", "sample", "--mean", "imagenet", "--std", "0.5", "--resize", "center-crop:36"})
	if err != nil {
		t.Fatal(err)
	}
	p := o.Data.Prep
	if len(p.Mean) != 3 || p.Mean[2] != data.ImageNetMean[2] || len(p.Std) != 1 || p.Std[0] != 0.5 || p.Resize != data.ResizeCenterCrop || p.Shorter != 36 {
		t.Errorf("parsed %+v", p)
	}
}

// TestPreprocessingTravels: train stamps the normalisation it used into the
// model; eval then uses it without flags (and says so in its summary);
// flags that differ win with a warning; a model without preprocessing and
// without flags gets the usual normalisation it scores best with on
// training images (here [-1,1], what it was trained with), the scores
// printed; convert stamps flags into a model that has none.
func TestPreprocessingTravels(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.onnx")
	d := []string{"--data", "sample", "--train-limit", "300", "--test-limit", "100"}
	slimgo(t, "train", "--arch", "resnet8", "--epochs", "2", "--mean", "0.5", "--std", "0.5", "--out", m,
		"--data", "sample", "--train-limit", "2000", "--test-limit", "100")
	g, err := onnx.ReadFile(m)
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := data.PreprocessFromMeta(g.Meta)
	if !ok || err != nil || data.FormatStats(p.Mean) != "0.5" || data.FormatStats(p.Std) != "0.5" || p.H != 28 || p.Order != data.OrderGray {
		t.Fatalf("trained model's preprocessing %+v (ok %v, err %v), meta %v", p, ok, err, g.Meta)
	}
	sum, log := slimgo(t, append([]string{"eval", "--model", m}, d...)...)
	pre := sum["preprocessing"].(map[string]any)
	if fmt.Sprint(pre["mean"], pre["std"]) != "[0.5] [0.5]" || strings.Contains(log, "warning") {
		t.Errorf("eval without flags: preprocessing %v, stderr:\n%s", pre, log)
	}
	acc := sum["accuracy"].(float64)
	sum, log = slimgo(t, append([]string{"eval", "--model", m, "--mean", "0.2", "--std", "0.3"}, d...)...)
	if !strings.Contains(log, "differ from the model's metadata") || fmt.Sprint(sum["preprocessing"].(map[string]any)["mean"]) != "[0.2]" {
		t.Errorf("differing flags: no warning or not used; stderr:\n%s", log)
	}
	// The same model without its metadata: the normalisation it was
	// trained with is found on training images.
	bare := filepath.Join(dir, "bare.onnx")
	for _, k := range []string{data.MetaMean, data.MetaStd, data.MetaSize, data.MetaResize, data.MetaOrder, pipeline.MetaDataName} {
		delete(g.Meta, k)
	}
	if err := onnx.WriteFile(bare, g, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, log = slimgo(t, append([]string{"eval", "--model", bare}, d...)...)
	pre = sum["preprocessing"].(map[string]any)
	if !strings.Contains(log, "carries no preprocessing") || !strings.Contains(log, "the data set's statistics (mean 0.286") ||
		!strings.Contains(log, "normalising with pixels in [-1,1]") || fmt.Sprint(pre["mean"], pre["std"]) != "[0.5] [0.5]" || sum["accuracy"].(float64) != acc {
		t.Errorf("no metadata, no flags: want [-1,1] chosen with the scores printed and %.2f%%; got %.2f%%, %v, stderr:\n%s", acc, sum["accuracy"], pre, log)
	}
	sum, _ = slimgo(t, append([]string{"eval", "--model", bare, "--mean", "0.5", "--std", "0.5"}, d...)...)
	if sum["accuracy"].(float64) != acc {
		t.Errorf("flags equal to the training normalisation give %.2f%%, the stamped model %.2f%%", sum["accuracy"], acc)
	}
	stamped := filepath.Join(dir, "stamped.onnx")
	sum, _ = slimgo(t, "convert", "--model", bare, "--out", stamped, "--mean", "0.5", "--std", "0.5")
	if fmt.Sprint(sum["preprocessing"].(map[string]any)["std"]) != "[0.5]" {
		t.Errorf("convert did not stamp the flags: %v", sum["preprocessing"])
	}
	sum, log = slimgo(t, append([]string{"eval", "--model", stamped}, d...)...)
	if sum["accuracy"].(float64) != acc || strings.Contains(log, "warning") {
		t.Errorf("converted model: %.2f%% (want %.2f%%), stderr:\n%s", sum["accuracy"], acc, log)
	}
}

// writeIDXAsPNG writes examples of the bundled sample as a PNG folder
// DIR/{train,test}/<class>/*.png (the first nTrain and nTest images).
func writeIDXAsPNG(t *testing.T, dir string, nTrain, nTest int) {
	t.Helper()
	tr, te, err := data.Load("sample", data.LoadOptions{TrainLimit: nTrain, TestLimit: nTest, Mean: []float32{0}, Std: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		set  *data.Dataset
	}{{"train", tr}, {"test", te}} {
		for i := range s.set.Len() {
			img := image.NewGray(image.Rect(0, 0, s.set.W, s.set.H))
			for j := range img.Pix {
				img.Pix[j] = uint8(s.set.X[i*s.set.ImageSize()+j]*255 + 0.5)
			}
			cls := strings.ReplaceAll(s.set.Classes[s.set.Labels[i]], "/", "_")
			p := filepath.Join(dir, s.name, fmt.Sprintf("%02d-%s", s.set.Labels[i], cls), fmt.Sprintf("%04d.png", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
}

// TestIDXAndPNGFolderScoreAlike: a slimgo-trained model scores the same on
// the sample's test images given as IDX files and as a PNG folder, since it
// carries its normalisation.
func TestIDXAndPNGFolderScoreAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model; skipped with -short")
	}
	dir := t.TempDir()
	m := filepath.Join(dir, "m.onnx")
	slimgo(t, "train", "--arch", "resnet8", "--data", "sample", "--train-limit", "1000", "--epochs", "1", "--out", m)
	folder := filepath.Join(dir, "png")
	writeIDXAsPNG(t, folder, 50, 1000)
	idx, _ := slimgo(t, "eval", "--model", m, "--data", "sample", "--test-limit", "1000")
	png, log := slimgo(t, "eval", "--model", m, "--data", folder)
	if strings.Contains(log, "warning") {
		t.Errorf("stderr:\n%s", log)
	}
	a, b := idx["accuracy"].(float64), png["accuracy"].(float64)
	if idx["images"].(float64) != 1000 || png["images"].(float64) != 1000 || a != b {
		t.Errorf("IDX files: %.2f%% of %v images; PNG folder: %.2f%% of %v", a, idx["images"], b, png["images"])
	}
}

// TestBNFoldedModelPrunes: a model exported with BN folded is pruned by
// every method: BN is restored from the data (the before-accuracy is the
// model's own), the output is folded again, and without --data the methods
// that rank by BN scale factors say why they cannot run.
func TestBNFoldedModelPrunes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and prunes; skipped with -short")
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.onnx")
	d := []string{"--data", "sample", "--train-limit", "600", "--test-limit", "200"}
	slimgo(t, append([]string{"train", "--arch", "resnet8", "--epochs", "1", "--out", base}, d...)...)
	folded := filepath.Join(dir, "folded.onnx")
	slimgo(t, "convert", "--model", base, "--out", folded, "--fold-bn")
	ev, _ := slimgo(t, append([]string{"eval", "--model", folded}, d...)...)
	for _, tc := range [][]string{
		{"--method", "slim", "--ratio", "0.3"},
		{"--method", "layer", "--blocks", "1"},
		{"--method", "ddpg", "--episodes", "3", "--warmup", "2", "--val-size", "100", "--target-params", "50000"},
	} {
		out := filepath.Join(dir, tc[1]+".onnx")
		sum, log := slimgo(t, append(append([]string{"prune", "--model", folded, "--out", out, "--no-ort", "--finetune-epochs", "0"}, tc...), d...)...)
		if sum["bn_restored"].(float64) <= 0 || !strings.Contains(log, "restored") {
			t.Errorf("%v: bn_restored %v; stderr:\n%s", tc, sum["bn_restored"], log)
		}
		if sum["accuracy_before"] != ev["accuracy"] {
			t.Errorf("%v: accuracy_before %v, eval of the folded model %v", tc, sum["accuracy_before"], ev["accuracy"])
		}
		g, err := onnx.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := g.ComputeStats()
		if st.Ops[graph.OpBN] != 0 || int(sum["params"].(float64)) != st.Params || st.Params >= int(sum["params_before"].(float64)) {
			t.Errorf("%v: output has %d BN, %d params (summary %v of %v)", tc, st.Ops[graph.OpBN], st.Params, sum["params"], sum["params_before"])
		}
		again, _ := slimgo(t, append([]string{"eval", "--model", out}, d...)...)
		if again["accuracy"] != sum["accuracy"] {
			t.Errorf("%v: summary accuracy %v, eval of the written model %v", tc, sum["accuracy"], again["accuracy"])
		}
	}
	log := slimgoFails(t, "prune", "--model", folded, "--out", filepath.Join(dir, "x.onnx"), "--method", "slim", "--ratio", "0.3")
	if !strings.Contains(log, "no BatchNormalization") || !strings.Contains(log, "--data") {
		t.Errorf("slim without data on a folded model: %s", log)
	}
}

// TestCompressSkipsImpossibleStage: a model without residual blocks skips
// the layer stage with a note said before any stage runs, instead of
// failing after the work of the stages before it.
func TestCompressSkipsImpossibleStage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs compress; skipped with -short")
	}
	dir := t.TempDir()
	m := filepath.Join(dir, "vgg.onnx")
	d := []string{"--data", "sample", "--train-limit", "300", "--test-limit", "100"}
	slimgo(t, append([]string{"train", "--arch", "vgg-s", "--epochs", "1", "--out", m}, d...)...)
	sum, log := slimgo(t, append([]string{"compress", "--model", m, "--out", filepath.Join(dir, "c"), "--no-ort",
		"--sparse-epochs", "0", "--channel-method", "none", "--blocks", "1", "--quant-finetune-epochs", "0"}, d...)...)
	const note = "layer stage skipped: the model has no removable residual block"
	if i, j := strings.Index(log, note), strings.Index(log, "== stage 0"); i < 0 || j < 0 || i > j {
		t.Errorf("the skip note is missing or comes after the first stage started:\n%s", log)
	}
	var names []string
	for _, s := range sum["stages"].([]any) {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "original,quantized" {
		t.Errorf("stages %v, want original,quantized", names)
	}
	s, err := report.ReadJSON(filepath.Join(dir, "c", pipeline.FileSummary))
	if err != nil || !slices.Contains(s.Notes, note) {
		t.Errorf("summary notes %v (err %v) lack %q", s.Notes, err, note)
	}
}
