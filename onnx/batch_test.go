package onnx

import (
	"math"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// fixedBatchGraph is a conv net whose file fixes the batch at 1 and copies
// it with a literal 1 in a Reshape, as torch.onnx.export's defaults do for
// x.view(1, -1); tail, when set, reshapes the output to [4, -1], which mixes
// the batch into another axis.
func fixedBatchGraph(tail bool) *graph.Graph {
	rng := tensor.NewRNG(5)
	g := graph.New("fixed")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, 2, 4, 4}}}
	w, b, fw := tensor.New(3, 2, 3, 3), tensor.New(3), tensor.New(4, 48)
	w.FillNormal(rng, 0, 0.5)
	b.FillNormal(rng, 0, 0.5)
	fw.FillNormal(rng, 0, 0.5)
	g.Params["w"], g.Params["b"], g.Params["fw"] = w, b, fw
	g.Nodes = []*graph.Node{
		{Name: "c", Op: graph.OpConv, Inputs: []string{"x", "w", "b"}, Outputs: []string{"c"}, Attrs: graph.Attrs{"pads": []int{1, 1, 1, 1}}},
		{Name: "r", Op: graph.OpRelu, Inputs: []string{"c"}, Outputs: []string{"r"}},
		{Name: "flat", Op: graph.OpReshape, Inputs: []string{"r"}, Outputs: []string{"flat"}, Attrs: graph.Attrs{"shape": []int{1, -1}}},
		{Name: "fc", Op: graph.OpGemm, Inputs: []string{"flat", "fw"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}},
	}
	g.Outputs = []graph.Value{{Name: "y", Shape: []int{1, 4}}}
	if tail {
		g.Nodes = append(g.Nodes, &graph.Node{Name: "t", Op: graph.OpReshape, Inputs: []string{"y"}, Outputs: []string{"z"}, Attrs: graph.Attrs{"shape": []int{4, -1}}})
		g.Outputs = []graph.Value{{Name: "z", Shape: []int{4, 1}}}
	}
	return g
}

// TestFixedBatchRunsAtAnyBatch reads a file with the batch fixed at 1: the
// input becomes dynamic, the Reshape copies the batch, a batch of 3 gives
// the three single-image results, and a written model declares a dynamic
// batch without the file_batch note.
func TestFixedBatchRunsAtAnyBatch(t *testing.T) {
	b, err := Marshal(fixedBatchGraph(false), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Inputs[0].Shape; s[0] != -1 || g.Meta[MetaFileBatch] != "1" {
		t.Fatalf("input %v, meta %v: want a dynamic batch noted as file batch 1", s, g.Meta)
	}
	if s := g.Node("flat").Attrs.Ints("shape", nil); !slices.Equal(s, []int{0, -1}) {
		t.Errorf("Reshape shape %v, want [0 -1]", s)
	}
	x := tensor.New(3, 2, 4, 4)
	x.FillNormal(tensor.NewRNG(9), 0, 1)
	e, err := engine.New(g)
	if err != nil {
		t.Fatal(err)
	}
	y, err := e.Forward(x, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y.Shape, []int{3, 4}) {
		t.Fatalf("output %v, want [3 4]", y.Shape)
	}
	all := slices.Clone(y.Data)
	for i := range 3 {
		one := tensor.New(1, 2, 4, 4)
		copy(one.Data, x.Data[i*32:(i+1)*32])
		yi, err := e.Forward(one, false)
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range yi.Data {
			if math.Abs(float64(v-all[i*4+j])) > 1e-5 {
				t.Fatalf("image %d output %d: %g alone, %g in the batch", i, j, v, all[i*4+j])
			}
		}
	}
	out, err := Marshal(g, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Meta[MetaFileBatch]; ok || back.Inputs[0].Shape[0] != -1 {
		t.Errorf("written model: input %v, meta %v; want a dynamic batch and no file_batch", back.Inputs[0].Shape, back.Meta)
	}
}

// TestFixedBatchKeptWhenMixed leaves a model whose graph mixes the batch into
// another axis as the file gives it.
func TestFixedBatchKeptWhenMixed(t *testing.T) {
	b, err := Marshal(fixedBatchGraph(true), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := g.Inputs[0].Shape; s[0] != 1 {
		t.Errorf("input %v: the batch should stay fixed at 1", s)
	}
	if s := g.Node("flat").Attrs.Ints("shape", nil); !slices.Equal(s, []int{1, -1}) {
		t.Errorf("Reshape shape %v, want the file's [1 -1] back", s)
	}
	if _, ok := g.Meta[MetaFileBatch]; ok {
		t.Error("file_batch recorded for a batch that stayed fixed")
	}
}
