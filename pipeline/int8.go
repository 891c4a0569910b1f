package pipeline

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// Int8Options configure the static int8 (QDQ) export of quantize --int8.
type Int8Options struct {
	// Calibrate is "minmax" (default) or "percentile".
	Calibrate string
	// Percentile (e.g. 99.99) clips each activation's range to the
	// [100-P, P] percentiles of its calibration values with "percentile".
	Percentile float64
	// CalibSize is how many training images are held out for calibration.
	CalibSize int
	// Signed writes int8 activations (S8S8) instead of uint8 (U8S8, the
	// default: fully fused by ONNX Runtime on x86, see onnx/qdq.go).
	Signed bool
}

// DefaultCalibSize is the default size of the calibration split.
const DefaultCalibSize = 1000

// Validate checks the options.
func (o *Int8Options) Validate() error {
	switch o.Calibrate {
	case "", "minmax":
	case "percentile":
		if !(o.Percentile > 50 && o.Percentile <= 100) {
			return &InputError{fmt.Errorf("--percentile must be in (50, 100], got %g", o.Percentile)}
		}
	default:
		return &InputError{fmt.Errorf("--calibrate must be minmax or percentile, got %q", o.Calibrate)}
	}
	if o.CalibSize < 1 {
		return &InputError{fmt.Errorf("--calib-size must be >= 1, got %d", o.CalibSize)}
	}
	return nil
}

// calibSamples caps the values kept per activation for percentiles.
const calibSamples = 1 << 18

// Calibrate runs the BN-folded graph g over set and returns the range of
// every value onnx.QDQValues lists: min and max ("minmax"), or the
// [100-pct, pct] percentiles of an evenly strided sample of at most
// 262144 values per activation ("percentile").
func Calibrate(g *graph.Graph, set *data.Dataset, method string, pct float64) (map[string][2]float32, error) {
	vals, err := onnx.QDQValues(g)
	if err != nil {
		return nil, err
	}
	ex, err := engine.New(g)
	if err != nil {
		return nil, err
	}
	if set == nil || set.Len() == 0 {
		return nil, errors.New("calibration on an empty data set")
	}
	ranges := map[string][2]float32{}
	for _, v := range vals {
		ranges[v] = [2]float32{float32(math.Inf(1)), float32(math.Inf(-1))}
	}
	samples := map[string][]float32{}
	const batch = 128
	var x *tensor.Tensor
	for lo := 0; lo < set.Len(); lo += batch {
		idx := make([]int, 0, batch)
		for i := lo; i < min(lo+batch, set.Len()); i++ {
			idx = append(idx, i)
		}
		x, _ = set.Batch(idx, x, nil, nil)
		if _, err := ex.Forward(x, false); err != nil {
			return nil, fmt.Errorf("calibrating on %s: %w", set.Name, err)
		}
		for _, v := range vals {
			t := ex.Value(v)
			if t == nil {
				return nil, fmt.Errorf("calibrating: value %q was not computed", v)
			}
			r := ranges[v]
			r[0], r[1] = min(r[0], slices.Min(t.Data)), max(r[1], slices.Max(t.Data))
			ranges[v] = r
			if method == "percentile" {
				per := t.Len() / len(idx) * set.Len()
				stride := max(1, (per+calibSamples-1)/calibSamples)
				for i := 0; i < t.Len(); i += stride {
					samples[v] = append(samples[v], t.Data[i])
				}
			}
		}
	}
	if method == "percentile" {
		for _, v := range vals {
			s := samples[v]
			slices.Sort(s)
			at := func(p float64) float32 {
				return s[min(len(s)-1, int(math.Round(p/100*float64(len(s)-1))))]
			}
			ranges[v] = [2]float32{at(100 - pct), at(pct)}
		}
	}
	return ranges, nil
}

// ortAccuracy runs model in ONNX Runtime on the whole of set and returns
// the percentage of correct top-1 predictions.
func ortAccuracies(models []string, set *data.Dataset) ([]float64, error) {
	idx := make([]int, set.Len())
	for i := range idx {
		idx[i] = i
	}
	x, labels := set.Batch(idx, nil, nil, nil)
	jobs := make([]ort.Job, len(models))
	for i, m := range models {
		jobs[i] = ort.Job{Model: m, X: x}
	}
	outs, err := ort.RunBatch(jobs)
	if err != nil {
		return nil, err
	}
	accs := make([]float64, len(models))
	for i, y := range outs {
		if y.Dims() != 2 || y.Shape[0] != len(labels) {
			return nil, fmt.Errorf("%s: ONNX Runtime output shape %v, want [%d classes]", models[i], y.Shape, len(labels))
		}
		k, right := y.Shape[1], 0
		for j, l := range labels {
			row := y.Data[j*k : (j+1)*k]
			if int32(slices.Index(row, slices.Max(row))) == l {
				right++
			}
		}
		accs[i] = 100 * float64(right) / float64(len(labels))
	}
	return accs, nil
}

// quantizeInt8 is quantize --int8: BN folded, activation ranges calibrated
// on a split held out from the training data, the static QDQ model written
// to o.Out, and both it and its float32 counterpart measured in ONNX
// Runtime (accuracy on the test split, speed at batch 1 and 64).
func quantizeInt8(e *Env, o *QuantizeOptions) (map[string]any, error) {
	if err := CheckOutput(o.Out); err != nil {
		return nil, err
	}
	if o.Data.Spec == "" {
		return nil, &InputError{errors.New("--int8 needs --data (activations are calibrated on the training data)")}
	}
	if err := o.Int8.Validate(); err != nil {
		return nil, err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	if err := notForDetection("quantize --int8", g, o.Data.Spec); err != nil {
		return nil, err
	}
	tr, te, err := o.Data.load(e, g)
	if err != nil {
		return nil, err
	}
	summary := map[string]any{"bytes_before": fileSize(o.Model)}
	ev, err := train.Evaluate(g, te, 256)
	if err != nil {
		return nil, err
	}
	summary["accuracy_before"] = 100 * ev.Accuracy
	f, err := graph.FoldBN(g)
	if err != nil {
		return nil, err
	}
	calib, err := writeInt8(e, f, tr, o.Int8, o.Out, o.Seed)
	if err != nil {
		return nil, err
	}
	summary["bytes"] = fileSize(o.Out)
	summary["compression"] = float64(fileSize(o.Model)) / float64(fileSize(o.Out))
	summary["out"] = o.Out
	summary["calibration"] = calib
	if p := modelPrep(g); p != nil {
		summary["preprocessing"] = p
	}
	if err := ortInt8(e, f, o.Out, te, summary); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Log, "wrote %s (%d bytes, static int8 QDQ)\n", o.Out, fileSize(o.Out))
	return summary, nil
}

// writeInt8 calibrates the BN-folded f on a split of CalibSize images held
// out from tr and writes the static int8 QDQ model to out; it returns what
// the calibration used.
func writeInt8(e *Env, f *graph.Graph, tr *data.Dataset, o *Int8Options, out string, seed uint64) (map[string]any, error) {
	n := min(o.CalibSize, tr.Len()/2)
	if n < 1 {
		return nil, &InputError{fmt.Errorf("%d training images are too few to hold out a calibration split", tr.Len())}
	}
	_, val, err := tr.Split(n, tensor.NewRNG(seed^0xca1b))
	if err != nil {
		return nil, err
	}
	method := o.Calibrate
	if method == "" {
		method = "minmax"
	}
	fmt.Fprintf(e.Log, "calibrating %s on %d held-out training images\n", method, val.Len())
	ranges, err := Calibrate(f, val, method, o.Percentile)
	if err != nil {
		return nil, err
	}
	g := f.Clone()
	g.Meta["slimgo.stage"] = "int8"
	if err := onnx.WriteFile(out, g, onnx.WriteOptions{QDQ: &onnx.QDQ{Ranges: ranges, Signed: o.Signed}}); err != nil {
		return nil, err
	}
	act := "u8"
	if o.Signed {
		act = "s8"
	}
	c := map[string]any{"method": method, "images": val.Len(), "activations": act, "values": len(ranges)}
	if method == "percentile" {
		c["percentile"] = o.Percentile
	}
	return c, nil
}

// ortInt8 measures the int8 model int8Path and its float32 counterpart
// (f, written BN folded to a temporary file) in ONNX Runtime: accuracy on
// te and images/s at batch 1 and 64, the two alternated SpeedRounds times
// (best of each), into summary. Without node it only says so.
func ortInt8(e *Env, f *graph.Graph, int8Path string, te *data.Dataset, summary map[string]any) error {
	if !ort.Available() {
		fmt.Fprintf(e.Log, "node is not installed: the int8 model's accuracy and speed in ONNX Runtime are not measured\n")
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(int8Path), ".int8")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	float := filepath.Join(tmp, "float.onnx")
	if err := onnx.WriteFile(float, f, onnx.WriteOptions{}); err != nil {
		return err
	}
	accs, err := ortAccuracies([]string{float, int8Path}, te)
	if err != nil {
		return err
	}
	summary["float_accuracy_ort"], summary["accuracy"] = accs[0], accs[1]
	fmt.Fprintf(e.Log, "ONNX Runtime accuracy on %d test images: float32 %.2f%%, int8 %.2f%%\n", te.Len(), accs[0], accs[1])
	var f64, f1, q64, q1 float64
	for range SpeedRounds {
		a, b := ortSpeed(e, f, float, tmp, 64)
		c, d := ortSpeed(e, f, int8Path, tmp, 64)
		f64, f1, q64, q1 = max(f64, a), max(f1, b), max(q64, c), max(q1, d)
	}
	summary["ort_images_per_s_batch64"], summary["ort_images_per_s_batch1"] = f64, f1
	summary["ort_images_per_s_int8_batch64"], summary["ort_images_per_s_int8_batch1"] = q64, q1
	summary["ort_images_per_s"], summary["ort_images_per_s_int8"] = f64, q64
	fmt.Fprintf(e.Log, "ONNX Runtime images/s (best of %d): float32 %.0f (batch 64), %.0f (batch 1); int8 %.0f (batch 64), %.0f (batch 1)\n",
		SpeedRounds, f64, f1, q64, q1)
	return nil
}
