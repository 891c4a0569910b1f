package nn

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Detector metadata keys: the task, the strides of the outputs (in output
// order, comma-separated) and the rule that decodes them (docs/detection.md).
const (
	MetaTask    = "slimgo.task"
	MetaStrides = "slimgo.strides"
	MetaHead    = "slimgo.head"
)

// HeadYOLOX names the anchor-free decoding of yolo-s's outputs: per cell
// (i, j) of an output of stride s, channels (tx, ty, tw, th, obj,
// class_0..class_K-1) give the box centre ((j+tx) s, (i+ty) s), size
// (exp(tw) s, exp(th) s) and the score sigmoid(obj) sigmoid(class_k).
const HeadYOLOX = "yolox"

// detectors maps a detector architecture to the function adding all its
// layers, outputs included.
var detectors = map[string]func(b *builder) []graph.Value{
	"yolo-s": yoloS,
}

// DetectorArchs returns the names of the built-in detectors, sorted.
func DetectorArchs() []string {
	var names []string
	for k := range detectors {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// BuildDetector returns detector arch for images of shape in = [C,H,W]
// and the given number of classes, its parameters initialised from seed.
// Its outputs are raw head maps, one per stride (yolo-s: "p3" of shape
// [N, 5+classes, H/8, W/8] and "p4" of [N, 5+classes, H/16, W/16]); the
// graph's metadata carries MetaArch, MetaTask "detect", MetaStrides and
// MetaHead. H and W must be multiples of the largest stride (16).
// Errors: an unknown architecture, a malformed input shape, classes < 1,
// a size that is not a multiple of 16.
func BuildDetector(arch string, in []int, classes int, seed uint64) (*graph.Graph, error) {
	f := detectors[arch]
	if f == nil {
		return nil, fmt.Errorf("nn: unknown detector %q (known: %s)", arch, strings.Join(DetectorArchs(), ", "))
	}
	if len(in) != 3 || in[0] < 1 || in[1] < 16 || in[2] < 16 || in[1]%16 != 0 || in[2]%16 != 0 {
		return nil, fmt.Errorf("nn: %s: input shape %v must be [C,H,W] with H and W positive multiples of 16", arch, in)
	}
	if classes < 1 {
		return nil, fmt.Errorf("nn: %s: classes must be at least 1, got %d", arch, classes)
	}
	g := graph.New(arch)
	g.Meta[MetaArch] = arch
	g.Meta[MetaTask] = "detect"
	g.Inputs = []graph.Value{{Name: "input", Shape: []int{-1, in[0], in[1], in[2]}}}
	b := &builder{g: g, rng: tensor.NewRNG(seed), cur: "input", ch: in[0], classes: classes}
	g.Outputs = f(b)
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, fmt.Errorf("nn: %s does not fit input %v: %w", arch, in, err)
	}
	for i, o := range g.Outputs {
		s := slices.Clone(shapes[o.Name])
		if len(s) != 4 {
			return nil, fmt.Errorf("nn: %s: output %q has shape %v", arch, o.Name, s)
		}
		s[0] = -1
		g.Outputs[i].Shape = s
	}
	return g, nil
}

// cba adds Conv (k x k, stride s, no bias) -> BatchNormalization ->
// LeakyRelu(0.1) named prefix.conv, prefix.bn, prefix.act.
func (b *builder) cba(prefix, in string, cin, cout, k, s int) string {
	x := b.conv(prefix+".conv", in, cin, cout, k, s, 1)
	x = b.bn(prefix+".bn", x, cout)
	return b.leaky(prefix+".act", x)
}

// shortcut adds darknet's residual block named prefix: 1x1 to c/2, 3x3
// back to c (each Conv-BN-LeakyRelu, named like darknet-s's conv1/bn1/act1,
// conv2/bn2/act2), then prefix.add = block output + input.
func (b *builder) shortcut(prefix, in string, c int) string {
	y := b.conv(prefix+".conv1", in, c, c/2, 1, 1, 1)
	y = b.bn(prefix+".bn1", y, c/2)
	y = b.leaky(prefix+".act1", y)
	y = b.conv(prefix+".conv2", y, c/2, c, 3, 1, 1)
	y = b.bn(prefix+".bn2", y, c)
	y = b.leaky(prefix+".act2", y)
	return b.add(prefix+".add", y, in)
}

// pred adds a head's final 1x1 Conv with bias, producing value out:
// weights N(0, 0.01^2); box biases 0; objectness and class biases
// -ln((1-p)/p) with p = 0.01, so that every cell starts predicting
// "nothing here" with probability 0.99 (RetinaNet's and YOLOX's prior).
func (b *builder) pred(name, in, out string, cin int) {
	cout := 5 + b.classes
	b.param(name+".weight", cout, cin, 1, 1).FillNormal(b.rng, 0, 0.01)
	bias := b.param(name+".bias", cout)
	prior := float32(-math.Log((1 - 0.01) / 0.01))
	for i := 4; i < cout; i++ {
		bias.Data[i] = prior
	}
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Name: name, Op: graph.OpConv,
		Inputs: []string{in, name + ".weight", name + ".bias"}, Outputs: []string{out},
		Attrs: graph.Attrs{"kernel_shape": []int{1, 1}, "strides": []int{1, 1}, "pads": []int{0, 0, 0, 0},
			"dilations": []int{1, 1}, "group": 1}})
}

// yoloS adds "yolo-s", a small anchor-free detector for inputs whose
// sides are multiples of 16:
//
//	backbone (darknet-style; every conv Conv-BN-LeakyRelu 0.1):
//	  stem   3x3 stride 2, 16                      H/2
//	  s1     3x3 stride 2 to 32, one shortcut      H/4
//	  s2     3x3 stride 2 to 64, two shortcuts     H/8   (C3)
//	  s3     3x3 stride 2 to 128, one shortcut     H/16  (C4)
//	neck (FPN top-down, then PAN bottom-up):
//	  neck.lat4   1x1 C4 -> 64                                 L4
//	  neck.up     Resize x2 (nearest) of L4; neck.cat3 Concat(up, C3) 128
//	  neck.c3a 1x1 -> 64, neck.c3b 3x3 64                      N3 (H/8)
//	  neck.down   3x3 stride 2 of N3, 64; neck.cat4 Concat(down, L4) 128
//	  neck.c4     3x3 128                                      N4 (H/16)
//	heads (one per scale, not shared):
//	  head3.conv 3x3 64 -> head3.pred 1x1 (bias) -> "p3"  [N, 5+K, H/8,  W/8]
//	  head4.conv 3x3 64 -> head4.pred 1x1 (bias) -> "p4"  [N, 5+K, H/16, W/16]
//
// The shortcut blocks are darknet's (1x1 to half width, 3x3 back, add),
// so layer pruning by their 3x3 conv's BN factors applies; channels are
// coupled through the Concats and the Resize into both neck paths. The
// heads' channels are (tx, ty, tw, th, obj, classes) as HeadYOLOX decodes.
func yoloS(b *builder) []graph.Value {
	x := b.cba("stem", b.cur, b.ch, 16, 3, 2)
	var c3 string
	cin := 16
	for s, st := range []struct{ width, blocks int }{{32, 1}, {64, 2}, {128, 1}} {
		p := fmt.Sprintf("s%d", s+1)
		x = b.cba(p+".ds", x, cin, st.width, 3, 2)
		for k := range st.blocks {
			x = b.shortcut(fmt.Sprintf("%s.b%d", p, k), x, st.width)
		}
		cin = st.width
		if s == 1 {
			c3 = x
		}
	}
	c4 := x
	l4 := b.cba("neck.lat4", c4, 128, 64, 1, 1)
	up := b.node("neck.up", graph.OpResize, graph.Attrs{"scales": []float32{1, 1, 2, 2}, "mode": "nearest"}, l4)
	n3 := b.node("neck.cat3", graph.OpConcat, graph.Attrs{"axis": 1}, up, c3)
	n3 = b.cba("neck.c3a", n3, 128, 64, 1, 1)
	n3 = b.cba("neck.c3b", n3, 64, 64, 3, 1)
	d := b.cba("neck.down", n3, 64, 64, 3, 2)
	n4 := b.node("neck.cat4", graph.OpConcat, graph.Attrs{"axis": 1}, d, l4)
	n4 = b.cba("neck.c4", n4, 128, 128, 3, 1)
	h3 := b.cba("head3", n3, 64, 64, 3, 1)
	b.pred("head3.pred", h3, "p3", 64)
	h4 := b.cba("head4", n4, 128, 64, 3, 1)
	b.pred("head4.pred", h4, "p4", 64)
	b.g.Meta[MetaStrides] = "8,16"
	b.g.Meta[MetaHead] = HeadYOLOX
	return []graph.Value{{Name: "p3"}, {Name: "p4"}} // shapes filled in by BuildDetector
}
