package rl

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/prune"
)

// StateDim is the length of the pruning environment's state (METHOD.md 1c):
// (t, n, c, h, w, stride, k, params, params_reduce, a_(t-1)).
const StateDim = 10

// PruneConfig configures the pruning environment.
type PruneConfig struct {
	Prune        prune.Options // channel selection (importance criterion, min channels, rounding)
	B            float64       // accuracy-protection hyperparameter b, in accuracy points (default 2)
	TargetParams int           // > 0: budget mode, actions are walled so the pruned model has <= TargetParams
	TargetMACs   int64         // > 0: budget mode on multiply-accumulates (both budgets may be set)
	RBound       float64       // largest ratio an action may take (default 0.8)
	// TargetLatency > 0 is budget mode on the estimated batch-1 latency
	// in milliseconds (Latency's estimate; may be combined with the
	// others); it needs Latency.
	TargetLatency float64
	Latency       LatencyModel
}

// LatencyModel estimates a pruned model's batch-1 latency from its Convs'
// widths: a lookup table measured once (slimgo's is latency.Table).
type LatencyModel interface {
	// LayerMs is the time of Conv node at in input and out output
	// channels, milliseconds; ok is false for a Conv it does not cover
	// (its time is in Rest).
	LayerMs(node string, in, out int) (ms float64, ok bool)
	// Rest is the time of everything the layers do not cover.
	Rest() float64
}

// Evaluator is how the environment turns a plan into a scored model; rl
// knows neither data nor training, so the caller supplies both steps.
type Evaluator struct {
	// Apply returns base pruned by plan, ready to be scored (for slimgo's
	// pipeline: the surgery, then BN statistics re-estimated on training
	// batches).
	Apply func(base *graph.Graph, plan prune.Plan) (*graph.Graph, error)
	// Accuracy returns a model's accuracy on the held-out validation
	// split, in percent.
	Accuracy func(g *graph.Graph) (float64, error)
}

// PruneEnv is the DDPG pruning environment: one step per prunable channel
// group in topological order; the action is the group's pruning ratio; at the
// episode's end the ratios are applied with the BN-gamma importance and the
// Evaluator prepares the pruned model (BN statistics recalibrated on a few
// training batches) and measures its accuracy on a validation split held
// out from the training data.
//
// Reward (METHOD.md equations 4-6, with our form of the lost equation 5):
//
//	R = Accuracy * Complexity
//	Complexity = -ln(params_after / params_before)
//	Accuracy   = 1 - delta_acc / b     (delta_acc = acc_before - acc_after, in points)
//
// Accuracy is 1 with no loss, 0 when delta_acc = b and negative beyond.
type PruneEnv struct {
	Cfg     PruneConfig
	Base    *graph.Graph
	Groups  []*prune.Group
	Eval    Evaluator
	BaseAcc float64 // validation accuracy of Base, percent
	Params0 int     // trainable parameters of Base
	MACs0   int64   // multiply-accumulates of Base per image

	raw   [][]float64 // per group: n, c, h, w, stride, k, params (unnormalised)
	lo    []float64
	hi    []float64
	sizes map[string][]int   // trainable parameter shapes
	axes  map[string][][]cut // per param, per axis: the groups cutting it
	macs  map[string]int64   // Conv/Gemm weight -> output pixels per image (its MACs per weight)
	convs []convRef          // the Convs the latency model covers
}

// convRef is a Conv the latency model covers: its weight and group count.
type convRef struct {
	node, weight string
	group        int
	depthwise    bool
}

type cut struct {
	group int
	block int // entries per channel along the axis
}

// NewPruneEnv analyses base, measures its validation accuracy with
// ev.Accuracy and prepares the per-group features. It errors when the graph
// has no prunable group or ev lacks a function.
func NewPruneEnv(base *graph.Graph, ev Evaluator, cfg PruneConfig) (*PruneEnv, error) {
	if ev.Apply == nil || ev.Accuracy == nil {
		return nil, fmt.Errorf("rl: the evaluator needs both Apply and Accuracy")
	}
	if cfg.B <= 0 {
		cfg.B = 2
	}
	if cfg.RBound <= 0 {
		cfg.RBound = 0.8
	}
	groups, err := prune.Groups(base)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("rl: model %q has no prunable channel group", base.Name)
	}
	st, err := base.ComputeStats()
	if err != nil {
		return nil, err
	}
	env := &PruneEnv{Cfg: cfg, Base: base, Groups: groups, Eval: ev, Params0: st.Params, MACs0: st.MACs}
	if env.BaseAcc, err = ev.Accuracy(base); err != nil {
		return nil, err
	}
	if err := env.features(); err != nil {
		return nil, err
	}
	env.paramCuts()
	full := make([]float64, len(groups))
	for i := range full {
		full[i] = cfg.RBound
	}
	if least := env.ParamsAfter(full); cfg.TargetParams > 0 && least > cfg.TargetParams {
		return nil, fmt.Errorf("rl: target of %d params is out of reach: pruning every group by %.2f still leaves %d (of %d)", cfg.TargetParams, cfg.RBound, least, env.Params0)
	}
	if least := env.MACsAfter(full); cfg.TargetMACs > 0 && least > cfg.TargetMACs {
		return nil, fmt.Errorf("rl: target of %d MACs is out of reach: pruning every group by %.2f still leaves %d (of %d)", cfg.TargetMACs, cfg.RBound, least, env.MACs0)
	}
	if err := env.latencyCheck(full); err != nil {
		return nil, err
	}
	return env, nil
}

// features computes the static per-group features from the group's first
// producing Conv (or Gemm): out channels n, in channels c, input h, w,
// stride, kernel k, and the parameters of the group's producers.
func (e *PruneEnv) features() error {
	shapes, err := e.Base.InferShapes(nil)
	if err != nil {
		return err
	}
	e.macs = map[string]int64{}
	for _, n := range e.Base.Nodes {
		if s := graph.Spec(n.Op); s != nil && s.Layer != nil && e.Base.IsParam(n.Input(1)) {
			out := shapes[n.Outputs[0]]
			pix := int64(1)
			for _, d := range out[2:] {
				pix *= int64(d)
			}
			e.macs[n.Input(1)] += pix
		}
	}
	e.raw = make([][]float64, len(e.Groups))
	for i, grp := range e.Groups {
		f := []float64{float64(grp.Size), 0, 1, 1, 1, 1, 0}
		for _, name := range grp.Producers() {
			n := e.Base.Node(name)
			w := e.Base.Params[n.Input(1)]
			if w == nil {
				continue
			}
			f[6] += float64(w.Len())
			if f[1] != 0 {
				continue // the first producer sets the geometry
			}
			if s := graph.Spec(n.Op); s != nil && s.Layer != nil {
				l, err := s.Layer(n, [][]int{shapes[n.Inputs[0]], w.Shape})
				if err != nil {
					return err
				}
				f[1], f[2], f[3], f[4], f[5] = float64(l.InC), float64(l.H), float64(l.W), float64(l.Stride), float64(l.Kernel)
			}
		}
		e.raw[i] = f
	}
	e.lo = make([]float64, 7)
	e.hi = make([]float64, 7)
	for j := range 7 {
		e.lo[j], e.hi[j] = math.Inf(1), math.Inf(-1)
		for _, f := range e.raw {
			e.lo[j] = math.Min(e.lo[j], f[j])
			e.hi[j] = math.Max(e.hi[j], f[j])
		}
	}
	return nil
}

// paramCuts records, for every trainable parameter, which groups shrink
// which axis, so ParamsAfter can count parameters without doing surgery.
func (e *PruneEnv) paramCuts() {
	e.sizes = map[string][]int{}
	buffers := map[string]bool{}
	for _, n := range e.Base.Nodes {
		for i, in := range n.Inputs {
			if graph.IsBuffer(n.Op, i) {
				buffers[in] = true
			}
		}
	}
	for k, t := range e.Base.Params {
		if !buffers[k] {
			e.sizes[k] = t.Shape
		}
	}
	e.axes = map[string][][]cut{}
	for gi, grp := range e.Groups {
		for _, m := range grp.Members {
			for _, ta := range m.Tensors {
				shape, ok := e.sizes[ta.Param]
				if !ok || ta.Axis >= len(shape) {
					continue
				}
				if e.axes[ta.Param] == nil {
					e.axes[ta.Param] = make([][]cut, len(shape))
				}
				blk := max(m.Block, 1)
				e.axes[ta.Param][ta.Axis] = append(e.axes[ta.Param][ta.Axis], cut{gi, blk})
			}
		}
	}
}

// keep returns how many channels group i keeps at ratio a.
func (e *PruneEnv) keep(i int, a float64) int {
	n := e.Groups[i].Size
	return prune.KeepCount(n, a, e.Cfg.Prune.MinChannels, e.Cfg.Prune.RoundFor(n))
}

// removed returns how many channels each group loses at the given ratios
// (groups beyond len(ratios) lose none).
func (e *PruneEnv) removed(ratios []float64) []int {
	r := make([]int, len(e.Groups))
	for i, a := range ratios {
		r[i] = e.Groups[i].Size - e.keep(i, a)
	}
	return r
}

// keptSize is the element count of parameter k after the removals.
func (e *PruneEnv) keptSize(k string, removed []int) int {
	n := 1
	for ax, d := range e.sizes[k] {
		if cuts := e.axes[k]; cuts != nil {
			for _, c := range cuts[ax] {
				d -= removed[c.group] * c.block
			}
		}
		n *= d
	}
	return n
}

// ParamsAfter counts the trainable parameters left after pruning group i by
// ratios[i] (groups beyond len(ratios) are not pruned).
func (e *PruneEnv) ParamsAfter(ratios []float64) int {
	removed := e.removed(ratios)
	total := 0
	for k := range e.sizes {
		total += e.keptSize(k, removed)
	}
	return total
}

// MACsAfter counts the multiply-accumulates per image left after pruning:
// a Conv or Gemm does one per kept weight per output pixel, and pruning
// never changes spatial sizes.
func (e *PruneEnv) MACsAfter(ratios []float64) int64 {
	removed := e.removed(ratios)
	var total int64
	for k, pix := range e.macs {
		total += int64(e.keptSize(k, removed)) * pix
	}
	return total
}

// Steps implements Env: one step per group.
func (e *PruneEnv) Steps() int { return len(e.Groups) }

// State implements Env: the 10 features of group t, each min-max
// normalised to [0, 1] over the model's groups (t over the steps,
// params_reduce as a share of the original parameters).
func (e *PruneEnv) State(t int, prev []float64) []float64 {
	norm := func(j int) float64 {
		if e.hi[j] == e.lo[j] {
			return 0
		}
		return (e.raw[t][j] - e.lo[j]) / (e.hi[j] - e.lo[j])
	}
	s := make([]float64, StateDim)
	if len(e.Groups) > 1 {
		s[0] = float64(t) / float64(len(e.Groups)-1)
	}
	for j := range 7 {
		s[1+j] = norm(j)
	}
	s[8] = float64(e.Params0-e.ParamsAfter(prev)) / float64(e.Params0)
	if t > 0 {
		s[9] = prev[t-1]
	}
	return s
}

// Clamp implements Env. In budget mode it is AMC's action wall: the action
// is raised to the smallest ratio that still lets the budget(s) be met when
// every later group is pruned by RBound, so the final policy never exceeds
// TargetParams, TargetMACs or TargetLatency. Actions are always kept within [0, RBound].
func (e *PruneEnv) Clamp(t int, prev []float64, a float64) float64 {
	a = math.Min(math.Max(a, 0), e.Cfg.RBound)
	if e.Cfg.TargetParams <= 0 && e.Cfg.TargetMACs <= 0 && e.Cfg.TargetLatency <= 0 {
		return a
	}
	trial := make([]float64, len(e.Groups))
	copy(trial, prev)
	for i := t + 1; i < len(trial); i++ {
		trial[i] = e.Cfg.RBound
	}
	fits := func(x float64) bool {
		trial[t] = x
		return (e.Cfg.TargetParams <= 0 || e.ParamsAfter(trial) <= e.Cfg.TargetParams) &&
			(e.Cfg.TargetMACs <= 0 || e.MACsAfter(trial) <= e.Cfg.TargetMACs) &&
			(e.Cfg.TargetLatency <= 0 || e.LatencyAfter(trial) <= e.Cfg.TargetLatency)
	}
	if fits(a) {
		return a
	}
	lo, hi := a, e.Cfg.RBound
	for range 40 {
		mid := (lo + hi) / 2
		if fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// Apply prunes Base by ratios (BN-gamma importance) through the
// Evaluator's Apply.
func (e *PruneEnv) Apply(ratios []float64) (*graph.Graph, error) {
	plan, err := prune.PlanByRatios(e.Base, e.Groups, ratios, e.Cfg.Prune)
	if err != nil {
		return nil, err
	}
	return e.Eval.Apply(e.Base, plan)
}

// RewardOf returns the reward for a validation accuracy (percent) and a
// parameter count, per the formula in the PruneEnv comment.
func (e *PruneEnv) RewardOf(acc float64, params int) float64 {
	return AccuracyTerm(e.BaseAcc-acc, e.Cfg.B) * ComplexityTerm(params, e.Params0)
}

// AccuracyTerm is 1 - deltaAcc/b.
func AccuracyTerm(deltaAcc, b float64) float64 { return 1 - deltaAcc/b }

// ComplexityTerm is -ln(after/before): 0 without pruning, growing as the
// model shrinks.
func ComplexityTerm(after, before int) float64 {
	return -math.Log(float64(after) / float64(before))
}

// Reward implements Env: apply (and prepare), evaluate on the validation split.
func (e *PruneEnv) Reward(ratios []float64) (float64, map[string]float64, error) {
	g, err := e.Apply(ratios)
	if err != nil {
		return 0, nil, err
	}
	acc, err := e.Eval.Accuracy(g)
	if err != nil {
		return 0, nil, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return 0, nil, err
	}
	info := map[string]float64{"accuracy": acc, "params": float64(st.Params), "macs": float64(st.MACs)}
	if e.Cfg.Latency != nil {
		info["latency_ms"] = e.LatencyAfter(ratios)
	}
	return e.RewardOf(acc, st.Params), info, nil
}

// latencyCheck prepares the latency budget: the Convs the model covers,
// and an error when TargetLatency is set without a model or cannot be met
// with every group pruned by RBound (full).
func (e *PruneEnv) latencyCheck(full []float64) error {
	if e.Cfg.TargetLatency > 0 && e.Cfg.Latency == nil {
		return fmt.Errorf("rl: a latency target needs a latency model (lookup table)")
	}
	if e.Cfg.Latency == nil {
		return nil
	}
	for _, n := range e.Base.Nodes {
		w := e.Base.Params[n.Input(1)]
		if n.Op != graph.OpConv || w == nil || len(w.Shape) != 4 {
			continue
		}
		if _, ok := e.Cfg.Latency.LayerMs(n.Name, 1, 1); !ok {
			continue
		}
		grp := n.Attrs.Int("group", 1)
		e.convs = append(e.convs, convRef{node: n.Name, weight: n.Input(1), group: grp, depthwise: grp > 1 && w.Shape[1] == 1 && grp == w.Shape[0]})
	}
	if least := e.LatencyAfter(full); e.Cfg.TargetLatency > 0 && least > e.Cfg.TargetLatency {
		return fmt.Errorf("rl: target of %.4g ms is out of reach: pruning every group by %.2f still leaves an estimated %.4g ms (of %.4g)",
			e.Cfg.TargetLatency, e.Cfg.RBound, least, e.LatencyAfter(nil))
	}
	return nil
}

// keptDim is axis ax of parameter k after the removals.
func (e *PruneEnv) keptDim(k string, ax int, removed []int) int {
	d := e.sizes[k][ax]
	if cuts := e.axes[k]; cuts != nil {
		for _, c := range cuts[ax] {
			d -= removed[c.group] * c.block
		}
	}
	return d
}

// LatencyAfter is the latency model's estimate, in milliseconds, of Base
// pruned by ratios (groups beyond len(ratios) are not pruned): Rest plus
// each covered Conv at its widths after pruning (a depthwise Conv's input
// width is its output width). 0 without a latency model.
func (e *PruneEnv) LatencyAfter(ratios []float64) float64 {
	if e.Cfg.Latency == nil {
		return 0
	}
	removed := e.removed(ratios)
	total := e.Cfg.Latency.Rest()
	for _, c := range e.convs {
		out := e.keptDim(c.weight, 0, removed)
		in := e.keptDim(c.weight, 1, removed) * c.group
		if c.depthwise {
			in = out
		}
		ms, _ := e.Cfg.Latency.LayerMs(c.node, in, out)
		total += ms
	}
	return total
}
