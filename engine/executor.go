package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// Executor runs a graph. It holds references to the graph's parameter tensors
// (not copies): an optimizer updating g.Params changes what the next pass
// computes, and training-mode BatchNormalization updates its running
// statistics in place. Rebuild the executor after changing the graph's
// structure or replacing parameter tensors.
//
// A BatchNormalization or Add whose only reader is a Relu runs fused with
// it (one pass, no intermediate tensor); the BN's or Add's output value is
// then not kept, so Value returns nil for it.
//
// Training passes also fuse across the Conv, BN and Add of a ResNet
// (bitwise the separate passes): a Conv gathers the batch sums of the BN
// reading its output (bn_stats.go); a BN read by one Add or one Conv alone
// leaves its output to it (bn_add.go, bn_conv_in.go; Value is nil for it
// after a training pass); in Backward a BN leaves its input gradient to the
// Conv before it (bn_grad.go), its two sums are gathered by the pass that
// writes its output gradient (bn_bwd_sums.go), and a residual's last
// gradient sum takes the Add+ReLU's mask (sumGrads).
type Executor struct {
	G     *graph.Graph
	Grads map[string]*tensor.Tensor // d loss / d param, accumulated by Backward

	order   []*graph.Node
	kernels []Kernel
	values  map[string]*tensor.Tensor
	ins     [][]*tensor.Tensor
	outs    [][]*tensor.Tensor
	ctx     Ctx
	pool    *Pool
	trained bool // the last pass was in training mode

	// paramsOnly (SetParamGradsOnly): Backward computes no graph input's
	// gradient.
	paramsOnly bool

	// SetRecycle: buffers go back to the pool after their last reader in
	// inference passes. lastUse is, per value, the index in order of its
	// last reader (-1: a graph output, kept); refs counts the live values
	// on each pooled buffer (a Reshape's output shares its input's).
	recycle bool
	lastUse map[string]int
	refs    map[*tensor.Tensor]int

	// reluAdds and firstReader (indexReluAdds): where Backward's last
	// gradient sum of a value can take an Add+ReLU's mask (sumGrads).
	reluAdds    map[string]int
	firstReader map[string]int
	maskedSums  int // sums masked so far (a diagnostic for tests)
	convSums    int // of them, sums a Conv wrote into its input gradient

	// times, when not nil (SetTiming), sums each node's Forward time
	// over the passes counted in passes; btimes its Backward time over
	// the bpasses Backward calls.
	times, btimes   []time.Duration
	passes, bpasses int

	// Depth-first inference over a batch's first layers (split.go):
	// plans per input shape, the concatenation buffer, and, during a
	// planning pass, the floats of every value.
	splits    []splitEntry
	splitFull *tensor.Tensor
	sizes     map[string]int
}

// NodeTime is one node's share of the passes timed by SetTiming.
type NodeTime struct {
	Name, Op string
	Total    time.Duration // summed over Passes forward passes
	Passes   int
	Backward time.Duration // summed over BackPasses Backward calls
	// BackPasses counts the Backward calls timed (0 for inference).
	BackPasses int
}

// SetTiming starts (on) or stops summing the wall time of each node's
// Forward over the following passes (both modes) and of its Backward over
// the following Backward calls; turning it on clears earlier sums. The
// cost is two clock reads per node and pass.
func (e *Executor) SetTiming(on bool) {
	e.times, e.btimes, e.passes, e.bpasses = nil, nil, 0, 0
	if on {
		e.times = make([]time.Duration, len(e.order))
		e.btimes = make([]time.Duration, len(e.order))
	}
}

// NodeTimes returns the sums SetTiming collected, one per node in
// execution order (nil when timing is off).
func (e *Executor) NodeTimes() []NodeTime {
	if e.times == nil {
		return nil
	}
	out := make([]NodeTime, len(e.order))
	for i, n := range e.order {
		out[i] = NodeTime{Name: n.Name, Op: n.Op, Total: e.times[i], Passes: e.passes,
			Backward: e.btimes[i], BackPasses: e.bpasses}
	}
	return out
}

// SetRecycle makes inference passes (Run with train false) hand each
// intermediate value's buffer back to the pool as soon as the last node
// reading it has run, so later nodes write into memory that was just in
// use (and is likely still cached) instead of a new buffer per value: the
// pass's working set shrinks from every activation of the network to the
// few live at a time. Value then returns nil for the released
// intermediates. With recycling on, an inference pass on a batch of more
// images than Threads() may also run its first layers depth-first, a
// sub-batch at a time (split.go). Training passes are not affected.
func (e *Executor) SetRecycle(on bool) {
	e.recycle = on
	if !on || e.lastUse != nil {
		return
	}
	e.lastUse = map[string]int{}
	for i, n := range e.order {
		for _, name := range n.Inputs {
			if name != "" {
				e.lastUse[name] = i
			}
		}
	}
	for _, v := range e.G.Outputs {
		e.lastUse[v.Name] = -1
	}
	e.refs = map[*tensor.Tensor]int{}
}

// recycleAfter releases the buffers of node i's inputs that no later node
// reads and counts its outputs' (inference passes with SetRecycle).
func (e *Executor) recycleAfter(i int, n *graph.Node, outs []*tensor.Tensor) {
	for _, t := range outs {
		if o := e.pool.ownerOf(t); o != nil {
			e.refs[o]++
		}
	}
	for j, name := range n.Inputs {
		if name == "" || e.lastUse[name] != i || slices.Contains(n.Inputs[:j], name) {
			continue
		}
		o := e.pool.ownerOf(e.values[name])
		if o == nil {
			continue
		}
		if e.refs[o]--; e.refs[o] <= 0 {
			delete(e.refs, o)
			e.pool.release(o)
			delete(e.values, name)
		}
	}
}

// New compiles every node of g. It errors naming the first unsupported node
// or a graph whose values cannot be ordered.
func New(g *graph.Graph) (*Executor, error) {
	order, err := g.Topo()
	if err != nil {
		return nil, err
	}
	e := &Executor{G: g, Grads: map[string]*tensor.Tensor{}, pool: NewPool()}
	reluOf := fusableBNRelu(g, order)
	for _, n := range order {
		if reluOf[n] == nil && fusedAway(reluOf, n) {
			continue
		}
		k, err := Compile(n)
		if err != nil {
			return nil, err
		}
		if r := reluOf[n]; r != nil {
			switch k := k.(type) {
			case *bnKernel:
				if r.Op == graph.OpClip {
					k.clip = true
					k.lo, k.hi = r.Attrs.Float("min", float32(math.Inf(-1))), r.Attrs.Float("max", float32(math.Inf(1)))
				} else {
					k.relu = true
				}
			case *binKernel:
				k.relu = true
			}
			n = &graph.Node{Name: n.Name, Op: n.Op, Inputs: n.Inputs, Outputs: r.Outputs, Attrs: n.Attrs}
		}
		e.order = append(e.order, n)
		e.kernels = append(e.kernels, k)
	}
	linkBNGrads(g, e.order, e.kernels)
	e.indexReluAdds()
	e.ins = make([][]*tensor.Tensor, len(order))
	e.outs = make([][]*tensor.Tensor, len(order))
	e.ctx = Ctx{pool: e.pool, RNG: rand.New(rand.NewPCG(1, 2)), conv: &convScratch{}}
	return e, nil
}

// fusableBNRelu returns, for every BatchNormalization or Add node of g
// whose only reader is a Relu (the value is no graph output), that Relu,
// and for every BatchNormalization read only by a valid Clip (ReLU6), that
// Clip: the executor runs the pair as one kernel, saving the pass over the
// intermediate and its memory.
func fusableBNRelu(g *graph.Graph, order []*graph.Node) map[*graph.Node]*graph.Node {
	ix := graph.NewIndex(g, order)
	fuse := map[*graph.Node]*graph.Node{}
	for _, n := range order {
		if (n.Op != graph.OpBN && n.Op != graph.OpAdd) || len(n.Outputs) != 1 || n.Outputs[0] == "" {
			continue
		}
		r := ix.Consumers(n.Outputs[0])
		if ix.Readers(n.Outputs[0]) != 1 || len(r) != 1 || len(r[0].Inputs) != 1 || len(r[0].Outputs) != 1 {
			continue
		}
		if r[0].Op == graph.OpRelu || r[0].Op == graph.OpClip && n.Op == graph.OpBN && validClip(r[0]) {
			fuse[n] = r[0]
		}
	}
	return fuse
}

// validClip reports whether a Clip node compiles (its bounds are ordered);
// one that does not stays apart and fails with its own error.
func validClip(n *graph.Node) bool {
	_, err := newClip(n)
	return err == nil
}

// fusedAway reports whether n is a Relu or Clip merged into a
// BatchNormalization or Add.
func fusedAway(fuse map[*graph.Node]*graph.Node, n *graph.Node) bool {
	if n.Op != graph.OpRelu && n.Op != graph.OpClip {
		return false
	}
	for _, r := range fuse {
		if r == n {
			return true
		}
	}
	return false
}

// SetRNG sets the random source used by training-mode ops such as Dropout.
func (e *Executor) SetRNG(r *rand.Rand) { e.ctx.RNG = r }

// Forward runs the graph on its single input and returns its first output.
// The result is valid until the next call.
func (e *Executor) Forward(x *tensor.Tensor, train bool) (*tensor.Tensor, error) {
	if len(e.G.Inputs) != 1 {
		return nil, fmt.Errorf("engine: Forward needs a single-input graph, %q has %d inputs", e.G.Name, len(e.G.Inputs))
	}
	out, err := e.Run(map[string]*tensor.Tensor{e.G.Inputs[0].Name: x}, train)
	if err != nil {
		return nil, err
	}
	return out[e.G.Outputs[0].Name], nil
}

// Run executes every node. In training mode kernels keep what Backward needs.
// Returned tensors are valid until the next Run. Errors name the node.
func (e *Executor) Run(inputs map[string]*tensor.Tensor, train bool) (out map[string]*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error: %v", r)
		}
	}()
	e.pool.Reset()
	clear(e.refs)
	e.values = make(map[string]*tensor.Tensor, len(e.G.Params)+2*len(e.order))
	for k, t := range e.G.Params {
		e.values[k] = t
	}
	for _, v := range e.G.Inputs {
		t, ok := inputs[v.Name]
		if !ok {
			return nil, fmt.Errorf("engine: missing graph input %q", v.Name)
		}
		if len(t.Shape) != len(v.Shape) {
			return nil, fmt.Errorf("engine: input %q has shape %v, the model expects %v", v.Name, t.Shape, v.Shape)
		}
		for i, d := range v.Shape {
			if d >= 0 && t.Shape[i] != d {
				return nil, fmt.Errorf("engine: input %q has shape %v, the model expects %v", v.Name, t.Shape, v.Shape)
			}
		}
		e.values[v.Name] = t
	}
	e.ctx.Train = train
	e.trained = train
	if sp := e.splitFor(inputs, train); sp != nil {
		err = e.runSplit(sp, inputs)
	} else {
		err = e.runNodes(0, len(e.order), train)
	}
	if err != nil {
		return nil, err
	}
	if e.times != nil {
		e.passes++
	}
	out = map[string]*tensor.Tensor{}
	for _, v := range e.G.Outputs {
		out[v.Name] = e.values[v.Name]
	}
	return out, nil
}

// runNodes runs nodes [lo, hi) of the order on e.values.
func (e *Executor) runNodes(lo, hi int, train bool) error {
	for i := lo; i < hi; i++ {
		n := e.order[i]
		in := e.ins[i][:0]
		for _, name := range n.Inputs {
			if name == "" {
				in = append(in, nil)
				continue
			}
			in = append(in, e.values[name])
		}
		e.ins[i] = in
		var t0 time.Time
		if e.times != nil {
			t0 = time.Now()
		}
		o, err := e.kernels[i].Forward(&e.ctx, in)
		if e.times != nil {
			e.times[i] += time.Since(t0)
		}
		if err != nil {
			return fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		e.outs[i] = o
		for j, name := range n.Outputs {
			if j < len(o) && name != "" {
				e.values[name] = o[j]
				if e.sizes != nil && o[j] != nil {
					e.sizes[name] = len(o[j].Data)
				}
			}
		}
		if e.recycle && !train {
			e.recycleAfter(i, n, o)
		}
	}
	return nil
}

// Value returns an intermediate value of the last Run (nil if unknown, or
// not written: a training pass's BatchNormalization output that an Add or
// a Conv alone reads is computed inside that node, bn_add.go and
// bn_conv_in.go).
func (e *Executor) Value(name string) *tensor.Tensor {
	t := e.values[name]
	if t != nil && t.Data == nil && tensor.Size(t.Shape) > 0 {
		return nil
	}
	return t
}

// ZeroGrad clears the accumulated parameter gradients.
func (e *Executor) ZeroGrad() {
	for _, g := range e.Grads {
		g.Zero()
	}
}

// SetParamGradsOnly makes Backward compute the parameters' gradients
// only: no graph input gets one (Backward's result is then empty), so the
// nodes that read the inputs skip their input gradients (a first
// convolution's dX, as large as the images). What a trainer needs.
func (e *Executor) SetParamGradsOnly(on bool) { e.paramsOnly = on }

// Backward propagates d loss / d output (one entry per graph output to
// differentiate) through the last training-mode Run, adding parameter
// gradients into e.Grads. It returns the gradients of the graph inputs.
func (e *Executor) Backward(gradOut map[string]*tensor.Tensor) (inGrads map[string]*tensor.Tensor, err error) {
	if !e.trained {
		return nil, errors.New("engine: Backward needs a training-mode Run first")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error in backward: %v", r)
		}
	}()
	grads := map[string]*tensor.Tensor{}
	for k, g := range gradOut {
		grads[k] = g
	}
	isInput := map[string]bool{}
	for _, v := range e.G.Inputs {
		isInput[v.Name] = true
	}
	// Values that lead to a parameter or to something needing a gradient.
	needVal := map[string]bool{}
	for _, v := range e.G.Inputs {
		needVal[v.Name] = !e.paramsOnly
	}
	for i, n := range e.order {
		_ = i
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, p := e.G.Params[in]; p || needVal[in] {
				for _, o := range n.Outputs {
					needVal[o] = true
				}
			}
		}
	}
	for i := len(e.order) - 1; i >= 0; i-- {
		n := e.order[i]
		gout := make([]*tensor.Tensor, len(n.Outputs))
		any := false
		for j, o := range n.Outputs {
			if g := grads[o]; g != nil {
				gout[j] = g
				any = true
			}
		}
		if !any {
			continue
		}
		need := make([]bool, len(n.Inputs))
		for j, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, p := e.G.Params[in]; p {
				need[j] = !graph.IsBuffer(n.Op, j)
			} else {
				need[j] = needVal[in]
			}
		}
		rs, rsAdd := e.residualSum(i, n, need, grads)
		var t0 time.Time
		if e.btimes != nil {
			t0 = time.Now()
		}
		gin, err := e.kernels[i].Backward(&e.ctx, e.ins[i], e.outs[i], gout, need)
		if e.btimes != nil {
			e.btimes[i] += time.Since(t0)
		}
		if err != nil {
			return nil, fmt.Errorf("node %q (%s) backward: %w", n.Name, n.Op, err)
		}
		for j, in := range n.Inputs {
			if in == "" || j >= len(gin) || gin[j] == nil || !need[j] {
				continue
			}
			g := gin[j]
			if j == 0 && rs != nil && rs.done {
				// The Conv wrote the masked sum (conv_sum.go).
				rsAdd.masked = g
				e.maskedSums++
				e.convSums++
				grads[in] = g
				continue
			}
			if _, p := e.G.Params[in]; p {
				acc := e.Grads[in]
				if acc == nil {
					acc = tensor.New(e.G.Params[in].Shape...)
					e.Grads[in] = acc
				}
				addInto(acc.Data, g.Data)
				continue
			}
			if prev := grads[in]; prev != nil {
				grads[in] = e.sumGrads(i, in, prev, g)
			} else {
				grads[in] = g
			}
		}
	}
	if e.btimes != nil {
		e.bpasses++
	}
	inGrads = map[string]*tensor.Tensor{}
	for k := range isInput {
		if g := grads[k]; g != nil {
			inGrads[k] = g
		}
	}
	return inGrads, nil
}

// sumGrads returns prev+g, value in's gradient so far plus node i's
// contribution, in a fresh tensor (prev or g may be another value's
// gradient too). When this is in's last contribution (node i is its first
// reader, reading it once) and in is the output of an Add with a fused
// ReLU, the sum is masked by that output in the same pass and the Add's
// Backward told so (binKernel.masked), instead of masking it in a pass of
// its own: bitwise the same gradient.
func (e *Executor) sumGrads(i int, in string, prev, g *tensor.Tensor) *tensor.Tensor {
	sum := e.pool.get(false, prev.Shape...) // written whole below
	a, b, d := prev.Data, g.Data[:len(prev.Data)], sum.Data
	if add, o, bn := e.maskedSum(i, in, len(d)); add != nil {
		if bn != nil {
			maskedSumGather(bn, o, a, b, d)
		} else {
			forChunks(len(d), func(lo, hi int) { vecAddReluBwd(o[lo:hi], a[lo:hi], b[lo:hi], d[lo:hi]) })
		}
		add.masked = sum
		e.maskedSums++
		return sum
	}
	forChunks(len(d), func(lo, hi int) { kernels.Add(a[lo:hi], b[lo:hi], d[lo:hi], false) })
	return sum
}

// maskedSum reports whether node i's contribution to value in's gradient
// (n floats) is in's last one (node i its first reader, reading it once)
// with in the output of an Add with a fused ReLU: then that Add's kernel
// (add, nil when not), its output o (the mask) and the BN whose deferred
// output it took, whose backward sums the sum gathers (bn, nil: none).
func (e *Executor) maskedSum(i int, in string, n int) (add *binKernel, o []float32, bn *bnKernel) {
	fr, read := e.firstReader[in]
	p, ok := e.reluAdds[in]
	if !ok || !fuseReluSums || !read || fr != i || e.outs[p] == nil || len(e.outs[p]) != 1 || len(e.outs[p][0].Data) != n {
		return nil, nil, nil
	}
	add = e.kernels[p].(*binKernel)
	if add.bnIn != nil && add.bnAdded && fuseBNBwdSums {
		bn = add.bnIn
	}
	return add, e.outs[p][0].Data, bn
}

// residualSum hands node i, a Conv computing its input gradient, the
// masked sum sumGrads would compute from it (conv_sum.go) when maskedSum
// holds for it; it returns the sum (nil: none) and the Add's kernel.
func (e *Executor) residualSum(i int, n *graph.Node, need []bool, grads map[string]*tensor.Tensor) (*dxSum, *binKernel) {
	k, ok := e.kernels[i].(*convKernel)
	if !ok || !fuseConvSums || len(need) == 0 || !need[0] || len(n.Inputs) == 0 {
		return nil, nil
	}
	prev := grads[n.Inputs[0]]
	if prev == nil {
		return nil, nil
	}
	add, o, bn := e.maskedSum(i, n.Inputs[0], len(prev.Data))
	if add == nil {
		return nil, nil
	}
	k.sum = &dxSum{o: o, prev: prev.Data, bn: bn}
	return k.sum, add
}

// fuseReluSums enables sumGrads' masked sums; tests turn it off to
// compare against the separate mask pass.
var fuseReluSums = true

// indexReluAdds records, for every output of an Add with a fused ReLU,
// the Add's index in e.order (reluAdds), and for every value the index of
// the first node reading it in exactly one input slot (firstReader; -1
// when that node reads it more than once).
func (e *Executor) indexReluAdds() {
	e.reluAdds, e.firstReader = map[string]int{}, map[string]int{}
	for i, n := range e.order {
		if k, ok := e.kernels[i].(*binKernel); ok && k.relu && !k.mul && len(n.Outputs) == 1 {
			e.reluAdds[n.Outputs[0]] = i
		}
		for _, in := range n.Inputs {
			if _, seen := e.firstReader[in]; in == "" || seen {
				continue
			}
			e.firstReader[in] = i
			if slices.Contains(n.Inputs[slices.Index(n.Inputs, in)+1:], in) {
				e.firstReader[in] = -1
			}
		}
	}
}

// addInto sets dst[i] += src[i] (vectorised, see vec.go).
func addInto(dst, src []float32) { kernels.AddTo(src[:len(dst)], dst) }
