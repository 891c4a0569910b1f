package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/report"
	"github.com/slimgo/slimgo/rl"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// Compress on a detector (docs/detection.md, "Compressing a detector"):
// the same stages as for a classifier, with the detector's data, loss and
// score. Every choice (the DDPG episodes' reward, the quantization guard)
// is scored by COCO mAP@0.5 on a validation split carved from train/
// (seeded, recorded in the summary's notes); the fine-tunings train on the
// rest of train/; val/ only reports (the stage table).

// detSets are a detector's images in compress: train is train/ without
// the validation split val (n images held out with seed), test is val/.
type detSets struct {
	train, val, test *data.DetDataset
	seed             uint64
}

// Detector settings of compress's training stages. They use AdamW (as
// train --arch yolo-s), so the config's lr keys, which are the
// classifiers' SGD rates, do not apply; detect.lr and detect.batch set
// these.
const (
	// DefaultDetectLR is the peak AdamW rate of every detector
	// fine-tuning (a quarter of training's 2e-3: the model is trained).
	DefaultDetectLR = 5e-4
	// DefaultDetectBatch is their batch size (as train's default).
	DefaultDetectBatch = 32
	// detValShare caps the validation split at a fifth of train/ (the
	// fine-tunings keep the rest); channel.val_size caps it too.
	detValShare = 5
	// detValSeedMix derives the validation split's seed from --seed.
	detValSeedMix = 0xde7a
	// detCalibBatch is the batch of the BN recalibration after pruning.
	detCalibBatch = 64
	// detProbe images of the validation split measure the guard's
	// per-layer sensitivities.
	detProbe = 256
)

// DefaultDetectorConfig is compress's default configuration for a
// detector: DefaultConfig with the stage settings measured on the demo's
// yolo-s (docs/detection.md, "What compress reaches" and "Session 16"). A
// detector's fine-tunings see a few thousand images, not
// 60,000, so they run many more epochs at training's AdamW rate,
// distilling the input model (each DDPG episode's too); the sparse stage
// is the decoupled BN-factor step (train.BNShrink), which needs as many
// epochs to move the factors. The DDPG search keeps 35 % of the
// parameters and 45 % of the multiply-adds (with the parameter budget
// alone the search kept the wide early layers, and the demo's model ran
// only 2.0-2.1x faster in ONNX Runtime on one thread; with both, 2.6-2.8x,
// mAP@0.5 +0.96 and +1.23 points on two seeds with jitter,
// docs/detection.md "Session 17"); two shortcut blocks go. Every pruned group keeps a multiple
// of 16 channels (round_to and round_min 16): ONNX Runtime's blocked
// (NCHWc) convolutions on x86 take channels in blocks of 16 with AVX-512
// (8 with AVX2), and a layer off the block falls back to its plain
// convolution with reorders around it; on the demo's model (session 15) the same
// budget then ran 2.0-2.2x faster than the original at batch 1 on one
// thread where the unaligned one ran 1.75x (docs/detection.md,
// "Session 16").
func DefaultDetectorConfig() Config {
	c := DefaultConfig()
	c.Sparse.Epochs, c.Sparse.Lambda = 20, 0.5
	ch := &c.Channel
	ch.Method, ch.KeepParams, ch.KeepMACs, ch.FinetuneEpochs = "ddpg", 0.35, 0.45, 80
	ch.RoundTo, ch.RoundMin = 16, 16
	c.Layer.Blocks, c.Layer.FinetuneEpochs = 2, 50
	c.Detect = &DetectConfig{LR: 2e-3, Batch: DefaultDetectBatch, Augment: DefaultDetectAugment}
	return c
}

// DefaultDetectAugment is the augmentation of a detector's fine-tunings in
// compress: train's recipe, flips and scale/shift jitter. With flips
// alone the layer stage's fine-tuning lost 0.18 and 1.33 points of
// mAP@0.5 on two seeds of the demo's model; with jitter in every stage
// the delivered models ended 1.70 and 2.27 points above the input model
// (docs/detection.md, "Session 17").
const DefaultDetectAugment = "flip,jitter"

// DetectConfig are compress's detector settings (nil in DefaultConfig:
// the defaults above).
type DetectConfig struct {
	LR    float64 `yaml:"lr" json:"lr"`
	Batch int     `yaml:"batch" json:"batch"`
	// Augment is the augmentation of the detector's fine-tunings (not the
	// DDPG episodes' short ones), as train's --augment for a detector:
	// flip, jitter, flip,jitter or none; empty takes DefaultDetectAugment.
	Augment string `yaml:"augment" json:"augment,omitempty"`
}

func (p *run) detAugment() (flip bool, jitter data.DetJitter, err error) {
	if d := p.cfg.Detect; d != nil && d.Augment != "" {
		return ParseDetAugment(d.Augment)
	}
	return ParseDetAugment(DefaultDetectAugment)
}

func (p *run) detLR() float64 {
	if d := p.cfg.Detect; d != nil && d.LR > 0 {
		return d.LR
	}
	return DefaultDetectLR
}

func (p *run) detBatch() int {
	if d := p.cfg.Detect; d != nil && d.Batch > 1 {
		return d.Batch
	}
	return DefaultDetectBatch
}

// loadDetect reads the detection set for detector g and carves the
// validation split from train/.
func (p *run) loadDetect(g *graph.Graph) error {
	if !IsDetector(g) {
		return checkTask(p.o.Model, false, p.o.Data.Spec)
	}
	if err := checkTask(p.o.Model, true, p.o.Data.Spec); err != nil {
		return err
	}
	if !hasBN(g) {
		return BadInput("%s: compress on a detector needs its BatchNormalization layers (the channel and layer choices use their factors); give the model as train wrote it", p.o.Model)
	}
	tr, te, err := p.o.Data.loadDet(p.e, g, 0)
	if err != nil {
		return err
	}
	n := min(p.cfg.Channel.ValSize, tr.Len()/detValShare)
	if n < 1 || te.Len() == 0 {
		return BadInput("%s: %d training and %d val images are too few to compress a detector (a validation split of a fifth of train/ and val/ are needed)", p.o.Data.Spec, tr.Len(), te.Len())
	}
	seed := p.cfg.Seed ^ detValSeedMix
	rest, val, err := tr.Split(n, tensor.NewRNG(seed))
	if err != nil {
		return AsInput(err)
	}
	p.det = &detSets{train: rest, val: val, test: te, seed: seed}
	return nil
}

// detNote records the detector run's data split in the summary.
func (p *run) detNote() {
	p.sum.Task = report.TaskDetect
	p.sum.Preprocessing = detPrepSummary(p.det.train)
	p.sum.PreprocessingText = detPrep(p.det.train).String() + ", letterboxed"
	note := fmt.Sprintf("detector: every choice is scored by mAP@0.5 on %d validation images held out from train/ (seed %d); fine-tuning (AdamW, lr %g, batch %d, flips) trains on the other %d; val/ (%d images) only reports",
		p.det.val.Len(), p.det.seed, p.detLR(), p.detBatch(), p.det.train.Len(), p.det.test.Len())
	if len(p.sum.Notes) == 0 || p.sum.Notes[0] != note {
		p.sum.Notes = append([]string{note}, p.sum.Notes...)
	}
}

// detScore is g's COCO mAP@0.5 and mAP@0.5:0.95 on set, in percent.
func detScore(g *graph.Graph, set *data.DetDataset) (m50, m5095 float64, err error) {
	r, err := train.EvaluateDetector(g, set, detect.DefaultNMS)
	if err != nil {
		return 0, 0, err
	}
	return max(0, pct(r.MAP50)), max(0, pct(r.MAP50_95)), nil
}

// tuneDet fine-tunes detector g in place on the training images for
// epochs (AdamW at detLR from the peak, cosine, detect.augment: flips and
// jitter by default; sparsity > 0 adds the BN-factor L1 penalty as
// train.BNShrink's decoupled step; with distil and distill.weight > 0 the
// input model is the teacher, detect.DistillLoss; distill.temperature
// does not apply). It checkpoints every epoch to OUT/stages/STAGE.ckpt and
// resumes from there (a killed compress loses at most an epoch).
func (p *run) tuneDet(g *graph.Graph, stage string, epochs int, sparsity float64, distil bool) error {
	if epochs <= 0 {
		return nil
	}
	flip, jitter, err := p.detAugment()
	if err != nil {
		return err
	}
	opt := train.DetectOptions{Epochs: epochs, Batch: p.detBatch(), LR: p.detLR(), FlipH: flip, Jitter: jitter, Seed: p.cfg.Seed,
		Log: p.e.Log, Context: p.e.Ctx, NoWarmup: true}
	if sparsity > 0 {
		opt.Regularizers = []train.Regularizer{train.BNShrink{Lambda: sparsity}}
	}
	kd := ""
	if w := p.cfg.Distill.Weight; distil && w > 0 {
		teacher, err := p.inputModel()
		if err != nil {
			return err
		}
		opt.Teacher, opt.DistillWeight = teacher, w
		kd = fmt.Sprintf(", distilling the input model with weight %g", w)
	}
	aug := "no augmentation"
	switch {
	case flip && jitter != (data.DetJitter{}):
		aug = "flips and jitter"
	case flip:
		aug = "flips"
	case jitter != (data.DetJitter{}):
		aug = "jitter"
	}
	fmt.Fprintf(p.e.Log, "fine-tuning the detector %d epochs (AdamW, lr %g, batch %d, %s, sparsity %g%s) on %d images\n",
		epochs, opt.LR, opt.Batch, aug, sparsity, kd, p.det.train.Len())
	opt.CheckpointDir, opt.Resume = filepath.Join(p.dir, "stages", stage+".ckpt"), true
	if _, err := train.FitDetector(g, p.det.train, opt); err != nil {
		return err
	}
	return os.RemoveAll(opt.CheckpointDir)
}

// applyDet is applyPlan on a detector: the plan's channels removed, BN
// statistics re-estimated from calibBatches batches of the training images.
func applyDet(g *graph.Graph, plan prune.Plan, set *data.DetDataset, calibBatches int) (*graph.Graph, error) {
	out, err := prune.Apply(g, plan)
	if err != nil {
		return nil, err
	}
	return out, train.RecalibrateBNDetect(out, set, calibBatches, detCalibBatch)
}

// searchDDPGDet is searchDDPG on a detector: each episode's model is
// pruned, recalibrated, optionally fine-tuned for d.EpisodeSteps steps
// with the detector loss (AdamW at lr, on a seeded subset of the training
// images; distilling g with weight distill > 0), and rewarded by its
// mAP@0.5 on the validation split.
func searchDDPGDet(e *Env, g *graph.Graph, s *detSets, d DDPGOptions, popt prune.Options, b budget, lr, distill float64, seed uint64) (*ddpgResult, error) {
	batch := d.episodeBatch()
	var sub *data.DetDataset
	epochs := 1
	if d.EpisodeSteps > 0 {
		n := min(d.EpisodeSteps*batch, s.train.Len())
		sub = s.train
		if n < s.train.Len() {
			var err error
			if _, sub, err = s.train.Split(n, tensor.NewRNG(seed^0x7e57)); err != nil {
				return nil, AsInput(err)
			}
		}
		epochs = max(1, (d.EpisodeSteps*batch+n/2)/n)
	}
	ev := rl.Evaluator{
		Apply: func(base *graph.Graph, plan prune.Plan) (*graph.Graph, error) {
			out, err := applyDet(base, plan, s.train, d.Calib)
			if err != nil || sub == nil {
				return out, err
			}
			o := train.DetectOptions{Epochs: epochs, Batch: batch, LR: lr, Seed: seed, NoWarmup: true}
			if distill > 0 {
				o.Teacher, o.DistillWeight = base, distill
			}
			_, err = train.FitDetector(out, sub, o)
			return out, err
		},
		Accuracy: func(g *graph.Graph) (float64, error) {
			m, _, err := detScore(g, s.val)
			return m, err
		},
	}
	scoring := "zero-shot after BN recalibration"
	if sub != nil {
		scoring = fmt.Sprintf("after %d detector fine-tuning steps of %d images", d.EpisodeSteps, batch)
		if distill > 0 {
			scoring += fmt.Sprintf(" distilling the unpruned model (weight %g)", distill)
		}
	}
	return runDDPG(e, g, ev, "mAP@0.5", s.val.Len(), scoring, d, popt, b, seed)
}

// detOutputs runs g in inference mode on set and returns every output's
// values, image after image, as one vector (the guard's probe).
func detOutputs(g *graph.Graph, set *data.DetDataset) (*tensor.Tensor, error) {
	var vals []float32
	err := train.RunDetBatches(g, set, func(_ []int, out map[string]*tensor.Tensor) error {
		for _, v := range g.Outputs {
			vals = append(vals, out[v.Name].Data...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tensor.From(vals, len(vals)), nil
}

// meanSqDiff is the mean squared difference of two equally long vectors
// (a detector layer's sensitivity: how far clustering it moves the raw
// head outputs).
func meanSqDiff(a, b *tensor.Tensor) float64 {
	s := 0.0
	for i, v := range a.Data {
		d := float64(v - b.Data[i])
		s += d * d
	}
	return s / float64(max(1, len(a.Data)))
}

// guardDet is the quantization guard on a detector: at most o.MaxLoss
// points of mAP@0.5:0.95 lost on the validation split; no centroid
// fine-tuning. mAP@0.5:0.95, not the stages' mAP@0.5: the input model was
// trained on the validation split (it is carved from train/), where
// mAP@0.5 hardly moves under clustering (0.02 points lost at the setting
// that cost 0.67 on val/, docs/detection.md "Session 16"); its box
// precision, which clustering the heads erodes first, still shows in
// mAP@0.5:0.95.
func guardDet(e *Env, g *graph.Graph, copt cluster.Options, o GuardOptions, s *detSets, out, packed string, f16 bool, seed uint64) (*quantizeResult, map[string]any, error) {
	probe := s.val.Subset(seqInts(min(detProbe, s.val.Len())))
	gd := &guardData{n: s.val.Len(), seed: s.seed, name: "mAP@0.5:0.95", divName: "MSE", probeN: probe.Len(),
		score: func(g *graph.Graph) (float64, error) {
			_, m, err := detScore(g, s.val)
			return m, err
		},
		probe:   func(g *graph.Graph) (*tensor.Tensor, error) { return detOutputs(g, probe) },
		diverge: meanSqDiff}
	return guardRun(e, g, copt, o, TuneOptions{}, gd, nil, out, packed, f16, seed)
}

// seqInts returns 0..n-1.
func seqInts(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// scoreName names the stages' score in the log.
func (p *run) scoreName() string {
	if p.det != nil {
		return "mAP@0.5"
	}
	return "accuracy"
}

// quantizeDet clusters a detector's weights: under the guard (quantize.guard,
// tolerance quantize.max_loss in points of mAP@0.5:0.95 on the validation
// split)
// or every layer alike; centroid fine-tuning is not run on detectors (a
// note says so when it is configured).
func (p *run) quantizeDet(folded *graph.Graph, copt cluster.Options, shared, packed string) (*quantizeResult, error) {
	q := p.cfg.Quantize
	if q.FinetuneEpochs > 0 {
		p.sum.Notes = append(p.sum.Notes, "quantize.finetune_epochs: centroid fine-tuning is not run on a detector")
	}
	if !q.Guard {
		return quantizeGraph(p.e, folded, copt, TuneOptions{}, nil, nil, shared, packed, q.Float16, p.cfg.Seed)
	}
	res, fig, err := guardDet(p.e, folded, copt, GuardOptions{MaxLoss: q.MaxLoss, ValSize: p.det.val.Len()}, p.det, shared, packed, q.Float16, p.cfg.Seed)
	if err != nil {
		return nil, err
	}
	p.sum.Guard = fig
	if w, ok := fig["warning"].(string); ok {
		p.sum.Notes = append(p.sum.Notes, "mAP guard: "+w)
	}
	return res, nil
}
