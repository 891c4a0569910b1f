package pipeline

import (
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// GuardOptions configure the accuracy guard of weight sharing (quantize
// --max-loss, compress quantize.max_loss): per-layer clustering settings
// are chosen so that the model loses at most MaxLoss accuracy points on a
// validation split held out from the training data, with as few stored
// bytes as the search finds.
type GuardOptions struct {
	// MaxLoss is the tolerance P in accuracy points (>= 0).
	MaxLoss float64
	// ValSize is how many training images are held out (at most half the
	// training set); centroid fine-tuning never sees them.
	ValSize int
}

// Guard defaults: 0.5 points, as the issue asks; 2,000 images measure an
// accuracy in steps of 0.05 points, and since the clustered model agrees
// with the float one on almost every image, the paired difference is far
// less noisy than two independent accuracies would be.
const (
	DefaultMaxLoss      = 0.5
	DefaultGuardValSize = 2000
	// guardProbe images of the validation split measure each layer's
	// sensitivity (a KL divergence, smooth, so a few hundred suffice).
	guardProbe = 512
	// guardSeedMix derives the validation split's seed from --seed.
	guardSeedMix = 0x9a4d
)

// guardLevels multiply each layer's BIRCH threshold (or divide a fixed K):
// level 2 (x1) is the setting given (the default c = 0.2); the last level,
// 0, is the finest setting: the cluster cap (256, 8-bit indices), which
// measured no loss on any model here.
var guardLevels = []float64{4, 2, 1, 0.5, 0.25, 0.125, 0}

// guardDefaultLevel is the index of the x1 level in guardLevels.
const guardDefaultLevel = 2

// Validate checks the options; messages name the flags.
func (o *GuardOptions) Validate() error {
	switch {
	case !(o.MaxLoss >= 0) || math.IsInf(o.MaxLoss, 0):
		return BadInput("--max-loss must be a number >= 0 (accuracy points), got %g", o.MaxLoss)
	case o.ValSize < 1:
		return BadInput("--val-size must be >= 1, got %d", o.ValSize)
	}
	return nil
}

// levelOptions is base at one guard level (see guardLevels).
func levelOptions(base cluster.Options, m float64) cluster.Options {
	o := base
	maxK := o.MaxClusters
	if maxK == 0 {
		maxK = cluster.MaxK
	}
	switch {
	case m == 0:
		o.FixedK = maxK
		if o.Method == "kmeans" || o.Method == "" {
			o.Method = "birch-kmeans"
		}
	case o.FixedK > 0:
		o.FixedK = min(maxK, max(1, int(math.Round(float64(o.FixedK)/m))))
	case o.Threshold > 0:
		o.Threshold *= m
	default:
		if o.ThresholdScale == 0 {
			o.ThresholdScale = cluster.DefaultThresholdScale
		}
		o.ThresholdScale *= m
	}
	return o
}

// guardTable is every clustered layer at every guard level: the layers
// (in cluster.SharedParams order), their stored bytes and the sensitivity
// model that orders the search.
type guardTable struct {
	layers [][]cluster.LayerResult // [level][layer]
	bytes  [][]float64             // [level][layer] index + codebook bytes as packed
	sens   []float64               // per layer: KL(float || this layer clustered at x1), nats per image
	pred   [][]float64             // [level][layer] predicted KL: sens * inertia(level) / inertia(x1)
	skip   []string
}

// buildGuardTable clusters every layer of g at every level (f16: codebooks
// rounded to half floats, as stored) and measures each layer's sensitivity
// on probe: the mean KL divergence of the model with only that layer
// clustered at x1 from the float model.
func buildGuardTable(e *Env, g *graph.Graph, base cluster.Options, f16 bool, gd *guardData) (*guardTable, error) {
	t := &guardTable{}
	for _, m := range guardLevels {
		r, err := cluster.QuantizeGraph(g.Clone(), levelOptions(base, m))
		if err != nil {
			return nil, err
		}
		if f16 {
			for i := range r.Layers {
				for k, c := range r.Layers[i].Codebook {
					r.Layers[i].Codebook[k] = cluster.FromFloat16(cluster.Float16(c))
				}
			}
		}
		pk, err := cluster.PackStats(r, cluster.PackOptions{Float16Codebook: f16})
		if err != nil {
			return nil, err
		}
		b := make([]float64, len(pk))
		for i, p := range pk {
			b[i] = float64(p.IndexBytes + p.CodebookBytes)
		}
		if len(t.layers) > 0 && len(r.Layers) != len(t.layers[0]) {
			return nil, fmt.Errorf("guard: %d layers clustered at one level, %d at another", len(r.Layers), len(t.layers[0]))
		}
		t.layers, t.bytes, t.skip = append(t.layers, r.Layers), append(t.bytes, b), r.Skipped
	}
	ref, err := gd.probe(g)
	if err != nil {
		return nil, err
	}
	w := g.Clone()
	for i, l := range t.layers[guardDefaultLevel] {
		orig := slices.Clone(w.Params[l.Param].Data)
		l.Expand(w.Params[l.Param].Data)
		q, err := gd.probe(w)
		if err != nil {
			return nil, err
		}
		copy(w.Params[l.Param].Data, orig)
		t.sens = append(t.sens, gd.diverge(ref, q))
		fmt.Fprintf(e.Log, "guard: sensitivity %d/%d %s (K %d): %s %.3g\n", i+1, len(t.layers[0]), l.Param, l.K, gd.divName, t.sens[i])
	}
	for v := range guardLevels {
		p := make([]float64, len(t.sens))
		for i, s := range t.sens {
			if in := t.layers[guardDefaultLevel][i].Inertia; in > 0 {
				p[i] = s * t.layers[v][i].Inertia / in
			} else if t.layers[v][i].Inertia > 0 {
				p[i] = s + 1 // clustered coarser than a lossless x1: rank it as sensitive
			}
		}
		t.pred = append(t.pred, p)
	}
	return t, nil
}

// meanKL is the mean over rows of KL(softmax(a) || softmax(b)) for logits
// a and b of shape [N, K].
func meanKL(a, b *tensor.Tensor) float64 {
	n, k := a.Shape[0], a.Shape[1]
	total := 0.0
	pa, pb := make([]float64, k), make([]float64, k)
	for r := range n {
		softmax(a.Data[r*k:(r+1)*k], pa)
		softmax(b.Data[r*k:(r+1)*k], pb)
		for j := range k {
			if pa[j] > 0 {
				total += pa[j] * (math.Log(pa[j]) - math.Log(max(pb[j], 1e-300)))
			}
		}
	}
	return total / float64(n)
}

func softmax(x []float32, out []float64) {
	m := float64(slices.Max(x))
	s := 0.0
	for j, v := range x {
		out[j] = math.Exp(float64(v) - m)
		s += out[j]
	}
	for j := range out {
		out[j] /= s
	}
}

// guardPath orders refinements from every layer at the coarsest level to
// every layer at the finest: each step moves one layer one level finer,
// the step with the largest predicted KL decrease per extra stored byte
// first (greedy marginal analysis). It returns the steps as layer indices.
func (t *guardTable) path() []int {
	n := len(t.sens)
	lv := make([]int, n)
	var steps []int
	for {
		best, bestScore := -1, math.Inf(-1)
		for i := range n {
			v := lv[i]
			if v+1 >= len(guardLevels) {
				continue
			}
			gain := t.pred[v][i] - t.pred[v+1][i]
			cost := max(t.bytes[v+1][i]-t.bytes[v][i], 1)
			if s := gain / cost; s > bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			return steps
		}
		lv[best]++
		steps = append(steps, best)
	}
}

// levelsAt returns each layer's level after the first i steps of path.
func levelsAt(path []int, n, i int) []int {
	lv := make([]int, n)
	for _, l := range path[:i] {
		lv[l]++
	}
	return lv
}

// compose writes the layers at levels lv into w's parameters.
func (t *guardTable) compose(w *graph.Graph, lv []int) {
	for i, v := range lv {
		l := t.layers[v][i]
		l.Expand(w.Params[l.Param].Data)
	}
}

// result is the cluster.Result of levels lv (codebooks and indices copied,
// so fine-tuning may change them).
func (t *guardTable) result(lv []int) *cluster.Result {
	r := &cluster.Result{Skipped: slices.Clone(t.skip)}
	for i, v := range lv {
		l := t.layers[v][i]
		l.Codebook, l.Indices, l.Shape = slices.Clone(l.Codebook), slices.Clone(l.Indices), slices.Clone(l.Shape)
		r.Layers = append(r.Layers, l)
	}
	return r
}

// guardSearch is the state of one guarded clustering.
type guardSearch struct {
	e        *Env
	w        *graph.Graph // working copy the candidates are composed into
	gd       *guardData
	acc0     float64 // float model's validation accuracy, percent
	maxLoss  float64
	t        *guardTable
	evals    int
	accCache map[int]float64
}

// loss is the validation loss in points of the configuration after i steps.
func (s *guardSearch) loss(path []int, i int) (float64, error) {
	if a, ok := s.accCache[i]; ok {
		return s.acc0 - a, nil
	}
	lv := levelsAt(path, len(s.t.sens), i)
	s.t.compose(s.w, lv)
	a, err := s.gd.score(s.w)
	if err != nil {
		return 0, err
	}
	s.evals++
	s.accCache[i] = a
	bytes := 0.0
	for l, v := range lv {
		bytes += s.t.bytes[v][l]
	}
	fmt.Fprintf(s.e.Log, "guard: step %d/%d: %.0f weight bytes, validation %s %.2f%% (loss %.2f points, tolerance %.2f)\n",
		i, len(path), bytes, s.gd.name, a, s.acc0-a, s.maxLoss)
	return s.acc0 - a, nil
}

// choose returns the fewest of n steps whose loss is within maxLoss,
// found by bisection (the loss falls, not always strictly, as layers get
// finer: on a non-monotone stretch it returns some step within the
// tolerance, not necessarily the first), and whether even the finest
// setting, step n, missed it (then it returns n). loss is called at most
// 2 + ceil(log2 n) times.
func choose(n int, maxLoss float64, loss func(step int) (float64, error)) (int, bool, error) {
	l, err := loss(n)
	if err != nil {
		return 0, false, err
	}
	if l > maxLoss {
		return n, true, nil
	}
	if l, err = loss(0); err != nil || l <= maxLoss {
		return 0, false, err
	}
	lo, hi := 0, n // loss(lo) > P, loss(hi) <= P
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		l, err := loss(mid)
		if err != nil {
			return 0, false, err
		}
		if l <= maxLoss {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, false, nil
}

// guardQuantize is quantizeGraph under the accuracy guard: it holds out
// o.ValSize training images (seed ^ guardSeedMix), clusters every layer at
// every guard level, measures each layer's sensitivity, and takes the
// fewest refinement steps whose validation loss is within o.MaxLoss
// (choose). Centroid fine-tuning (tune.Epochs > 0) then runs
// on the rest of the training data and is kept only if it raises the
// validation accuracy; what it recovers lets the guard try coarser
// settings, each fine-tuned and kept only within o.MaxLoss (coarser). The loss reported is that of the model as restored
// from the written .slimpack. Without any setting within the tolerance it
// keeps the finest and says so (a warning on e.Log and "fallback" in the
// returned figures). g is clustered in place as by quantizeGraph.
func guardQuantize(e *Env, g *graph.Graph, copt cluster.Options, o GuardOptions, tune TuneOptions, trainSet, testSet *data.Dataset, out, packed string, f16 bool, seed uint64) (*quantizeResult, map[string]any, error) {
	n := min(o.ValSize, trainSet.Len()/2)
	if n < 1 {
		return nil, nil, BadInput("%d training images are too few to hold out a validation split for the accuracy guard", trainSet.Len())
	}
	valSeed := seed ^ guardSeedMix
	rest, val, err := trainSet.Split(n, tensor.NewRNG(valSeed))
	if err != nil {
		return nil, nil, err
	}
	probe := val.Head(min(guardProbe, val.Len()))
	gd := &guardData{n: n, seed: valSeed, rest: rest, val: val, name: "accuracy", divName: "KL", probeN: probe.Len(),
		score:   func(g *graph.Graph) (float64, error) { return accuracy(g, val, evalBatch) },
		probe:   func(g *graph.Graph) (*tensor.Tensor, error) { return train.DatasetLogits(g, probe, evalBatch) },
		diverge: meanKL}
	return guardRun(e, g, copt, o, tune, gd, testSet, out, packed, f16, seed)
}

// guardData is what the guard measures a model on: score, in percent on
// the n images of the validation split (held out with seed), and the
// probe's outputs, whose divergence from the float model's (diverge,
// named divName) is each layer's sensitivity. rest and val are a
// classifier's images for centroid fine-tuning (nil for a detector,
// which has none).
type guardData struct {
	n, probeN     int
	seed          uint64
	rest, val     *data.Dataset
	name, divName string
	score         func(g *graph.Graph) (float64, error)
	probe         func(g *graph.Graph) (*tensor.Tensor, error)
	diverge       func(ref, q *tensor.Tensor) float64
}

// guardRun is guardQuantize on the measurements gd gives.
func guardRun(e *Env, g *graph.Graph, copt cluster.Options, o GuardOptions, tune TuneOptions, gd *guardData, testSet *data.Dataset, out, packed string, f16 bool, seed uint64) (*quantizeResult, map[string]any, error) {
	n, valSeed, rest, val := gd.n, gd.seed, gd.rest, gd.val
	acc0, err := gd.score(g)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(e.Log, "guard: at most %.2f points of %s lost on %d held-out training images (float model %.2f%%)\n", o.MaxLoss, gd.name, n, acc0)
	t, err := buildGuardTable(e, g, copt, f16, gd)
	if err != nil {
		return nil, nil, err
	}
	path := t.path()
	s := &guardSearch{e: e, w: g.Clone(), gd: gd, acc0: acc0, maxLoss: o.MaxLoss, t: t, accCache: map[int]float64{}}
	step, fallback, err := choose(len(path), o.MaxLoss, func(i int) (float64, error) { return s.loss(path, i) })
	if err != nil {
		return nil, nil, err
	}
	var float map[string]*tensor.Tensor // g before clustering, for the coarser phase
	if tune.Epochs > 0 && val == nil {
		return nil, nil, fmt.Errorf("guard: centroid fine-tuning needs a classifier's images")
	}
	if tune.Epochs > 0 && !fallback {
		float = g.Clone().Params
	}
	lv := levelsAt(path, len(t.sens), step)
	r := t.result(lv)
	for _, l := range r.Layers {
		l.Expand(g.Params[l.Param].Data)
	}
	fig := map[string]any{"max_loss": o.MaxLoss, "val_size": n, "val_seed": valSeed, "val_accuracy_before": acc0,
		"path_steps": len(path), "step": step, "probe_size": gd.probeN, "score": gd.name}
	if tune.Epochs > 0 {
		ft, err := guardTune(e, g, r, tune, rest, val, s.accCache[step], f16, seed)
		if err != nil {
			return nil, nil, err
		}
		fig["finetune"] = ft
		if !fallback {
			c := &coarser{s: s, g: g, float: float, path: path, tune: tune, rest: rest, f16: f16, seed: seed, step: step, lv: lv, r: r, ft: ft, tries: []map[string]any{}}
			if err := c.search(); err != nil {
				return nil, nil, err
			}
			step, lv, r = c.step, c.lv, c.r
			fig["step"], fig["finetune"], fig["coarser_tries"] = step, c.ft, c.tries
		}
	}
	fig["evaluations"] = s.evals
	res := &quantizeResult{Result: r, Accuracy: -1, ValScore: gd.score}
	if err := finishQuantize(e, g, res, TuneOptions{}, rest, testSet, out, packed, f16, seed); err != nil {
		return nil, nil, err
	}
	loss := acc0 - res.ValAccuracy
	fig["val_accuracy"], fig["val_loss"], fig["within"], fig["fallback"] = res.ValAccuracy, loss, loss <= o.MaxLoss, fallback
	for i := range res.Layers {
		res.Layers[i]["level"] = guardLevels[lv[i]]
		res.Layers[i]["sensitivity"] = t.sens[i]
	}
	switch {
	case fallback:
		w := fmt.Sprintf("no clustering setting keeps the validation loss within %.2f points: kept the finest (%d clusters a layer), which loses %.2f", o.MaxLoss, levelOptions(copt, 0).FixedK, loss)
		fmt.Fprintf(e.Log, "warning: guard: %s\n", w)
		fig["warning"] = w
	case loss > o.MaxLoss:
		w := fmt.Sprintf("the model restored from %s loses %.2f validation points, above the tolerance %.2f met before packing", packed, loss, o.MaxLoss)
		fmt.Fprintf(e.Log, "warning: guard: %s\n", w)
		fig["warning"] = w
	default:
		fmt.Fprintf(e.Log, "guard: validation loss %.2f points (tolerance %.2f) after %d evaluations\n", loss, o.MaxLoss, s.evals)
	}
	return res, fig, nil
}

// guardCoarserTries bounds how many coarser settings the guard fine-tunes
// after the first (each costs one centroid fine-tuning).
const guardCoarserTries = 2

// coarser is the guard's second phase when centroid fine-tuning is on: the
// bisection chose the fewest steps whose loss before fine-tuning is within
// P, but fine-tuning then recovers some of the loss, so a coarser setting
// may end within P too. Each try allows the loss before fine-tuning to
// exceed P by the recovery just measured, bisects again over the steps
// below the current one, fine-tunes that setting from the float weights
// and keeps it only if its loss after fine-tuning (on the same validation
// split) is within P; otherwise the previous setting and its fine-tuned
// weights are restored and the search stops.
type coarser struct {
	s     *guardSearch
	g     *graph.Graph
	float map[string]*tensor.Tensor // g's weights before clustering
	path  []int
	tune  TuneOptions
	rest  *data.Dataset
	f16   bool
	seed  uint64
	// the setting held: step, levels, clustering, fine-tuning figures
	step  int
	lv    []int
	r     *cluster.Result
	ft    map[string]any
	tries []map[string]any
}

// tunedAccuracy is the validation accuracy guardTune left.
func tunedAccuracy(ft map[string]any) float64 {
	if ft["kept"] == true {
		return ft["val_accuracy_after"].(float64)
	}
	return ft["val_accuracy_before"].(float64)
}

func (c *coarser) search() error {
	s := c.s
	for range guardCoarserTries {
		tuned := s.acc0 - tunedAccuracy(c.ft)
		recovery := (s.acc0 - s.accCache[c.step]) - tuned
		if recovery <= 0 || c.step == 0 {
			return nil
		}
		p := s.maxLoss + recovery
		step, _, err := choose(c.step, p, func(i int) (float64, error) { return s.loss(c.path, i) })
		if err != nil || step >= c.step {
			return err
		}
		held := c.g.Clone().Params
		for name, t := range c.float {
			copy(c.g.Params[name].Data, t.Data)
		}
		lv := levelsAt(c.path, len(s.t.sens), step)
		r := s.t.result(lv)
		for _, l := range r.Layers {
			l.Expand(c.g.Params[l.Param].Data)
		}
		fmt.Fprintf(s.e.Log, "guard: fine-tuning recovered %.2f points: trying step %d (loss %.2f before fine-tuning)\n", recovery, step, s.acc0-s.accCache[step])
		ft, err := guardTune(s.e, c.g, r, c.tune, c.rest, s.gd.val, s.accCache[step], c.f16, c.seed)
		if err != nil {
			return err
		}
		loss := s.acc0 - tunedAccuracy(ft)
		ok := loss <= s.maxLoss
		c.tries = append(c.tries, map[string]any{"step": step, "tolerance_before_finetune": p, "val_loss": loss, "kept": ok})
		if !ok {
			fmt.Fprintf(s.e.Log, "guard: step %d loses %.2f points after fine-tuning (tolerance %.2f): kept step %d\n", step, loss, s.maxLoss, c.step)
			for name, t := range held {
				copy(c.g.Params[name].Data, t.Data)
			}
			return nil
		}
		fmt.Fprintf(s.e.Log, "guard: step %d loses %.2f points after fine-tuning (tolerance %.2f): kept\n", step, loss, s.maxLoss)
		c.step, c.lv, c.r, c.ft = step, lv, r, ft
	}
	return nil
}

// guardTune fine-tunes r's centroids on rest (Adam, as finishQuantize) and
// keeps the result only when the validation accuracy rises above before
// (the accuracy of the untuned configuration); it returns the figures.
func guardTune(e *Env, g *graph.Graph, r *cluster.Result, tune TuneOptions, rest, val *data.Dataset, before float64, f16 bool, seed uint64) (map[string]any, error) {
	saved := make([]cluster.LayerResult, len(r.Layers))
	for i, l := range r.Layers {
		l.Codebook, l.Indices = slices.Clone(l.Codebook), slices.Clone(l.Indices)
		saved[i] = l
	}
	params := g.Clone().Params // training also moves biases and BN
	ct := &centroidTuning{r: r}
	fmt.Fprintf(e.Log, "guard: fine-tuning centroids %d epochs (Adam, lr %g) on %d training images\n", tune.Epochs, tune.LR, rest.Len())
	_, err := train.Fit(g, rest, val, train.Options{Epochs: tune.Epochs, Batch: tune.Batch, Optimizer: train.OptAdam,
		LR: tune.LR, WeightDecay: 0, Schedule: train.ScheduleCosine,
		Regularizers: []train.Regularizer{ct}, Seed: seed, Progress: e.Log, Context: e.Ctx})
	if err != nil {
		return nil, err
	}
	if ct.err != nil {
		return nil, ct.err
	}
	if err := r.Reshare(g); err != nil {
		return nil, err
	}
	for _, l := range r.Layers {
		if f16 {
			for k, c := range l.Codebook {
				l.Codebook[k] = cluster.FromFloat16(cluster.Float16(c))
			}
		}
		l.Expand(g.Params[l.Param].Data)
	}
	after, err := accuracy(g, val, evalBatch)
	if err != nil {
		return nil, err
	}
	kept := after > before
	if !kept {
		copy(r.Layers, saved)
		for name, t := range params {
			copy(g.Params[name].Data, t.Data)
		}
	}
	fmt.Fprintf(e.Log, "guard: centroid fine-tuning: validation %.2f%% -> %.2f%% (%s)\n", before, after, map[bool]string{true: "kept", false: "reverted"}[kept])
	return map[string]any{"epochs": tune.Epochs, "val_accuracy_before": before, "val_accuracy_after": after, "kept": kept}, nil
}
