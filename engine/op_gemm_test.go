package engine

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

type gemmCase struct {
	name        string
	n, k, m     int
	transB      bool
	cShape      []int // nil: no C
	alpha, beta float32
}

var gemmCases = []gemmCase{
	{"linear transB bias[M]", 4, 5, 3, true, []int{3}, 1, 1},
	{"B[K,M] bias[1,M]", 3, 6, 4, false, []int{1, 4}, 1, 1},
	{"no C", 5, 3, 2, true, nil, 1, 1},
	{"full C alpha beta", 3, 4, 5, false, []int{3, 5}, 0.5, -2},
	{"column C", 4, 3, 3, true, []int{4, 1}, 1.5, 0.25},
	{"scalar C [1]", 2, 3, 4, false, []int{1}, 1, 3},
	{"rank-0 C", 2, 3, 4, true, []int{}, 1, 1},
	{"beta 0 ignores C", 2, 3, 2, true, []int{2}, 1, 0},
	{"odd sizes", 7, 11, 13, true, []int{13}, 1, 1},
	{"large batch parallel", 96, 70, 50, true, []int{50}, 1, 1},
	{"large batch B[K,M]", 80, 64, 60, false, []int{1, 60}, 0.75, 1},
	{"single row transB (dot products)", 1, 300, 40, true, []int{40}, 0.5, -1.5},
	{"batch 8 transB (blocks of dot products, split)", 8, 600, 130, true, []int{130}, 1.25, 0.5},
}

func (tc gemmCase) build(seed uint64) (*graph.Node, []*tensor.Tensor) {
	a := cvRand(seed, tc.n, tc.k)
	b := cvRand(seed+1, tc.k, tc.m)
	if tc.transB {
		b = cvRand(seed+1, tc.m, tc.k)
	}
	in := []*tensor.Tensor{a, b}
	names := []string{"a", "b"}
	if tc.cShape != nil {
		in = append(in, cvRand(seed+2, tc.cShape...))
		names = append(names, "c")
	}
	attrs := graph.Attrs{"alpha": tc.alpha, "beta": tc.beta}
	if tc.transB {
		attrs["transB"] = 1
	}
	return &graph.Node{Name: "fc_" + tc.name, Op: graph.OpGemm, Inputs: names, Outputs: []string{"y"}, Attrs: attrs}, in
}

// naiveGemm returns Y and, for dy != nil, the adjoints dA, dB, dC, with C
// indexed through explicit broadcasting rules.
func naiveGemm(tc gemmCase, in []*tensor.Tensor, dy *tensor.Tensor) (y, da, db, dc []float64) {
	a, b := in[0], in[1]
	bAt := func(p, j int) int { // index of op(B)[p, j]
		if tc.transB {
			return j*tc.k + p
		}
		return p*tc.m + j
	}
	cAt := func(i, j int) int {
		s := tc.cShape
		switch {
		case len(s) == 0 || (len(s) == 1 && s[0] == 1):
			return 0
		case len(s) == 1:
			return j
		}
		r, c := i, j
		if s[0] == 1 {
			r = 0
		}
		if s[1] == 1 {
			c = 0
		}
		return r*s[1] + c
	}
	y = make([]float64, tc.n*tc.m)
	da = make([]float64, len(a.Data))
	db = make([]float64, len(b.Data))
	if tc.cShape != nil {
		dc = make([]float64, tensor.Size(tc.cShape))
	}
	for i := range tc.n {
		for j := range tc.m {
			s := 0.0
			for p := range tc.k {
				s += float64(a.Data[i*tc.k+p]) * float64(b.Data[bAt(p, j)])
			}
			y[i*tc.m+j] = float64(tc.alpha) * s
			if tc.cShape != nil {
				y[i*tc.m+j] += float64(tc.beta) * float64(in[2].Data[cAt(i, j)])
			}
			if dy == nil {
				continue
			}
			g := float64(dy.Data[i*tc.m+j])
			for p := range tc.k {
				da[i*tc.k+p] += float64(tc.alpha) * g * float64(b.Data[bAt(p, j)])
				db[bAt(p, j)] += float64(tc.alpha) * g * float64(a.Data[i*tc.k+p])
			}
			if dc != nil {
				dc[cAt(i, j)] += float64(tc.beta) * g
			}
		}
	}
	return y, da, db, dc
}

func TestGemmMatchesNaive(t *testing.T) {
	for i, tc := range gemmCases {
		t.Run(tc.name, func(t *testing.T) {
			n, in := tc.build(uint64(200 + 10*i))
			k := cvCompile(t, n)
			y := cvForward(t, k, true, in...)
			dy := cvRand(uint64(205+10*i), tc.n, tc.m)
			want, da, db, dc := naiveGemm(tc, in, dy)
			if !tensor.SameShape(y.Shape, []int{tc.n, tc.m}) {
				t.Fatalf("shape %v", y.Shape)
			}
			if msg := cvClose(y.Data, want, 1e-4); msg != "" {
				t.Fatalf("Y: %s", msg)
			}
			need := make([]bool, len(in))
			for j := range need {
				need[j] = true
			}
			g := cvBackward(t, k, in, y, dy, need)
			for j, want := range [][]float64{da, db, dc}[:len(in)] {
				if msg := cvClose(g[j].Data, want, 1e-4); msg != "" {
					t.Errorf("gradient %d: %s", j, msg)
				}
				if !tensor.SameShape(g[j].Shape, in[j].Shape) {
					t.Errorf("gradient %d shape %v, want %v", j, g[j].Shape, in[j].Shape)
				}
			}
			// Gradients only where needed.
			g = cvBackward(t, k, in, y, dy, append([]bool{false, true}, need[2:]...))
			if g[0] != nil || g[1] == nil {
				t.Error("need {false, true}: wrong set of gradients")
			}
		})
	}
}

func TestGemmGradCheck(t *testing.T) {
	for i, tc := range gemmCases {
		if tc.n*tc.k > 100 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			n, in := tc.build(uint64(400 + 10*i))
			params := map[string]*tensor.Tensor{"b": in[1]}
			if len(in) > 2 {
				params["c"] = in[2]
			}
			if err := CheckOp(n, map[string]*tensor.Tensor{"a": in[0]}, params, GradCheck{MaxPerTensor: 64}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGemmErrors(t *testing.T) {
	mk := func(attrs graph.Attrs) *graph.Node {
		return &graph.Node{Name: "fc", Op: graph.OpGemm, Inputs: []string{"a", "b", "c"}, Outputs: []string{"y"}, Attrs: attrs}
	}
	for _, tc := range []struct {
		name  string
		attrs graph.Attrs
		frag  []string
	}{
		{"transA", graph.Attrs{"transA": 1}, []string{`node "fc" (Gemm)`, "transA=1 is not supported"}},
		{"transB 2", graph.Attrs{"transB": 2}, []string{"fc", "transB 2"}},
		{"unknown", graph.Attrs{"broadcast": 1}, []string{"fc", "broadcast"}},
	} {
		t.Run("factory "+tc.name, func(t *testing.T) {
			_, err := Compile(mk(tc.attrs))
			cvWantErr(t, err, tc.frag...)
		})
	}
	for _, tc := range []struct {
		name   string
		transB bool
		in     []*tensor.Tensor
		frag   []string
	}{
		{"inner mismatch", false, []*tensor.Tensor{tensor.New(2, 3), tensor.New(4, 5)}, []string{"inner sizes differ", "[2 3]", "[4 5]"}},
		{"inner mismatch transB", true, []*tensor.Tensor{tensor.New(2, 3), tensor.New(3, 5)}, []string{"inner sizes differ"}},
		{"3-D A", false, []*tensor.Tensor{tensor.New(2, 3, 1), tensor.New(3, 5)}, []string{"must be 2-D"}},
		{"C wrong length", false, []*tensor.Tensor{tensor.New(2, 3), tensor.New(3, 5), tensor.New(4)}, []string{"C [4] does not broadcast to [2 5]"}},
		{"C wrong rows", false, []*tensor.Tensor{tensor.New(2, 3), tensor.New(3, 5), tensor.New(3, 5)}, []string{"does not broadcast"}},
		{"C rank 3", false, []*tensor.Tensor{tensor.New(2, 3), tensor.New(3, 5), tensor.New(1, 1, 5)}, []string{"does not broadcast"}},
		{"missing B", false, []*tensor.Tensor{tensor.New(2, 3), nil}, []string{"needs inputs A and B"}},
	} {
		t.Run("forward "+tc.name, func(t *testing.T) {
			attrs := graph.Attrs{}
			if tc.transB {
				attrs["transB"] = 1
			}
			_, err := cvCompile(t, mk(attrs)).Forward(&Ctx{}, tc.in)
			cvWantErr(t, err, tc.frag...)
		})
	}
}

func TestGemmDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	tc := gemmCases[9]
	run := func() []*tensor.Tensor {
		n, in := tc.build(3)
		k := cvCompile(t, n)
		y := cvForward(t, k, true, in...)
		g := cvBackward(t, k, in, y, cvRand(4, y.Shape...), []bool{true, true, true})
		return append([]*tensor.Tensor{y}, g...)
	}
	a, b := run(), run()
	for i := range a {
		if !cvBitEqual(a[i], b[i]) {
			t.Errorf("%s differs between runs", fmt.Sprint("result ", i))
		}
	}
}
