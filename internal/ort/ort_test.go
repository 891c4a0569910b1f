package ort

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/tensor"
)

// reluModel is a hand-encoded ONNX model (IR 7, opset 13): y = Relu(x),
// x float32 [N, 3]. Encoded here byte by byte so this test does not depend on
// the onnx package it helps to test.
func reluModel() []byte {
	var b []byte
	field := func(dst []byte, num int, wire int, payload []byte) []byte {
		dst = appendVarint(dst, uint64(num<<3|wire))
		if wire == 2 {
			dst = appendVarint(dst, uint64(len(payload)))
			return append(dst, payload...)
		}
		return append(dst, payload...)
	}
	str := func(num int, s string) []byte { return field(nil, num, 2, []byte(s)) }
	dim := func(d []byte) []byte { return field(nil, 1, 2, d) }
	valueInfo := func(name string) []byte {
		shape := append(dim(str(2, "N")), dim(field(nil, 1, 0, appendVarint(nil, 3)))...)
		tensorType := append(field(nil, 1, 0, appendVarint(nil, 1)), field(nil, 2, 2, shape)...)
		typ := field(nil, 1, 2, tensorType)
		return append(str(1, name), field(nil, 2, 2, typ)...)
	}
	node := append(append(str(1, "x"), str(2, "y")...), str(4, "Relu")...)
	graph := field(nil, 1, 2, node)
	graph = append(graph, str(2, "g")...)
	graph = field(graph, 11, 2, valueInfo("x"))
	graph = field(graph, 12, 2, valueInfo("y"))
	b = field(b, 1, 0, appendVarint(nil, 7))
	b = field(b, 7, 2, graph)
	b = field(b, 8, 2, field(nil, 2, 0, appendVarint(nil, 13)))
	return b
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestRunRelu(t *testing.T) {
	if !Available() {
		t.Skip("node is not installed: ONNX Runtime checks skipped")
	}
	model := filepath.Join(t.TempDir(), "relu.onnx")
	if err := os.WriteFile(model, reluModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	x := tensor.From([]float32{1, -2, 3, -4, 5, -6}, 2, 3)
	y, err := RunTensor(model, x)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 0, 3, 0, 5, 0}
	if !tensor.SameShape(y.Shape, []int{2, 3}) {
		t.Fatalf("shape %v", y.Shape)
	}
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("y = %v, want %v", y.Data, want)
		}
	}
}

func TestRunBatch(t *testing.T) {
	if !Available() {
		t.Skip("node is not installed: ONNX Runtime checks skipped")
	}
	model := filepath.Join(t.TempDir(), "relu.onnx")
	if err := os.WriteFile(model, reluModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	a := tensor.From([]float32{-1, 2, -3}, 1, 3)
	b := tensor.From([]float32{4, -5, 6, -7, 8, -9}, 2, 3)
	ys, err := RunBatch([]Job{{model, a}, {model, b}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{0, 2, 0}, {4, 0, 6, 0, 8, 0}}
	for i, y := range ys {
		if len(y.Data) != len(want[i]) || y.Shape[0] != i+1 {
			t.Fatalf("job %d: %v", i, y)
		}
		for k, v := range want[i] {
			if y.Data[k] != v {
				t.Fatalf("job %d: %v, want %v", i, y.Data, want[i])
			}
		}
	}
}

func TestRunBadModel(t *testing.T) {
	if !Available() {
		t.Skip("node is not installed: ONNX Runtime checks skipped")
	}
	model := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(model, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := RunTensor(model, tensor.New(1, 3))
	if err == nil || !strings.Contains(err.Error(), "cannot load the model") {
		t.Fatalf("err = %v", err)
	}
}

// TestTime: run.js's timing mode reports the fastest and the median timed
// run, at least as many runs as asked and the threads it was given, and
// computes what the plain mode computes; the plain mode's report is as it
// was (no timing keys).
func TestTime(t *testing.T) {
	if err := Installed(); err != nil {
		t.Skipf("ONNX Runtime checks skipped: %v", err)
	}
	dir := t.TempDir()
	model, in := filepath.Join(dir, "relu.onnx"), filepath.Join(dir, "x.npy")
	if err := os.WriteFile(model, reluModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(in, tensor.From([]float32{1, -2, 3, -4, 5, -6}, 2, 3)); err != nil {
		t.Fatal(err)
	}
	r, err := Time(model, in, filepath.Join(dir, "y.npy"), TimeOptions{Threads: 2, Warmup: 1, Runs: 5, MinMs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if !(r.BestMs > 0) || r.MedianMs < r.BestMs || r.Ms != r.MedianMs || r.Runs < 5 || r.Threads != 2 {
		t.Fatalf("timing report %+v", r)
	}
	y, err := npy.ReadFile(filepath.Join(dir, "y.npy"))
	if err != nil || y.Data[0] != 1 || y.Data[1] != 0 || y.Data[5] != 0 {
		t.Fatalf("timing mode output %v, %v", y, err)
	}
	p, err := RunFiles(model, in, filepath.Join(dir, "y1.npy"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.BestMs != 0 || p.Runs != 0 || p.Threads != 0 || !(p.Ms > 0) {
		t.Fatalf("plain mode report %+v, want only ms", p)
	}
}

// TestRunAll: --all-outputs returns every output by name (the relu model
// has one, y); the detection tests run two-output models through it.
func TestRunAll(t *testing.T) {
	if !Available() {
		t.Skip("node is not installed: ONNX Runtime checks skipped")
	}
	model := filepath.Join(t.TempDir(), "relu.onnx")
	if err := os.WriteFile(model, reluModel(), 0o644); err != nil {
		t.Fatal(err)
	}
	x := tensor.From([]float32{1, -2, 3, -4, 5, -6}, 2, 3)
	outs, err := RunAll(model, x)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs["y"] == nil {
		t.Fatalf("outputs %v, want y only", outs)
	}
	want := []float32{1, 0, 3, 0, 5, 0}
	for i, v := range want {
		if outs["y"].Data[i] != v || !tensor.SameShape(outs["y"].Shape, []int{2, 3}) {
			t.Fatalf("y = %v %v, want %v", outs["y"].Shape, outs["y"].Data, want)
		}
	}
}
