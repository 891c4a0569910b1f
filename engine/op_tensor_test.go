package engine

import (
	"math"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// unravel returns the multi-index of flat offset f in shape.
func unravel(f int, shape []int) []int {
	idx := make([]int, len(shape))
	for i := len(shape) - 1; i >= 0; i-- {
		idx[i] = f % shape[i]
		f /= shape[i]
	}
	return idx
}

// ravel returns the flat offset of idx in shape.
func ravel(idx, shape []int) int {
	off := 0
	for i, v := range idx {
		off = off*shape[i] + v
	}
	return off
}

// TestTranspose: y[i] = x[i permuted] by multi-index, and a gradient
// check, for the YOLOv5 head's rank-5 permutation and others.
func TestTranspose(t *testing.T) {
	for _, c := range []struct {
		shape, perm []int
	}{
		{[]int{1, 3, 7, 4, 5}, []int{0, 1, 3, 4, 2}},
		{[]int{2, 4, 16, 5}, []int{0, 2, 1, 3}},
		{[]int{3, 5}, nil},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
	} {
		x := ewRand(3, c.shape...)
		n := &graph.Node{Name: "tr", Op: graph.OpTranspose, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}}
		perm := c.perm
		if perm != nil {
			n.Attrs["perm"] = perm
		} else {
			perm = []int{1, 0}
		}
		data := map[string]*tensor.Tensor{"x": x}
		y := ewForward(t, n, data, nil, false)
		for f := range y.Data {
			oi := unravel(f, y.Shape)
			xi := make([]int, len(oi))
			for k, a := range perm {
				xi[a] = oi[k]
			}
			if want := x.Data[ravel(xi, x.Shape)]; y.Data[f] != want {
				t.Fatalf("%v perm %v: y[%v] = %g, want %g", c.shape, perm, oi, y.Data[f], want)
			}
		}
		if err := CheckOp(n, data, nil, GradCheck{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSlice: hand-written index maps for positive, negative, clamped and
// reversed slices, and gradient checks (the backward scatters into zeros).
func TestSlice(t *testing.T) {
	shape := []int{2, 10, 3}
	for _, c := range []struct {
		attrs graph.Attrs
		out   []int
		src   func(a, i, k int) (int, int, int) // output index -> input index
	}{
		{graph.Attrs{"starts": []int{0}, "ends": []int{2}, "axes": []int{1}}, []int{2, 2, 3}, func(a, i, k int) (int, int, int) { return a, i, k }},
		{graph.Attrs{"starts": []int{-3}, "ends": []int{math.MaxInt32}, "axes": []int{-2}}, []int{2, 3, 3}, func(a, i, k int) (int, int, int) { return a, 7 + i, k }},
		{graph.Attrs{"starts": []int{8}, "ends": []int{2}, "axes": []int{1}, "steps": []int{-2}}, []int{2, 3, 3}, func(a, i, k int) (int, int, int) { return a, 8 - 2*i, k }},
		{graph.Attrs{"starts": []int{1, 2, -1}, "ends": []int{2, 100, -4}, "steps": []int{1, 3, -1}}, []int{1, 3, 3}, func(a, i, k int) (int, int, int) { return 1 + a, 2 + 3*i, 2 - k }},
	} {
		x := ewRand(5, shape...)
		n := &graph.Node{Name: "sl", Op: graph.OpSlice, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: c.attrs}
		data := map[string]*tensor.Tensor{"x": x}
		y := ewForward(t, n, data, nil, false)
		if !tensor.SameShape(y.Shape, c.out) {
			t.Fatalf("%v: shape %v, want %v", c.attrs, y.Shape, c.out)
		}
		for f := range y.Data {
			o := unravel(f, y.Shape)
			a, i, k := c.src(o[0], o[1], o[2])
			if want := x.Data[ravel([]int{a, i, k}, shape)]; y.Data[f] != want {
				t.Fatalf("%v: y%v = %g, want x[%d %d %d] = %g", c.attrs, o, y.Data[f], a, i, k, want)
			}
		}
		if err := CheckOp(n, data, nil, GradCheck{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSplit: YOLOv5's (2, 2, nc+1) split on the last axis, YOLOv8's box /
// class split on axis 1, an equal split into 3 with a short last part;
// the gradient check also runs with an output nothing reads.
func TestSplit(t *testing.T) {
	for _, c := range []struct {
		shape []int
		attrs graph.Attrs
		outs  int
	}{
		{[]int{1, 3, 4, 4, 8}, graph.Attrs{"axis": 4, "split": []int{2, 2, 4}}, 3},
		{[]int{1, 67, 20}, graph.Attrs{"axis": 1, "split": []int{64, 3}}, 2},
		{[]int{2, 7, 3}, graph.Attrs{"axis": -2}, 3},
	} {
		x := ewRand(9, c.shape...)
		var outs []string
		for i := range c.outs {
			outs = append(outs, string(rune('a'+i)))
		}
		n := &graph.Node{Name: "sp", Op: graph.OpSplit, Inputs: []string{"x"}, Outputs: outs, Attrs: c.attrs}
		g := graph.New("t")
		g.Inputs = []graph.Value{{Name: "x", Shape: x.Shape}}
		g.Nodes = []*graph.Node{n}
		for _, o := range outs {
			g.Outputs = append(g.Outputs, graph.Value{Name: o})
		}
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]*tensor.Tensor{"x": x}
		res, err := e.Run(data, false)
		if err != nil {
			t.Fatal(err)
		}
		ax, sizes, _ := graph.SplitSizes(n, c.shape)
		start := 0
		for j, o := range outs {
			y := res[o]
			for f := range y.Data {
				idx := unravel(f, y.Shape)
				idx[ax] += start
				if want := x.Data[ravel(idx, c.shape)]; y.Data[f] != want {
					t.Fatalf("%v output %d: element %d = %g, want %g", c.attrs, j, f, y.Data[f], want)
				}
			}
			start += sizes[j]
		}
		if err := CheckGraph(g, data, GradCheck{}); err != nil {
			t.Fatal(err)
		}
		g.Outputs = g.Outputs[:1] // the others read by nothing: zero gradient there
		if err := CheckGraph(g, data, GradCheck{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSoftmax: a float64 reference along each axis, and gradient checks.
func TestSoftmax(t *testing.T) {
	shape := []int{2, 4, 16, 5}
	x := ewRand(11, shape...)
	for _, ax := range []int{1, -1, 2, 0} {
		n := &graph.Node{Name: "sm", Op: graph.OpSoftmax, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": ax}}
		data := map[string]*tensor.Tensor{"x": x}
		y := ewForward(t, n, data, nil, false)
		a := (ax + len(shape)) % len(shape)
		for f := range y.Data {
			idx := unravel(f, shape)
			var s float64
			for c := range shape[a] {
				j := append([]int(nil), idx...)
				j[a] = c
				s += math.Exp(float64(x.Data[ravel(j, shape)]))
			}
			want := math.Exp(float64(x.Data[f])) / s
			if math.Abs(float64(y.Data[f])-want) > 1e-7 {
				t.Fatalf("axis %d: y[%v] = %g, want %g", ax, idx, y.Data[f], want)
			}
		}
		if err := CheckOp(n, data, nil, GradCheck{}); err != nil {
			t.Fatal(err)
		}
	}
	big := &tensor.Tensor{Shape: []int{1, 3}, Data: []float32{1000, 1001, -1000}} // no overflow: the max is subtracted
	y := ewForward(t, &graph.Node{Name: "sm", Op: graph.OpSoftmax, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs{}}, map[string]*tensor.Tensor{"x": big}, nil, false)
	if math.Abs(float64(y.Data[1])-1/(1+math.Exp(-1))) > 1e-6 || y.Data[2] != 0 {
		t.Fatalf("softmax of large values: %v", y.Data)
	}
}

// TestLayoutErrors: bad attributes are errors naming the node, not panics.
func TestLayoutErrors(t *testing.T) {
	x := map[string]*tensor.Tensor{"x": ewRand(1, 2, 3)}
	for _, n := range []*graph.Node{
		{Name: "t", Op: graph.OpTranspose, Attrs: graph.Attrs{"perm": []int{0, 0}}},
		{Name: "s", Op: graph.OpSlice, Attrs: graph.Attrs{"starts": []int{0}, "ends": []int{1}, "steps": []int{0}}},
		{Name: "p", Op: graph.OpSplit, Attrs: graph.Attrs{"axis": 1, "split": []int{1, 1}}},
		{Name: "m", Op: graph.OpSoftmax, Attrs: graph.Attrs{"axis": 2}},
	} {
		n.Inputs, n.Outputs = []string{"x"}, []string{"y"}
		g := graph.New("t")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{2, 3}}}
		g.Nodes = []*graph.Node{n}
		g.Outputs = []graph.Value{{Name: "y"}}
		e, err := New(g)
		if err == nil {
			_, err = e.Run(x, false)
		}
		if err == nil {
			t.Errorf("%s: no error", n.Op)
		}
	}
}
