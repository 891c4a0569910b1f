package engine

// Depth-first inference over a batch's first layers. Run layer by layer,
// a batch of 8 224x224 images through MobileNetV2's first blocks writes
// and reads tens of megabytes per layer (96 planes of 112x112 a image), so
// every one of those layers waits on memory: per image they took 1.2-2.5
// times as long at batch 8 as at batch 1, while from the 14x14 blocks on,
// whose filters are read once for the whole batch, batch 8 was the faster.
// An inference pass with recycling on (SetRecycle) therefore runs the
// nodes up to a cut once per sub-batch of Threads() images (one per
// worker), each image's activations staying in its worker's cache, copies
// the one value the rest of the graph reads at the cut into a batch-sized
// tensor, and runs the rest on the whole batch.
//
// The cut (splitFor) is the latest point in the node order where one value
// alone is read later and none of the nodes before it mixes images
// (splitOps) or has more than splitMaxWeights floats of parameters,
// provided that value holds at least splitMinLive floats a image: a
// small map is cheap to keep whatever the order, and large filters are
// better read once for the batch. Each image's outputs are those of a
// pass over its sub-batch (the same numbers as the batch's up to the
// summation order of a kernel that picks its lowering by batch size). A
// graph with no such cut, or more than one input, runs layer by layer.

import (
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// splitPlan is a graph's cut for one per-image input shape: nodes
// [0, cut] run per sub-batch, and live is the value read after the cut.
type splitPlan struct {
	cut  int
	live string
}

// splitMaxWeights and splitMinLive bound the cut: no node before it has
// more than 64K floats of parameters (MobileNetV2's blocks up to its
// 96-to-576 expansions at 14x14, 55K, and the ResNets' first stage,
// resnet18's 64-channel 3x3 convs at 37K, pass; a 576-to-160 projection,
// 92K, and resnet18's 128-channel convs, 147K, do not), and the value at
// the cut holds at least 16K floats a image (MobileNetV2's 96x14x14
// passes, resnet20's 16x28x28 does not). With 16K floats of parameters
// (the cut before the ResNets' first stage and MobileNetV2's 14x14
// blocks) batch 8 ran 2-8% slower on resnet50, resnet18 and
// mobilenet_v2 (mobilenet_v3_small about even).
const (
	splitMaxWeights = 64 << 10
	splitMinLive    = 16 << 10
)

// splitOff turns depth-first passes off (tests compare both).
var splitOff = false

// splitOps are the ops that compute each image of a batch from that
// image alone (Concat only along channels, checked in cutOK).
var splitOps = map[string]bool{
	OpFusedConv: true, graph.OpConv: true, graph.OpBN: true,
	graph.OpRelu: true, graph.OpClip: true, graph.OpLeakyRelu: true, graph.OpSigmoid: true,
	graph.OpSilu: true, graph.OpHardSigmoid: true, graph.OpHardSwish: true,
	graph.OpAdd: true, graph.OpMul: true, graph.OpConcat: true,
	graph.OpMaxPool: true, graph.OpAveragePool: true, graph.OpGlobalAvg: true,
}

// splitFor returns the plan of an inference pass on inputs, planning it
// on the first call for this per-image shape (a pass over the first
// image, to learn every value's size), or nil for a layer-by-layer pass.
func (e *Executor) splitFor(inputs map[string]*tensor.Tensor, train bool) *splitPlan {
	if train || splitOff || !e.recycle || len(e.G.Inputs) != 1 {
		return nil
	}
	name := e.G.Inputs[0].Name
	x := inputs[name]
	if x == nil || len(x.Shape) < 2 || x.Shape[0] < 2 || kernels.Threads() >= x.Shape[0] {
		return nil
	}
	for _, s := range e.splits {
		if slices.Equal(s.shape, x.Shape[1:]) {
			return s.plan
		}
	}
	sp := e.planSplit(x, name)
	e.splits = append(e.splits, splitEntry{slices.Clone(x.Shape[1:]), sp})
	return sp
}

// splitEntry is the plan (nil: layer by layer) for one per-image shape.
type splitEntry struct {
	shape []int
	plan  *splitPlan
}

// planSplit runs the first image of x alone to learn each value's size
// per image, restores the pass's state and returns the cut, or nil.
func (e *Executor) planSplit(x *tensor.Tensor, name string) *splitPlan {
	times := e.times
	e.times = nil
	e.sizes = map[string]int{}
	e.values[name] = imageRange(x, 0, 1)
	err := e.runNodes(0, len(e.order), false)
	sizes := e.sizes
	e.times, e.sizes = times, nil
	e.pool.Reset()
	clear(e.refs)
	clear(e.values)
	for k, t := range e.G.Params {
		e.values[k] = t
	}
	e.values[name] = x
	if err != nil {
		return nil // the real pass reports it
	}
	return e.cutOf(sizes, name)
}

// cutOf returns the latest valid cut given each value's floats per image.
func (e *Executor) cutOf(sizes map[string]int, input string) *splitPlan {
	produced := map[string]int{input: -1}
	var best *splitPlan
	for c, n := range e.order {
		if !splitOps[n.Op] || (n.Op == graph.OpConcat && n.Attrs.Int("axis", 1) != 1) {
			break
		}
		w := 0
		for _, in := range n.Inputs {
			if p := e.G.Params[in]; p != nil {
				w += len(p.Data)
			}
		}
		if w > splitMaxWeights {
			break
		}
		for _, out := range n.Outputs {
			produced[out] = c
		}
		live, nlive := "", 0
		for v := range produced {
			if u, ok := e.lastUse[v]; ok && (u < 0 || u > c) {
				live, nlive = v, nlive+1
			}
		}
		if nlive == 1 && e.lastUse[live] > c && sizes[live] >= splitMinLive {
			best = &splitPlan{cut: c, live: live}
		}
	}
	return best
}

// runSplit is an inference pass by sp: nodes up to the cut once per
// sub-batch of Threads() images, the value at the cut gathered into one
// batch tensor, the rest of the nodes on the whole batch.
func (e *Executor) runSplit(sp *splitPlan, inputs map[string]*tensor.Tensor) error {
	name := e.G.Inputs[0].Name
	x := inputs[name]
	n, sub := x.Shape[0], kernels.Threads()
	var full *tensor.Tensor
	for i0 := 0; i0 < n; i0 += sub {
		i1 := min(n, i0+sub)
		e.values[name] = imageRange(x, i0, i1)
		if err := e.runNodes(0, sp.cut+1, false); err != nil {
			return err
		}
		v := e.values[sp.live]
		per := len(v.Data) / (i1 - i0)
		if full == nil {
			shape := append([]int{n}, v.Shape[1:]...)
			if e.splitFull == nil || cap(e.splitFull.Data) < n*per {
				e.splitFull = tensor.New(shape...)
			}
			full = e.splitFull
			full.Data, full.Shape = full.Data[:n*per], shape
		}
		copy(full.Data[i0*per:i1*per], v.Data)
		if o := e.pool.ownerOf(v); o != nil {
			if e.refs[o]--; e.refs[o] <= 0 {
				delete(e.refs, o)
				e.pool.release(o)
			}
		}
	}
	e.values[name], e.values[sp.live] = x, full
	return e.runNodes(sp.cut+1, len(e.order), false)
}

// imageRange returns images [i0, i1) of the batch x as a tensor sharing
// its storage.
func imageRange(x *tensor.Tensor, i0, i1 int) *tensor.Tensor {
	per := len(x.Data) / x.Shape[0]
	return &tensor.Tensor{Shape: append([]int{i1 - i0}, x.Shape[1:]...), Data: x.Data[i0*per : i1*per]}
}
