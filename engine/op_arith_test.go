package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// bcIndex maps a flat index of the output shape out to the flat index of an
// operand of shape s under NumPy broadcasting (the naive definition).
func bcIndex(flat int, out, s []int) int {
	idx := make([]int, len(out))
	for i := len(out) - 1; i >= 0; i-- {
		idx[i] = flat % out[i]
		flat /= out[i]
	}
	off, stride := 0, 1
	for i := len(s) - 1; i >= 0; i-- {
		o := idx[len(out)-len(s)+i]
		if s[i] == 1 {
			o = 0
		}
		off += o * stride
		stride *= s[i]
	}
	return off
}

// refBinary computes y = a op b and, given dy, the broadcast-reduced
// gradients by walking every output element.
func refBinary(mul bool, a, b, dy *tensor.Tensor) (y, da, db *tensor.Tensor) {
	out, err := graph.Broadcast(a.Shape, b.Shape)
	if err != nil {
		panic(err)
	}
	y = tensor.New(out...)
	da, db = tensor.New(a.Shape...), tensor.New(b.Shape...)
	for i := range y.Data {
		ia, ib := bcIndex(i, out, a.Shape), bcIndex(i, out, b.Shape)
		if mul {
			y.Data[i] = a.Data[ia] * b.Data[ib]
		} else {
			y.Data[i] = a.Data[ia] + b.Data[ib]
		}
		if dy == nil {
			continue
		}
		if mul {
			da.Data[ia] += dy.Data[i] * b.Data[ib]
			db.Data[ib] += dy.Data[i] * a.Data[ia]
		} else {
			da.Data[ia] += dy.Data[i]
			db.Data[ib] += dy.Data[i]
		}
	}
	return y, da, db
}

var bcastCases = []struct {
	name string
	a, b []int
}{
	{"same", []int{2, 3, 4, 5}, []int{2, 3, 4, 5}},
	{"chan_C11", []int{2, 3, 4, 5}, []int{3, 1, 1}},
	{"chan_1C11", []int{2, 3, 4, 5}, []int{1, 3, 1, 1}},
	{"se_NC11", []int{2, 3, 4, 5}, []int{2, 3, 1, 1}},
	{"scalar_like_1", []int{2, 3, 4, 5}, []int{1}},
	{"scalar_rank0", []int{2, 3, 4}, []int{}},
	{"a_broadcasts", []int{1, 3, 1, 1}, []int{2, 3, 4, 5}},
	{"both_broadcast", []int{2, 1, 4, 5}, []int{1, 3, 1, 1}},
	{"both_broadcast_ranks", []int{2, 1, 4, 1}, []int{3, 1, 5}},
	{"row_vector", []int{6, 5}, []int{5}},
	{"middle_axis", []int{2, 3, 4}, []int{2, 1, 4}},
	{"all_ones", []int{1, 1}, []int{1}},
}

func TestAddMulForwardBackwardVsReference(t *testing.T) {
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		for ci, tc := range bcastCases {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				mul := op == graph.OpMul
				a, b := ewRand(uint64(2*ci+1), tc.a...), ewRand(uint64(2*ci+2), tc.b...)
				n := &graph.Node{Name: "n", Op: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}}
				k, err := Compile(n)
				if err != nil {
					t.Fatal(err)
				}
				ctx := &Ctx{Train: true}
				outs, err := k.Forward(ctx, []*tensor.Tensor{a, b})
				if err != nil {
					t.Fatal(err)
				}
				dy := ewRand(99, outs[0].Shape...)
				wy, wa, wb := refBinary(mul, a, b, dy)
				if !tensor.SameShape(outs[0].Shape, wy.Shape) || tensor.MaxAbsDiff(outs[0], wy) > 1e-6 {
					t.Fatalf("forward %v, want %v", outs[0], wy)
				}
				gin, err := k.Backward(ctx, []*tensor.Tensor{a, b}, outs, []*tensor.Tensor{dy}, []bool{true, true})
				if err != nil {
					t.Fatal(err)
				}
				for j, w := range []*tensor.Tensor{wa, wb} {
					if !tensor.SameShape(gin[j].Shape, w.Shape) || tensor.MaxAbsDiff(gin[j], w) > 1e-5 {
						t.Fatalf("gradient of input %d: %v, want %v", j, gin[j], w)
					}
				}
			})
		}
	}
}

func TestAddMulGradCheck(t *testing.T) {
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		for ci, tc := range bcastCases {
			for _, bParam := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/bParam=%v", op, tc.name, bParam)
				t.Run(name, func(t *testing.T) {
					a, b := ewRand(uint64(10*ci+3), tc.a...), ewRand(uint64(10*ci+4), tc.b...)
					n := &graph.Node{Name: "n", Op: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}}
					data := map[string]*tensor.Tensor{"a": a, "b": b}
					var params map[string]*tensor.Tensor
					if bParam {
						data = map[string]*tensor.Tensor{"a": a}
						params = map[string]*tensor.Tensor{"b": b}
					}
					if err := CheckOp(n, data, params, GradCheck{MaxPerTensor: 64}); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// Large operands take the parallel paths: disjoint rows for the full
// operand, per-chunk partial sums for the broadcast one.
func TestAddMulParallelPaths(t *testing.T) {
	cases := []struct {
		name string
		a, b []int
	}{
		{"chan", []int{4, 16, 32, 40}, []int{1, 16, 1, 1}},
		{"se", []int{4, 16, 32, 40}, []int{4, 16, 1, 1}},
		{"both", []int{4, 1, 32, 40}, []int{1, 16, 32, 1}},
		{"same", []int{4, 16, 32, 40}, []int{4, 16, 32, 40}},
	}
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		for ci, tc := range cases {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				a, b := ewRand(uint64(ci+40), tc.a...), ewRand(uint64(ci+50), tc.b...)
				k, _ := Compile(&graph.Node{Name: "n", Op: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}})
				ctx := &Ctx{Train: true}
				outs, err := k.Forward(ctx, []*tensor.Tensor{a, b})
				if err != nil {
					t.Fatal(err)
				}
				dy := ewRand(7, outs[0].Shape...)
				wy, wa, wb := refBinary(op == graph.OpMul, a, b, dy)
				if d := tensor.MaxAbsDiff(outs[0], wy); d > 1e-6 {
					t.Fatalf("forward differs by %g", d)
				}
				gin, err := k.Backward(ctx, []*tensor.Tensor{a, b}, outs, []*tensor.Tensor{dy}, []bool{true, true})
				if err != nil {
					t.Fatal(err)
				}
				for j, w := range []*tensor.Tensor{wa, wb} {
					// Sums of up to 20k terms in a different order: relative tolerance.
					scale := 1.0
					for _, v := range w.Data {
						scale = math.Max(scale, math.Abs(float64(v)))
					}
					if d := tensor.MaxAbsDiff(gin[j], w); d > 1e-4*scale {
						t.Fatalf("gradient %d differs by %g (scale %g)", j, d, scale)
					}
				}
			})
		}
	}
}

func TestAddMulErrors(t *testing.T) {
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		t.Run(op+"/mismatch", func(t *testing.T) {
			g := graph.New("t")
			g.Inputs = []graph.Value{{Name: "a", Shape: []int{2, 3}}, {Name: "b", Shape: []int{4}}}
			g.Nodes = []*graph.Node{{Name: "bad_add", Op: op, Inputs: []string{"a", "b"}, Outputs: []string{"y"}}}
			g.Outputs = []graph.Value{{Name: "y"}}
			e, err := New(g)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Run(map[string]*tensor.Tensor{"a": tensor.New(2, 3), "b": tensor.New(4)}, false)
			if err == nil || !strings.Contains(err.Error(), "bad_add") || !strings.Contains(err.Error(), "broadcast") {
				t.Fatalf("want a broadcast error naming bad_add, got %v", err)
			}
		})
		t.Run(op+"/one_input", func(t *testing.T) {
			_, err := Compile(&graph.Node{Name: "lonely", Op: op, Inputs: []string{"a"}, Outputs: []string{"y"}})
			if err == nil || !strings.Contains(err.Error(), "lonely") {
				t.Fatalf("want an error naming lonely, got %v", err)
			}
		})
	}
}
