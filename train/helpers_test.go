package train

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// refGemm is a naive Gemm (Y = A*op(B) + C, alpha = beta = 1) registered only
// when the engine does not provide Gemm yet, so these tests exercise the
// training loop rather than another package's kernel.
type refGemm struct{ transB bool }

func (k *refGemm) dims(in []*tensor.Tensor) (n, kk, m int) {
	n, kk = in[0].Shape[0], in[0].Shape[1]
	m = in[1].Shape[1]
	if k.transB {
		m = in[1].Shape[0]
	}
	return
}

func (k *refGemm) b(in []*tensor.Tensor, p, j, kk, m int) float32 {
	if k.transB {
		return in[1].Data[j*kk+p]
	}
	return in[1].Data[p*m+j]
}

func (k *refGemm) Forward(ctx *engine.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	n, kk, m := k.dims(in)
	y := ctx.Alloc(n, m)
	for i := range n {
		for j := range m {
			s := float32(0)
			if len(in) > 2 && in[2] != nil {
				s = in[2].Data[j]
			}
			for p := range kk {
				s += in[0].Data[i*kk+p] * k.b(in, p, j, kk, m)
			}
			y.Data[i*m+j] = s
		}
	}
	return []*tensor.Tensor{y}, nil
}

func (k *refGemm) Backward(ctx *engine.Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	n, kk, m := k.dims(in)
	g := gout[0].Data
	res := make([]*tensor.Tensor, len(in))
	if need[0] {
		ga := ctx.Alloc(n, kk)
		for i := range n {
			for p := range kk {
				s := float32(0)
				for j := range m {
					s += g[i*m+j] * k.b(in, p, j, kk, m)
				}
				ga.Data[i*kk+p] = s
			}
		}
		res[0] = ga
	}
	if need[1] {
		gb := ctx.Alloc(in[1].Shape...)
		for p := range kk {
			for j := range m {
				s := float32(0)
				for i := range n {
					s += in[0].Data[i*kk+p] * g[i*m+j]
				}
				if k.transB {
					gb.Data[j*kk+p] = s
				} else {
					gb.Data[p*m+j] = s
				}
			}
		}
		res[1] = gb
	}
	if len(in) > 2 && in[2] != nil && need[2] {
		gc := ctx.Alloc(m)
		for i := range n {
			for j := range m {
				gc.Data[j] += g[i*m+j]
			}
		}
		res[2] = gc
	}
	return res, nil
}

func init() {
	if !slices.Contains(engine.Supported(), graph.OpGemm) {
		engine.Register(graph.OpGemm, func(n *graph.Node) (engine.Kernel, error) {
			if n.Attrs.Int("transA", 0) != 0 || n.Attrs.Float("alpha", 1) != 1 || n.Attrs.Float("beta", 1) != 1 {
				return nil, fmt.Errorf("node %q: test Gemm supports alpha=beta=1, transA=0 only", n.Name)
			}
			return &refGemm{transB: n.Attrs.Int("transB", 0) != 0}, nil
		})
	}
}

// separable returns n images 1x4x4 of two classes: class 0 is brighter on
// the left half, class 1 on the right, plus Gaussian noise.
func separable(n int, seed uint64) *data.Dataset {
	rng := tensor.NewRNG(seed)
	d := &data.Dataset{Name: fmt.Sprintf("separable-%d", seed), Classes: []string{"left", "right"}, C: 1, H: 4, W: 4}
	d.X = make([]float32, n*16)
	d.Labels = make([]int32, n)
	for i := range n {
		c := int32(i % 2)
		d.Labels[i] = c
		for y := range 4 {
			for x := range 4 {
				v := 0.3 * rng.NormFloat64()
				if (x < 2) == (c == 0) {
					v += 1
				} else {
					v -= 1
				}
				d.X[i*16+y*4+x] = float32(v)
			}
		}
	}
	return d
}

// mlp builds input[N,1,4,4] -> Flatten -> Gemm(16->hidden, transB) -> Relu -> Gemm(hidden->2).
func mlp(hidden int, seed uint64) *graph.Graph {
	rng := tensor.NewRNG(seed)
	g := graph.New("mlp")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 1, 4, 4}}}
	g.Outputs = []graph.Value{{Name: "logits", Shape: []int{-1, 2}}}
	w1 := tensor.New(hidden, 16)
	w1.KaimingUniform(rng, 16, 1)
	w2 := tensor.New(2, hidden)
	w2.KaimingUniform(rng, hidden, 1)
	g.Params["fc1.w"], g.Params["fc1.b"] = w1, tensor.New(hidden)
	g.Params["fc2.w"], g.Params["fc2.b"] = w2, tensor.New(2)
	g.Nodes = []*graph.Node{
		{Name: "flat", Op: graph.OpFlatten, Inputs: []string{"x"}, Outputs: []string{"f"}, Attrs: graph.Attrs{"axis": 1}},
		{Name: "fc1", Op: graph.OpGemm, Inputs: []string{"f", "fc1.w", "fc1.b"}, Outputs: []string{"h"}, Attrs: graph.Attrs{"transB": 1}},
		{Name: "relu", Op: graph.OpRelu, Inputs: []string{"h"}, Outputs: []string{"r"}},
		{Name: "fc2", Op: graph.OpGemm, Inputs: []string{"r", "fc2.w", "fc2.b"}, Outputs: []string{"logits"}, Attrs: graph.Attrs{"transB": 1}},
	}
	return g
}

// convBN builds input -> Conv 1x1 (1->ch) -> BN -> Relu -> Flatten -> Gemm(ch*16 -> 2),
// a graph with BN scales for the sparsity tests.
func convBN(ch int, seed uint64) *graph.Graph {
	rng := tensor.NewRNG(seed)
	g := graph.New("convbn")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 1, 4, 4}}}
	g.Outputs = []graph.Value{{Name: "logits", Shape: []int{-1, 2}}}
	w := tensor.New(ch, 1, 1, 1)
	w.KaimingUniform(rng, 1, 1)
	fc := tensor.New(2, ch*16)
	fc.KaimingUniform(rng, ch*16, 1)
	ones := tensor.New(ch)
	ones.Fill(1)
	g.Params["conv.w"] = w
	g.Params["bn.scale"], g.Params["bn.bias"] = ones, tensor.New(ch)
	g.Params["bn.mean"], g.Params["bn.var"] = tensor.New(ch), ones.Clone()
	g.Params["fc.w"], g.Params["fc.b"] = fc, tensor.New(2)
	g.Nodes = []*graph.Node{
		{Name: "conv", Op: graph.OpConv, Inputs: []string{"x", "conv.w"}, Outputs: []string{"c"}},
		{Name: "bn", Op: graph.OpBN, Inputs: []string{"c", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, Outputs: []string{"b"}},
		{Name: "relu", Op: graph.OpRelu, Inputs: []string{"b"}, Outputs: []string{"r"}},
		{Name: "flat", Op: graph.OpFlatten, Inputs: []string{"r"}, Outputs: []string{"f"}, Attrs: graph.Attrs{"axis": 1}},
		{Name: "fc", Op: graph.OpGemm, Inputs: []string{"f", "fc.w", "fc.b"}, Outputs: []string{"logits"}, Attrs: graph.Attrs{"transB": 1}},
	}
	return g
}

func randTensor(rng *rand.Rand, std float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	t.FillNormal(rng, 0, std)
	return t
}
