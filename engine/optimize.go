package engine

// Inference-only graph rewrite: BatchNormalization folded into the Conv
// before it, and the ReLU after a Conv (optionally after a residual Add)
// fused into the Conv's output pass.

import (
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// OpFusedConv is the engine-internal op Optimize produces: a Conv whose
// output pass also adds an optional residual and applies an optional ReLU,
//
//	X, W, B?, R? -> Y = act(conv(X, W) + B + R)
//
// with the Conv attributes plus "activation" ("", "relu", "clip" or
// "hardswish"). R must have
// Y's shape. It runs in inference mode only (Backward errors) and is not a
// canonical graph op: graphs holding it are for an Executor, never for
// saving or export, and it is not listed by Supported.
const OpFusedConv = "slimgo.FusedConv"

// Optimize returns a graph that computes the same outputs as g in
// inference mode, faster:
//
//   - a BatchNormalization reading the output of a Conv that nothing else
//     reads is folded into that Conv's weight and bias (with the running
//     statistics at the time of the call),
//   - a Relu reading an Add of such a Conv's output (read by nothing else)
//     and another value of the same shape becomes the Conv's residual input
//     and activation, and
//   - a Relu, Clip (ReLU6) or HardSwish reading the output of a Conv that
//     nothing else reads becomes the Conv's activation,
//   - an Add of such a Conv's output (without activation) and another
//     value of the same shape, with no Relu after it, becomes the Conv's
//     residual input (MobileNetV2's linear bottlenecks), and
//   - every other Conv with a parameter weight becomes an OpFusedConv
//     without activation, so its executor packs its filters once.
//
// Fused nodes use OpFusedConv and keep the names of the values they
// replace, so graph outputs and Executor.Value lookups of surviving values
// still work. g itself is not modified; the result shares g's unchanged
// parameter tensors and owns the folded ones. An executor of the result
// may keep transformed copies of its fused Convs' weights (the Winograd
// filters) for its lifetime, so call Optimize again, and compile a new
// executor, after changing g's weights. The result must not be trained
// or saved. It errors when g's nodes cannot
// be ordered.
func Optimize(g *graph.Graph) (*graph.Graph, error) {
	if _, err := g.Topo(); err != nil {
		return nil, err
	}
	o := &graph.Graph{Name: g.Name, Inputs: g.Inputs, Outputs: g.Outputs, Meta: g.Meta,
		Params: make(map[string]*tensor.Tensor, len(g.Params))}
	for k, t := range g.Params {
		o.Params[k] = t
	}
	for _, n := range g.Nodes {
		o.Nodes = append(o.Nodes, n.Clone())
	}
	shapes := batchShapes(g)
	foldBN(o)
	fuseResidualRelu(o, shapes)
	fuseRelu(o)
	fuseResidual(o, shapes)
	fuseRemaining(o)
	// Drop parameters no node reads any more (the folded-away ones).
	used := map[string]bool{}
	for _, n := range o.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for k := range o.Params {
		if !used[k] {
			delete(o.Params, k)
		}
	}
	return o, nil
}

// batchShapes returns the value shapes of g for a batch of two images of
// the declared input shape (nil when they cannot be inferred); two, so a
// value that broadcasts over the batch does not look like a batch value.
func batchShapes(g *graph.Graph) map[string][]int {
	in := map[string][]int{}
	for _, v := range g.Inputs {
		if len(v.Shape) == 0 {
			return nil
		}
		s := slices.Clone(v.Shape)
		if s[0] < 0 {
			s[0] = 2
		}
		for _, d := range s {
			if d < 0 {
				return nil
			}
		}
		in[v.Name] = s
	}
	shapes, err := g.InferShapes(in)
	if err != nil {
		return nil
	}
	return shapes
}

// removeNodes deletes the marked nodes from g.
func removeNodes(g *graph.Graph, dead map[*graph.Node]bool) {
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *graph.Node) bool { return dead[n] })
}

// isParam4 reports whether name is a parameter with a 4-D shape.
func isParam4(g *graph.Graph, name string) bool {
	t := g.Params[name]
	return t != nil && len(t.Shape) == 4
}

// foldBN folds every BatchNormalization that graph.ConvBNPairs pairs with a
// Conv (4-D weight, parameter lengths matching its filters; others are left
// alone) into that Conv, which becomes an OpFusedConv with a bias and the
// BN's output name. The arithmetic is graph.FoldBNWeights, as for export.
func foldBN(g *graph.Graph) {
	dead := map[*graph.Node]bool{}
	for _, p := range graph.ConvBNPairs(g) {
		conv, bn := p.Conv, p.BN
		if !isParam4(g, conv.Input(1)) {
			continue
		}
		w := g.Params[conv.Input(1)]
		m := w.Shape[0]
		var bias *tensor.Tensor
		if b := conv.Input(2); b != "" {
			if bias = g.Params[b]; bias.Len() != m {
				continue
			}
		}
		var ps [4]*tensor.Tensor
		ok := true
		for i := range ps {
			ps[i] = g.Params[bn.Inputs[1+i]]
			ok = ok && ps[i].Len() == m
		}
		if !ok {
			continue
		}
		fw, fb := graph.FoldBNWeights(w, bias, ps[0], ps[1], ps[2], ps[3], float64(bn.Attrs.Float("epsilon", 1e-5)))
		wn, bn2 := uniqueParam(g, conv.Name+".folded_weight"), uniqueParam(g, conv.Name+".folded_bias")
		g.Params[wn], g.Params[bn2] = fw, fb
		conv.Op = OpFusedConv
		conv.Inputs = []string{conv.Inputs[0], wn, bn2}
		conv.Outputs = []string{bn.Outputs[0]}
		dead[bn] = true
	}
	removeNodes(g, dead)
}

// uniqueParam returns prefix, or prefix with a number, unused as a value.
func uniqueParam(g *graph.Graph, prefix string) string {
	name := prefix
	for i := 2; g.Params[name] != nil; i++ {
		name = fmt.Sprintf("%s%d", prefix, i)
	}
	return name
}

// asFused turns a Conv into an OpFusedConv (no-op for a fused one).
func asFused(n *graph.Node) {
	if n.Op == graph.OpConv {
		n.Op = OpFusedConv
	}
}

// fusable reports whether value v is computed by a Conv or OpFusedConv
// without activation or residual and read only once.
func fusable(v string, ix *graph.Index) *graph.Node {
	n := ix.Producer(v)
	if n == nil || ix.Readers(v) != 1 || len(n.Outputs) != 1 {
		return nil
	}
	if n.Op == graph.OpConv || (n.Op == OpFusedConv && n.Attrs.String("activation", "") == "" && len(n.Inputs) < 4) {
		return n
	}
	return nil
}

// fuseResidualRelu rewrites Relu(Add(conv, r)) with conv's output read only
// by the Add, the Add's only by the Relu and r of the Add's shape into a
// fused Conv with residual r.
func fuseResidualRelu(g *graph.Graph, shapes map[string][]int) {
	if shapes == nil {
		return
	}
	ix := graph.NewIndex(g, nil)
	dead := map[*graph.Node]bool{}
	for _, relu := range g.Nodes {
		if relu.Op != graph.OpRelu || len(relu.Inputs) != 1 || len(relu.Outputs) != 1 {
			continue
		}
		add := ix.Producer(relu.Inputs[0])
		if add == nil || add.Op != graph.OpAdd || ix.Readers(relu.Inputs[0]) != 1 || len(add.Inputs) != 2 {
			continue
		}
		for i := range 2 {
			conv := fusable(add.Inputs[i], ix)
			res := add.Inputs[1-i]
			if conv == nil || dead[conv] || g.IsParam(res) || res == add.Inputs[i] ||
				shapes[res] == nil || !slices.Equal(shapes[res], shapes[add.Inputs[i]]) {
				continue
			}
			asFused(conv)
			for len(conv.Inputs) < 3 {
				conv.Inputs = append(conv.Inputs, "")
			}
			conv.Inputs = append(conv.Inputs, res)
			conv.Attrs = conv.Attrs.Clone()
			if conv.Attrs == nil {
				conv.Attrs = graph.Attrs{}
			}
			conv.Attrs["activation"] = "relu"
			conv.Outputs = []string{relu.Outputs[0]}
			dead[add], dead[relu] = true, true
			break
		}
	}
	removeNodes(g, dead)
}

// fuseResidual rewrites Add(conv, r), with conv's output read only by
// the Add, conv without activation or residual and r of the Add's shape
// (not a parameter), into a fused Conv with residual r and no activation.
func fuseResidual(g *graph.Graph, shapes map[string][]int) {
	if shapes == nil {
		return
	}
	ix := graph.NewIndex(g, nil)
	dead := map[*graph.Node]bool{}
	for _, add := range g.Nodes {
		if add.Op != graph.OpAdd || len(add.Inputs) != 2 || len(add.Outputs) != 1 || shapes[add.Outputs[0]] == nil {
			continue
		}
		for i := range 2 {
			conv := fusable(add.Inputs[i], ix)
			res := add.Inputs[1-i]
			if conv == nil || dead[conv] || g.IsParam(res) || res == add.Inputs[i] || shapes[res] == nil ||
				!slices.Equal(shapes[res], shapes[add.Inputs[i]]) || !slices.Equal(shapes[res], shapes[add.Outputs[0]]) {
				continue
			}
			asFused(conv)
			for len(conv.Inputs) < 3 {
				conv.Inputs = append(conv.Inputs, "")
			}
			conv.Inputs = append(conv.Inputs, res)
			conv.Outputs = []string{add.Outputs[0]}
			dead[add] = true
			break
		}
	}
	removeNodes(g, dead)
}

// fuseRemaining turns every Conv whose weight is a 4-D parameter into an
// OpFusedConv without activation or residual (the same computation; an
// executor then keeps its filters packed).
func fuseRemaining(g *graph.Graph) {
	for _, n := range g.Nodes {
		if n.Op == graph.OpConv && isParam4(g, n.Input(1)) {
			n.Op = OpFusedConv
		}
	}
}

// fuseRelu rewrites Relu(conv), Clip(conv) (min and max as
// attributes, e.g. ReLU6) or HardSwish(conv) (MobileNetV3) with conv's
// output read only by the activation into a fused Conv with that
// activation.
func fuseRelu(g *graph.Graph) {
	ix := graph.NewIndex(g, nil)
	dead := map[*graph.Node]bool{}
	for _, relu := range g.Nodes {
		if (relu.Op != graph.OpRelu && relu.Op != graph.OpClip && relu.Op != graph.OpHardSwish) || len(relu.Inputs) != 1 || len(relu.Outputs) != 1 {
			continue
		}
		conv := fusable(relu.Inputs[0], ix)
		if conv == nil {
			continue
		}
		asFused(conv)
		conv.Attrs = conv.Attrs.Clone()
		if conv.Attrs == nil {
			conv.Attrs = graph.Attrs{}
		}
		conv.Attrs["activation"] = "relu"
		if relu.Op == graph.OpHardSwish {
			conv.Attrs["activation"] = "hardswish"
		}
		if relu.Op == graph.OpClip {
			conv.Attrs["activation"] = "clip"
			conv.Attrs["clip_min"] = relu.Attrs.Float("min", float32(math.Inf(-1)))
			conv.Attrs["clip_max"] = relu.Attrs.Float("max", float32(math.Inf(1)))
		}
		conv.Outputs = []string{relu.Outputs[0]}
		dead[relu] = true
	}
	removeNodes(g, dead)
}
