package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/latency"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/report"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// Output names in the compress directory.
const (
	FileState   = "state.json"
	FileSummary = "summary.json"
	FilePruned  = "model.pruned.onnx"
	FileShared  = "model.shared.onnx"
	FilePacked  = "model.slimpack"
	FileInt8    = "model.int8.onnx"
)

// CompressOptions configure Compress.
type CompressOptions struct {
	Model   string      // the input ONNX model
	Data    DataOptions // the images
	Out     string      // output directory; a rerun with the same settings resumes there
	Restart bool        // discard a previous run in Out
	NoORT   bool        // do not measure ONNX Runtime's speed
	JSON    bool        // Demo: return the full summary (as --json prints it)
	Config  Config      // every stage's settings (DefaultConfig, LoadConfig)
}

// pipelineState is DIR/state.json: which stages are finished, with the
// summary so far, so that a rerun resumes after the last finished stage.
type pipelineState struct {
	Version int      `json:"version"`
	Hash    string   `json:"config_hash"`
	Done    []string `json:"done"`
	Model   string   `json:"model"` // the last finished stage's model (relative to DIR)
	// ChannelSteps rounds of an iterative channel stage are done, the
	// last one's model in ChannelModel; ChannelBase holds the stage
	// input's parameters and MACs, from which every round's budget comes.
	ChannelSteps int      `json:"channel_rounds,omitempty"`
	ChannelModel string   `json:"channel_model,omitempty"`
	ChannelBase  [2]int64 `json:"channel_base,omitempty"`
	ChannelNotes []string `json:"channel_notes,omitempty"` // the finished rounds' notes
	// ChannelLatency is the stage input's measured batch-1 time (ms) with
	// a latency budget, from which every round's latency budget comes.
	ChannelLatency float64         `json:"channel_latency,omitempty"`
	Summary        *report.Summary `json:"summary"`
}

type run struct {
	e        *Env
	o        *CompressOptions
	cfg      Config
	dir      string
	trainSet *data.Dataset
	testSet  *data.Dataset
	det      *detSets // a detector's images (then trainSet and testSet are nil)
	st       *pipelineState
	sum      *report.Summary
	input    *graph.Graph // the model as given, read once by inputModel
	// soft are the input model's logits of every training image, computed
	// by the first distilled fine-tuning and reused by the next (only
	// without augmentation, when they do not change from epoch to epoch).
	soft *tensor.Tensor
}

// inputModel returns the model as given (--model), read on first use and
// kept: the stages change their own copy, and the distillation teacher and
// the speed check only read this one.
func (p *run) inputModel() (*graph.Graph, error) {
	if p.input == nil {
		g, err := loadModel(p.o.Model)
		if err != nil {
			return nil, err
		}
		p.input = g
	}
	return p.input, nil
}

// summaryMap is the whole summary for --json, the brief one for people.
func SummaryMap(s *report.Summary, asJSON bool) (map[string]any, error) {
	if asJSON {
		return s.JSON()
	}
	return s.Brief()
}

// Compress runs (or resumes) the whole pipeline and returns the summary.
func Compress(e *Env, o *CompressOptions) (*report.Summary, error) {
	if err := CheckOutputDir(o.Out); err != nil {
		return nil, err
	}
	if o.Config.Channel.KeepLatency > 0 && o.NoORT {
		return nil, BadInput("channel.keep_latency is measured in ONNX Runtime: drop --no-ort")
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	p := &run{e: e, o: o, cfg: o.Config, dir: o.Out}
	if IsDetector(g) || IsDetectionData(o.Data.Spec) {
		if err := p.loadDetect(g); err != nil {
			return nil, err
		}
	} else if p.trainSet, p.testSet, err = o.Data.load(e, g); err != nil {
		return nil, err
	}
	modelBytes, err := os.ReadFile(o.Model)
	if err != nil {
		return nil, AsInput(err)
	}
	// The run is identified by its settings, data and the model's content, so
	// a rerun resumes only the same job.
	parts := []string{o.Data.Spec, fmt.Sprint(o.Data.TrainLimit, o.Data.TestLimit), string(modelBytes)}
	if pr := o.Data.Prep; len(pr.Mean) > 0 || pr.Resize != "" {
		parts = append(parts, data.FormatStats(pr.Mean), data.FormatStats(pr.Std), fmt.Sprint(pr.Resize, pr.Shorter))
	}
	hash := o.Config.hash(parts...)
	if o.Restart {
		os.RemoveAll(filepath.Join(o.Out, "stages"))
		os.Remove(filepath.Join(o.Out, FileState))
	}
	if err := os.MkdirAll(filepath.Join(o.Out, "stages"), 0o755); err != nil {
		return nil, err
	}
	if err := p.loadState(hash); err != nil {
		return nil, err
	}
	if p.det != nil {
		p.detNote()
	} else {
		p.sum.Preprocessing = p.trainSet.Preprocess().Summary()
		p.sum.PreprocessingText = p.trainSet.Preprocess().String()
	}
	if p.st.Model != "" {
		if g, err = onnx.ReadFile(filepath.Join(p.dir, p.st.Model)); err != nil {
			return nil, fmt.Errorf("resume: %w (rerun with --restart)", err)
		}
		fmt.Fprintf(e.Log, "compress: resuming after stage %q in %s\n", p.st.Done[len(p.st.Done)-1], p.dir)
	}
	stages, err := p.plan(g)
	if err != nil {
		return nil, err
	}
	for i, s := range stages {
		if s == nil || slices.Contains(p.st.Done, s.Name()) {
			continue
		}
		if err := p.runStage(i, s, &g); err != nil {
			return nil, err
		}
	}
	p.speedCheck()
	if err := p.deliveredLatency(); err != nil {
		return nil, err
	}
	p.detReportPicture()
	p.sum.Finished = time.Now()
	if _, err := report.Write(p.dir, p.sum); err != nil {
		return nil, err
	}
	if err := p.saveState(); err != nil {
		return nil, err
	}
	return p.sum, nil
}

func (p *run) loadState(hash string) error {
	path := filepath.Join(p.dir, FileState)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.sum = &report.Summary{Model: p.o.Model, Data: p.o.Data.Spec, Seed: p.cfg.Seed, Settings: p.cfg.settings(),
			Started: time.Now(), BenchBatch: p.cfg.BenchBatch, Files: map[string]string{}}
		p.st = &pipelineState{Version: 1, Hash: hash, Summary: p.sum}
		return nil
	case err != nil:
		return err
	}
	var st pipelineState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 || st.Summary == nil {
		return BadInput("%s is damaged (%v); rerun with --restart", path, err)
	}
	if st.Hash != hash {
		return BadInput("%s holds a run with other settings, data or model; use another --out or --restart", p.dir)
	}
	p.st, p.sum = &st, st.Summary
	if p.sum.Files == nil {
		p.sum.Files = map[string]string{}
	}
	return nil
}

func (p *run) saveState() error {
	b, err := json.MarshalIndent(p.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(p.dir, FileState), b)
}

// stageFigures measures a model for the stage table.
// acc is g's test accuracy in percent when the caller has just measured
// it (< 0: measure it here).
func (p *run) stageFigures(name string, g *graph.Graph, bytes int64, file string, acc float64) (report.Stage, error) {
	m5095 := 0.0
	if p.det != nil {
		var err error
		if acc, m5095, err = detScore(g, p.det.test); err != nil {
			return report.Stage{}, err
		}
	} else if acc < 0 {
		ev, err := train.Evaluate(g, p.testSet, 256)
		if err != nil {
			return report.Stage{}, err
		}
		acc = 100 * ev.Accuracy
	}
	st, err := g.ComputeStats()
	if err != nil {
		return report.Stage{}, err
	}
	s := report.Stage{Name: name, Accuracy: acc, MAP50_95: m5095, Params: int64(st.Params), MACs: st.MACs, Bytes: bytes, File: file}
	s.ImagesPerSec = inferenceSpeed(g, p.cfg.BenchBatch)
	if !p.o.NoORT {
		s.ORTImagesPerSec, s.ORTBatch1ImagesPerSec = ortSpeed(p.e, g, file, p.dir, p.cfg.BenchBatch)
	}
	fmt.Fprintf(p.e.Log, "%s: %s %.2f%%, %d params, %.2f M MACs, %d bytes, %.0f img/s (slimgo), %.0f img/s (ONNX Runtime)\n",
		name, p.scoreName(), s.Accuracy, s.Params, float64(s.MACs)/1e6, s.Bytes, s.ImagesPerSec, s.ORTImagesPerSec)
	return s, nil
}

// SpeedRounds is how many times speedCheck times each model.
const SpeedRounds = 3

// speedCheck times the original and the delivered model side by side,
// alternating them for SpeedRounds rounds and keeping each one's best
// figures, into p.sum.SpeedCheck: slimgo runs model.pruned.onnx, ONNX
// Runtime the delivered ONNX file (weight-shared when clustered), the
// original in deployment form (BN folded) on both; ONNX Runtime is left out
// with --no-ort. It runs again on every rerun of a finished directory, so
// the check reflects the machine as it is then. A model it cannot read
// leaves the check out (the speed-ups then come from the stage table) with
// a warning.
func (p *run) speedCheck() {
	orig, err := p.inputModel()
	pruned := p.sum.Files["pruned_onnx"]
	var final *graph.Graph
	if err == nil {
		final, err = onnx.ReadFile(pruned)
	}
	if err != nil {
		p.sum.SpeedCheck = nil
		fmt.Fprintf(p.e.Log, "warning: no side-by-side speed check: %v\n", err)
		return
	}
	delivered := pruned
	if f, ok := p.sum.Files["shared_onnx"]; ok {
		delivered = f
	}
	fmt.Fprintf(p.e.Log, "\ntiming the original and the delivered model side by side (%d rounds)\n", SpeedRounds)
	c := &report.SpeedCheck{Rounds: SpeedRounds, Threads: runtime.GOMAXPROCS(0)}
	best := func(f *report.SpeedFigures, g *graph.Graph, file string) {
		f.ImagesPerSec = max(f.ImagesPerSec, inferenceSpeed(g, p.cfg.BenchBatch))
		if !p.o.NoORT {
			n, one, one1 := ortSpeeds(p.e, g, file, p.dir, p.cfg.BenchBatch, true)
			f.ORTImagesPerSec, f.ORTBatch1ImagesPerSec = max(f.ORTImagesPerSec, n), max(f.ORTBatch1ImagesPerSec, one)
			f.ORTBatch1OneThread = max(f.ORTBatch1OneThread, one1)
		}
	}
	for range SpeedRounds {
		best(&c.Before, orig, "")
		best(&c.After, final, delivered)
	}
	p.sum.SpeedCheck = c
}

func bnGammas(g *graph.Graph) []float64 {
	var out []float64
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			for _, v := range g.Params[n.Input(1)].Data {
				out = append(out, float64(v))
			}
		}
	}
	return out
}

// original measures the model as given. A model exported with BN folded
// gets its BatchNormalization back here (restoreBN: an exact identity with
// measured statistics), so the later stages have scale factors to work on;
// the quantized stage folds it again.
func (p *run) original(g *graph.Graph) (*graph.Graph, error) {
	s, err := p.stageFigures("original", g, fileSize(p.o.Model), "", -1)
	if err != nil {
		return nil, err
	}
	s.File = p.o.Model
	if p.det != nil { // loadDetect checked it has its BN
		p.sum.Stages = append(p.sum.Stages, s)
		p.sum.GammaBefore = bnGammas(g)
		return g, nil
	}
	out, n, err := restoreBN(p.e, g, p.trainSet, p.cfg.Batch)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		s.Notes = fmt.Sprintf("BN folded at export: %d BatchNormalization nodes restored for the stages (identity; statistics from %d training images)", n, min(bnCalibImages, p.trainSet.Len()))
	}
	p.sum.Stages = append(p.sum.Stages, s)
	p.sum.GammaBefore = bnGammas(out)
	return out, nil
}

// tune fine-tunes g for a stage, resumably. With distil set and a
// distillation weight configured, the input model is the teacher.
func (p *run) tune(g *graph.Graph, stage string, epochs int, lr, sparsity float64, distil bool) (float64, error) {
	if p.det != nil {
		return -1, p.tuneDet(g, stage, epochs, sparsity, distil)
	}
	t := TuneOptions{Epochs: epochs, LR: lr, Batch: p.cfg.Batch, WD: 5e-4, Augment: p.cfg.Augment}
	if d := p.cfg.Distill; distil && d.Weight > 0 && epochs > 0 {
		teacher, err := p.inputModel()
		if err != nil {
			return 0, err
		}
		t.Teacher, t.DistillW, t.DistillTemp = teacher, d.Weight, d.Temperature
		aug, err := ParseAugment(p.cfg.Augment)
		if err != nil {
			return 0, err
		}
		if !aug.Changes() {
			if p.soft == nil {
				start := time.Now()
				if p.soft, err = train.DatasetLogits(teacher, p.trainSet, 0); err != nil {
					return 0, err
				}
				fmt.Fprintf(p.e.Log, "distillation: the input model's logits of %d training images in %.1f s, kept for every fine-tuning\n",
					p.trainSet.Len(), time.Since(start).Seconds())
			}
			t.TeacherLogits = p.soft
		}
	}
	ckpt := filepath.Join(p.dir, "stages", stage+".ckpt")
	acc, err := finetune(p.e, g, t, p.trainSet, p.testSet, p.cfg.Seed, sparsity, ckpt, true)
	if err == nil {
		os.RemoveAll(ckpt)
	}
	return acc, err
}

func (p *run) sparse(g *graph.Graph) (*graph.Graph, error) {
	c := p.cfg.Sparse
	fmt.Fprintf(p.e.Log, "sparse training: lambda %g, %d epochs\n", c.Lambda, c.Epochs)
	if _, err := p.tune(g, "sparse", c.Epochs, c.LR, c.Lambda, false); err != nil {
		return nil, err
	}
	p.sum.GammaAfter = bnGammas(g)
	return g, p.addStage("sparse", g, "")
}

// addStage measures g after a float stage; its bytes are those of the
// stage's ONNX file as the pipeline writes it.
func (p *run) addStage(name string, g *graph.Graph, notes string) error {
	b, err := onnx.Marshal(g, onnx.WriteOptions{})
	if err != nil {
		return err
	}
	s, err := p.stageFigures(name, g, int64(len(b)), "", -1)
	if err != nil {
		return err
	}
	s.Notes = notes
	p.sum.Stages = append(p.sum.Stages, s)
	return nil
}

func (p *run) channelOpts() prune.Options {
	return prune.Options{MinChannels: p.cfg.Channel.MinChannels, RoundTo: p.cfg.Channel.RoundTo, RoundMin: p.cfg.Channel.RoundMin}
}

// channel is the channel-pruning stage: one shot, or with channel.steps
// = S > 1 claim 4's loop: S rounds that each prune to the next of S
// geometrically spaced budgets (keep^(s/S) of the stage's input), re-plan
// on the fine-tuned model (a new DDPG search or BN-gamma ranking) and
// fine-tune for their share of channel.finetune_epochs. Each finished
// round's model is saved in DIR/stages/ and noted in state.json, so a
// killed run resumes at the round it was in.
func (p *run) channel(g *graph.Graph) (*graph.Graph, error) {
	c := p.cfg.Channel
	S := max(1, c.Steps)
	if p.st.ChannelSteps == 0 {
		st, err := g.ComputeStats()
		if err != nil {
			return nil, err
		}
		p.st.ChannelBase = [2]int64{int64(st.Params), st.MACs}
		if c.KeepLatency > 0 {
			fmt.Fprintln(p.e.Log, "channel: timing the stage's input at batch 1 in ONNX Runtime for the latency budget")
			ms, err := latency.MeasureGraph(g)
			if err != nil {
				return nil, err
			}
			p.st.ChannelLatency = ms
			p.sum.LatencyMsBefore, p.sum.TargetLatencyMs = ms, c.KeepLatency*ms
		}
	} else {
		var err error
		if g, err = onnx.ReadFile(filepath.Join(p.dir, p.st.ChannelModel)); err != nil {
			return nil, fmt.Errorf("resume: %w (rerun with --restart)", err)
		}
		fmt.Fprintf(p.e.Log, "compress: resuming channel pruning after round %d/%d\n", p.st.ChannelSteps, S)
	}
	notes := p.st.ChannelNotes
	for s := p.st.ChannelSteps + 1; s <= S; s++ {
		frac := float64(s) / float64(S)
		var b budget
		if c.KeepParams > 0 {
			b.Params = int(math.Pow(c.KeepParams, frac) * float64(p.st.ChannelBase[0]))
		}
		if c.KeepMACs > 0 {
			b.MACs = int64(math.Pow(c.KeepMACs, frac) * float64(p.st.ChannelBase[1]))
		}
		if c.KeepLatency > 0 {
			b.LatencyMs = math.Pow(c.KeepLatency, frac) * p.st.ChannelLatency
		}
		epochs := c.FinetuneEpochs / S
		if s == S {
			epochs = c.FinetuneEpochs - (S-1)*epochs
		}
		if S > 1 {
			fmt.Fprintf(p.e.Log, "channel round %d/%d: to %d params, %d MACs, %.4g ms, %d fine-tuning epochs (0: no such budget)\n", s, S, b.Params, b.MACs, b.LatencyMs, epochs)
		}
		out, note, err := p.channelRound(g, s, S, b, epochs)
		if err != nil {
			return nil, err
		}
		notes = append(notes, note)
		g = out
		if s < S {
			rel := filepath.Join("stages", fmt.Sprintf("channel-round%d.onnx", s))
			if err := onnx.WriteFile(filepath.Join(p.dir, rel), g, onnx.WriteOptions{}); err != nil {
				return nil, err
			}
			p.st.ChannelSteps, p.st.ChannelModel, p.st.ChannelNotes = s, rel, notes
			if err := p.saveState(); err != nil {
				return nil, err
			}
		}
	}
	p.st.ChannelSteps, p.st.ChannelModel, p.st.ChannelNotes = 0, "", nil
	return g, p.addStage("channel", g, strings.Join(notes, "; "))
}

// channelRound prunes g once to the budgets (DDPG or global threshold),
// records the layers' widths and fine-tunes for epochs. Round s of S
// (S > 1) uses its own search checkpoint and fine-tuning checkpoint.
func (p *run) channelRound(g *graph.Graph, s, S int, b budget, epochs int) (*graph.Graph, string, error) {
	c := p.cfg.Channel
	suffix := ""
	if S > 1 {
		suffix = fmt.Sprintf("-round%d", s)
	}
	groups, err := prune.Groups(g)
	if err != nil {
		return nil, "", err
	}
	var plan prune.Plan
	notes := ""
	switch c.Method {
	case "ddpg":
		d := p.cfg.ddpg()
		d.Checkpoint, d.Resume = filepath.Join(p.dir, "stages", "ddpg"+suffix+".ckpt"), true
		if b.LatencyMs > 0 {
			if b.Latency, _, err = latencyTable(p.e, g, p.channelOpts(), d.RBound); err != nil {
				return nil, "", err
			}
		}
		var r *ddpgResult
		if p.det != nil {
			r, err = searchDDPGDet(p.e, g, p.det, d, p.channelOpts(), b, p.detLR(), p.cfg.Distill.Weight, p.cfg.Seed+uint64(s-1))
		} else {
			r, err = searchDDPG(p.e, g, p.trainSet, d, p.channelOpts(), b, p.cfg.Seed+uint64(s-1))
		}
		if err != nil {
			return nil, "", err
		}
		if b.Latency != nil {
			p.sum.LatencyMsEstimated = r.EstLatencyMs
		}
		groups = r.Groups
		if plan, err = prune.PlanByRatios(g, groups, r.Ratios, p.channelOpts()); err != nil {
			return nil, "", err
		}
		for _, ep := range r.Episodes {
			p.sum.Episodes = append(p.sum.Episodes, report.Episode{Reward: ep.Reward, Warmup: ep.Random, Info: ep.Info})
		}
		notes = fmt.Sprintf("DDPG %s mode, best of %d episodes (#%d), %.1f episodes/min", r.Mode, len(r.Episodes), r.BestEpisode+1, r.PerMinute)
	case "slim":
		if plan, _, err = prune.SlimPlanParams(g, groups, b.Params, p.channelOpts()); err != nil {
			return nil, "", err
		}
		notes = "global BN-gamma threshold"
	}
	var out *graph.Graph
	if p.det != nil {
		out, err = applyDet(g, plan, p.det.train, c.CalibBatches)
	} else {
		out, err = applyPlan(g, plan, p.trainSet, c.CalibBatches, p.cfg.Batch)
	}
	if err != nil {
		return nil, "", err
	}
	p.recordWidths(groups, plan)
	if _, err := p.tune(out, "channel"+suffix, epochs, c.LR, 0, true); err != nil {
		return nil, "", err
	}
	return out, notes, nil
}

// recordWidths notes each group's width after a plan in the summary's
// layer table; a later round updates the rows of the first (a group is
// named by its first producer, which pruning keeps).
func (p *run) recordWidths(groups []*prune.Group, plan prune.Plan) {
	for _, grp := range groups {
		kept := grp.Size
		if k, ok := plan[grp]; ok {
			kept = len(k)
		}
		name := fmt.Sprintf("group %d", grp.ID)
		if pr := grp.Producers(); len(pr) > 0 {
			name = pr[0]
		}
		i := slices.IndexFunc(p.sum.Layers, func(l report.LayerChannels) bool { return l.Name == name })
		if i < 0 {
			p.sum.Layers = append(p.sum.Layers, report.LayerChannels{Name: name, Before: grp.Size, After: kept, Ratio: 1 - float64(kept)/float64(grp.Size)})
			continue
		}
		l := &p.sum.Layers[i]
		l.After, l.Ratio = kept, 1-float64(kept)/float64(l.Before)
	}
}

func (p *run) layer(g *graph.Graph) (*graph.Graph, error) {
	c := p.cfg.Layer
	sel, _ := ParseBlockScore(c.Score)
	names, err := prune.PlanLayerPrune(g, c.Blocks, c.Threshold, sel)
	if err != nil {
		return nil, err
	}
	blocks, err := prune.Blocks(g)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if !b.Removable {
			continue
		}
		if s, err := prune.Score(g, b, sel); err == nil {
			p.sum.Blocks = append(p.sum.Blocks, report.Block{Name: b.Name, Score: s, Removed: slices.Contains(names, b.Name)})
		}
	}
	out, err := prune.RemoveBlocks(g, names)
	if err != nil {
		return nil, err
	}
	// Layers whose producers went away with a block show 0 channels.
	for i := range p.sum.Layers {
		if out.Node(p.sum.Layers[i].Name) == nil {
			p.sum.Layers[i].After = 0
		}
	}
	if _, err := p.tune(out, "layer", c.FinetuneEpochs, c.LR, 0, true); err != nil {
		return nil, err
	}
	noun := "blocks"
	if len(names) == 1 {
		noun = "block"
	}
	return out, p.addStage("layer", out, fmt.Sprintf("removed %d %s: %v", len(names), noun, names))
}

func (p *run) quantize(g *graph.Graph) (*graph.Graph, error) {
	folded, err := graph.FoldBN(g)
	if err != nil {
		return nil, err
	}
	pruned := filepath.Join(p.dir, FilePruned)
	if err := onnx.WriteFile(pruned, folded, onnx.WriteOptions{}); err != nil {
		return nil, err
	}
	p.sum.Files["pruned_onnx"] = pruned
	if p.cfg.Quantize.Int8 && p.det != nil {
		p.sum.Notes = append(p.sum.Notes, "quantize.int8: not written for a detector (int8 calibration and scoring are a classifier's so far)")
	} else if p.cfg.Quantize.Int8 {
		if err := p.int8(folded); err != nil {
			return nil, err
		}
	}
	if !p.cfg.Quantize.Enabled {
		s, err := p.stageFigures("pruned", folded, fileSize(pruned), pruned, -1)
		if err != nil {
			return nil, err
		}
		p.sum.Stages = append(p.sum.Stages, s)
		return folded, nil
	}
	q := p.cfg.Quantize
	copt := cluster.Options{ThresholdScale: q.ThresholdScale, MaxClusters: q.MaxClusters, Method: q.Method, FixedK: q.Clusters, Seed: p.cfg.Seed, MinSize: q.MinSize}
	shared := filepath.Join(p.dir, FileShared)
	packed := filepath.Join(p.dir, FilePacked)
	tune := TuneOptions{Epochs: q.FinetuneEpochs, LR: q.CentroidLR, Batch: p.cfg.Batch}
	var res *quantizeResult
	if p.det != nil {
		res, err = p.quantizeDet(folded, copt, shared, packed)
	} else if q.Guard && p.trainSet != nil {
		var fig map[string]any
		res, fig, err = guardQuantize(p.e, folded, copt, GuardOptions{MaxLoss: q.MaxLoss, ValSize: q.ValSize}, tune, p.trainSet, p.testSet, shared, packed, q.Float16, p.cfg.Seed)
		p.sum.Guard = fig
		if w, ok := fig["warning"].(string); ok {
			p.sum.Notes = append(p.sum.Notes, "accuracy guard: "+w)
		}
	} else {
		res, err = quantizeGraph(p.e, folded, copt, tune, p.trainSet, p.testSet, shared, packed, q.Float16, p.cfg.Seed)
	}
	if err != nil {
		return nil, err
	}
	for i, l := range res.Result.Layers {
		lc := report.LayerClusters{Name: l.Param, K: l.K, Weights: len(l.Indices), BitsPerWeight: l.BitsPerWeight, Threshold: l.Threshold}
		lc.StoredBits, _ = res.Layers[i]["bits"].(float64)
		if lev, ok := res.Layers[i]["level"].(float64); ok {
			lc.Level, lc.Sensitivity = &lev, res.Layers[i]["sensitivity"].(float64)
		}
		p.sum.Clusters = append(p.sum.Clusters, lc)
	}
	p.sum.Files["shared_onnx"], p.sum.Files["packed"] = shared, packed
	p.sum.WeightsOnlyBytes = res.WeightsOnlyBytes
	// finishQuantize scored the model as the .slimpack restores it, whose
	// values folded now holds: no second pass over the test set.
	s, err := p.stageFigures("quantized", folded, res.PackedBytes, shared, res.Accuracy)
	if err != nil {
		return nil, err
	}
	s.Notes = fmt.Sprintf("%.2f bits/weight; %s holds graph and weights (%d bytes; the weights alone %d); ONNX Runtime runs %s (%d bytes)",
		res.BitsAvg, FilePacked, res.PackedBytes, res.WeightsOnlyBytes, FileShared, res.ONNXBytes)
	p.sum.Stages = append(p.sum.Stages, s)
	return folded, nil
}

// int8 writes DIR/model.int8.onnx, the pruned float model f (BN folded) as
// a static int8 QDQ model, and records its figures in ONNX Runtime (unless
// --no-ort) in p.sum.Int8.
func (p *run) int8(f *graph.Graph) error {
	out := filepath.Join(p.dir, FileInt8)
	calib, err := writeInt8(p.e, f, p.trainSet, &Int8Options{Calibrate: "minmax", CalibSize: DefaultCalibSize}, out, p.cfg.Seed)
	if err != nil {
		return err
	}
	p.sum.Files["int8_onnx"] = out
	fig := map[string]any{"bytes": fileSize(out), "calibration": calib, "out": out}
	if !p.o.NoORT {
		if err := ortInt8(p.e, f, out, p.testSet, fig); err != nil {
			return err
		}
	}
	p.sum.Int8 = fig
	if a, ok := fig["accuracy"].(float64); ok {
		note := fmt.Sprintf("%s: static int8 (QDQ) of the pruned model, %d bytes; ONNX Runtime accuracy %.2f%% (float32 %.2f%%), %.0f vs %.0f images/s at batch 64",
			FileInt8, fileSize(out), a, fig["float_accuracy_ort"], fig["ort_images_per_s_int8_batch64"], fig["ort_images_per_s_batch64"])
		p.sum.Notes = append(p.sum.Notes, note)
	}
	return nil
}

// deliveredLatency times the delivered float model (model.pruned.onnx) at
// batch 1 in ONNX Runtime when the run had a latency budget, for the
// summary's latency_ms and the report's line against the budget.
func (p *run) deliveredLatency() error {
	if p.sum.TargetLatencyMs <= 0 {
		return nil
	}
	file := p.sum.Files["pruned_onnx"]
	g, err := onnx.ReadFile(file)
	if err != nil {
		return err
	}
	chw, err := inputCHW(g)
	if err != nil {
		return err
	}
	if p.sum.LatencyMs, err = latency.MeasureModel(file, chw); err != nil {
		return err
	}
	if l := p.sum.LatencyLine(); l != "" {
		fmt.Fprintln(p.e.Log, l)
	}
	return nil
}
