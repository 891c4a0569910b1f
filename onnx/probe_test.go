package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestProbeAndDynamicBatch: ProbeFile reads the input of a file with a
// dynamic and with a fixed batch; DynamicBatch frees the fixed one, and the
// result imports like the original.
func TestProbeAndDynamicBatch(t *testing.T) {
	p, err := ProbeFile(filepath.Join("..", "testdata", "onnx", "resnet_tiny_fold.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Shape) != 4 || p.Shape[0] != -1 || p.QDQ {
		t.Fatalf("probe %+v, want a dynamic batch and no QDQ", p)
	}
	g, err := ReadFile(filepath.Join("..", "testdata", "onnx", "resnet_tiny_fold.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := g.Clone()
	fixed.Inputs[0].Shape = slices.Clone(g.Inputs[0].Shape)
	fixed.Inputs[0].Shape[0] = 1
	file := filepath.Join(t.TempDir(), "fixed.onnx")
	if err := WriteFile(file, fixed, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if p, err = ProbeFile(file); err != nil || p.Shape[0] != 1 || p.Input != g.Inputs[0].Name {
		t.Fatalf("fixed batch: probe %+v, %v", p, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = DynamicBatch(b); err != nil {
		t.Fatal(err)
	}
	free := filepath.Join(t.TempDir(), "free.onnx")
	if err := os.WriteFile(free, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = ProbeFile(free); err != nil || p.Shape[0] != -1 || !slices.Equal(p.Shape[1:], g.Inputs[0].Shape[1:]) {
		t.Fatalf("after DynamicBatch: probe %+v, %v", p, err)
	}
	back, err := ReadFile(free)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Meta[MetaFileBatch]; ok || back.Inputs[0].Shape[0] != -1 || len(back.Nodes) != len(g.Nodes) {
		t.Fatalf("the freed file imports as %v with %d nodes (meta %v)", back.Inputs[0].Shape, len(back.Nodes), back.Meta)
	}
	if _, err := DynamicBatch([]byte("\xff\xff")); err == nil {
		t.Error("DynamicBatch accepted junk")
	}
	if _, err := ProbeFile(filepath.Join(t.TempDir(), "none.onnx")); err == nil {
		t.Error("ProbeFile of a missing file succeeded")
	}
}
