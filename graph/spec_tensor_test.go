package graph

import (
	"slices"
	"testing"
)

// TestSliceShape: ONNX Slice semantics (numpy's, with out-of-range
// indices clamped), checked against hand-computed numpy results.
func TestSliceShape(t *testing.T) {
	x := []int{2, 10, 6}
	for _, c := range []struct {
		starts, ends, axes, steps []int
		want                      []int
		first                     []SliceAxis // expected geometry of the axes sliced, in axis order
	}{
		{[]int{0}, []int{2}, []int{1}, nil, []int{2, 2, 6}, nil},                   // x[:, 0:2]
		{[]int{-3}, []int{1 << 30}, []int{-2}, nil, []int{2, 3, 6}, nil},           // x[:, -3:]
		{[]int{8}, []int{2}, []int{1}, []int{-2}, []int{2, 3, 6}, nil},             // x[:, 8:2:-2] -> 8, 6, 4
		{[]int{-1}, []int{-(1 << 30)}, []int{1}, []int{-1}, []int{2, 10, 6}, nil},  // x[:, ::-1]
		{[]int{1, 4}, []int{2, 100}, nil, []int{1, 3}, []int{1, 2, 6}, nil},        // x[1:2, 4::3] -> 4, 7
		{[]int{5}, []int{3}, []int{2}, nil, []int{2, 10, 0}, nil},                  // empty
		{[]int{0, 1}, []int{6, 5}, []int{2, 0}, []int{2, 1}, []int{1, 10, 3}, nil}, // axes out of order
		{[]int{20}, []int{30}, []int{1}, nil, []int{2, 0, 6}, nil},                 // start past the end
		{[]int{-20}, []int{3}, []int{1}, nil, []int{2, 3, 6}, nil},                 // start before 0
		{[]int{9}, []int{-20}, []int{1}, []int{-4}, []int{2, 3, 6}, nil},           // 9, 5, 1
	} {
		n := &Node{Name: "s", Op: OpSlice, Attrs: Attrs{"starts": c.starts, "ends": c.ends}}
		if c.axes != nil {
			n.Attrs["axes"] = c.axes
		}
		if c.steps != nil {
			n.Attrs["steps"] = c.steps
		}
		out, err := sliceShape(n, [][]int{x})
		if err != nil || !slices.Equal(out[0], c.want) {
			t.Errorf("slice %v:%v axes %v steps %v: %v, %v; want %v", c.starts, c.ends, c.axes, c.steps, out, err, c.want)
		}
	}
	g, _ := SliceGeom(&Node{Attrs: Attrs{"starts": []int{8}, "ends": []int{2}, "axes": []int{1}, "steps": []int{-2}}}, x)
	if g[1] != (SliceAxis{8, -2, 3}) || g[0] != (SliceAxis{0, 1, 2}) {
		t.Errorf("geometry %v", g)
	}
	for _, a := range []Attrs{
		{"starts": []int{0}},
		{"starts": []int{0}, "ends": []int{1}, "steps": []int{0}},
		{"starts": []int{0}, "ends": []int{1}, "axes": []int{3}},
		{"starts": []int{0, 0}, "ends": []int{1, 1}, "axes": []int{1, -2}},
	} {
		if _, err := sliceShape(&Node{Attrs: a}, [][]int{x}); err == nil {
			t.Errorf("%v: no error", a)
		}
	}
}

func TestSplitTransposeSoftmaxShapes(t *testing.T) {
	x := []int{1, 3, 4, 5, 7}
	n := &Node{Op: OpSplit, Attrs: Attrs{"axis": -1, "split": []int{2, 2, 3}}, Outputs: []string{"a", "b", "c"}}
	out, err := splitShape(n, [][]int{x})
	if err != nil || !slices.Equal(out[2], []int{1, 3, 4, 5, 3}) || len(out) != 3 {
		t.Errorf("split: %v %v", out, err)
	}
	n = &Node{Op: OpSplit, Attrs: Attrs{"axis": 4}, Outputs: []string{"a", "b", "c"}} // 7 = 3 + 3 + 1 (opset 18)
	if out, err = splitShape(n, [][]int{x}); err != nil || out[0][4] != 3 || out[2][4] != 1 {
		t.Errorf("equal split: %v %v", out, err)
	}
	n.Attrs["split"] = []int{3, 3}
	if _, err := splitShape(n, [][]int{x}); err == nil {
		t.Error("split with 2 sizes for 3 outputs accepted")
	}
	tr := &Node{Op: OpTranspose, Attrs: Attrs{"perm": []int{0, 1, 3, 4, 2}}}
	if out, err = transposeShape(tr, [][]int{x}); err != nil || !slices.Equal(out[0], []int{1, 3, 5, 7, 4}) {
		t.Errorf("transpose: %v %v", out, err)
	}
	tr.Attrs["perm"] = []int{0, 1, 1, 3, 4}
	if _, err := transposeShape(tr, [][]int{x}); err == nil {
		t.Error("bad perm accepted")
	}
	if out, err = transposeShape(&Node{Op: OpTranspose, Attrs: Attrs{}}, [][]int{{2, 3}}); err != nil || !slices.Equal(out[0], []int{3, 2}) {
		t.Errorf("default perm: %v %v", out, err)
	}
	if _, err := softmaxShape(&Node{Attrs: Attrs{"axis": 5}}, [][]int{x}); err == nil {
		t.Error("softmax axis 5 of rank 5 accepted")
	}
}
