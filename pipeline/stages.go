package pipeline

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
)

// Stage is one step of Compress. Plan says, before any stage runs, whether
// the stage runs with the run's settings on this model (and, when it cannot,
// a note saying why); Run transforms the model and records its figures in
// the summary (run.addStage or a report.Stage of its own). After each
// stage its model is written to DIR/stages/ and its name to state.json, so
// a rerun resumes after the last finished stage.
//
// Adding a stage: a type with these three methods, placed in stages() in
// the order it runs; its settings go in Config (with defaults, validation
// and docs/cli.md).
type Stage interface {
	Name() string
	Plan(p *run, g *graph.Graph) (on bool, note string, err error)
	Run(p *run, g *graph.Graph) (*graph.Graph, error)
}

// stages are Compress's stages in the order they run.
func stages() []Stage {
	return []Stage{originalStage{}, sparseStage{}, channelStage{}, layerStage{}, quantizeStage{}}
}

type (
	originalStage struct{}
	sparseStage   struct{}
	channelStage  struct{}
	layerStage    struct{}
	quantizeStage struct{}
)

func (originalStage) Name() string { return "original" }
func (sparseStage) Name() string   { return "sparse" }
func (channelStage) Name() string  { return "channel" }
func (layerStage) Name() string    { return "layer" }
func (quantizeStage) Name() string { return "quantized" }

func (originalStage) Plan(*run, *graph.Graph) (bool, string, error) { return true, "", nil }
func (sparseStage) Plan(p *run, _ *graph.Graph) (bool, string, error) {
	return p.cfg.Sparse.Epochs > 0, "", nil
}
func (quantizeStage) Plan(*run, *graph.Graph) (bool, string, error) { return true, "", nil }

// Plan: channel pruning needs a prunable channel group.
func (channelStage) Plan(p *run, g *graph.Graph) (bool, string, error) {
	if p.cfg.Channel.Method == "none" {
		return false, "", nil
	}
	groups, err := prune.Groups(g)
	if err != nil {
		return false, "", AsInput(fmt.Errorf("channel pruning: %w", err))
	}
	if len(groups) == 0 {
		return false, "channel stage skipped: the model has no prunable channel group (every channel is tied to an input, output or unsupported op)", nil
	}
	return true, "", nil
}

// Plan: layer pruning needs a removable residual block.
func (layerStage) Plan(p *run, g *graph.Graph) (bool, string, error) {
	if p.cfg.Layer.Blocks <= 0 && p.cfg.Layer.Threshold <= 0 {
		return false, "", nil
	}
	blocks, err := prune.Blocks(g)
	if err != nil {
		return false, "", AsInput(fmt.Errorf("layer pruning: %w", err))
	}
	for _, b := range blocks {
		if b.Removable {
			return true, "", nil
		}
	}
	return false, "layer stage skipped: the model has no removable residual block", nil
}

func (originalStage) Run(p *run, g *graph.Graph) (*graph.Graph, error) { return p.original(g) }
func (sparseStage) Run(p *run, g *graph.Graph) (*graph.Graph, error)   { return p.sparse(g) }
func (channelStage) Run(p *run, g *graph.Graph) (*graph.Graph, error)  { return p.channel(g) }
func (layerStage) Run(p *run, g *graph.Graph) (*graph.Graph, error)    { return p.layer(g) }
func (quantizeStage) Run(p *run, g *graph.Graph) (*graph.Graph, error) { return p.quantize(g) }

// plan asks every stage, before any work, whether it runs; the returned
// slice holds nil for a stage that does not. A stage that cannot run is
// noted in the summary (and on stderr); a failed analysis is bad input.
func (p *run) plan(g *graph.Graph) ([]Stage, error) {
	all := stages()
	for i, s := range all {
		on, note, err := s.Plan(p, g)
		if err != nil {
			return nil, err
		}
		if note != "" {
			fmt.Fprintf(p.e.Log, "compress: %s\n", note)
			if !slices.Contains(p.sum.Notes, note) {
				p.sum.Notes = append(p.sum.Notes, note)
			}
		}
		if !on {
			all[i] = nil
		}
	}
	return all, nil
}

// runStage runs stage i on *g, times it, writes its model to DIR/stages/
// (but for the last, quantized, whose files are the outputs) and records
// it as done in state.json.
func (p *run) runStage(i int, s Stage, g **graph.Graph) error {
	name := s.Name()
	if err := p.e.Ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before stage %s; rerun the same command to resume", name)
	}
	fmt.Fprintf(p.e.Log, "\n== stage %d: %s ==\n", i, name)
	start := time.Now()
	out, err := s.Run(p, *g)
	if err != nil {
		if p.e.Ctx.Err() != nil {
			return fmt.Errorf("interrupted in stage %s (%v); rerun the same command to resume", name, err)
		}
		return fmt.Errorf("stage %s: %w", name, err)
	}
	if n := len(p.sum.Stages); n > 0 && p.sum.Stages[n-1].Name == name {
		p.sum.Stages[n-1].Seconds = time.Since(start).Seconds()
	}
	*g = out
	rel := ""
	if name != "quantized" {
		rel = filepath.Join("stages", fmt.Sprintf("%d-%s.onnx", i, name))
		if err := onnx.WriteFile(filepath.Join(p.dir, rel), out, onnx.WriteOptions{}); err != nil {
			return err
		}
	}
	p.st.Done = append(p.st.Done, name)
	p.st.Model = rel
	return p.saveState()
}
