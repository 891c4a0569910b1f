package nn_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

// TestYOLOSONNX exports yolo-s to ONNX: reading it back gives identical
// outputs, and ONNX Runtime computes both head maps as slimgo does (the
// harness returns a model's first output, so p4 is checked on a copy
// listing it first). Skipped without node.
func TestYOLOSONNX(t *testing.T) {
	g, err := nn.BuildDetector("yolo-s", []int{1, 64, 64}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(2, 1, 64, 64)
	x.FillNormal(tensor.NewRNG(1), 0, 1)
	run := func(g *graph.Graph) map[string]*tensor.Tensor {
		e, err := engine.New(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(map[string]*tensor.Tensor{"input": x}, false)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := run(g)
	b, err := onnx.Marshal(g, onnx.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := onnx.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	got := run(g2)
	for _, o := range []string{"p3", "p4"} {
		if d := tensor.MaxAbsDiff(want[o], got[o]); d != 0 || !slices.Equal(want[o].Shape, got[o].Shape) {
			t.Errorf("%s after the ONNX round trip: shape %v, differs by %g", o, got[o].Shape, d)
		}
	}
	if !ort.Available() {
		t.Skip("no node: ONNX Runtime check skipped")
	}
	dir := t.TempDir()
	for _, first := range []int{0, 1} {
		h := g.Clone()
		if first == 1 {
			h.Outputs[0], h.Outputs[1] = h.Outputs[1], h.Outputs[0]
		}
		name := h.Outputs[0].Name
		mb, err := onnx.Marshal(h, onnx.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(path, mb, 0o644); err != nil {
			t.Fatal(err)
		}
		y, err := ort.RunTensor(path, x)
		if err != nil {
			t.Fatal(err)
		}
		// float32 sums in a different order through 20 layers.
		if d := tensor.MaxAbsDiff(y, want[name]); d > 1e-4 || !slices.Equal(y.Shape, want[name].Shape) {
			t.Errorf("%s: ONNX Runtime shape %v, differs from slimgo by %g", name, y.Shape, d)
		} else {
			t.Logf("%s: ONNX Runtime and slimgo differ by %g", name, d)
		}
	}
}
