package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// at4 reads element [a,b,c,d] of a 4-D tensor.
func at4(t *tensor.Tensor, a, b, c, d int) float32 {
	s := t.Shape
	return t.Data[((a*s[1]+b)*s[2]+c)*s[3]+d]
}

func TestConcat(t *testing.T) {
	tests := []struct {
		name   string
		axis   int
		shapes [][]int
	}{
		{"axis1_three", 1, [][]int{{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 2, 4, 5}}},
		{"axis0", 0, [][]int{{1, 3, 2}, {2, 3, 2}}},
		{"axis_last_neg", -1, [][]int{{2, 3, 2}, {2, 3, 4}}},
		{"single", 1, [][]int{{2, 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string]*tensor.Tensor{}
			var names []string
			for i, s := range tc.shapes {
				name := string(rune('a' + i))
				names = append(names, name)
				data[name] = ewRand(uint64(i+1), s...)
			}
			n := &graph.Node{Name: "cat", Op: graph.OpConcat, Inputs: names, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": tc.axis}}
			y := ewForward(t, n, data, nil, false)
			// Reference: walk the output by multi-index and find which input
			// and position it comes from.
			r := len(tc.shapes[0])
			ax := (tc.axis + r) % r
			idx := make([]int, r)
			for flat := range y.Data {
				f := flat
				for i := r - 1; i >= 0; i-- {
					idx[i] = f % y.Shape[i]
					f /= y.Shape[i]
				}
				pos := idx[ax]
				src := 0
				for pos >= tc.shapes[src][ax] {
					pos -= tc.shapes[src][ax]
					src++
				}
				s := tc.shapes[src]
				off := 0
				for i := range r {
					v := idx[i]
					if i == ax {
						v = pos
					}
					off = off*s[i] + v
				}
				if want := data[names[src]].Data[off]; y.Data[flat] != want {
					t.Fatalf("output %d = %g, want %g (input %d)", flat, y.Data[flat], want, src)
				}
			}
			if err := CheckOp(n, data, nil, GradCheck{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcatMismatchErrors(t *testing.T) {
	tests := []struct {
		name   string
		axis   int
		shapes [][]int
		want   string
	}{
		{"off_axis", 1, [][]int{{2, 3, 4}, {2, 3, 5}}, "differ off axis"},
		{"rank", 1, [][]int{{2, 3, 4}, {2, 3}}, "ranks differ"},
		{"axis_range", 3, [][]int{{2, 3, 4}, {2, 3, 4}}, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Compile(&graph.Node{Name: "cat", Op: graph.OpConcat, Inputs: []string{"a", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": tc.axis}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.Forward(&Ctx{}, []*tensor.Tensor{tensor.New(tc.shapes[0]...), tensor.New(tc.shapes[1]...)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestViews(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		attrs graph.Attrs
		in    []int
		want  []int
	}{
		{"identity", graph.OpIdentity, nil, []int{2, 3, 4}, []int{2, 3, 4}},
		{"flatten_default", graph.OpFlatten, nil, []int{2, 3, 4, 5}, []int{2, 60}},
		{"flatten_axis0", graph.OpFlatten, graph.Attrs{"axis": 0}, []int{2, 3, 4}, []int{1, 24}},
		{"flatten_axis_neg", graph.OpFlatten, graph.Attrs{"axis": -1}, []int{2, 3, 4}, []int{6, 4}},
		{"flatten_axis_rank", graph.OpFlatten, graph.Attrs{"axis": 3}, []int{2, 3, 4}, []int{24, 1}},
		{"reshape_infer", graph.OpReshape, graph.Attrs{"shape": []int{0, -1}}, []int{2, 3, 4, 1}, []int{2, 12}},
		{"reshape_explicit", graph.OpReshape, graph.Attrs{"shape": []int{4, 3, 2}}, []int{2, 3, 4}, []int{4, 3, 2}},
		{"dropout_inference", graph.OpDropout, graph.Attrs{"ratio": float32(0.3)}, []int{2, 5}, []int{2, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := ewRand(5, tc.in...)
			n := &graph.Node{Name: tc.name, Op: tc.op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: tc.attrs}
			y := ewForward(t, n, map[string]*tensor.Tensor{"x": x}, nil, false)
			if !tensor.SameShape(y.Shape, tc.want) {
				t.Fatalf("shape %v, want %v", y.Shape, tc.want)
			}
			// Row-major data order is unchanged by all of these.
			if tensor.MaxAbsDiff(tensor.From(y.Data, len(y.Data)), tensor.From(x.Data, len(x.Data))) != 0 {
				t.Fatal("data changed")
			}
			// Agrees with graph shape inference.
			g := graph.New("t")
			g.Inputs = []graph.Value{{Name: "x", Shape: tc.in}}
			g.Nodes = []*graph.Node{n}
			shapes, err := g.InferShapes(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(shapes["y"], tc.want) {
				t.Fatalf("InferShapes says %v, kernel %v", shapes["y"], tc.want)
			}
			if tc.op != graph.OpDropout { // training-mode dropout is checked below
				if err := CheckOp(n, map[string]*tensor.Tensor{"x": x}, nil, GradCheck{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestReshapeErrors(t *testing.T) {
	if _, err := Compile(&graph.Node{Name: "r", Op: graph.OpReshape, Inputs: []string{"x"}, Outputs: []string{"y"}}); err == nil || !strings.Contains(err.Error(), `"r"`) {
		t.Fatalf("missing shape: want an error naming r, got %v", err)
	}
	k, _ := Compile(&graph.Node{Name: "r", Op: graph.OpReshape, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"shape": []int{5, -1}}})
	if _, err := k.Forward(&Ctx{}, []*tensor.Tensor{tensor.New(2, 3)}); err == nil {
		t.Fatal("reshape of 6 values to [5,-1]: want an error")
	}
	k, _ = Compile(&graph.Node{Name: "f", Op: graph.OpFlatten, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": 4}})
	if _, err := k.Forward(&Ctx{}, []*tensor.Tensor{tensor.New(2, 3)}); err == nil {
		t.Fatal("flatten axis 4 of a 2-D input: want an error")
	}
}

func TestDropoutTraining(t *testing.T) {
	const ratio = 0.25
	x := ewRand(8, 4, 50, 50)
	n := &graph.Node{Name: "d", Op: graph.OpDropout, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"ratio": float32(ratio)}}
	k, err := Compile(n)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &Ctx{Train: true, RNG: tensor.NewRNG(3)}
	out, err := k.Forward(ctx, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	y := out[0]
	dropped := 0
	for i, v := range y.Data {
		switch {
		case v == 0:
			dropped++
		case math.Abs(float64(v)-float64(x.Data[i])/(1-ratio)) > 1e-6:
			t.Fatalf("kept element %d = %g, want %g/(1-%g)", i, v, x.Data[i], ratio)
		}
	}
	// 10000 Bernoulli(0.25) draws: the mean is within 5 sigma (0.0217) of 0.25.
	if f := float64(dropped) / float64(len(y.Data)); math.Abs(f-ratio) > 0.0217 {
		t.Fatalf("dropped fraction %g, want about %g", f, ratio)
	}
	// The gradient goes through the same mask.
	dy := ewRand(9, y.Shape...)
	gin, err := k.Backward(ctx, []*tensor.Tensor{x}, out, []*tensor.Tensor{dy}, []bool{true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range dy.Data {
		want := float32(0)
		if y.Data[i] != 0 {
			want = dy.Data[i] / (1 - ratio)
		}
		if math.Abs(float64(gin[0].Data[i]-want)) > 1e-6 {
			t.Fatalf("gradient %d = %g, want %g", i, gin[0].Data[i], want)
		}
	}
	// CheckGraph reseeds the executor's RNG for every pass, so the mask is
	// fixed and central differences see a linear op.
	small := ewRand(10, 3, 7)
	if err := CheckOp(n, map[string]*tensor.Tensor{"x": small}, nil, GradCheck{}); err != nil {
		t.Fatal(err)
	}
	// Inference leaves the input untouched.
	ctx.Train = false
	out, _ = k.Forward(ctx, []*tensor.Tensor{x})
	if tensor.MaxAbsDiff(out[0], x) != 0 {
		t.Fatal("inference Dropout changed its input")
	}
}

func TestDropoutBadRatio(t *testing.T) {
	for _, r := range []float32{-0.1, 1, 1.5} {
		_, err := Compile(&graph.Node{Name: "d", Op: graph.OpDropout, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"ratio": r}})
		if err == nil || !strings.Contains(err.Error(), "ratio") {
			t.Fatalf("ratio %g: want an error, got %v", r, err)
		}
	}
}

func TestResize(t *testing.T) {
	tests := []struct {
		name   string
		scales []float32
		in     []int
	}{
		{"x2", []float32{1, 1, 2, 2}, []int{2, 3, 4, 5}},
		{"x3x1", []float32{1, 1, 3, 1}, []int{1, 2, 3, 4}},
		{"x1", []float32{1, 1, 1, 1}, []int{1, 2, 3, 3}},
		{"x2_large_parallel", []float32{1, 1, 2, 2}, []int{2, 8, 64, 40}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := ewRand(21, tc.in...)
			n := &graph.Node{Name: "up", Op: graph.OpResize, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"scales": tc.scales, "mode": "nearest"}}
			y := ewForward(t, n, map[string]*tensor.Tensor{"x": x}, nil, false)
			sh, sw := int(tc.scales[2]), int(tc.scales[3])
			want := []int{tc.in[0], tc.in[1], tc.in[2] * sh, tc.in[3] * sw}
			if !tensor.SameShape(y.Shape, want) {
				t.Fatalf("shape %v, want %v", y.Shape, want)
			}
			for a := range want[0] {
				for b := range want[1] {
					for c := range want[2] {
						for d := range want[3] {
							if at4(y, a, b, c, d) != at4(x, a, b, c/sh, d/sw) {
								t.Fatalf("y[%d,%d,%d,%d] is not x[%d,%d,%d,%d]", a, b, c, d, a, b, c/sh, d/sw)
							}
						}
					}
				}
			}
			if len(x.Data) < 1000 {
				if err := CheckOp(n, map[string]*tensor.Tensor{"x": x}, nil, GradCheck{}); err != nil {
					t.Fatal(err)
				}
				return
			}
			// Large: compare the backward with block sums directly.
			k, _ := Compile(n)
			ctx := &Ctx{Train: true}
			out, _ := k.Forward(ctx, []*tensor.Tensor{x})
			dy := ewRand(22, out[0].Shape...)
			gin, err := k.Backward(ctx, []*tensor.Tensor{x}, out, []*tensor.Tensor{dy}, []bool{true})
			if err != nil {
				t.Fatal(err)
			}
			ref := tensor.New(x.Shape...)
			for a := range want[0] {
				for b := range want[1] {
					for c := range want[2] {
						for d := range want[3] {
							ref.Data[((a*tc.in[1]+b)*tc.in[2]+c/sh)*tc.in[3]+d/sw] += at4(dy, a, b, c, d)
						}
					}
				}
			}
			if d := tensor.MaxAbsDiff(gin[0], ref); d > 1e-5 {
				t.Fatalf("backward differs from block sums by %g", d)
			}
		})
	}
}

func TestResizeRejects(t *testing.T) {
	tests := []struct {
		name  string
		attrs graph.Attrs
		want  string
	}{
		{"fractional", graph.Attrs{"scales": []float32{1, 1, 1.5, 1.5}}, "integer"},
		{"down", graph.Attrs{"scales": []float32{1, 1, 0.5, 0.5}}, "integer"},
		{"channel", graph.Attrs{"scales": []float32{1, 2, 2, 2}}, "integer"},
		{"rank", graph.Attrs{"scales": []float32{2, 2}}, "4 scales"},
		{"missing", nil, "4 scales"},
		{"linear", graph.Attrs{"scales": []float32{1, 1, 2, 2}, "mode": "linear"}, "linear"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(&graph.Node{Name: "rz", Op: graph.OpResize, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: tc.attrs})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"rz"`) {
				t.Fatalf("want an error naming rz and containing %q, got %v", tc.want, err)
			}
		})
	}
}
