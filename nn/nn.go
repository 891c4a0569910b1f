// Package nn builds slimgo's built-in CNN architectures as graph.Graph values
// with initialised parameters, ready for the engine to train and for the
// prune package to slim.
//
// Every graph has one input "input" of shape [-1,C,H,W] (dynamic batch) and
// one output "logits" of shape [-1,classes], and records its architecture in
// Meta["slimgo.arch"]. The detectors of BuildDetector (yolo.go) have raw
// head maps as outputs instead ("p3", "p4"). Node names are stable and readable (e.g. "stem.conv",
// "s2.b0.bn1", "fc"); a node's parameters are "<node>.weight" and
// "<node>.bias" (Conv, Gemm) or "<bn>.scale", "<bn>.B", "<bn>.mean",
// "<bn>.var" (BatchNormalization); the value a node produces is
// "<node>.out", except the classifier's, which is "logits".
//
// Initialisation follows PyTorch/torchvision so that training behaves like
// the reference scripts:
//   - Conv weights: Kaiming normal in fan-out mode for ReLU,
//     N(0, 2/(M*kh*kw)) for a weight [M, C/group, kh, kw], as torchvision's
//     ResNet, VGG and MobileNetV2 do (used for every architecture here,
//     darknet-s included). Convs followed by BatchNormalization have no bias.
//   - BatchNormalization: scale (gamma) 1, B (beta) 0, running mean 0,
//     running variance 1; epsilon 1e-5, momentum 0.9 (ONNX convention,
//     PyTorch's momentum 0.1).
//   - Gemm (fully connected): PyTorch's nn.Linear default, weight and bias
//     both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//
// All values are drawn from tensor.NewRNG(seed) in node order, so a seed
// fixes the model.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// MetaArch is the graph metadata key holding the architecture name.
const MetaArch = "slimgo.arch"

// builders maps an architecture name to the function adding its layers
// between the input value "input" (cin channels) and the classifier.
var builders = map[string]func(b *builder){
	"resnet8":     func(b *builder) { resnetCIFAR(b, 1) },
	"resnet20":    func(b *builder) { resnetCIFAR(b, 3) },
	"darknet-s":   darknetS,
	"vgg-s":       vggS,
	"mobilenet-s": mobilenetS,
}

// Archs returns the names of the built-in architectures, sorted.
func Archs() []string {
	var names []string
	for k := range builders {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Build returns architecture arch for images of shape in = [C,H,W] and the
// given number of classes, its parameters initialised from seed. It errors
// on an unknown architecture (listing the known ones), a malformed input
// shape, classes < 1, or an input too small for the network's down-sampling.
func Build(arch string, in []int, classes int, seed uint64) (*graph.Graph, error) {
	f := builders[arch]
	if f == nil {
		return nil, fmt.Errorf("nn: unknown architecture %q (known: %s)", arch, strings.Join(Archs(), ", "))
	}
	if len(in) != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("nn: %s: input shape %v must be [C,H,W] with positive sizes", arch, in)
	}
	if classes < 1 {
		return nil, fmt.Errorf("nn: %s: classes must be at least 1, got %d", arch, classes)
	}
	g := graph.New(arch)
	g.Meta[MetaArch] = arch
	g.Inputs = []graph.Value{{Name: "input", Shape: []int{-1, in[0], in[1], in[2]}}}
	b := &builder{g: g, rng: tensor.NewRNG(seed), cur: "input", ch: in[0], classes: classes}
	f(b)
	b.head()
	g.Outputs = []graph.Value{{Name: "logits", Shape: []int{-1, classes}}}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, fmt.Errorf("nn: %s does not fit input %v: %w", arch, in, err)
	}
	for k, s := range shapes {
		if tensor.Size(s) == 0 {
			return nil, fmt.Errorf("nn: %s: input %v is too small, value %q has shape %v", arch, in, k, s)
		}
	}
	return g, nil
}

// builder appends nodes to g; cur is the value the next layer reads and ch
// its channel count.
type builder struct {
	g       *graph.Graph
	rng     *rand.Rand
	cur     string
	ch      int
	classes int
}

func (b *builder) node(name, op string, attrs graph.Attrs, inputs ...string) string {
	out := name + ".out"
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	return out
}

func (b *builder) param(name string, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	b.g.Params[name] = t
	return t
}

// conv adds a bias-free k x k Conv from value in (cin channels) to cout
// channels with padding k/2 and returns its output value.
func (b *builder) conv(name, in string, cin, cout, k, stride, group int) string {
	w := b.param(name+".weight", cout, cin/group, k, k)
	w.KaimingNormal(b.rng, cout*k*k, math.Sqrt2) // fan_out mode, ReLU gain
	p := k / 2
	return b.node(name, graph.OpConv, graph.Attrs{
		"kernel_shape": []int{k, k},
		"strides":      []int{stride, stride},
		"pads":         []int{p, p, p, p},
		"dilations":    []int{1, 1},
		"group":        group,
	}, in, name+".weight")
}

// bn adds BatchNormalization over c channels.
func (b *builder) bn(name, in string, c int) string {
	b.param(name+".scale", c).Fill(1)
	b.param(name+".B", c)
	b.param(name+".mean", c)
	b.param(name+".var", c).Fill(1)
	return b.node(name, graph.OpBN, graph.Attrs{"epsilon": float32(1e-5), "momentum": float32(0.9)},
		in, name+".scale", name+".B", name+".mean", name+".var")
}

func (b *builder) relu(name, in string) string { return b.node(name, graph.OpRelu, nil, in) }

func (b *builder) leaky(name, in string) string {
	return b.node(name, graph.OpLeakyRelu, graph.Attrs{"alpha": float32(0.1)}, in)
}

func (b *builder) relu6(name, in string) string {
	return b.node(name, graph.OpClip, graph.Attrs{"min": float32(0), "max": float32(6)}, in)
}

func (b *builder) add(name, x, y string) string { return b.node(name, graph.OpAdd, nil, x, y) }

// head adds global average pooling ("pool"), "flatten" and the classifier
// "fc" (Gemm, transB=1, weight [classes, ch], bias [classes]) producing "logits".
func (b *builder) head() {
	p := b.node("pool", graph.OpGlobalAvg, nil, b.cur)
	f := b.node("flatten", graph.OpFlatten, graph.Attrs{"axis": 1}, p)
	bound := 1 / math.Sqrt(float64(b.ch))
	b.param("fc.weight", b.classes, b.ch).FillUniform(b.rng, -bound, bound)
	b.param("fc.bias", b.classes).FillUniform(b.rng, -bound, bound)
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: "fc", Op: graph.OpGemm,
		Inputs: []string{f, "fc.weight", "fc.bias"}, Outputs: []string{"logits"},
		Attrs: graph.Attrs{"transB": 1, "alpha": float32(1), "beta": float32(1)}})
}
