package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// ewRand returns a seeded tensor of N(0,1) values.
func ewRand(seed uint64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	t.FillNormal(tensor.NewRNG(seed), 0, 1)
	return t
}

// ewForward runs node n alone on the given graph inputs (params may be nil)
// in the given mode and returns its first output, cloned.
func ewForward(t *testing.T, n *graph.Node, data, params map[string]*tensor.Tensor, train bool) *tensor.Tensor {
	t.Helper()
	g := graph.New("t")
	for _, name := range n.Inputs {
		if x, ok := data[name]; ok {
			g.Inputs = append(g.Inputs, graph.Value{Name: name, Shape: x.Shape})
		}
	}
	for k, v := range params {
		g.Params[k] = v
	}
	g.Nodes = []*graph.Node{n}
	g.Outputs = []graph.Value{{Name: n.Outputs[0]}}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Run(data, train)
	if err != nil {
		t.Fatal(err)
	}
	return out[n.Outputs[0]].Clone()
}

func TestActivations(t *testing.T) {
	ref := map[string]func(x float64) float64{
		"relu":  func(x float64) float64 { return math.Max(x, 0) },
		"leaky": func(x float64) float64 { return map[bool]float64{true: x, false: 0.1 * x}[x > 0] },
		"leaky_default": func(x float64) float64 {
			if x > 0 {
				return x
			}
			return 0.01 * x
		},
		"clip6":       func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
		"clip_sym":    func(x float64) float64 { return math.Min(math.Max(x, -0.5), 0.7) },
		"clip_lo":     func(x float64) float64 { return math.Max(x, -0.5) },
		"sigmoid":     func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		"silu":        func(x float64) float64 { return x / (1 + math.Exp(-x)) },
		"hardsigmoid": func(x float64) float64 { return math.Max(0, math.Min(1, 0.2*x+0.5)) },
		// PyTorch's nn.Hardsigmoid as torch.onnx writes it (alpha=1/6).
		"hardsigmoid_torch": func(x float64) float64 { return math.Max(0, math.Min(1, x/6+0.5)) },
		"hardsigmoid_neg":   func(x float64) float64 { return math.Max(0, math.Min(1, -0.7*x+0.1)) },
		"hardswish":         func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) },
	}
	tests := []struct {
		name  string
		op    string
		attrs graph.Attrs
		kinks []float32
		scale float32
	}{
		{"relu", graph.OpRelu, nil, []float32{0}, 1},
		{"leaky", graph.OpLeakyRelu, graph.Attrs{"alpha": float32(0.1)}, []float32{0}, 1},
		{"leaky_default", graph.OpLeakyRelu, nil, []float32{0}, 1},
		{"clip6", graph.OpClip, graph.Attrs{"min": float32(0), "max": float32(6)}, []float32{0, 6}, 4},
		{"clip_sym", graph.OpClip, graph.Attrs{"min": float32(-0.5), "max": float32(0.7)}, []float32{-0.5, 0.7}, 1},
		{"clip_lo", graph.OpClip, graph.Attrs{"min": float32(-0.5)}, []float32{-0.5}, 1},
		{"sigmoid", graph.OpSigmoid, nil, nil, 3},
		{"silu", graph.OpSilu, nil, nil, 3},
		{"hardsigmoid", graph.OpHardSigmoid, nil, []float32{-2.5, 2.5}, 4},
		{"hardsigmoid_torch", graph.OpHardSigmoid, graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)}, []float32{-3, 3}, 4},
		{"hardsigmoid_neg", graph.OpHardSigmoid, graph.Attrs{"alpha": float32(-0.7), "beta": float32(0.1)}, []float32{-9.0 / 7, 1.0 / 7}, 2},
		{"hardswish", graph.OpHardSwish, nil, []float32{-3, 3}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := ewRand(11, 2, 3, 4, 5)
			for i := range x.Data {
				x.Data[i] *= tc.scale
			}
			x = pushAway(x, tc.kinks, 0.05)
			n := &graph.Node{Name: tc.name, Op: tc.op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: tc.attrs}
			y := ewForward(t, n, map[string]*tensor.Tensor{"x": x}, nil, false)
			if !tensor.SameShape(y.Shape, x.Shape) {
				t.Fatalf("shape %v, want %v", y.Shape, x.Shape)
			}
			f := ref[tc.name]
			for i, v := range x.Data {
				if w := f(float64(v)); math.Abs(float64(y.Data[i])-w) > 1e-6*(1+math.Abs(w)) {
					t.Fatalf("element %d: f(%g) = %g, want %g", i, v, y.Data[i], w)
				}
			}
			if err := CheckOp(n, map[string]*tensor.Tensor{"x": x}, nil, GradCheck{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// At the kinks the derivatives are PyTorch's (torch 1.13: hardswish'(-3) =
// -0.5, hardswish'(3) = 1.5; hardsigmoid' = 0 at -3 and 3).
func TestHardActivationKinks(t *testing.T) {
	x := tensor.From([]float32{-4, -3, -1, 0, 3, 4}, 6)
	tests := []struct {
		name  string
		op    string
		attrs graph.Attrs
		y, dx []float32
	}{
		{"hardswish", graph.OpHardSwish, nil,
			[]float32{0, 0, -1.0 / 3, 0, 3, 4}, []float32{0, -0.5, 1.0 / 6, 0.5, 1.5, 1}},
		{"hardsigmoid_torch", graph.OpHardSigmoid, graph.Attrs{"alpha": float32(1.0 / 6), "beta": float32(0.5)},
			[]float32{0, 0, 1.0 / 3, 0.5, 1, 1}, []float32{0, 0, 1.0 / 6, 1.0 / 6, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &graph.Node{Name: tc.name, Op: tc.op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: tc.attrs}
			k, err := Compile(n)
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.Forward(nil, []*tensor.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			dy := tensor.From([]float32{1, 1, 1, 1, 1, 1}, 6)
			gin, err := k.Backward(nil, []*tensor.Tensor{x}, out, []*tensor.Tensor{dy}, []bool{true})
			if err != nil {
				t.Fatal(err)
			}
			for i := range x.Data {
				if math.Abs(float64(out[0].Data[i]-tc.y[i])) > 1e-6 || math.Abs(float64(gin[0].Data[i]-tc.dx[i])) > 1e-6 {
					t.Errorf("x=%g: y=%g dy/dx=%g, want %g and %g", x.Data[i], out[0].Data[i], gin[0].Data[i], tc.y[i], tc.dx[i])
				}
			}
		})
	}
}

// pushAway moves every value of x at least gap away from each kink, keeping
// its side.
func pushAway(x *tensor.Tensor, kinks []float32, gap float32) *tensor.Tensor {
	for i, v := range x.Data {
		for _, k := range kinks {
			if d := v - k; d >= 0 && d < gap {
				v = k + gap + d
			} else if d < 0 && d > -gap {
				v = k - gap + d
			}
		}
		x.Data[i] = v
	}
	return x
}

// A large input takes the parallel path; it must agree with the serial one.
func TestActivationParallelMatchesSerial(t *testing.T) {
	big := ewRand(3, 2, 8, 64, 80) // 81920 > parallelMin
	small := tensor.From(big.Data[:1000], 1000)
	n := &graph.Node{Name: "s", Op: graph.OpSilu, Inputs: []string{"x"}, Outputs: []string{"y"}}
	yb := ewForward(t, n, map[string]*tensor.Tensor{"x": big}, nil, false)
	ys := ewForward(t, n, map[string]*tensor.Tensor{"x": small}, nil, false)
	if d := tensor.MaxAbsDiff(tensor.From(yb.Data[:1000], 1000), ys); d != 0 {
		t.Fatalf("parallel and serial Silu differ by %g", d)
	}
}

func TestHardSigmoidBadAttrs(t *testing.T) {
	n := &graph.Node{Name: "h", Op: graph.OpHardSigmoid, Inputs: []string{"x"}, Outputs: []string{"y"},
		Attrs: graph.Attrs{"alpha": float32(math.NaN())}}
	_, err := Compile(n)
	if err == nil || !strings.Contains(err.Error(), `"h"`) {
		t.Fatalf("want an error naming node h, got %v", err)
	}
}

func TestClipBadBounds(t *testing.T) {
	n := &graph.Node{Name: "c", Op: graph.OpClip, Inputs: []string{"x"}, Outputs: []string{"y"},
		Attrs: graph.Attrs{"min": float32(1), "max": float32(0)}}
	_, err := Compile(n)
	if err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("want an error naming node c, got %v", err)
	}
}
