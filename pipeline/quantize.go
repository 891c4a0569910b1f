package pipeline

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// QuantizeOptions configure Quantize (BIRCH + k-means weight sharing).
type QuantizeOptions struct {
	Model       string
	Data        DataOptions
	Threshold   float64
	Scale       float64
	MaxClusters int
	Clusters    int
	Method      string
	MinSize     int
	Float16     bool
	Tune        TuneOptions
	CentroidLR  float64
	Out         string
	Packed      string
	Seed        uint64
	JSON        bool
	// Guard, when set and with Data, chooses the per-layer settings so
	// that at most Guard.MaxLoss accuracy points are lost on a validation
	// split held out from the training data (guardQuantize); Threshold,
	// Scale, Clusters are then the middle of the range it searches.
	Guard *GuardOptions
	// Int8, when set, writes a static int8 QDQ model to Out instead of
	// clustering (quantize --int8); Packed is not used then.
	Int8 *Int8Options
}

func (o *QuantizeOptions) clusterOpts() cluster.Options {
	return cluster.Options{Threshold: o.Threshold, ThresholdScale: o.Scale, MaxClusters: o.MaxClusters,
		Method: o.Method, FixedK: o.Clusters, Seed: o.Seed, MinSize: o.MinSize}
}

// centroidTuning makes training move centroids, not individual weights:
// every clustered weight's gradient becomes its cluster's summed gradient
// (Deep Compression's trained quantization). The members of a cluster then
// see identical gradients and, with Adam and no weight decay, identical
// updates, so they stay shared. Adam rather than SGD because a summed
// gradient scales with the cluster's size (from a few to tens of thousands
// of weights), which no single SGD learning rate suits.
type centroidTuning struct {
	r   *cluster.Result
	err error
}

func (c *centroidTuning) Name() string                   { return "centroids" }
func (c *centroidTuning) Penalty(_ *graph.Graph) float64 { return 0 }
func (c *centroidTuning) AddGrad(_ *graph.Graph, grads map[string]*tensor.Tensor) {
	if err := c.r.ProjectGrads(grads); err != nil && c.err == nil {
		c.err = err
	}
}

// quantizeResult is what quantizeGraph reports.
type quantizeResult struct {
	Result      *cluster.Result
	PackedBytes int64 // the self-contained .slimpack (graph + weights)
	// WeightsOnlyBytes is the size the weights alone take (a version 2
	// file, as earlier builds wrote; not written to disk).
	WeightsOnlyBytes int64
	Float16Params    bool // non-clustered parameters stored as float16
	ONNXBytes        int64
	Accuracy         float64 // percent, -1 without data
	BitsAvg          float64 // index + codebook bits per weight at fixed index width
	StoredBits       float64 // the same as stored in the packed file (indices entropy-coded where smaller)
	Clusters         []map[string]any
	// Layers are the per-layer settings and bits: name, clusters, bits
	// (stored bits per weight, codebook included), index_bits, threshold
	// (BIRCH T in weight units; 0 when K was fixed); the guard adds level
	// and sensitivity.
	Layers []map[string]any
	// ValScore, when set before finishQuantize, scores the restored model
	// on a validation split: ValAccuracy (percent).
	ValScore    func(g *graph.Graph) (float64, error)
	ValAccuracy float64
}

// quantizeGraph clusters g in place, optionally fine-tunes the centroids,
// and writes the weight-shared ONNX and the packed file.
func quantizeGraph(e *Env, g *graph.Graph, copt cluster.Options, tune TuneOptions, trainSet, testSet *data.Dataset, out, packed string, f16 bool, seed uint64) (*quantizeResult, error) {
	r, err := cluster.QuantizeGraph(g, copt)
	if err != nil {
		return nil, err
	}
	res := &quantizeResult{Result: r, Accuracy: -1}
	return res, finishQuantize(e, g, res, tune, trainSet, testSet, out, packed, f16, seed)
}

// Quantize clusters every Conv/Gemm weight, optionally fine-tunes the
// centroids, and writes the weight-shared ONNX (Out) and the packed file;
// with o.Int8 it writes a static int8 QDQ model instead (quantizeInt8).
func Quantize(e *Env, o *QuantizeOptions) (map[string]any, error) {
	if o.Int8 != nil {
		return quantizeInt8(e, o)
	}
	if err := CheckOutput(o.Out); err != nil {
		return nil, err
	}
	if err := CheckOutput(o.Packed); err != nil {
		return nil, err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	if err := detectorWithoutData("quantize", g, o.Data.Spec); err != nil {
		return nil, err
	}
	summary := map[string]any{"bytes_before": fileSize(o.Model)}
	var trainSet, testSet *data.Dataset
	if o.Data.Spec != "" {
		tr, te, err := o.Data.load(e, g)
		if err != nil {
			return nil, err
		}
		ev, err := train.Evaluate(g, te, 256)
		if err != nil {
			return nil, err
		}
		summary["accuracy_before"] = 100 * ev.Accuracy
		trainSet, testSet = tr, te
	} else if err := o.Data.Prep.stamp(e, g); err != nil {
		return nil, err
	}
	res, err := o.cluster(e, g, trainSet, testSet, summary)
	if err != nil {
		return nil, err
	}
	summary["layers"] = res.Layers
	if res.Accuracy >= 0 {
		summary["accuracy"] = res.Accuracy
	}
	summary["clusters"] = res.Clusters
	summary["bits_per_weight"] = res.BitsAvg
	summary["stored_bits_per_weight"] = res.StoredBits
	summary["bytes"] = res.PackedBytes
	summary["onnx_bytes"] = res.ONNXBytes
	summary["compression"] = float64(fileSize(o.Model)) / float64(res.PackedBytes)
	summary["weights_only_bytes"] = res.WeightsOnlyBytes
	summary["weights_only_compression"] = float64(fileSize(o.Model)) / float64(res.WeightsOnlyBytes)
	summary["float16_params"] = res.Float16Params
	summary["out"], summary["packed"] = o.Out, o.Packed
	if p := modelPrep(g); p != nil {
		summary["preprocessing"] = p
	}
	fmt.Fprintf(e.Log, "wrote %s (%d bytes, runs in ONNX Runtime) and %s (%d bytes, %.1fx smaller than %s)\n",
		o.Out, res.ONNXBytes, o.Packed, res.PackedBytes, summary["compression"], o.Model)
	return summary, nil
}

// cluster runs the guarded clustering when o.Guard is set and there is
// data (its figures under summary["guard"]), else the plain one, whose
// validation loss is still measured on the guard's split when there is
// data, so the two can be compared.
func (o *QuantizeOptions) cluster(e *Env, g *graph.Graph, trainSet, testSet *data.Dataset, summary map[string]any) (*quantizeResult, error) {
	switch {
	case o.Guard != nil && trainSet != nil:
		res, fig, err := guardQuantize(e, g, o.clusterOpts(), *o.Guard, o.Tune, trainSet, testSet, o.Out, o.Packed, o.Float16, o.Seed)
		if err != nil {
			return nil, err
		}
		summary["guard"] = fig
		return res, nil
	case o.Guard != nil:
		fmt.Fprintf(e.Log, "warning: quantize without --data: the accuracy guard cannot measure anything; clustering with the given settings\n")
		summary["guard"] = map[string]any{"skipped": "no --data"}
	}
	fig := map[string]any{"off": true}
	var val *data.Dataset
	var acc0 float64
	if trainSet != nil {
		n := min(DefaultGuardValSize, trainSet.Len()/2)
		if o.Guard != nil {
			n = min(o.Guard.ValSize, n)
		}
		if n >= 1 {
			var err error
			if _, val, err = trainSet.Split(n, tensor.NewRNG(o.Seed^guardSeedMix)); err != nil {
				return nil, err
			}
			if acc0, err = accuracy(g, val, evalBatch); err != nil {
				return nil, err
			}
			fig["val_size"], fig["val_seed"], fig["val_accuracy_before"] = n, o.Seed^guardSeedMix, acc0
			fig["val_trained_on"] = o.Tune.Epochs > 0
		}
	}
	r, err := cluster.QuantizeGraph(g, o.clusterOpts())
	if err != nil {
		return nil, err
	}
	res := &quantizeResult{Result: r, Accuracy: -1}
	if val != nil {
		res.ValScore = func(g *graph.Graph) (float64, error) { return accuracy(g, val, evalBatch) }
	}
	if err := finishQuantize(e, g, res, o.Tune, trainSet, testSet, o.Out, o.Packed, o.Float16, o.Seed); err != nil {
		return nil, err
	}
	if val != nil {
		fig["val_accuracy"], fig["val_loss"] = res.ValAccuracy, acc0-res.ValAccuracy
		summary["guard"] = fig
	}
	return res, nil
}

// finishQuantize fine-tunes centroids (when asked), measures accuracy and
// writes both outputs, filling res.
func finishQuantize(e *Env, g *graph.Graph, res *quantizeResult, tune TuneOptions, trainSet, testSet *data.Dataset, out, packed string, f16 bool, seed uint64) error {
	r := res.Result
	if tr, te := trainSet, testSet; te != nil {
		if tune.Epochs > 0 {
			ct := &centroidTuning{r: r}
			fmt.Fprintf(e.Log, "fine-tuning centroids %d epochs (Adam, lr %g)\n", tune.Epochs, tune.LR)
			_, err := train.Fit(g, tr, te, train.Options{Epochs: tune.Epochs, Batch: tune.Batch, Optimizer: train.OptAdam,
				LR: tune.LR, WeightDecay: 0, Schedule: train.ScheduleCosine,
				Regularizers: []train.Regularizer{ct}, Seed: seed, Progress: e.Log, Context: e.Ctx})
			if err != nil {
				return err
			}
			if ct.err != nil {
				return ct.err
			}
			if err := r.Reshare(g); err != nil {
				return err
			}
		}
	}
	if f16 {
		// The packed file will hold half-float centroids: round them now
		// so the shared ONNX and the measured accuracy are of the weights
		// as stored.
		for _, l := range r.Layers {
			for i, c := range l.Codebook {
				l.Codebook[i] = cluster.FromFloat16(cluster.Float16(c))
			}
			w := g.Params[l.Param] // QuantizeGraph clustered it from g
			for i, j := range l.Indices {
				w.Data[i] = l.Codebook[j]
			}
		}
	}
	popt := cluster.PackOptions{Float16Codebook: f16}
	packing, err := cluster.PackStats(r, popt)
	if err != nil {
		return err
	}
	shared := map[string]onnx.Shared{}
	totalBits, storedBits, totalW := 0.0, 0.0, 0
	for i, l := range r.Layers {
		shared[l.Param] = onnx.Shared{Codebook: l.Codebook, Indices: l.Indices}
		n := len(l.Indices)
		stored := 8 * float64(packing[i].IndexBytes+packing[i].CodebookBytes) / float64(n)
		totalBits += l.BitsPerWeight * float64(n)
		storedBits += stored * float64(n)
		totalW += n
		res.Clusters = append(res.Clusters, map[string]any{"layer": l.Param, "k": l.K, "bits": l.BitsPerWeight,
			"stored_bits": stored, "coding": packing[i].Coding.String(), "weights": n})
		res.Layers = append(res.Layers, map[string]any{"name": l.Param, "clusters": l.K, "bits": stored,
			"index_bits": l.IndexBits, "threshold": l.Threshold})
	}
	if totalW > 0 {
		res.BitsAvg = totalBits / float64(totalW)
		res.StoredBits = storedBits / float64(totalW)
	}
	g.Meta["slimgo.stage"] = "quantized"
	popt.Float16Params, err = float16Harmless(g, r)
	if err != nil {
		return err
	}
	res.Float16Params = popt.Float16Params
	if res.WeightsOnlyBytes, err = cluster.WritePacked(io.Discard, g, r, cluster.PackOptions{Float16Codebook: f16}); err != nil {
		return err
	}
	// The packed file is written first and read back: the model measured
	// and exported as ONNX is the one it restores (float16 values included).
	n, err := cluster.WriteModelFile(packed, g, r, popt)
	if err != nil {
		return err
	}
	res.PackedBytes = n
	restored, _, err := cluster.ReadModelFile(packed)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", packed, err)
	}
	for name, t := range restored.Params {
		copy(g.Params[name].Data, t.Data)
	}
	if te := testSet; te != nil {
		ev, err := train.Evaluate(restored, te, 256)
		if err != nil {
			return err
		}
		res.Accuracy = 100 * ev.Accuracy
	}
	if res.ValScore != nil {
		if res.ValAccuracy, err = res.ValScore(restored); err != nil {
			return err
		}
	}
	if err := onnx.WriteFile(out, g, onnx.WriteOptions{Shared: shared}); err != nil {
		os.Remove(packed)
		return err
	}
	res.ONNXBytes = fileSize(out)
	return nil
}

// Float16 parameters are accepted when, on a fixed random batch, no output
// moves by more than f16Tol of the largest |output| and no row's arg-max
// changes. Rounding to float16 moves each value by at most 2^-11 of itself
// (4.9e-4); 1e-3 of the output range is about two such steps, far below
// the logit gaps that decide a class; the accuracy reported is measured on
// the restored model in any case, so whatever remains shows there.
const (
	f16Tol   = 1e-3
	f16Batch = 8
)

// float16Harmless reports whether storing g's non-clustered parameters as
// float16 leaves the model's outputs unchanged (see f16Tol). A model whose
// input size is not fixed is not checked (false).
func float16Harmless(g *graph.Graph, r *cluster.Result) (bool, error) {
	if len(g.Inputs) != 1 || len(g.Outputs) == 0 {
		return false, nil
	}
	shape := slices.Clone(g.Inputs[0].Shape)
	if len(shape) == 0 {
		return false, nil
	}
	shape[0] = f16Batch
	for _, d := range shape[1:] {
		if d <= 0 {
			return false, nil
		}
	}
	clustered := map[string]bool{}
	for _, l := range r.Layers {
		clustered[l.Param] = true
	}
	half := g.Clone()
	changed := false
	for name, t := range half.Params {
		if clustered[name] {
			continue
		}
		for i, v := range t.Data {
			h := cluster.FromFloat16(cluster.Float16(v))
			changed = changed || h != v
			t.Data[i] = h
		}
	}
	if !changed {
		return true, nil
	}
	x := tensor.New(shape...)
	x.FillNormal(tensor.NewRNG(12345), 0, 1)
	run := func(m *graph.Graph) (*tensor.Tensor, error) {
		ex, err := engine.New(m)
		if err != nil {
			return nil, err
		}
		return ex.Forward(x, false)
	}
	a, err := run(g)
	if err != nil {
		return false, err
	}
	b, err := run(half)
	if err != nil {
		return false, err
	}
	scale := 0.0
	for _, v := range a.Data {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i, v := range a.Data {
		if math.Abs(float64(v-b.Data[i])) > f16Tol*scale || math.IsNaN(float64(b.Data[i])) {
			return false, nil
		}
	}
	if len(a.Shape) == 2 {
		for i := range a.Shape[0] {
			ra, rb := a.Data[i*a.Shape[1]:(i+1)*a.Shape[1]], b.Data[i*a.Shape[1]:(i+1)*a.Shape[1]]
			if argmax(ra) != argmax(rb) {
				return false, nil
			}
		}
	}
	return true, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
