package onnx

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/tensor"
)

// yoloOpsets are the opsets the YOLO fixtures are exported at: the range
// Debian's torch 1.13 writes (11-17), which covers Split's sizes as an
// attribute (< 13) and as an input, Unsqueeze's axes both ways, and
// Softmax's 2-D coercion (< 13).
var yoloOpsets = []int{11, 13, 14, 17}

// yoloTol bounds max |slimgo - ONNX Runtime| / max |ONNX Runtime| per
// output: both compute in float32, in different orders.
const yoloTol = 1e-5

// exportYOLO returns the directory of the YOLO fixtures: the exports of
// testdata/onnx/yolo_heads.py (PyTorch, run with /usr/bin/python3 from a
// temporary directory) at yoloOpsets, kept in the user cache directory
// keyed by the script's hash (the torchvision fixtures' scheme), so only
// the first run pays for PyTorch. It skips without python3 and torch, and
// with -short.
func exportYOLO(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("exports with PyTorch; skipped with -short")
	}
	script, err := filepath.Abs(filepath.Join("..", "testdata", "onnx", "yolo_heads.py"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{python, script}
	for _, o := range yoloOpsets {
		args = append(args, fmt.Sprint(o))
	}
	sum := sha256.Sum256(append(src, fmt.Sprint(yoloOpsets)...))
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "slimgo", "onnx-yolo", hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return dir
	}
	work := t.TempDir()
	chk := exec.Command(python, "-c", "import torch, numpy")
	chk.Dir = work
	if chk.Run() != nil {
		t.Skip(python + " with torch is not installed")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "export-") // a test process of its own
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("nice", append(args[:2:2], append([]string{tmp}, args[2:]...)...)...)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("yolo_heads.py: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "done")); err2 != nil {
			t.Fatal(err) // not another process that got there first
		}
	}
	return dir
}

// runAll runs g on x with the engine and returns every output, cloned.
func runAll(t *testing.T, g *graph.Graph, x *tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	e, err := engine.New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, false)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*tensor.Tensor{}
	for k, v := range out {
		res[k] = v.Clone()
	}
	return res
}

// compareAll checks every graph output of g against ONNX Runtime's.
func compareAll(t *testing.T, what string, g *graph.Graph, got, ref map[string]*tensor.Tensor) {
	t.Helper()
	if len(ref) != len(g.Outputs) {
		t.Fatalf("%s: ONNX Runtime gave %d outputs, the graph has %d", what, len(ref), len(g.Outputs))
	}
	for _, o := range g.Outputs {
		r := ref[o.Name]
		if r == nil {
			t.Fatalf("%s: ONNX Runtime has no output %q", what, o.Name)
		}
		e := relErr(t, got[o.Name], r)
		t.Logf("%s %s %v: max |slimgo - ORT| / max |ORT| = %.2g", what, o.Name, r.Shape, e)
		if !(e < yoloTol) {
			t.Errorf("%s output %s: relative error %.3g exceeds %.0e", what, o.Name, e, yoloTol)
		}
	}
}

// TestYOLOExports exports the YOLO fixtures once and runs yoloAgainstORT,
// yoloDynamic and yoloBackward on them.
func TestYOLOExports(t *testing.T) {
	dir := exportYOLO(t)
	t.Run("ort", func(t *testing.T) { yoloAgainstORT(t, dir) })
	t.Run("dynamic", func(t *testing.T) { yoloDynamic(t, dir) })
	t.Run("backward", func(t *testing.T) { yoloBackward(t, dir) })
}

// yoloDynamic imports the exports with a dynamic batch (dynamic_axes: the
// shape arithmetic reads the batch), which fold at batch 1 and are freed
// again, and compares every output with ONNX Runtime on the original file
// at a batch of 2.
func yoloDynamic(t *testing.T, dir string) {
	needORT(t)
	for _, model := range []string{"yolov5", "yolov8"} {
		path := filepath.Join(dir, model+"_dyn.onnx")
		g, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if g.Inputs[0].Shape[0] != -1 || g.Meta[MetaFileBatch] != "" {
			t.Errorf("%s: input %v, file_batch %q: want the file's dynamic batch and no file_batch", model, g.Inputs[0], g.Meta[MetaFileBatch])
		}
		x2 := inputFor(g, 9)
		ref, err := ort.RunAll(path, x2)
		if err != nil {
			t.Fatal(err)
		}
		compareAll(t, model+" dynamic batch, batch 2", g, runAll(t, g, x2), ref)
	}
}

// yoloAgainstORT imports YOLOv5- and YOLOv8-style detectors as
// torch.onnx.export writes them by default (batch fixed at 1, shape
// arithmetic, Split/Slice/Transpose/Softmax/Pow/Sub/Div in the heads),
// compares every output with ONNX Runtime on the original file (also after
// engine.Optimize, the inference path), exports
// slimgo's graph again (at opsets 13 and 17), compares ONNX Runtime on that
// at a batch of 2 (the import freed the batch), and checks the gradients
// of the whole graph by central differences.
func yoloAgainstORT(t *testing.T, dir string) {
	needORT(t)
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"yolov5", "yolov8"} {
		for _, opset := range yoloOpsets {
			t.Run(fmt.Sprintf("%s_opset%d", model, opset), func(t *testing.T) {
				path := filepath.Join(dir, fmt.Sprintf("%s_%d.onnx", model, opset))
				g, err := ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if g.Inputs[0].Shape[0] != -1 {
					t.Errorf("input %v: the batch the file fixed at 1 should be dynamic", g.Inputs[0])
				}
				for _, n := range g.Nodes {
					if slices.Contains([]string{"Shape", "Gather", "Unsqueeze", "ConstantOfShape", "Cast"}, n.Op) {
						t.Errorf("node %q (%s) left after import", n.Name, n.Op)
					}
				}
				ref, err := ort.RunAll(path, x)
				if err != nil {
					t.Fatal(err)
				}
				compareAll(t, "import", g, runAll(t, g, x), ref)
				o, err := engine.Optimize(g) // the inference path of train.Evaluate
				if err != nil {
					t.Fatal(err)
				}
				compareAll(t, "import, engine.Optimize", g, runAll(t, o, x), ref)
				x2 := inputFor(g, 5)
				for _, o := range []int{13, 17} {
					p := writeModel(t, g, WriteOptions{Opset: o}, fmt.Sprintf("back%d.onnx", o))
					ref2, err := ort.RunAll(p, x2)
					if err != nil {
						t.Fatal(err)
					}
					compareAll(t, fmt.Sprintf("export opset %d, batch 2", o), g, runAll(t, g, x2), ref2)
					if _, err := ReadFile(p); err != nil {
						t.Fatalf("re-import of the export: %v", err)
					}
				}
			})
		}
	}
}

// yoloBackward checks the gradients of the imported YOLOv5 and YOLOv8
// graphs (every parameter and the input, a seeded subset of elements) by
// central differences through the whole graph, in training mode: the
// backward pass fine-tuning runs. The loss projects every output on fixed
// random directions (engine.CheckGraph). The step is 0.1, not the default
// 0.01: the loss sums some 5700 float32 outputs of magnitude up to ~60
// (boxes in pixels), whose rounding moves it by ~2e-4, i.e. ~1e-2 in a
// difference quotient at step 0.01 (larger than the small true gradients
// of many elements), ~1e-3 at 0.1; the graphs are smooth (SiLU, sigmoid,
// softmax, linear ops), so the wider step costs little truncation error.
// Scaling one op's backward by 0.9 (Softmax's sum term, Pow's
// derivative) makes this test fail.
func yoloBackward(t *testing.T, dir string) {
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"yolov5", "yolov8"} {
		t.Run(model, func(t *testing.T) {
			g, err := ReadFile(filepath.Join(dir, model+"_17.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			data := map[string]*tensor.Tensor{g.Inputs[0].Name: x}
			if err := engine.CheckGraph(g, data, engine.GradCheck{MaxPerTensor: 3, Seed: 3, Eps: 0.1}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// headOpsGraph is a hand-built graph using every op of the YOLO heads in
// forms the fixtures do not: Exp, Pow 0.5 and 3, Div by a tensor, Softmax
// on a middle axis (transposed around at opset < 13 on export), an equal
// Split without sizes (num_outputs at opset 18), reversed and negative
// Slices, a default-perm Transpose.
func headOpsGraph() *graph.Graph {
	g := graph.New("heads")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 6, 4, 5}}}
	rng := tensor.NewRNG(7)
	d := tensor.New(1, 6, 1, 1)
	d.FillUniform(rng, 0.5, 2)
	g.Params["d"] = d
	g.Nodes = []*graph.Node{
		{Name: "sm", Op: graph.OpSoftmax, Inputs: []string{"x"}, Outputs: []string{"s"}, Attrs: graph.Attrs{"axis": 1}},
		{Name: "ex", Op: graph.OpExp, Inputs: []string{"x"}, Outputs: []string{"e"}, Attrs: graph.Attrs{}},
		{Name: "sq", Op: graph.OpPow, Inputs: []string{"e"}, Outputs: []string{"r"}, Attrs: graph.Attrs{"exponent": float32(0.5)}},
		{Name: "cu", Op: graph.OpPow, Inputs: []string{"x"}, Outputs: []string{"c"}, Attrs: graph.Attrs{"exponent": float32(3)}},
		{Name: "dv", Op: graph.OpDiv, Inputs: []string{"r", "d"}, Outputs: []string{"q"}, Attrs: graph.Attrs{}},
		{Name: "sb", Op: graph.OpSub, Inputs: []string{"q", "c"}, Outputs: []string{"u"}, Attrs: graph.Attrs{}},
		{Name: "sp", Op: graph.OpSplit, Inputs: []string{"u"}, Outputs: []string{"a", "b", "z"}, Attrs: graph.Attrs{"axis": 1}},
		{Name: "rev", Op: graph.OpSlice, Inputs: []string{"b"}, Outputs: []string{"v"}, Attrs: graph.Attrs{"starts": []int{-1, 4}, "ends": []int{-100, 0}, "axes": []int{2, -1}, "steps": []int{-1, -2}}},
		{Name: "tr", Op: graph.OpTranspose, Inputs: []string{"z"}, Outputs: []string{"w"}, Attrs: graph.Attrs{}},
	}
	g.Outputs = []graph.Value{{Name: "s"}, {Name: "a"}, {Name: "v"}, {Name: "w"}}
	return g
}

// TestHeadOpsRoundTrip: the hand-built graph exported at opsets 11, 13 and
// 18 runs in ONNX Runtime as in slimgo (every output), and re-imports to
// the same ops.
func TestHeadOpsRoundTrip(t *testing.T) {
	g := headOpsGraph()
	if _, err := g.InferShapes(nil); err != nil {
		t.Fatal(err)
	}
	x := inputFor(g, 3)
	want := runAll(t, g, x)
	for _, opset := range []int{11, 13, 18} {
		p := writeModel(t, g, WriteOptions{Opset: opset}, fmt.Sprintf("heads%d.onnx", opset))
		back, err := ReadFile(p)
		if err != nil {
			t.Fatalf("opset %d: %v", opset, err)
		}
		if got, exp := countOps(back), countOps(g); opset >= 13 && !maps.Equal(got, exp) {
			t.Errorf("opset %d: re-imported ops %v, want %v", opset, got, exp)
		}
		compareAll(t, fmt.Sprintf("re-import opset %d", opset), g, runAll(t, back, x), want)
		if !ort.Available() {
			continue
		}
		ref, err := ort.RunAll(p, x)
		if err != nil {
			t.Fatal(err)
		}
		compareAll(t, fmt.Sprintf("ORT opset %d", opset), g, want, ref)
	}
}
