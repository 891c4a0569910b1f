package prune

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// builder assembles small test graphs with nn-style node names and random,
// non-trivial parameters (BN statistics included).
type builder struct {
	g   *graph.Graph
	rng *rand.Rand
}

func newBuilder(name string, c, h, w int, seed uint64) *builder {
	g := graph.New(name)
	g.Inputs = []graph.Value{{Name: "input", Shape: []int{-1, c, h, w}}}
	return &builder{g: g, rng: tensor.NewRNG(seed)}
}

func (b *builder) param(name string, std float64, shape ...int) string {
	t := tensor.New(shape...)
	t.FillNormal(b.rng, 0, std)
	b.g.Params[name] = t
	return name
}

func (b *builder) node(name, op string, attrs graph.Attrs, inputs ...string) string {
	out := name + ".out"
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *builder) shape(v string) []int {
	s, err := b.g.InferShapes(nil)
	if err != nil {
		panic(err)
	}
	return s[v]
}

// conv adds a Conv with k x k kernel, "same" padding, the given stride and
// group; a bias when bias is true.
func (b *builder) conv(name, x string, out, k, stride, group int, bias bool) string {
	c := b.shape(x)[1]
	w := b.param(name+".W", math.Sqrt(2/float64(c/group*k*k)), out, c/group, k, k)
	in := []string{x, w}
	if bias {
		in = append(in, b.param(name+".B", 0.1, out))
	}
	p := k / 2
	return b.node(name, graph.OpConv, graph.Attrs{"strides": []int{stride, stride}, "pads": []int{p, p, p, p}, "group": group}, in...)
}

func (b *builder) bn(name, x string) string {
	c := b.shape(x)[1]
	gamma := tensor.New(c)
	gamma.FillUniform(b.rng, 0.5, 1.5)
	vr := tensor.New(c)
	vr.FillUniform(b.rng, 0.5, 1.5)
	b.g.Params[name+".scale"] = gamma
	b.g.Params[name+".var"] = vr
	return b.node(name, graph.OpBN, graph.Attrs{"epsilon": float32(1e-5)}, x, name+".scale", b.param(name+".B", 0.2, c), b.param(name+".mean", 0.2, c), name+".var")
}

func (b *builder) act(name, op, x string) string {
	switch op {
	case graph.OpHardSigmoid:
		return b.node(name, op, graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)}, x)
	case graph.OpLeakyRelu:
		return b.node(name, op, graph.Attrs{"alpha": float32(0.1)}, x)
	case graph.OpClip:
		return b.node(name, op, graph.Attrs{"min": float32(0), "max": float32(6)}, x)
	}
	return b.node(name, op, nil, x)
}

// cba is conv -> bn -> activation with names prefix.conv, prefix.bn, prefix.act.
func (b *builder) cba(prefix, x string, out, k, stride int, act string) string {
	y := b.bn(prefix+".bn", b.conv(prefix+".conv", x, out, k, stride, 1, false))
	return b.act(prefix+".act", act, y)
}

// head adds GlobalAveragePool (when gap) or nothing, Flatten and Gemm "fc".
func (b *builder) head(x string, classes int, gap bool) {
	if gap {
		x = b.node("gap", graph.OpGlobalAvg, nil, x)
	}
	x = b.node("flatten", graph.OpFlatten, graph.Attrs{"axis": 1}, x)
	k := b.shape(x)[1]
	y := b.node("fc", graph.OpGemm, graph.Attrs{"transB": 1}, x, b.param("fc.W", 1/math.Sqrt(float64(k)), classes, k), b.param("fc.B", 0.1, classes))
	b.g.Outputs = []graph.Value{{Name: y, Shape: []int{-1, classes}}}
}

// resnet builds a CIFAR-style ResNet: stem 16 ch, stages 16/32/64 with n
// basic blocks each (projection shortcut where the shape changes).
func resnet(n int, seed uint64) *graph.Graph {
	b := newBuilder(fmt.Sprintf("resnet%d", 6*n+2), 3, 8, 8, seed)
	x := b.act("stem.relu", graph.OpRelu, b.bn("stem.bn", b.conv("stem.conv", "input", 16, 3, 1, 1, false)))
	for s, ch := range []int{16, 32, 64} {
		for j := range n {
			p := fmt.Sprintf("s%d.b%d", s+1, j)
			stride := 1
			if j == 0 && s > 0 {
				stride = 2
			}
			y := b.act(p+".relu1", graph.OpRelu, b.bn(p+".bn1", b.conv(p+".conv1", x, ch, 3, stride, 1, false)))
			y = b.bn(p+".bn2", b.conv(p+".conv2", y, ch, 3, 1, 1, false))
			sc := x
			if stride != 1 || b.shape(x)[1] != ch {
				sc = b.bn(p+".down.bn", b.conv(p+".down.conv", x, ch, 1, stride, 1, false))
			}
			x = b.act(p+".relu", graph.OpRelu, b.node(p+".add", graph.OpAdd, nil, sc, y))
		}
	}
	b.head(x, 10, true)
	return b.g
}

// darknet builds a darknet-style net: stem, then per stage a stride-2 3x3
// conv and n blocks of 1x1 (half width) then 3x3 conv, LeakyReLU, shortcut
// add without a post-add activation.
func darknet(n int, seed uint64) *graph.Graph {
	b := newBuilder("darknet-s", 3, 8, 8, seed)
	x := b.cba("stem", "input", 8, 3, 1, graph.OpLeakyRelu)
	for s, ch := range []int{16, 32} {
		x = b.cba(fmt.Sprintf("s%d.down", s+1), x, ch, 3, 2, graph.OpLeakyRelu)
		for j := range n {
			p := fmt.Sprintf("s%d.b%d", s+1, j)
			y := b.act(p+".act1", graph.OpLeakyRelu, b.bn(p+".bn1", b.conv(p+".conv1", x, ch/2, 1, 1, 1, false)))
			y = b.act(p+".act2", graph.OpLeakyRelu, b.bn(p+".bn2", b.conv(p+".conv2", y, ch, 3, 1, 1, false)))
			x = b.node(p+".add", graph.OpAdd, nil, x, y)
		}
	}
	b.head(x, 10, true)
	return b.g
}

// vgg builds conv-bn-relu stacks with max pooling and a Flatten of a 2x2
// map (no global pooling) into the classifier.
func vgg(seed uint64) *graph.Graph {
	b := newBuilder("vgg-s", 3, 8, 8, seed)
	x := b.cba("c1", "input", 8, 3, 1, graph.OpRelu)
	x = b.cba("c2", x, 8, 3, 1, graph.OpRelu)
	x = b.node("pool1", graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, x)
	x = b.cba("c3", x, 16, 3, 1, graph.OpRelu)
	x = b.node("pool2", graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}}, x)
	b.head(x, 10, false)
	return b.g
}

// mobilenet builds inverted residual blocks: 1x1 expand (x expand), BN,
// ReLU6, depthwise 3x3, BN, ReLU6, 1x1 project, BN, and an Add when the
// stride is 1 and the widths match.
func mobilenet(seed uint64) *graph.Graph {
	b := newBuilder("mobilenet-s", 3, 8, 8, seed)
	x := b.cba("stem", "input", 8, 3, 1, graph.OpClip)
	cfg := []struct{ out, stride int }{{8, 1}, {16, 2}, {16, 1}}
	for i, c := range cfg {
		p := fmt.Sprintf("b%d", i)
		in := b.shape(x)[1]
		y := b.cba(p+".expand", x, in*3, 1, 1, graph.OpClip)
		y = b.act(p+".dw.act", graph.OpClip, b.bn(p+".dw.bn", b.conv(p+".dw.conv", y, in*3, 3, c.stride, in*3, false)))
		y = b.bn(p+".project.bn", b.conv(p+".project.conv", y, c.out, 1, 1, 1, false))
		if c.stride == 1 && in == c.out {
			y = b.node(p+".add", graph.OpAdd, nil, x, y)
		}
		x = y
	}
	b.head(x, 10, true)
	return b.g
}

// concatNet: two convs concatenated, scaled per channel, normalised and
// read by a third conv; a depthwise conv with bias; a concat of a value
// with itself.
func concatNet(seed uint64) *graph.Graph {
	b := newBuilder("concat", 3, 6, 6, seed)
	l := b.cba("left", "input", 4, 3, 1, graph.OpRelu)
	r := b.cba("right", "input", 6, 1, 1, graph.OpRelu)
	x := b.node("cat", graph.OpConcat, graph.Attrs{"axis": 1}, l, r)
	x = b.node("scale", graph.OpMul, nil, x, b.param("scale.p", 1, 1, 10, 1, 1))
	x = b.node("shift", graph.OpAdd, nil, x, b.param("shift.p", 0.1, 10, 1, 1))
	x = b.act("mix.act", graph.OpRelu, b.bn("mix.bn", b.conv("mix.conv", x, 12, 3, 1, 1, true)))
	x = b.conv("dw", x, 12, 3, 1, 12, true)
	x = b.node("twice", graph.OpConcat, graph.Attrs{"axis": 1}, x, x)
	x = b.conv("tail", x, 5, 1, 1, 1, true)
	b.head(x, 3, true)
	return b.g
}

// zeroPruned makes the channels a plan removes contribute nothing: for a
// group with BatchNormalizations it zeroes gamma and beta of every BN of the
// group at those channels; for a group without, the producing filters and
// biases. Additive per-channel offsets (Add of a parameter) and depthwise
// biases are zeroed too, since after the BN they would make a removed
// channel a non-zero constant. Returns a modified copy.
func zeroPruned(t *testing.T, g *graph.Graph, plan Plan) *graph.Graph {
	t.Helper()
	z := g.Clone()
	for grp, keep := range plan {
		hasBN := grp.HasBN()
		for j := range grp.Size {
			if slices.Contains(keep, j) {
				continue
			}
			for _, m := range grp.Members {
				switch {
				case m.Role == BN:
					z.Params[m.Tensors[0].Param].Data[m.Index[j]] = 0
					z.Params[m.Tensors[1].Param].Data[m.Index[j]] = 0
				case m.Role == Depthwise && hasBN && len(m.Tensors) > 1:
					z.Params[m.Tensors[1].Param].Data[m.Index[j]] = 0
				case m.Role == ChanParam && m.Op == graph.OpAdd,
					!hasBN && (m.Role == ConvOut || m.Role == GemmOut || m.Role == Depthwise):
					for _, ta := range m.Tensors {
						p := z.Params[ta.Param]
						outer, n, inner := split(p.Shape, ta.Axis)
						for o := range outer {
							clear(p.Data[(o*n+m.Index[j])*inner : (o*n+m.Index[j]+1)*inner])
						}
					}
				}
			}
		}
	}
	return z
}

// engineSupports reports whether the engine has a kernel for every op of g.
func engineSupports(g *graph.Graph) bool {
	ops := engine.Supported()
	for _, n := range g.Nodes {
		if !slices.Contains(ops, n.Op) {
			return false
		}
	}
	return true
}

// skipReference makes forward use the engine alone (for large imported
// models, where the naive evaluator would dominate the test time; the
// engine is checked against the reference on the smaller nets).
var skipReference bool

// forward runs g in inference mode with the naive reference evaluator and,
// when the engine supports every op, with engine.Executor too (checking the
// two agree); it returns the reference output.
func forward(t *testing.T, g *graph.Graph, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	if skipReference {
		e, err := engine.New(g)
		if err != nil {
			t.Fatalf("engine.New(%s): %v", g.Name, err)
		}
		y, err := e.Forward(x, false)
		if err != nil {
			t.Fatalf("engine run of %s: %v", g.Name, err)
		}
		return y.Clone()
	}
	ref, err := refRun(g, x)
	if err != nil {
		t.Fatalf("reference run of %s: %v", g.Name, err)
	}
	if engineSupports(g) {
		e, err := engine.New(g)
		if err != nil {
			t.Fatalf("engine.New(%s): %v", g.Name, err)
		}
		y, err := e.Forward(x, false)
		if err != nil {
			t.Fatalf("engine run of %s: %v", g.Name, err)
		}
		if d := tensor.MaxAbsDiff(y, ref); d > 1e-4 {
			t.Fatalf("engine and reference disagree on %s by %g", g.Name, d)
		}
	}
	return ref
}

func randInput(g *graph.Graph, n int, seed uint64) *tensor.Tensor {
	s := slices.Clone(g.Inputs[0].Shape)
	s[0] = n
	x := tensor.New(s...)
	x.FillNormal(tensor.NewRNG(seed), 0, 1)
	return x
}

// refRun is a direct, unoptimised inference-mode evaluator (float64
// accumulation) for the ops the test graphs use.
func refRun(g *graph.Graph, x *tensor.Tensor) (*tensor.Tensor, error) {
	order, err := g.Topo()
	if err != nil {
		return nil, err
	}
	vals := map[string]*tensor.Tensor{g.Inputs[0].Name: x}
	for k, p := range g.Params {
		vals[k] = p
	}
	for _, n := range order {
		in := make([]*tensor.Tensor, len(n.Inputs))
		for i, name := range n.Inputs {
			if name != "" {
				in[i] = vals[name]
			}
		}
		var y *tensor.Tensor
		switch n.Op {
		case graph.OpConv:
			y, err = refConv(n, in)
		case graph.OpBN:
			xx := in[0]
			y = xx.Clone()
			c := xx.Shape[1]
			inner := len(xx.Data) / xx.Shape[0] / c
			eps := float64(n.Attrs.Float("epsilon", 1e-5))
			for i := range y.Data {
				ch := i / inner % c
				sc := float64(in[1].Data[ch]) / math.Sqrt(float64(in[4].Data[ch])+eps)
				y.Data[i] = float32((float64(xx.Data[i])-float64(in[3].Data[ch]))*sc + float64(in[2].Data[ch]))
			}
		case graph.OpRelu, graph.OpLeakyRelu, graph.OpClip, graph.OpIdentity, graph.OpHardSigmoid, graph.OpHardSwish:
			y = in[0].Clone()
			for i, v := range y.Data {
				switch n.Op {
				case graph.OpHardSigmoid:
					a, b := float64(n.Attrs.Float("alpha", 0.2)), float64(n.Attrs.Float("beta", 0.5))
					y.Data[i] = float32(math.Max(0, math.Min(1, a*float64(v)+b)))
				case graph.OpHardSwish:
					y.Data[i] = float32(float64(v) * math.Max(0, math.Min(1, float64(v)/6+0.5)))
				case graph.OpRelu:
					y.Data[i] = max(v, 0)
				case graph.OpLeakyRelu:
					if v < 0 {
						y.Data[i] = v * n.Attrs.Float("alpha", 0.01)
					}
				case graph.OpClip:
					y.Data[i] = min(max(v, n.Attrs.Float("min", float32(math.Inf(-1)))), n.Attrs.Float("max", float32(math.Inf(1))))
				}
			}
		case graph.OpAdd, graph.OpMul:
			y, err = refBroadcast(in[0], in[1], n.Op == graph.OpMul)
		case graph.OpConcat:
			y = refConcat(in)
		case graph.OpMaxPool:
			y = refMaxPool(n, in[0])
		case graph.OpGlobalAvg:
			xx := in[0]
			hw := xx.Shape[2] * xx.Shape[3]
			y = tensor.New(xx.Shape[0], xx.Shape[1], 1, 1)
			for i := range y.Data {
				s := 0.0
				for _, v := range xx.Data[i*hw : (i+1)*hw] {
					s += float64(v)
				}
				y.Data[i] = float32(s / float64(hw))
			}
		case graph.OpFlatten:
			y = in[0].Clone().Reshape(in[0].Shape[0], -1)
		case graph.OpGemm:
			if n.Attrs.Int("transB", 0) != 1 {
				return nil, fmt.Errorf("refRun: Gemm %q needs transB=1", n.Name)
			}
			a, w := in[0], in[1]
			m := w.Shape[0]
			k := w.Shape[1]
			y = tensor.New(a.Shape[0], m)
			for i := range a.Shape[0] {
				for j := range m {
					s := 0.0
					if len(in) > 2 && in[2] != nil {
						s = float64(in[2].Data[j])
					}
					for kk := range k {
						s += float64(a.Data[i*k+kk]) * float64(w.Data[j*k+kk])
					}
					y.Data[i*m+j] = float32(s)
				}
			}
		default:
			return nil, fmt.Errorf("refRun: op %s", n.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		vals[n.Outputs[0]] = y
	}
	return vals[g.Outputs[0].Name], nil
}

func refConv(n *graph.Node, in []*tensor.Tensor) (*tensor.Tensor, error) {
	x, w := in[0], in[1]
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	geo, err := graph.Geom(n, w.Shape)
	if err != nil {
		return nil, err
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	M, cg := w.Shape[0], w.Shape[1]
	oh, ow := geo.Out(H, W)
	y := tensor.New(N, M, oh, ow)
	mg := M / geo.Group
	for ni := range N {
		for m := range M {
			gi := m / mg
			for oy := range oh {
				for ox := range ow {
					s := 0.0
					if b != nil {
						s = float64(b.Data[m])
					}
					for ci := range cg {
						c := gi*cg + ci
						for ky := range geo.KH {
							iy := oy*geo.SH - geo.PadT + ky*geo.DH
							if iy < 0 || iy >= H {
								continue
							}
							for kx := range geo.KW {
								ix := ox*geo.SW - geo.PadL + kx*geo.DW
								if ix < 0 || ix >= W {
									continue
								}
								s += float64(x.Data[((ni*C+c)*H+iy)*W+ix]) * float64(w.Data[((m*cg+ci)*geo.KH+ky)*geo.KW+kx])
							}
						}
					}
					y.Data[((ni*M+m)*oh+oy)*ow+ox] = float32(s)
				}
			}
		}
	}
	return y, nil
}

func refBroadcast(a, b *tensor.Tensor, mul bool) (*tensor.Tensor, error) {
	s, err := graph.Broadcast(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	y := tensor.New(s...)
	idx := func(t *tensor.Tensor, flat int) int {
		off, stride := 0, 1
		for d := len(s) - 1; d >= 0; d-- {
			coord := flat % s[d]
			flat /= s[d]
			td := d - (len(s) - len(t.Shape))
			if td < 0 {
				continue
			}
			if t.Shape[td] != 1 {
				off += coord * stride
			}
			stride *= t.Shape[td]
		}
		return off
	}
	for i := range y.Data {
		va, vb := a.Data[idx(a, i)], b.Data[idx(b, i)]
		if mul {
			y.Data[i] = va * vb
		} else {
			y.Data[i] = va + vb
		}
	}
	return y, nil
}

func refConcat(in []*tensor.Tensor) *tensor.Tensor {
	N, H, W := in[0].Shape[0], in[0].Shape[2], in[0].Shape[3]
	c := 0
	for _, t := range in {
		c += t.Shape[1]
	}
	y := tensor.New(N, c, H, W)
	for ni := range N {
		off := 0
		for _, t := range in {
			sz := t.Shape[1] * H * W
			copy(y.Data[(ni*c+off)*H*W:], t.Data[ni*sz:(ni+1)*sz])
			off += t.Shape[1]
		}
	}
	return y
}

func refMaxPool(n *graph.Node, x *tensor.Tensor) *tensor.Tensor {
	geo, _ := graph.Geom(n, nil)
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := geo.Out(H, W)
	y := tensor.New(N, C, oh, ow)
	for nc := range N * C {
		for oy := range oh {
			for ox := range ow {
				m := float32(math.Inf(-1))
				for ky := range geo.KH {
					for kx := range geo.KW {
						iy, ix := oy*geo.SH-geo.PadT+ky, ox*geo.SW-geo.PadL+kx
						if iy >= 0 && iy < H && ix >= 0 && ix < W {
							m = max(m, x.Data[(nc*H+iy)*W+ix])
						}
					}
				}
				y.Data[(nc*oh+oy)*ow+ox] = m
			}
		}
	}
	return y
}
