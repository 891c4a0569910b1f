package prune

import (
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// se adds torchvision's SqueezeExcitation: GlobalAveragePool -> fc1 (1x1
// Conv with bias) -> Relu -> fc2 (1x1 Conv with bias) -> HardSigmoid
// (alpha 1/6) -> Mul(gate [N,C,1,1], x [N,C,H,W]).
func (b *builder) se(prefix, x string, squeeze int) string {
	c := b.shape(x)[1]
	s := b.node(prefix+".avgpool", graph.OpGlobalAvg, nil, x)
	s = b.act(prefix+".activation", graph.OpRelu, b.conv(prefix+".fc1", s, squeeze, 1, 1, 1, true))
	s = b.act(prefix+".scale_activation", graph.OpHardSigmoid, b.conv(prefix+".fc2", s, c, 1, 1, 1, true))
	return b.node(prefix+".mul", graph.OpMul, nil, s, x)
}

// mobilenetV3 builds mobilenet_v3-style blocks: a stem whose hardswish is
// written as x * HardSigmoid(x) (torch.onnx before opset 14), a stride-2
// depthwise block with squeeze-excitation and no expansion, and an
// expanding residual block with HardSwish and squeeze-excitation; then a
// 1x1 head conv, pooling and the classifier.
func mobilenetV3(seed uint64) *graph.Graph {
	b := newBuilder("mobilenet-v3-s", 3, 8, 8, seed)
	y := b.bn("stem.bn", b.conv("stem.conv", "input", 8, 3, 1, 1, false))
	x := b.node("stem.mul", graph.OpMul, nil, y, b.act("stem.hsig", graph.OpHardSigmoid, y))
	// Block 0: depthwise 3x3 stride 2, ReLU, SE(8 -> 4), project to 8.
	y = b.act("b0.dw.act", graph.OpRelu, b.bn("b0.dw.bn", b.conv("b0.dw.conv", x, 8, 3, 2, 8, false)))
	y = b.se("b0.se", y, 4)
	x = b.bn("b0.project.bn", b.conv("b0.project.conv", y, 8, 1, 1, 1, false))
	// Block 1: expand 8 -> 24 with HardSwish, depthwise, SE(24 -> 8),
	// project back to 8, residual add.
	y = b.cba("b1.expand", x, 24, 1, 1, graph.OpHardSwish)
	y = b.act("b1.dw.act", graph.OpHardSwish, b.bn("b1.dw.bn", b.conv("b1.dw.conv", y, 24, 3, 1, 24, false)))
	y = b.se("b1.se", y, 8)
	y = b.bn("b1.project.bn", b.conv("b1.project.conv", y, 8, 1, 1, 1, false))
	x = b.node("b1.add", graph.OpAdd, nil, x, y)
	x = b.cba("head", x, 16, 1, 1, graph.OpHardSwish)
	b.head(x, 10, true)
	return b.g
}

// The SE gate multiplies x channel by channel, so fc2's output channels join
// the group of x's channels (with the depthwise conv that made them, and
// fc1's input columns); fc1's hidden channels are a group of their own.
func TestGroupsSqueezeExcitation(t *testing.T) {
	g := mobilenetV3(1)
	groups, err := Groups(g)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"group 0 (8 ch): out stem.conv [Conv W axis0], stem.bn [BN], dw b0.dw.conv [Conv W axis0, group], b0.dw.bn [BN], in b0.se.fc1 [Conv W axis1], out b0.se.fc2 [Conv W axis0], in b0.project.conv [Conv W axis1]",
		"group 1 (4 ch): out b0.se.fc1 [Conv W axis0], in b0.se.fc2 [Conv W axis1]",
		"group 2 (8 ch): out b0.project.conv [Conv W axis0], b0.project.bn [BN], in b1.expand.conv [Conv W axis1], out b1.project.conv [Conv W axis0], b1.project.bn [BN], in head.conv [Conv W axis1]",
		"group 3 (24 ch): out b1.expand.conv [Conv W axis0], b1.expand.bn [BN], dw b1.dw.conv [Conv W axis0, group], b1.dw.bn [BN], in b1.se.fc1 [Conv W axis1], out b1.se.fc2 [Conv W axis0], in b1.project.conv [Conv W axis1]",
		"group 4 (8 ch): out b1.se.fc1 [Conv W axis0], in b1.se.fc2 [Conv W axis1]",
		"group 5 (16 ch): out head.conv [Conv W axis0], head.bn [BN], in fc [Gemm W axis1]",
	}
	if got := strings.TrimRight(DetailsAll(groups), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("groups:\n got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// Pruning a mobilenet_v3-style net, SE groups included, computes on the kept
// channels what the unpruned net computes with the removed channels
// silenced (checkExact), for random plans and for each group alone.
func TestApplyExactSqueezeExcitation(t *testing.T) {
	g := mobilenetV3(2)
	groups, err := Groups(g)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(3) {
		checkExact(t, g, groups, randomPlan(groups, tensor.NewRNG(seed+30)), seed)
	}
	for i, grp := range groups {
		keep := []int{0}
		for j := 2; j < grp.Size; j += 2 {
			keep = append(keep, j)
		}
		checkExact(t, g, groups, Plan{grp: keep}, uint64(i))
	}
}
