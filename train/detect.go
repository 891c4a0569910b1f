package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/optim"
	"github.com/slimgo/slimgo/tensor"
)

// DetectOptions tunes FitDetector; zero fields take the defaults in
// brackets.
type DetectOptions struct {
	Epochs int // [30]
	Batch  int // [32]
	// LR is the peak AdamW rate of the cosine schedule with a 1-epoch
	// warm-up [8e-3, DefaultDetectLR].
	LR float64
	// WeightDecay is AdamW's decoupled decay, not applied to BN parameters
	// and biases [5e-4].
	WeightDecay float64
	// FlipH mirrors each training image (and its boxes) with probability 1/2.
	FlipH bool
	// Jitter scales and shifts each training image and its boxes
	// (data.DetJitter; after the flip).
	Jitter data.DetJitter
	Seed   uint64
	Loss   detect.LossOptions
	// Log, when set, gets one line per epoch.
	Log io.Writer
	// Val, when set, is evaluated (mAP@0.5 with NMS) after every
	// EvalEvery epochs [5] and after the last.
	Val       *data.DetDataset
	EvalEvery int
	// Context, when set, stops the run before the next step once it is
	// cancelled (the error wraps ErrStopped; with CheckpointDir the last
	// finished epoch's checkpoint stays for a Resume).
	Context context.Context
	// Regularizers add their gradients after each backward pass; a
	// Shrinker's step follows each update (BNShrink, the sparse training
	// of compress).
	Regularizers []Regularizer
	// NoWarmup starts the cosine schedule at the peak rate (fine-tuning a
	// trained model, or a few steps, where a one-epoch warm-up would be
	// the whole run).
	NoWarmup bool
	// Teacher, when set, is distilled into the model (detect.DistillLoss
	// on its raw maps for the same, flipped, batch, in inference mode):
	// each step minimises (1 - DistillWeight) YOLOXLoss + DistillWeight
	// DistillLoss. It must have the model's inputs and head layout.
	Teacher       *graph.Graph
	DistillWeight float64 // in (0, 1]; needs Teacher
	// CheckpointDir, when set, gets CheckpointDir/train.ckpt after every
	// epoch (parameters, AdamW state, the shuffling stream, the epochs'
	// figures); with Resume a run continues from it and ends with the
	// same weights as an uninterrupted one (a stop mid-epoch repeats that
	// epoch from its start).
	CheckpointDir string
	Resume        bool
}

// DefaultDetectLR is FitDetector's peak rate when none is given: on the
// generated sample (2000 images, 20 epochs, flips and jitter) it reached
// mAP@0.5 69.93 % where 2e-3 reached 60.62 % and 4e-3 65.36 %
// (docs/detection.md, *What limits yolo-s*).
const DefaultDetectLR = 8e-3

// DetectEpoch is one epoch's figures.
type DetectEpoch struct {
	Epoch                 int
	Loss, Box, Obj, Cls   float64 // means over the epoch's steps
	MAP50, MAP50_95       float64 // NaN when not evaluated
	Seconds, ImagesPerSec float64
}

// HeadStrides returns a detector graph's output strides from its
// slimgo.strides metadata, one per output. Errors: missing, malformed or
// of the wrong count.
func HeadStrides(g *graph.Graph) ([]float64, error) {
	s := g.Meta["slimgo.strides"]
	parts := strings.Split(s, ",")
	if s == "" || len(parts) != len(g.Outputs) {
		return nil, fmt.Errorf("train: detector %q: slimgo.strides %q does not give one stride per output (%d)", g.Name, s, len(g.Outputs))
	}
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("train: detector %q: bad stride %q", g.Name, p)
		}
		out[i] = v
	}
	return out, nil
}

// headMaps wraps a batch's outputs as detect.HeadMaps.
func headMaps(g *graph.Graph, out map[string]*tensor.Tensor, strides []float64) ([]detect.HeadMap, error) {
	maps := make([]detect.HeadMap, len(g.Outputs))
	for i, o := range g.Outputs {
		t := out[o.Name]
		if t == nil || len(t.Shape) != 4 || t.Shape[1] < 6 {
			return nil, fmt.Errorf("train: detector output %q is missing or not [N, 5+K, H, W]", o.Name)
		}
		maps[i] = detect.HeadMap{Data: t.Data, N: t.Shape[0], K: t.Shape[1] - 5, H: t.Shape[2], W: t.Shape[3], Stride: strides[i]}
	}
	return maps, nil
}

// FitDetector trains a detector graph (nn.BuildDetector's outputs and
// metadata) on set with detect.YOLOXLoss and AdamW under a cosine
// schedule, and returns each epoch's figures. The graph's parameters are
// updated in place.
// Errors: a graph without head strides, classes not matching the model's,
// a non-finite loss, an engine error; ErrStopped (wrapped) when
// opt.Context is cancelled.
func FitDetector(g *graph.Graph, set *data.DetDataset, opt DetectOptions) ([]DetectEpoch, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&opt.Epochs, 30)
	def(&opt.Batch, 32)
	def(&opt.EvalEvery, 5)
	if opt.LR == 0 {
		opt.LR = DefaultDetectLR
	}
	if opt.WeightDecay == 0 {
		opt.WeightDecay = 5e-4
	}
	strides, err := HeadStrides(g)
	if err != nil {
		return nil, err
	}
	if k := g.Outputs[0].Shape[1] - 5; k != len(set.Classes) {
		return nil, fmt.Errorf("train: detector has %d classes, the data %d", k, len(set.Classes))
	}
	exec, err := engine.New(g)
	if err != nil {
		return nil, err
	}
	exec.SetParamGradsOnly(true) // the images' gradients are never read
	dist, err := newDetDistiller(opt.Teacher, opt.DistillWeight, strides)
	if err != nil {
		return nil, err
	}
	ad := optim.NewAdam(opt.LR)
	ad.WeightDecay, ad.Decoupled, ad.NoDecay = opt.WeightDecay, true, map[string]bool{}
	for name, p := range g.Params {
		if len(p.Shape) < 2 {
			ad.NoDecay[name] = true
		}
	}
	steps := (set.Len() + opt.Batch - 1) / opt.Batch
	warm := steps
	if opt.NoWarmup {
		warm = 0
	}
	sched := CosineWarmup(opt.LR, opt.LR/20, warm)
	src := rand.NewPCG(opt.Seed, 0xde7ec7)
	rng := rand.New(src)
	ck := &detCkpt{g: g, o: ad, src: src, opt: &opt, set: set}
	first, hist, err := ck.resume()
	if err != nil {
		return nil, err
	}
	for ep := first; ep < opt.Epochs; ep++ {
		start := time.Now()
		e := DetectEpoch{Epoch: ep + 1, MAP50: math.NaN(), MAP50_95: math.NaN()}
		perm := rng.Perm(set.Len())
		var x *tensor.Tensor
		var scratch []float32
		for s := range steps {
			if opt.Context != nil && opt.Context.Err() != nil {
				return hist, fmt.Errorf("train: %w at epoch %d step %d (%v)", ErrStopped, ep+1, s+1, context.Cause(opt.Context))
			}
			idx := perm[s*opt.Batch : min((s+1)*opt.Batch, len(perm))]
			var objs [][]detect.GroundTruth
			x, objs = set.Batch(idx, x)
			if opt.FlipH {
				flipBatch(x, objs, rng)
			}
			if opt.Jitter.Enabled() {
				scratch = jitterBatch(x, objs, opt.Jitter, scratch, rng)
			}
			lr := sched(ep*steps+s, opt.Epochs*steps)
			ad.SetLR(lr)
			parts, err := detectStep(g, exec, ad, x, objs, strides, opt.Loss, opt.Regularizers, dist)
			if err != nil {
				return hist, fmt.Errorf("train: epoch %d step %d: %w", ep+1, s+1, err)
			}
			for _, r := range opt.Regularizers {
				if sh, ok := r.(Shrinker); ok {
					sh.Shrink(g, lr)
				}
			}
			e.Box += parts.Box / float64(steps)
			e.Obj += parts.Obj / float64(steps)
			e.Cls += parts.Cls / float64(steps)
		}
		e.Loss = e.Box + e.Obj + e.Cls
		e.Seconds = time.Since(start).Seconds()
		e.ImagesPerSec = float64(set.Len()) / e.Seconds
		if opt.Val != nil && ((ep+1)%opt.EvalEvery == 0 || ep+1 == opt.Epochs) {
			r, err := EvaluateDetector(g, opt.Val, detect.DefaultNMS)
			if err != nil {
				return hist, err
			}
			e.MAP50, e.MAP50_95 = r.MAP50, r.MAP50_95
		}
		hist = append(hist, e)
		if err := ck.save(ep+1, hist); err != nil {
			return hist, err
		}
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "epoch %d/%d: loss %.4f (box %.4f obj %.4f cls %.4f), %.0f img/s",
				e.Epoch, opt.Epochs, e.Loss, e.Box, e.Obj, e.Cls, e.ImagesPerSec)
			if !math.IsNaN(e.MAP50) { // NaN: not evaluated this epoch
				fmt.Fprintf(opt.Log, ", mAP@0.5 %.2f%% mAP@0.5:0.95 %.2f%%", 100*e.MAP50, 100*e.MAP50_95)
			}
			fmt.Fprintln(opt.Log)
		}
	}
	return hist, nil
}

// detectStep runs one training step: forward, loss, backward, update.
func detectStep(g *graph.Graph, exec *engine.Executor, o optim.Optimizer, x *tensor.Tensor, objs [][]detect.GroundTruth,
	strides []float64, lo detect.LossOptions, regs []Regularizer, dist *detDistiller) (detect.LossParts, error) {
	out, err := exec.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, true)
	if err != nil {
		return detect.LossParts{}, err
	}
	maps, err := headMaps(g, out, strides)
	if err != nil {
		return detect.LossParts{}, err
	}
	total, grads, parts, err := detect.YOLOXLoss(maps, objs, lo)
	if err != nil {
		return parts, err
	}
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return parts, fmt.Errorf("loss is %g", total)
	}
	if dist != nil {
		if err := dist.mix(x, maps, grads, parts.Positives); err != nil {
			return parts, err
		}
	}
	gout := map[string]*tensor.Tensor{}
	for i, v := range g.Outputs {
		gout[v.Name] = tensor.From(grads[i], out[v.Name].Shape...)
	}
	exec.ZeroGrad()
	if _, err := exec.Backward(gout); err != nil {
		return parts, err
	}
	for _, r := range regs {
		r.AddGrad(g, exec.Grads)
	}
	return parts, o.Step(g.Params, exec.Grads)
}

// flipBatch mirrors each image of x (and its boxes) left to right with
// probability 1/2; objs' slices are replaced, not modified.
func flipBatch(x *tensor.Tensor, objs [][]detect.GroundTruth, rng *rand.Rand) {
	c, h, w := x.Shape[1], x.Shape[2], x.Shape[3]
	sz := c * h * w
	for b := range objs {
		if rng.IntN(2) == 0 {
			continue
		}
		data.FlipImageH(x.Data[b*sz:(b+1)*sz], c, h, w)
		f := make([]detect.GroundTruth, len(objs[b]))
		for i, o := range objs[b] {
			f[i] = o
			f[i].X1, f[i].X2 = float64(w)-o.X2, float64(w)-o.X1
		}
		objs[b] = f
	}
}

// jitterBatch applies j to each image of x and its boxes (objs' slices
// are replaced, not modified) and returns the scratch buffer for reuse.
func jitterBatch(x *tensor.Tensor, objs [][]detect.GroundTruth, j data.DetJitter, scratch []float32, rng *rand.Rand) []float32 {
	c, h, w := x.Shape[1], x.Shape[2], x.Shape[3]
	sz := c * h * w
	if len(scratch) < sz {
		scratch = make([]float32, sz)
	}
	for b := range objs {
		objs[b] = j.Apply(x.Data[b*sz:(b+1)*sz], scratch, c, h, w, objs[b], rng)
	}
	return scratch
}

// EvaluateDetector runs g in inference mode over set (batches of 64),
// decodes its outputs (detect.DecodeYOLOX, scores >= nms.ScoreThreshold),
// suppresses with nms, maps detections and ground truth back to each
// image's original pixels (its Letterbox) and returns detect.Evaluate's
// COCO mAP. Errors: a graph without head strides, an engine error.
func EvaluateDetector(g *graph.Graph, set *data.DetDataset, nms detect.NMSOptions) (detect.MAPResult, error) {
	dets, err := PredictDetector(g, set, nms)
	if err != nil {
		return detect.MAPResult{}, err
	}
	return ScoreDetections(set, dets)
}

// PredictDetector runs g in inference mode over set (batches of 64) and
// returns each image's detections (DecodeOutputs) in its original pixels.
// Errors: a graph without head strides, an engine error.
func PredictDetector(g *graph.Graph, set *data.DetDataset, nms detect.NMSOptions) ([][]detect.Detection, error) {
	if _, err := HeadStrides(g); err != nil {
		return nil, err
	}
	dets := make([][]detect.Detection, 0, set.Len())
	err := RunDetBatches(g, set, func(idx []int, out map[string]*tensor.Tensor) error {
		d, err := DecodeOutputs(g, set.Subset(idx), out, nms)
		dets = append(dets, d...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dets, nil
}

// RunDetBatches runs g in inference mode over set in batches of 64
// images, in order, and hands each batch's image indices and outputs (by
// name, [len(idx), ...]) to fn; the outputs are valid only during the
// call. Errors: an engine error, or fn's.
func RunDetBatches(g *graph.Graph, set *data.DetDataset, fn func(idx []int, out map[string]*tensor.Tensor) error) error {
	exec, err := engine.New(g)
	if err != nil {
		return err
	}
	var x *tensor.Tensor
	for lo := 0; lo < set.Len(); lo += 64 {
		idx := make([]int, 0, 64)
		for i := lo; i < min(lo+64, set.Len()); i++ {
			idx = append(idx, i)
		}
		x, _ = set.Batch(idx, x)
		out, err := exec.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, false)
		if err != nil {
			return err
		}
		if err := fn(idx, out); err != nil {
			return err
		}
	}
	return nil
}

// DecodeOutputs decodes a detector's raw outputs for the images of set
// (out holds each of g's outputs by name, [set.Len(), 5+K, H, W], from
// slimgo or another runtime): detect.DecodeYOLOX at the scores >=
// nms.ScoreThreshold (DecodeYOLOXMultiLabel when nms.MultiLabel), detect.Suppress with nms, boxes mapped back to each
// image's original pixels by its Letterbox. Errors: a graph without head
// strides, a missing or misshapen output.
func DecodeOutputs(g *graph.Graph, set *data.DetDataset, out map[string]*tensor.Tensor, nms detect.NMSOptions) ([][]detect.Detection, error) {
	strides, err := HeadStrides(g)
	if err != nil {
		return nil, err
	}
	maps, err := headMaps(g, out, strides)
	if err != nil {
		return nil, err
	}
	dets := make([][]detect.Detection, set.Len())
	for i := range dets {
		if maps[0].N != set.Len() {
			return nil, fmt.Errorf("train: detector outputs hold %d images, the set %d", maps[0].N, set.Len())
		}
		decode := detect.DecodeYOLOX
		if nms.MultiLabel {
			decode = detect.DecodeYOLOXMultiLabel
		}
		d, err := decode(maps, i, nms.ScoreThreshold)
		if err != nil {
			return nil, err
		}
		d = detect.Suppress(d, nms)
		lb := set.Letterbox[i]
		for k := range d {
			d[k].Box = lb.Inverse(d[k].Box)
		}
		dets[i] = d
	}
	return dets, nil
}

// ScoreDetections returns detect.Evaluate's COCO mAP of dets (one slice
// per image of set, in original pixels) against set's boxes, mapped back
// to original pixels by each image's Letterbox.
func ScoreDetections(set *data.DetDataset, dets [][]detect.Detection) (detect.MAPResult, error) {
	return ScoreDetectionsWith(set, dets, detect.MAPOptions{})
}

// ScoreDetectionsWith is ScoreDetections with detect.Evaluate's options
// (an area range, in original pixels squared; a cap).
func ScoreDetectionsWith(set *data.DetDataset, dets [][]detect.Detection, opt detect.MAPOptions) (detect.MAPResult, error) {
	gts, err := originalGT(set, dets)
	if err != nil {
		return detect.MAPResult{}, err
	}
	return detect.Evaluate(gts, dets, len(set.Classes), opt)
}

// ScoreAgnostic returns the class-agnostic COCO mAP of dets against set's
// boxes (detect.Agnostic: every class made one, the detections suppressed
// again across classes by nms): what the mAP would be were every class
// right. PerClass holds the one class 0.
func ScoreAgnostic(set *data.DetDataset, dets [][]detect.Detection, nms detect.NMSOptions) (detect.MAPResult, error) {
	gts, err := originalGT(set, dets)
	if err != nil {
		return detect.MAPResult{}, err
	}
	g, d := detect.Agnostic(gts, dets, nms)
	return detect.Evaluate(g, d, 1, detect.MAPOptions{})
}

// originalGT returns set's boxes in original pixels, checking that dets
// has one entry per image.
func originalGT(set *data.DetDataset, dets [][]detect.Detection) ([][]detect.GroundTruth, error) {
	if len(dets) != set.Len() {
		return nil, fmt.Errorf("train: %d images of detections for %d images", len(dets), set.Len())
	}
	gts := make([][]detect.GroundTruth, set.Len())
	for i, objs := range set.Objects {
		for _, o := range objs {
			o.Box = set.Letterbox[i].Inverse(o.Box)
			gts[i] = append(gts[i], o)
		}
	}
	return gts, nil
}
