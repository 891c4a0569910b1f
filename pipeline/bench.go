package pipeline

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// BenchOptions configure Bench. Model is an .onnx file or a .slimpack; a
// static int8 QDQ .onnx is timed in ONNX Runtime only (ORT must be set).
type BenchOptions struct {
	Model      string
	Batch      int     // images per pass, >= 1
	Threads    int     // slimgo's workers and ONNX Runtime's intra-op threads, >= 1; 0: all cores
	Warmup     int     // untimed passes before timing, >= 0 (each side runs at least one)
	Passes     int     // timed passes at least, >= 1
	MinSeconds float64 // and time at least this long per side, >= 0
	ORT        bool    // also time the model in ONNX Runtime
	Layers     bool    // also time each node of slimgo's (optimized) graph
	JSON       bool
}

// Default bench settings.
const (
	DefaultBenchPasses     = 10
	DefaultBenchWarmup     = 2
	DefaultBenchMinSeconds = 1.0
)

// Validate checks the options; messages name the bench flags.
func (o *BenchOptions) Validate() error {
	switch {
	case o.Model == "":
		return BadInput("--model is required")
	case o.Batch < 1:
		return BadInput("--batch must be >= 1, got %d", o.Batch)
	case o.Threads < 0:
		return BadInput("--threads must be >= 1, got %d", o.Threads)
	case o.Warmup < 0:
		return BadInput("--warmup must be >= 0, got %d", o.Warmup)
	case o.Passes < 1:
		return BadInput("--passes must be >= 1, got %d", o.Passes)
	case !(o.MinSeconds >= 0) || o.MinSeconds > 3600:
		return BadInput("--min-seconds must be in [0, 3600], got %g", o.MinSeconds)
	}
	return nil
}

// speedSettings say how one model is timed: the batch, the threads (0:
// leave the process's setting alone), untimed warm-up passes, and timed
// passes until both passes have run and minTime has gone by.
type speedSettings struct {
	batch, threads, warmup, passes int
	minTime                        time.Duration
	layers                         bool // also time each node (slimgo only)
}

// speed is one timing: the fastest pass (images/s and its milliseconds),
// the median pass, the timed passes and the threads that ran them.
type speed struct {
	imagesPerSec, bestMs, medianMs float64
	passes, threads                int
	layers                         []train.LayerTime // with speedSettings.layers
	layersPassMs                   float64           // the mean wall time of the passes that timed them
}

// randomInput is the batch every speed figure is taken on: N(0,1) values,
// seed 1, shape [batch, chw...].
func randomInput(batch int, chw []int) *tensor.Tensor {
	x := tensor.New(append([]int{batch}, chw...)...)
	x.FillNormal(tensor.NewRNG(1), 0, 1)
	return x
}

// timeSlimgo times g in slimgo's engine on random input of its shape
// (train.TimeInference). With s.threads > 0 the engine's parallel loops use
// that many workers (GOMAXPROCS, restored afterwards).
func timeSlimgo(g *graph.Graph, s speedSettings) (speed, error) {
	chw, err := inputCHW(g)
	if err != nil {
		return speed{}, err
	}
	if s.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(s.threads))
	}
	x := randomInput(s.batch, chw)
	t, err := train.TimeInference(g, x, train.TimingOptions{Warmup: s.warmup, Passes: s.passes, MinTime: s.minTime, Layers: s.layers})
	if err != nil {
		return speed{}, err
	}
	return speed{
		imagesPerSec: float64(s.batch) / t.Best.Seconds(),
		bestMs:       float64(t.Best) / 1e6, medianMs: float64(t.Median) / 1e6,
		passes: t.Passes, threads: t.Threads, layers: t.Layers, layersPassMs: float64(t.LayersPass) / 1e6,
	}, nil
}

// timeORT times the .onnx file model in ONNX Runtime (tools/ort/run.js in
// its timing mode) on random input of shape [s.batch, chw...] written to
// tmpDir; s.threads is its intra-op threads (at least 1). imagesPerSec is
// the fastest run's figure.
func timeORT(model string, chw []int, s speedSettings, tmpDir string) (speed, error) {
	in, out := filepath.Join(tmpDir, "x.npy"), filepath.Join(tmpDir, "y.npy")
	if err := npy.WriteFile(in, randomInput(s.batch, chw)); err != nil {
		return speed{}, err
	}
	r, err := ort.Time(model, in, out, ort.TimeOptions{Threads: max(s.threads, 1), Warmup: s.warmup, Runs: s.passes,
		MinMs: float64(s.minTime) / 1e6})
	if err != nil {
		return speed{}, err
	}
	if r.BestMs <= 0 || r.MedianMs <= 0 || r.Threads != max(s.threads, 1) {
		return speed{}, fmt.Errorf("ort: %s: the harness's report %+v lacks the timing or the %d threads asked for", model, r, max(s.threads, 1))
	}
	return speed{imagesPerSec: float64(s.batch) / (r.BestMs / 1000), bestMs: r.BestMs, medianMs: r.MedianMs,
		passes: r.Runs, threads: r.Threads}, nil
}

// benchModel is the model Bench times: g is nil when slimgo cannot run the
// file (an int8 QDQ model), probe is set for .onnx files.
type benchModel struct {
	g      *graph.Graph
	probe  *onnx.Probe
	packed bool
	chw    []int
}

// loadBench reads o.Model for Bench: a .slimpack or an .onnx slimgo runs,
// or, with o.ORT, an int8 QDQ .onnx for ONNX Runtime alone. Failures are
// bad input.
func loadBench(e *Env, o *BenchOptions) (*benchModel, error) {
	packed, err := isPackedFile(o.Model)
	if err != nil {
		return nil, AsInput(err)
	}
	m := &benchModel{packed: packed}
	if !packed {
		p, err := onnx.ProbeFile(o.Model)
		if err != nil {
			return nil, AsInput(err)
		}
		m.probe = &p
		if p.QDQ {
			if !o.ORT {
				return nil, BadInput("%s is a static int8 (QDQ) model, which slimgo does not run; add --ort for ONNX Runtime's figure", o.Model)
			}
			fmt.Fprintf(e.Log, "bench: %s is an int8 QDQ model: slimgo does not run it, ONNX Runtime only\n", o.Model)
			if len(p.Shape) != 4 || p.Shape[1] <= 0 || p.Shape[2] <= 0 || p.Shape[3] <= 0 {
				return nil, BadInput("%s: need one NCHW image input of fixed size, input %q has shape %v", o.Model, p.Input, p.Shape)
			}
			m.chw = p.Shape[1:]
			return m, nil
		}
	}
	if m.g, err = loadModel(o.Model); err != nil {
		return nil, err
	}
	if m.chw, err = inputCHW(m.g); err != nil {
		return nil, err
	}
	return m, nil
}

// Bench measures a model's inference speed on this machine: images/s of the
// fastest of o.Passes timed passes (after o.Warmup untimed ones) on random
// input of the model's shape at o.Batch, with o.Threads workers; with o.ORT
// also ONNX Runtime's on the same file, batch and threads. Summary keys:
// images_per_s, ms_per_batch, median_ms, passes, batch, threads, input,
// params, macs; with ORT ort_images_per_s, ort_ms_per_batch, ort_median_ms,
// ort_passes, ort_model (what ONNX Runtime ran) and ort_ratio (slimgo / ONNX
// Runtime). A model that cannot be read or run is bad input; ONNX Runtime
// missing or failing is not.
func Bench(e *Env, o *BenchOptions) (map[string]any, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	if o.ORT {
		if err := ort.Installed(); err != nil {
			return nil, err
		}
	}
	m, err := loadBench(e, o)
	if err != nil {
		return nil, err
	}
	s := speedSettings{batch: o.Batch, threads: threads, warmup: max(o.Warmup, 1), passes: o.Passes,
		minTime: time.Duration(o.MinSeconds * float64(time.Second)), layers: o.Layers}
	summary := map[string]any{"model": o.Model, "batch": o.Batch, "threads": threads,
		"input": append([]int{o.Batch}, m.chw...)}
	if m.g != nil {
		if err := benchSlimgo(e, m.g, s, summary); err != nil {
			return nil, err
		}
	}
	if o.ORT {
		if err := benchORT(e, o, m, s, summary); err != nil {
			return nil, err
		}
		if a, ok := summary["images_per_s"].(float64); ok {
			summary["ort_ratio"] = a / summary["ort_images_per_s"].(float64)
			fmt.Fprintf(e.Log, "bench: slimgo / ONNX Runtime = %.2fx\n", summary["ort_ratio"])
		}
	}
	return summary, nil
}

// benchSlimgo times g in slimgo for Bench and adds its keys to summary.
func benchSlimgo(e *Env, g *graph.Graph, s speedSettings, summary map[string]any) error {
	st, err := g.ComputeStats()
	if err != nil {
		return AsInput(err)
	}
	summary["params"], summary["macs"] = st.Params, st.MACs
	fmt.Fprintf(e.Log, "bench: slimgo, input %v, threads %d: %d warm-up and at least %d timed passes (%s)\n",
		summary["input"], s.threads, max(s.warmup, 1), s.passes, s.minTime)
	sp, err := timeSlimgo(g, s)
	if err != nil {
		return AsInput(err)
	}
	if sp.threads != s.threads {
		return fmt.Errorf("bench: asked for %d threads, the engine ran %d", s.threads, sp.threads)
	}
	summary["images_per_s"], summary["ms_per_batch"], summary["median_ms"], summary["passes"] =
		sp.imagesPerSec, sp.bestMs, sp.medianMs, sp.passes
	fmt.Fprintf(e.Log, "bench: slimgo %.1f images/s (best of %d passes: %.2f ms per batch, median %.2f ms)\n",
		sp.imagesPerSec, sp.passes, sp.bestMs, sp.medianMs)
	if s.layers {
		summary["layers"], summary["layers_pass_ms"] = benchLayers(e, sp.layers), sp.layersPassMs
	}
	return nil
}

// benchLayers turns per-node times into the summary's layers list
// ({name, op, ms}, in execution order, ms the mean per pass) and logs the
// ten slowest nodes.
func benchLayers(e *Env, ls []train.LayerTime) []map[string]any {
	out := make([]map[string]any, len(ls))
	var total time.Duration
	for i, l := range ls {
		out[i] = map[string]any{"name": l.Name, "op": l.Op, "ms": float64(l.Mean) / 1e6}
		total += l.Mean
	}
	top := slices.Clone(ls)
	slices.SortStableFunc(top, func(a, b train.LayerTime) int { return cmp.Compare(b.Mean, a.Mean) })
	fmt.Fprintf(e.Log, "bench: %d nodes, %.2f ms per pass in all; the slowest:\n", len(ls), float64(total)/1e6)
	for _, l := range top[:min(10, len(top))] {
		fmt.Fprintf(e.Log, "bench:   %8.3f ms  %5.1f%%  %s (%s)\n", float64(l.Mean)/1e6, 100*float64(l.Mean)/float64(max(total, 1)), l.Name, l.Op)
	}
	return out
}

// benchORT times the model in ONNX Runtime for Bench and adds its keys to
// summary. An .onnx file runs as it is, or, when it fixes another batch
// than s.batch (torch.onnx.export's default), with its batch made dynamic
// (onnx.DynamicBatch); should ONNX Runtime refuse that, and for a
// .slimpack, slimgo's export of the model (BN folded) runs instead.
func benchORT(e *Env, o *BenchOptions, m *benchModel, s speedSettings, summary map[string]any) error {
	tmp, err := os.MkdirTemp("", "slimgo-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file, what := o.Model, "file"
	if m.probe != nil && len(m.probe.Shape) > 0 && m.probe.Shape[0] > 0 && m.probe.Shape[0] != s.batch {
		b, err := os.ReadFile(o.Model)
		if err == nil {
			b, err = onnx.DynamicBatch(b)
		}
		if err != nil {
			return AsInput(err)
		}
		file, what = filepath.Join(tmp, "dynamic.onnx"), "file with a dynamic batch"
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return err
		}
	}
	export := func() error {
		file, what = filepath.Join(tmp, "export.onnx"), "slimgo export (BN folded)"
		return onnx.WriteFile(file, m.g, onnx.WriteOptions{FoldBN: true})
	}
	if m.packed {
		if err := export(); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.Log, "bench: ONNX Runtime (%s), intra-op threads %d: %d warm-up and at least %d timed runs\n",
		what, s.threads, s.warmup, s.passes)
	sp, err := timeORT(file, m.chw, s, tmp)
	if err != nil && m.g != nil && what != "slimgo export (BN folded)" {
		fmt.Fprintf(e.Log, "bench: ONNX Runtime failed on the %s (%v); timing slimgo's export instead\n", what, err)
		if err := export(); err != nil {
			return err
		}
		sp, err = timeORT(file, m.chw, s, tmp)
	}
	if err != nil {
		return fmt.Errorf("ONNX Runtime: %w", err)
	}
	summary["ort_images_per_s"], summary["ort_ms_per_batch"], summary["ort_median_ms"], summary["ort_passes"] =
		sp.imagesPerSec, sp.bestMs, sp.medianMs, sp.passes
	summary["ort_model"] = what
	fmt.Fprintf(e.Log, "bench: ONNX Runtime %.1f images/s (best of %d runs: %.2f ms per batch, median %.2f ms)\n",
		sp.imagesPerSec, sp.passes, sp.bestMs, sp.medianMs)
	return nil
}

// inferenceSpeed is the slimgo figure of prune's and compress's summaries
// and report: images/s at the given batch on random input, the fastest of
// 3 timed passes after one warm-up, with the process's threads (0 when the
// model cannot run).
func inferenceSpeed(g *graph.Graph, batch int) float64 {
	s, err := timeSlimgo(g, speedSettings{batch: batch, warmup: 1, passes: 3})
	if err != nil {
		return 0
	}
	return s.imagesPerSec
}

// ortSpeed is the ONNX Runtime figure of prune's, quantize --int8's and
// compress's summaries and report: images/s at batch n (median of 20 runs)
// and at batch 1 (median of 200), as many intra-op threads as slimgo has
// (GOMAXPROCS: the stage table puts the two side by side), no warm-up. A float
// model is measured in its deployment form (BN folded); model, when it names
// an .onnx file, is measured as is. Temporary files go to a directory made
// in tmpDir. Failures leave 0 (not measured) and are noted on e.Log; without
// node it is 0 silently.
func ortSpeed(e *Env, g *graph.Graph, model, tmpDir string, n int) (batchN, batch1 float64) {
	batchN, batch1, _ = ortSpeeds(e, g, model, tmpDir, n, false)
	return batchN, batch1
}

// ortSpeeds is ortSpeed, and with oneThread also batch 1 on a single
// intra-op thread (median of 200; the same as batch1 when GOMAXPROCS is
// 1): a small model's batch-1 time on two threads is mostly the runtime's
// per-node hand-offs, so the one-thread figure is the one that tracks the
// work a pruned model saves.
func ortSpeeds(e *Env, g *graph.Graph, model, tmpDir string, n int, oneThread bool) (batchN, batch1, batch1T1 float64) {
	if !ort.Available() {
		return 0, 0, 0
	}
	tmp, err := os.MkdirTemp(tmpDir, ".ort")
	if err != nil {
		return 0, 0, 0
	}
	defer os.RemoveAll(tmp)
	if model == "" || filepath.Ext(model) != ".onnx" {
		model = filepath.Join(tmp, "m.onnx")
		if err := onnx.WriteFile(model, g, onnx.WriteOptions{FoldBN: true}); err != nil {
			return 0, 0, 0
		}
	}
	chw, err := inputCHW(g)
	if err != nil {
		return 0, 0, 0
	}
	measure := func(b, threads, repeat int) float64 {
		s, err := timeORT(model, chw, speedSettings{batch: b, threads: threads, passes: repeat}, tmp)
		if err != nil {
			fmt.Fprintf(e.Log, "ONNX Runtime not measured: %v\n", err)
			return 0
		}
		return float64(b) / (s.medianMs / 1000)
	}
	threads := runtime.GOMAXPROCS(0)
	if batchN = measure(n, threads, 20); batchN > 0 {
		batch1 = measure(1, threads, 200)
	}
	if oneThread && batch1 > 0 {
		batch1T1 = batch1
		if threads > 1 {
			batch1T1 = measure(1, 1, 200)
		}
	}
	return batchN, batch1, batch1T1
}
