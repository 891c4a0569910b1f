package train

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// state is an in-memory copy of everything a NaN retry restores.
type state struct {
	params map[string][]float32
	opt    OptimizerState
	ck     Checkpoint
}

// snapshot copies the run's state into prev's buffers (nil: new ones),
// which the caller gives up: a run keeps one good state at a time, so
// after the first its end-of-epoch copies allocate nothing.
func snapshot(g *graph.Graph, o Optimizer, st *Checkpoint, prev *state) *state {
	s := prev
	if s == nil || len(s.params) != len(g.Params) {
		s = &state{params: make(map[string][]float32, len(g.Params))}
	}
	for k, t := range g.Params {
		s.params[k] = append(s.params[k][:0], t.Data...)
	}
	if r, ok := o.(stateReuser); ok && s == prev {
		s.opt = r.StateInto(prev.opt)
	} else {
		s.opt = o.State()
	}
	epochs := s.ck.Result.Epochs
	s.ck = *st
	s.ck.Result.Epochs = append(epochs[:0], st.Result.Epochs...)
	return s
}

// stateReuser is an Optimizer whose state can be copied into an earlier
// copy's buffers (optim.SGD, optim.Adam).
type stateReuser interface {
	StateInto(dst OptimizerState) OptimizerState
}

// restore puts the snapshot back, copying into the graph's own tensors (the
// executor holds them). Retries and LRScale are kept by the caller.
func restore(g *graph.Graph, o Optimizer, st *Checkpoint, s *state) {
	for k, d := range s.params {
		copy(g.Params[k].Data, d)
	}
	o.SetState(s.opt)
	retries, scale := st.Retries, st.LRScale
	*st = s.ck
	st.Result.Epochs = append([]EpochStats(nil), s.ck.Result.Epochs...)
	st.Retries, st.LRScale = retries, scale
}

// resumeFrom loads checkpoint c (read from file) into the graph, optimizer
// and run state after checking it belongs to this run.
func resumeFrom(g *graph.Graph, o Optimizer, st, c *Checkpoint, file string) error {
	if c.Seed != st.Seed || c.Epochs != st.Epochs || c.Batch != st.Batch || c.Train != st.Train {
		return fmt.Errorf("train: checkpoint %s belongs to another run (seed %d, %d epochs, batch %d, %d examples; now seed %d, %d epochs, batch %d, %d examples): remove it or start without resume",
			file, c.Seed, c.Epochs, c.Batch, c.Train, st.Seed, st.Epochs, st.Batch, st.Train)
	}
	if len(c.Params) != len(g.Params) {
		return fmt.Errorf("train: checkpoint %s has %d parameters, the model %d", file, len(c.Params), len(g.Params))
	}
	for k, t := range g.Params {
		ct := c.Params[k]
		if ct == nil || !tensor.SameShape(ct.Shape, t.Shape) {
			var s []int
			if ct != nil {
				s = ct.Shape
			}
			return fmt.Errorf("train: checkpoint %s: parameter %q has shape %v, the model %v", file, k, s, t.Shape)
		}
	}
	if err := o.SetState(c.Opt); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", file, err)
	}
	for k, t := range g.Params {
		copy(t.Data, c.Params[k].Data)
	}
	params := st.Params
	*st = *c
	st.Params = params
	if st.LRScale == 0 {
		st.LRScale = 1
	}
	return nil
}
