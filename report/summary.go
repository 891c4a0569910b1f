// Package report turns the figures of a compression run into a report
// directory: report.md (Markdown readable on GitHub and in a terminal), PNG
// plots next to it (drawn with gonum/plot) and summary.json, all written
// atomically from one Summary value.
//
// The caller (the compress pipeline) fills a Summary as the stages run and
// calls Write once at the end:
//
//	s := &report.Summary{Model: "resnet8.onnx", Data: "fashion-mnist", Seed: 1}
//	s.Stages = append(s.Stages, report.Stage{Name: "original", Accuracy: 91.2,
//		Params: st.Params, MACs: st.MACs, Bytes: onnxSize, ImagesPerSec: ips})
//	s.GammaBefore = ...            // |gamma| of every BN channel
//	s.Episodes = append(s.Episodes, report.Episode{Reward: e.Reward, Warmup: e.Random})
//	...
//	path, err := report.Write(outDir, s) // report.md, *.png, summary.json
//	emit(e, asJSON, s.JSON())            // the CLI's --json object, same keys
//
// Conventions: Stages[0] is the model as given ("before"), the last stage is
// the delivered model ("after"); accuracy is top-1 test accuracy in percent;
// a zero Bytes, ImagesPerSec, ORTImagesPerSec, ORTBatch1ImagesPerSec or
// Seconds means "not measured" and shows as "-" in the report. Derived
// figures (compression, speedup, reductions) are computed by methods from
// the stored ones, never stored twice.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// Stage holds the figures of the model as it stands after one pipeline
// stage (or the original model, Stages[0]).
type Stage struct {
	Name string `json:"name"` // e.g. "original", "sparse", "ddpg", "layer", "finetune", "quantized"
	// Accuracy is the stage's test score in percent (0..100): top-1
	// accuracy, or for a detector (Summary.Task "detect") COCO mAP@0.5.
	Accuracy float64 `json:"accuracy"`
	// MAP50_95 is a detector's COCO mAP@0.5:0.95 in percent (0 for a
	// classifier).
	MAP50_95 float64 `json:"map50_95,omitempty"`
	Params   int64   `json:"params"` // trainable parameters (graph.Stats.Params)
	MACs     int64   `json:"macs"`   // multiply-accumulates per image (graph.Stats.MACs)
	// Bytes is the stored size of this stage's model file (ONNX, or the
	// bit-packed file for the clustered model); 0 = not stored.
	Bytes int64 `json:"bytes"`
	// ImagesPerSec is slimgo inference throughput at Summary.BenchBatch;
	// 0 = not measured.
	ImagesPerSec float64 `json:"images_per_s"`
	// ORTImagesPerSec is ONNX Runtime throughput at Summary.BenchBatch and
	// ORTBatch1ImagesPerSec at batch 1; 0 = not measured (no runtime).
	ORTImagesPerSec       float64 `json:"ort_images_per_s,omitempty"`
	ORTBatch1ImagesPerSec float64 `json:"ort_batch1_images_per_s,omitempty"`
	Seconds               float64 `json:"seconds,omitempty"` // wall time the stage took; 0 = not timed
	File                  string  `json:"file,omitempty"`    // the stage's model file, if written
	Notes                 string  `json:"notes,omitempty"`   // one line shown in the stage table
}

// LayerChannels is the width of one prunable layer (channel group) before
// and after channel pruning. After is 0 when the layer went away with a
// removed block.
type LayerChannels struct {
	Name   string `json:"name"`
	Before int    `json:"before"`
	After  int    `json:"after"`
	// Ratio is the pruning ratio chosen for the layer (the DDPG action, or
	// the slimming ratio); 0 when none was chosen per layer.
	Ratio float64 `json:"ratio,omitempty"`
}

// Episode is one episode of the DDPG search (rl.Episode: Reward, Warmup =
// Random, Info copied as is, e.g. "accuracy", "params_ratio").
type Episode struct {
	Reward float64            `json:"reward"`
	Warmup bool               `json:"warmup,omitempty"` // random-action warm-up episode
	Info   map[string]float64 `json:"info,omitempty"`
}

// Block is one residual block considered by layer pruning.
type Block struct {
	Name    string  `json:"name"`
	Score   float64 `json:"score"` // mean |gamma| of the block's 3x3-conv BN
	Removed bool    `json:"removed"`
}

// LayerClusters is the weight sharing of one parameter (cluster.LayerResult:
// Name = Param, K, Weights = len(Indices), BitsPerWeight).
type LayerClusters struct {
	Name          string  `json:"name"`
	K             int     `json:"k"`               // centroids
	Weights       int     `json:"weights"`         // values sharing the K centroids
	BitsPerWeight float64 `json:"bits_per_weight"` // stored bits per weight, codebook included
	// StoredBits is bits per weight as the packed file stores the layer
	// (indices entropy-coded where smaller, codebook as stored); 0 = not
	// measured.
	StoredBits float64 `json:"stored_bits,omitempty"`
	// Threshold is the BIRCH threshold T in weight units (0 when K was fixed).
	Threshold float64 `json:"threshold,omitempty"`
	// Level, set by the accuracy guard, is the multiplier it applied to
	// the layer's threshold (0: the finest setting, the cluster cap);
	// Sensitivity is the KL divergence (nats per image) of the model with
	// only this layer clustered at the configured threshold.
	Level       *float64 `json:"level,omitempty"`
	Sensitivity float64  `json:"sensitivity,omitempty"`
}

// SpeedFigures are one model's speeds: slimgo and ONNX Runtime images/s at
// Summary.BenchBatch, ONNX Runtime at batch 1; 0 = not measured.
type SpeedFigures struct {
	ImagesPerSec          float64 `json:"images_per_s,omitempty"`
	ORTImagesPerSec       float64 `json:"ort_images_per_s,omitempty"`
	ORTBatch1ImagesPerSec float64 `json:"ort_batch1_images_per_s,omitempty"`
	// ORTBatch1OneThread is ONNX Runtime at batch 1 on one intra-op
	// thread (SpeedCheck only; the same as ORTBatch1ImagesPerSec when
	// SpeedCheck.Threads is 1).
	ORTBatch1OneThread float64 `json:"ort_batch1_1thread_images_per_s,omitempty"`
}

// SpeedCheck is the original and the delivered model timed side by side
// after the run: Rounds rounds that alternate the two, each model keeping
// its best figure. The stage table's speeds are taken as each stage ends,
// minutes or hours apart, so a machine that got busier or quieter in
// between biases their ratio; these pairs do not have that bias, and the
// speed-ups use them when present.
type SpeedCheck struct {
	Rounds int `json:"rounds"`
	// Threads are the threads slimgo and ONNX Runtime ran on (0: not
	// recorded, runs before the field).
	Threads int          `json:"threads,omitempty"`
	Before  SpeedFigures `json:"before"`
	After   SpeedFigures `json:"after"`
}

// Summary is everything a compression run reports. Fill what ran and leave
// the rest empty: a plot whose data is empty is skipped and the report says
// why.
type Summary struct {
	Model string `json:"model"` // input model (path or arch name)
	Data  string `json:"data"`  // data set
	// Task is "detect" for a detector (the stages' Accuracy is then
	// mAP@0.5), empty for a classifier.
	Task string `json:"task,omitempty"`
	// Preprocessing is how images were fed to the models (mean, std,
	// input_size, resize, channel_order), PreprocessingText the same in
	// words for report.md.
	Preprocessing     map[string]any `json:"preprocessing,omitempty"`
	PreprocessingText string         `json:"preprocessing_text,omitempty"`
	Seed              uint64         `json:"seed"`               // --seed of the run
	Settings          map[string]any `json:"settings,omitempty"` // configuration used (flag/config key -> value)
	Started           time.Time      `json:"started,omitzero"`
	Finished          time.Time      `json:"finished,omitzero"`
	// BenchBatch is the batch size of ImagesPerSec and ORTImagesPerSec
	// (0 = unknown).
	BenchBatch int `json:"bench_batch,omitempty"`

	Stages []Stage `json:"stages"` // Stages[0] = original, last = delivered model

	GammaBefore []float64       `json:"gamma_before,omitempty"` // |gamma| of every BN channel before sparse training
	GammaAfter  []float64       `json:"gamma_after,omitempty"`  // and after it
	Layers      []LayerChannels `json:"layers,omitempty"`       // channels per layer, original vs delivered
	Episodes    []Episode       `json:"episodes,omitempty"`     // DDPG search, in order
	Blocks      []Block         `json:"blocks,omitempty"`       // residual blocks scored by layer pruning
	Clusters    []LayerClusters `json:"layer_clusters,omitempty"`
	// WeightsOnlyBytes is what the delivered model's weights alone take
	// packed (codebooks, indices, other parameters as float32; no graph),
	// beside the last stage's Bytes, the self-contained file; 0 = not
	// measured.
	WeightsOnlyBytes int64 `json:"weights_only_bytes,omitempty"`
	// Guard, when the accuracy guard chose the clustering (quantize.guard),
	// holds its figures (keys as quantize's "guard": max_loss, val_size,
	// val_seed, val_accuracy_before, val_accuracy, val_loss, within,
	// fallback, warning, evaluations, ...).
	Guard map[string]any `json:"guard,omitempty"`
	// Int8, when compress wrote a static int8 model (quantize.int8), holds
	// its calibration and ONNX Runtime figures (keys as quantize --int8).
	Int8 map[string]any `json:"int8,omitempty"`
	// SpeedCheck, when present, holds the side-by-side timing the
	// speed-ups are computed from (see SpeedCheck).
	SpeedCheck *SpeedCheck `json:"speed_check,omitempty"`
	// With a latency budget (channel.keep_latency): the input model's and
	// the delivered model's batch-1 time in ONNX Runtime (one thread, the
	// fastest run), the lookup table's estimate of the channel stage's
	// policy and the budget, milliseconds; 0 = not measured.
	LatencyMsBefore    float64 `json:"latency_ms_before,omitempty"`
	LatencyMs          float64 `json:"latency_ms,omitempty"`
	LatencyMsEstimated float64 `json:"latency_ms_estimated,omitempty"`
	TargetLatencyMs    float64 `json:"target_latency_ms,omitempty"`

	// Files maps an output's role (e.g. "model", "packed", "onnx_shared")
	// to its path; the report lists them.
	Files map[string]string `json:"files,omitempty"`
	Notes []string          `json:"notes,omitempty"` // free lines shown under "Notes"
	// Detections is a detector's picture of predicted boxes (PlotDetections;
	// drawn when Task is "detect"); not part of summary.json.
	Detections *DetectionPicture `json:"-"`

	// Report is the path of report.md; Write sets it. Plots lists the PNG
	// files Write drew (base names); Write sets it.
	Report string   `json:"report,omitempty"`
	Plots  []string `json:"plots,omitempty"`
}

// Before returns the original model's stage (Stages[0]) and After the
// delivered one (the last); both return the zero Stage when there are none.
func (s *Summary) Before() Stage {
	if len(s.Stages) == 0 {
		return Stage{}
	}
	return s.Stages[0]
}

// After returns the last stage (see Before).
func (s *Summary) After() Stage {
	if len(s.Stages) == 0 {
		return Stage{}
	}
	return s.Stages[len(s.Stages)-1]
}

// ratio returns a/b, or 0 when either is not positive (not measured).
func ratio(a, b float64) float64 {
	if !(a > 0) || !(b > 0) {
		return 0
	}
	return a / b
}

// Compression is bytes_before / bytes: how many times smaller the stored
// delivered model is than the original; 0 when either size is unknown.
func (s *Summary) Compression() float64 {
	return ratio(float64(s.Before().Bytes), float64(s.After().Bytes))
}

// MACReduction is macs_before / macs (0 when unknown).
func (s *Summary) MACReduction() float64 {
	return ratio(float64(s.Before().MACs), float64(s.After().MACs))
}

// ParamReduction is params_before / params (0 when unknown).
func (s *Summary) ParamReduction() float64 {
	return ratio(float64(s.Before().Params), float64(s.After().Params))
}

// speedEnds returns the first and last positive value of f over the stages.
// The clustered model usually runs like the pruned one and may not be timed
// again, so the last timed stage stands for the delivered model.
func (s *Summary) speedEnds(f func(Stage) float64) (first, last float64) {
	for _, st := range s.Stages {
		if v := f(st); v > 0 {
			if first == 0 {
				first = v
			}
			last = v
		}
	}
	return first, last
}

// Speedup is slimgo images/s of the delivered model over the original's:
// from SpeedCheck when it measured both, else of the last timed stage over
// the first timed stage (normally the original); 0 when not measured.
func (s *Summary) Speedup() float64 {
	return s.speedup(func(f SpeedFigures) float64 { return f.ImagesPerSec })
}

// SpeedupORT is Speedup measured in ONNX Runtime at BenchBatch.
func (s *Summary) SpeedupORT() float64 {
	return s.speedup(func(f SpeedFigures) float64 { return f.ORTImagesPerSec })
}

// SpeedupORTBatch1 is Speedup measured in ONNX Runtime at batch 1.
func (s *Summary) SpeedupORTBatch1() float64 {
	return s.speedup(func(f SpeedFigures) float64 { return f.ORTBatch1ImagesPerSec })
}

// SpeedupORTBatch1OneThread is SpeedupORTBatch1 on one intra-op thread,
// from SpeedCheck only (0 when it did not measure it).
func (s *Summary) SpeedupORTBatch1OneThread() float64 {
	if c := s.SpeedCheck; c != nil && c.Before.ORTBatch1OneThread > 0 && c.After.ORTBatch1OneThread > 0 {
		return ratio(c.After.ORTBatch1OneThread, c.Before.ORTBatch1OneThread)
	}
	return 0
}

func (s *Summary) speedup(f func(SpeedFigures) float64) float64 {
	if c := s.SpeedCheck; c != nil && f(c.Before) > 0 && f(c.After) > 0 {
		return ratio(f(c.After), f(c.Before))
	}
	stage := func(st Stage) float64 {
		return f(SpeedFigures{ImagesPerSec: st.ImagesPerSec, ORTImagesPerSec: st.ORTImagesPerSec, ORTBatch1ImagesPerSec: st.ORTBatch1ImagesPerSec})
	}
	if s.timed(stage) < 2 {
		return 0
	}
	a, b := s.speedEnds(stage)
	return ratio(b, a)
}

func (s *Summary) timed(f func(Stage) float64) int {
	n := 0
	for _, st := range s.Stages {
		if f(st) > 0 {
			n++
		}
	}
	return n
}

// BestEpisode returns the index in Episodes of the highest reward (the first
// on ties, as rl.Search keeps it), or -1 when there are no episodes.
func (s *Summary) BestEpisode() int {
	best := -1
	for i, e := range s.Episodes {
		if best < 0 || e.Reward > s.Episodes[best].Reward {
			best = i
		}
	}
	return best
}

// RemovedBlocks returns the names of the removed blocks, in Blocks order.
func (s *Summary) RemovedBlocks() []string {
	out := []string{}
	for _, b := range s.Blocks {
		if b.Removed {
			out = append(out, b.Name)
		}
	}
	return out
}

// MeanBitsPerWeight is the weight-count-weighted mean of BitsPerWeight over
// Clusters (0 when there are none).
func (s *Summary) MeanBitsPerWeight() float64 {
	var bits, n float64
	for _, c := range s.Clusters {
		bits += c.BitsPerWeight * float64(c.Weights)
		n += float64(c.Weights)
	}
	return ratio(bits, n)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks what Write and JSON rely on: at least one stage, unique
// non-empty stage names, no negative or non-finite figure, accuracy within
// 0..100, K >= 1 and Weights >= 0 per clustered layer. The error names the
// field and the stage or layer.
func (s *Summary) Validate() error {
	if s == nil {
		return fmt.Errorf("report: nil summary")
	}
	if len(s.Stages) == 0 {
		return fmt.Errorf("report: summary has no stages (want at least the original model)")
	}
	seen := map[string]bool{}
	for i, st := range s.Stages {
		where := fmt.Sprintf("stage %d (%q)", i, st.Name)
		if st.Name == "" {
			return fmt.Errorf("report: %s: empty name", where)
		}
		if seen[st.Name] {
			return fmt.Errorf("report: %s: duplicate stage name", where)
		}
		seen[st.Name] = true
		if !finite(st.Accuracy) || st.Accuracy < 0 || st.Accuracy > 100 {
			return fmt.Errorf("report: %s: accuracy %v, want a percentage in 0..100", where, st.Accuracy)
		}
		if st.Params < 0 || st.MACs < 0 || st.Bytes < 0 {
			return fmt.Errorf("report: %s: negative params/macs/bytes (%d/%d/%d)", where, st.Params, st.MACs, st.Bytes)
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"images_per_s", st.ImagesPerSec}, {"ort_images_per_s", st.ORTImagesPerSec},
			{"ort_batch1_images_per_s", st.ORTBatch1ImagesPerSec}, {"seconds", st.Seconds}} {
			if !finite(f.v) || f.v < 0 {
				return fmt.Errorf("report: %s: %s %v, want >= 0 and finite", where, f.name, f.v)
			}
		}
	}
	if c := s.SpeedCheck; c != nil {
		for _, side := range []struct {
			name string
			f    SpeedFigures
		}{{"before", c.Before}, {"after", c.After}} {
			for _, v := range []float64{side.f.ImagesPerSec, side.f.ORTImagesPerSec, side.f.ORTBatch1ImagesPerSec, side.f.ORTBatch1OneThread} {
				if !finite(v) || v < 0 {
					return fmt.Errorf("report: speed_check %s: %v images/s, want >= 0 and finite", side.name, v)
				}
			}
		}
	}
	for name, v := range map[string]float64{"latency_ms_before": s.LatencyMsBefore, "latency_ms": s.LatencyMs,
		"latency_ms_estimated": s.LatencyMsEstimated, "target_latency_ms": s.TargetLatencyMs} {
		if !finite(v) || v < 0 {
			return fmt.Errorf("report: %s %v, want >= 0 and finite", name, v)
		}
	}
	for name, xs := range map[string][]float64{"gamma_before": s.GammaBefore, "gamma_after": s.GammaAfter} {
		for i, x := range xs {
			if !finite(x) {
				return fmt.Errorf("report: %s[%d] = %v, want finite", name, i, x)
			}
		}
	}
	for i, l := range s.Layers {
		if l.Before < 0 || l.After < 0 || !finite(l.Ratio) || l.Ratio < 0 || l.Ratio > 1 {
			return fmt.Errorf("report: layer %d (%q): before %d, after %d, ratio %v; want counts >= 0 and ratio in 0..1", i, l.Name, l.Before, l.After, l.Ratio)
		}
	}
	for i, e := range s.Episodes {
		if !finite(e.Reward) {
			return fmt.Errorf("report: episode %d: reward %v, want finite", i+1, e.Reward)
		}
		for k, v := range e.Info {
			if !finite(v) {
				return fmt.Errorf("report: episode %d: info %q = %v, want finite", i+1, k, v)
			}
		}
	}
	for i, b := range s.Blocks {
		if !finite(b.Score) {
			return fmt.Errorf("report: block %d (%q): score %v, want finite", i, b.Name, b.Score)
		}
	}
	for i, c := range s.Clusters {
		if c.K < 1 || c.Weights < 0 || !finite(c.BitsPerWeight) || c.BitsPerWeight < 0 {
			return fmt.Errorf("report: clustered layer %d (%q): k %d, weights %d, bits/weight %v; want k >= 1, weights >= 0, bits >= 0", i, c.Name, c.K, c.Weights, c.BitsPerWeight)
		}
	}
	return nil
}

// JSON returns the summary as one JSON object: every Summary field under its
// snake_case key, plus the derived contract keys of `compress`:
// accuracy_before, accuracy, params_before, params, macs_before, macs,
// bytes_before, bytes (first and last stage), compression, speedup (0 =
// not measured), speedup_ort and speedup_ort_batch1 (when measured), mac_reduction,
// param_reduction, best_episode (1-based, when a search ran),
// weights_only_compression (bytes_before / WeightsOnlyBytes, when
// measured), removed_blocks (names), ratios (layer -> ratio, when chosen) and clusters
// (layer -> K). Values are JSON types (float64, string, []any,
// map[string]any), so the map prints the same through encoding/json and the
// CLI's plain listing. summary.json is exactly this object.
func (s *Summary) JSON() (map[string]any, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("report: encoding summary: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("report: decoding summary: %w", err)
	}
	b, a := s.Before(), s.After()
	derived := map[string]any{
		"accuracy_before": b.Accuracy,
		"accuracy":        a.Accuracy,
		"params_before":   float64(b.Params),
		"params":          float64(a.Params),
		"macs_before":     float64(b.MACs),
		"macs":            float64(a.MACs),
		"bytes_before":    float64(b.Bytes),
		"bytes":           float64(a.Bytes),
		"compression":     s.Compression(),
		"speedup":         s.Speedup(),
		"mac_reduction":   s.MACReduction(),
		"param_reduction": s.ParamReduction(),
		"report":          s.Report,
	}
	if s.WeightsOnlyBytes > 0 {
		derived["weights_only_compression"] = ratio(float64(b.Bytes), float64(s.WeightsOnlyBytes))
	}
	removed := []any{}
	for _, n := range s.RemovedBlocks() {
		removed = append(removed, n)
	}
	derived["removed_blocks"] = removed
	if v := s.SpeedupORT(); v > 0 {
		derived["speedup_ort"] = v
	}
	if v := s.SpeedupORTBatch1(); v > 0 {
		derived["speedup_ort_batch1"] = v
	}
	if v := s.SpeedupORTBatch1OneThread(); v > 0 {
		derived["speedup_ort_batch1_1thread"] = v
	}
	if i := s.BestEpisode(); i >= 0 {
		derived["best_episode"] = float64(i + 1)
	}
	ratios := map[string]any{}
	for _, l := range s.Layers {
		if l.Ratio > 0 {
			ratios[l.Name] = l.Ratio
		}
	}
	if len(ratios) > 0 {
		derived["ratios"] = ratios
	}
	if len(s.Clusters) > 0 {
		ks := map[string]any{}
		for _, c := range s.Clusters {
			ks[c.Name] = float64(c.K)
		}
		derived["clusters"] = ks
	}
	for k, v := range derived {
		m[k] = v
	}
	if s.IsDetect() {
		detectKeys(m, b, a)
	}
	return m, nil
}

// TaskDetect is Summary.Task for a detector.
const TaskDetect = "detect"

// IsDetect reports whether the summary is of a detector.
func (s *Summary) IsDetect() bool { return s.Task == TaskDetect }

// detectKeys puts a detector's contract keys in place of the accuracy
// keys: map50_before, map50, map50_95_before, map50_95 (percent), and
// each stage's score under map50.
func detectKeys(m map[string]any, b, a Stage) {
	delete(m, "accuracy_before")
	delete(m, "accuracy")
	m["map50_before"], m["map50"] = b.Accuracy, a.Accuracy
	m["map50_95_before"], m["map50_95"] = b.MAP50_95, a.MAP50_95
	stages, _ := m["stages"].([]any)
	for _, st := range stages {
		if sm, ok := st.(map[string]any); ok {
			sm["map50"] = sm["accuracy"]
			delete(sm, "accuracy")
		}
	}
}

// bulkyKeys are the JSON() keys holding per-channel, per-episode or
// per-layer lists, left out by Brief.
var bulkyKeys = []string{"gamma_before", "gamma_after", "episodes", "layers", "layer_clusters", "blocks", "ratios", "clusters", "stages", "settings"}

// Brief returns JSON() without the long per-item lists (gamma_before,
// gamma_after, episodes, layers, layer_clusters, blocks, ratios, clusters,
// stages, settings): the figures a terminal listing shows when --json is
// not given. The full object stays in summary.json.
func (s *Summary) Brief() (map[string]any, error) {
	m, err := s.JSON()
	if err != nil {
		return nil, err
	}
	for _, k := range bulkyKeys {
		delete(m, k)
	}
	return m, nil
}

// MarshalJSONIndent encodes JSON() with two-space indentation and a final
// newline, keys sorted: the bytes of summary.json.
func (s *Summary) MarshalJSONIndent() ([]byte, error) {
	m, err := s.JSON()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: encoding summary: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadJSON reads a summary.json written by Write back into a Summary (the
// derived keys are ignored; they are recomputed by the methods). Settings
// values come back as JSON types (numbers as float64).
func ReadJSON(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return &s, nil
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
