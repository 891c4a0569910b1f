package engine

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// TestExpPow: float64 references and gradient checks; Pow by the exponents
// of YOLO decoders and a general one (on positive inputs, where x^p is
// defined for any p).
func TestExpPow(t *testing.T) {
	x := ewRand(2, 2, 3, 4, 5)
	pos := x.Clone()
	for i, v := range pos.Data {
		pos.Data[i] = float32(math.Abs(float64(v))) + 0.5
	}
	for _, c := range []struct {
		n   *graph.Node
		x   *tensor.Tensor
		ref func(float64) float64
	}{
		{&graph.Node{Op: graph.OpExp, Attrs: graph.Attrs{}}, x, math.Exp},
		{&graph.Node{Op: graph.OpPow, Attrs: graph.Attrs{"exponent": float32(2)}}, x, func(v float64) float64 { return v * v }},
		{&graph.Node{Op: graph.OpPow, Attrs: graph.Attrs{"exponent": float32(3)}}, x, func(v float64) float64 { return v * v * v }},
		{&graph.Node{Op: graph.OpPow, Attrs: graph.Attrs{"exponent": float32(0.5)}}, pos, math.Sqrt},
		{&graph.Node{Op: graph.OpPow, Attrs: graph.Attrs{"exponent": float32(-1.5)}}, pos, func(v float64) float64 { return math.Pow(v, -1.5) }},
	} {
		c.n.Name, c.n.Inputs, c.n.Outputs = "op", []string{"x"}, []string{"y"}
		data := map[string]*tensor.Tensor{"x": c.x}
		y := ewForward(t, c.n, data, nil, false)
		for i, v := range c.x.Data {
			want := c.ref(float64(v))
			if math.Abs(float64(y.Data[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s %v: f(%g) = %g, want %g", c.n.Op, c.n.Attrs, v, y.Data[i], want)
			}
		}
		if err := CheckOp(c.n, data, nil, GradCheck{}); err != nil {
			t.Fatalf("%s %v: %v", c.n.Op, c.n.Attrs, err)
		}
	}
	if _, err := Compile(&graph.Node{Name: "p", Op: graph.OpPow, Attrs: graph.Attrs{"exponent": float32(math.NaN())}}); err == nil {
		t.Error("Pow with a NaN exponent compiled")
	}
}

// TestSubDiv: element-wise references under broadcasting (YOLOv5's grid
// [1,3,H,W,2] against [1,3,H,W,2], a scalar, YOLOv8's anchors [1,2,A]
// against [1,2,A] and [2,A]), and gradient checks for both operands as
// inputs and as parameters.
func TestSubDiv(t *testing.T) {
	for _, c := range []struct{ a, b []int }{
		{[]int{1, 3, 4, 4, 2}, []int{1, 3, 4, 4, 2}},
		{[]int{2, 3, 4}, []int{}},
		{[]int{}, []int{2, 3, 4}},
		{[]int{1, 2, 20}, []int{2, 20}},
		{[]int{2, 1, 4}, []int{3, 1}},
	} {
		for _, op := range []string{graph.OpSub, graph.OpDiv} {
			a, b := ewRand(4, c.a...), ewRand(6, c.b...)
			if op == graph.OpDiv { // keep |B| away from 0
				for i, v := range b.Data {
					b.Data[i] = float32(math.Copysign(math.Abs(float64(v))+0.5, float64(v)))
				}
			}
			n := &graph.Node{Name: "op", Op: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}}
			data := map[string]*tensor.Tensor{"a": a, "b": b}
			y := ewForward(t, n, data, nil, false)
			out, _ := graph.Broadcast(c.a, c.b)
			if !tensor.SameShape(y.Shape, out) {
				t.Fatalf("%s %v %v: shape %v", op, c.a, c.b, y.Shape)
			}
			for f := range y.Data {
				idx := unravel(f, out)
				pick := func(t *tensor.Tensor) float32 {
					j := make([]int, len(t.Shape))
					for k := range j {
						if t.Shape[k] > 1 {
							j[k] = idx[len(out)-len(t.Shape)+k]
						}
					}
					return t.Data[ravel(j, t.Shape)]
				}
				want := pick(a) - pick(b)
				if op == graph.OpDiv {
					want = pick(a) / pick(b)
				}
				if y.Data[f] != want {
					t.Fatalf("%s %v %v: y[%v] = %g, want %g", op, c.a, c.b, idx, y.Data[f], want)
				}
			}
			if err := CheckOp(n, data, nil, GradCheck{}); err != nil {
				t.Fatalf("%s %v %v: %v", op, c.a, c.b, err)
			}
			if err := CheckOp(n, map[string]*tensor.Tensor{"a": a}, map[string]*tensor.Tensor{"b": b}, GradCheck{}); err != nil {
				t.Fatalf("%s %v %v (B a parameter): %v", op, c.a, c.b, err)
			}
		}
	}
}
