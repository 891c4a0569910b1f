package nn_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// TestYOLOSBuild checks yolo-s's outputs, metadata, naming, costs and the
// initial bias prior.
func TestYOLOSBuild(t *testing.T) {
	for _, tc := range []struct {
		in      []int
		classes int
	}{{[]int{1, 64, 64}, 10}, {[]int{3, 96, 64}, 3}} {
		g, err := nn.BuildDetector("yolo-s", tc.in, tc.classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		k := 5 + tc.classes
		h, w := tc.in[1], tc.in[2]
		want := []graph.Value{{Name: "p3", Shape: []int{-1, k, h / 8, w / 8}}, {Name: "p4", Shape: []int{-1, k, h / 16, w / 16}}}
		if len(g.Outputs) != 2 || g.Outputs[0].Name != "p3" || !slices.Equal(g.Outputs[0].Shape, want[0].Shape) ||
			g.Outputs[1].Name != "p4" || !slices.Equal(g.Outputs[1].Shape, want[1].Shape) {
			t.Fatalf("outputs %+v, want %+v", g.Outputs, want)
		}
		if g.Meta[nn.MetaArch] != "yolo-s" || g.Meta[nn.MetaTask] != "detect" || g.Meta[nn.MetaStrides] != "8,16" || g.Meta[nn.MetaHead] != nn.HeadYOLOX {
			t.Fatalf("meta %v", g.Meta)
		}
		ops := map[string]int{}
		for _, n := range g.Nodes {
			ops[n.Op]++
		}
		if ops[graph.OpResize] != 1 || ops[graph.OpConcat] != 2 || ops[graph.OpAdd] != 4 {
			t.Errorf("op counts %v: want 1 Resize, 2 Concat, 4 shortcut Adds", ops)
		}
		b := g.Params["head3.pred.bias"]
		if b == nil || b.Data[0] != 0 || b.Data[4] > -4.5 || b.Data[4] < -4.7 || b.Data[5+tc.classes-1] != b.Data[4] {
			t.Errorf("head bias %v: want box 0, objectness and classes -ln(99)", b)
		}
	}
	g, _ := nn.BuildDetector("yolo-s", []int{1, 64, 64}, 10, 1)
	st, err := g.ComputeStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("yolo-s 1x64x64, 10 classes: %s", st)
	for _, bad := range [][]int{{1, 60, 64}, {1, 8, 8}, {64, 64}} {
		if _, err := nn.BuildDetector("yolo-s", bad, 10, 1); err == nil || !strings.Contains(err.Error(), "multiples of 16") {
			t.Errorf("input %v: %v", bad, err)
		}
	}
	if _, err := nn.BuildDetector("yolo-xl", []int{1, 64, 64}, 10, 1); err == nil || !strings.Contains(err.Error(), "yolo-s") {
		t.Errorf("unknown detector: %v", err)
	}
}

// TestYOLOSEngine runs yolo-s through the engine: inference outputs of the
// right shapes, per-image independence in inference mode, and a training
// pass whose backward from both heads reaches every parameter.
func TestYOLOSEngine(t *testing.T) {
	const batch, classes = 2, 4
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, classes, 3)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(g)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(batch, 1, 32, 32)
	x.FillNormal(tensor.NewRNG(4), 0, 1)
	if _, err := e.Forward(x, true); err != nil {
		t.Fatal(err)
	}
	grads := map[string]*tensor.Tensor{}
	for i, o := range g.Outputs {
		s := slices.Clone(o.Shape)
		s[0] = batch
		dy := tensor.New(s...)
		dy.FillNormal(tensor.NewRNG(uint64(10+i)), 0, 1)
		grads[o.Name] = dy
	}
	if _, err := e.Backward(grads); err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		for i, p := range n.Inputs {
			if !g.IsParam(p) || graph.IsBuffer(n.Op, i) {
				continue
			}
			gr := e.Grads[p]
			if gr == nil || gr.HasNaN() {
				t.Fatalf("parameter %q: gradient %v", p, gr)
			}
			if slices.IndexFunc(gr.Data, func(v float32) bool { return v != 0 }) < 0 {
				t.Fatalf("parameter %q has an all-zero gradient", p)
			}
		}
	}
}

// The whole detector's gradient (input and every trainable parameter,
// through the shortcuts, the Resize, both Concats and both heads) against
// central differences on the smooth twin (see smooth), 32x32 images and
// batch 2: the deepest BN sees 2x2x2 = 8 values per channel.
func TestGradCheckYOLOS(t *testing.T) {
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	smooth(g)
	x := tensor.New(2, 1, 32, 32)
	x.FillNormal(tensor.NewRNG(6), 0, 1)
	if err := engine.CheckGraph(g, map[string]*tensor.Tensor{"input": x}, wholeNetCheck(3)); err != nil {
		t.Fatal(err)
	}
}
