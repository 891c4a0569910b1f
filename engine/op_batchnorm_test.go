package engine

import (
	"math"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

type bnCase struct {
	name     string
	shape    []int
	attrs    graph.Attrs
	offset   float32 // added to X: a large channel mean
	eps, mom float64 // what attrs say (or the defaults)
}

var bnCases = []bnCase{
	{"2-D", []int{6, 3}, nil, 0, 1e-5, 0.9},
	{"4-D", []int{2, 3, 4, 5}, nil, 0, 1e-5, 0.9},
	{"3-D", []int{3, 2, 5}, nil, 0, 1e-5, 0.9},
	{"4-D one channel", []int{5, 1, 2, 3}, nil, 0, 1e-5, 0.9},
	{"eps and momentum", []int{2, 4, 3, 3}, graph.Attrs{"epsilon": float32(1e-2), "momentum": float32(0.7)}, 0, float64(float32(1e-2)), float64(float32(0.7))},
	{"large mean", []int{4, 2, 3, 3}, nil, 300, 1e-5, 0.9},
	{"parallel channels", []int{8, 16, 12, 12}, nil, 0, 1e-5, 0.9},
}

// build returns the node and X, scale, B, mean, var for a case.
func (tc bnCase) build(seed uint64) (*graph.Node, []*tensor.Tensor) {
	c := tc.shape[1]
	x := cvRand(seed, tc.shape...)
	for i := range x.Data {
		x.Data[i] = x.Data[i]*1.5 + tc.offset
	}
	scale := cvRand(seed+1, c)
	b := cvRand(seed+2, c)
	mean := cvRand(seed+3, c)
	vr := tensor.New(c)
	vr.FillUniform(tensor.NewRNG(seed+4), 0.5, 2)
	n := &graph.Node{Name: "bn_" + tc.name, Op: graph.OpBN, Inputs: []string{"x", "s", "b", "m", "v"}, Outputs: []string{"y"}, Attrs: tc.attrs}
	return n, []*tensor.Tensor{x, scale, b, mean, vr}
}

func TestBNForwardMatchesNaive(t *testing.T) {
	for i, tc := range bnCases {
		for _, train := range []bool{false, true} {
			mode := map[bool]string{false: "/inference", true: "/training"}[train]
			t.Run(tc.name+mode, func(t *testing.T) {
				n, in := tc.build(uint64(40 + i))
				oldMean, oldVar := in[3].Clone(), in[4].Clone()
				want, bmean, _, bvarU := naiveBN(in[0], in[1], in[2], oldMean, oldVar, tc.eps, train)
				y := cvForward(t, cvCompile(t, n), train, in...)
				if !tensor.SameShape(y.Shape, tc.shape) {
					t.Fatalf("shape %v, want %v", y.Shape, tc.shape)
				}
				tol := 1e-5
				if tc.offset != 0 {
					tol = 1e-4 // float32 X itself carries |offset|*6e-8 of rounding
				}
				if msg := cvClose(y.Data, want, tol); msg != "" {
					t.Fatal(msg)
				}
				// Running statistics: untouched at inference, momentum update in training.
				wantMean := make([]float64, len(bmean))
				wantVar := make([]float64, len(bmean))
				for c := range bmean {
					wantMean[c], wantVar[c] = float64(oldMean.Data[c]), float64(oldVar.Data[c])
					if train {
						wantMean[c] = tc.mom*wantMean[c] + (1-tc.mom)*bmean[c]
						wantVar[c] = tc.mom*wantVar[c] + (1-tc.mom)*bvarU[c]
					}
				}
				if msg := cvClose(in[3].Data, wantMean, 1e-5); msg != "" {
					t.Errorf("running mean: %s", msg)
				}
				if msg := cvClose(in[4].Data, wantVar, 1e-5); msg != "" {
					t.Errorf("running var: %s", msg)
				}
			})
		}
	}
}

// TestBNStatsFarSample puts a channel's first value, the sample the batch
// statistics are shifted by, hundreds of standard deviations from the mean
// of 100k values: a single shifted pass in float32 would lose the variance
// to cancellation; the statistics must still match the float64 reference.
func TestBNStatsFarSample(t *testing.T) {
	tc := bnCase{name: "far sample", shape: []int{64, 2, 40, 40}, eps: 1e-5, mom: 0.9}
	n, in := tc.build(77)
	in[0].Data[0] = 300 // channel 0's shift sample
	oldMean, oldVar := in[3].Clone(), in[4].Clone()
	want, bmean, _, bvarU := naiveBN(in[0], in[1], in[2], oldMean, oldVar, tc.eps, true)
	y := cvForward(t, cvCompile(t, n), true, in...)
	if msg := cvClose(y.Data, want, 1e-4); msg != "" {
		t.Error(msg)
	}
	for c := range bmean {
		wm := tc.mom*float64(oldMean.Data[c]) + (1-tc.mom)*bmean[c]
		wv := tc.mom*float64(oldVar.Data[c]) + (1-tc.mom)*bvarU[c]
		if math.Abs(float64(in[3].Data[c])-wm) > 1e-5*(1+math.Abs(wm)) || math.Abs(float64(in[4].Data[c])-wv) > 1e-5*(1+wv) {
			t.Errorf("channel %d: running mean/var %g %g, want %g %g", c, in[3].Data[c], in[4].Data[c], wm, wv)
		}
	}
}

func TestBNBackwardMatchesNaive(t *testing.T) {
	for i, tc := range bnCases {
		t.Run(tc.name, func(t *testing.T) {
			n, in := tc.build(uint64(60 + i))
			k := cvCompile(t, n)
			y := cvForward(t, k, true, in...)
			dy := cvRand(uint64(70+i), y.Shape...)
			g := cvBackward(t, k, in, y, dy, []bool{true, true, true, false, false})
			dx, ds, db := naiveBNBackward(in[0], in[1], dy, tc.eps)
			if msg := cvClose(g[0].Data, dx, 1e-4); msg != "" {
				t.Errorf("dX: %s", msg)
			}
			if msg := cvClose(g[1].Data, ds, 1e-4); msg != "" {
				t.Errorf("dScale: %s", msg)
			}
			if msg := cvClose(g[2].Data, db, 1e-4); msg != "" {
				t.Errorf("dB: %s", msg)
			}
			if g[3] != nil || g[4] != nil {
				t.Error("running statistics got a gradient")
			}
			// Only what is asked for.
			g = cvBackward(t, k, in, y, dy, []bool{false, true, false, false, false})
			if g[0] != nil || g[1] == nil || g[2] != nil {
				t.Errorf("need {false,true,false}: got dX %v, dScale %v, dB %v", g[0] != nil, g[1] != nil, g[2] != nil)
			}
		})
	}
}

func TestBNGradCheck(t *testing.T) {
	for i, tc := range bnCases {
		if tensor.Size(tc.shape) > 200 || tc.offset != 0 {
			continue // large offsets need a larger float32 step; covered by the naive test
		}
		t.Run(tc.name, func(t *testing.T) {
			n, in := tc.build(uint64(80 + i))
			params := map[string]*tensor.Tensor{"s": in[1], "b": in[2], "m": in[3], "v": in[4]}
			if err := CheckOp(n, map[string]*tensor.Tensor{"x": in[0]}, params, GradCheck{MaxPerTensor: 64}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBNErrors(t *testing.T) {
	mk := func(attrs graph.Attrs) *graph.Node {
		return &graph.Node{Name: "bn1", Op: graph.OpBN, Inputs: []string{"x", "s", "b", "m", "v"}, Outputs: []string{"y"}, Attrs: attrs}
	}
	for _, tc := range []struct {
		name  string
		attrs graph.Attrs
		frag  []string
	}{
		{"negative epsilon", graph.Attrs{"epsilon": float32(-1)}, []string{`node "bn1" (BatchNormalization)`, "epsilon"}},
		{"momentum above 1", graph.Attrs{"momentum": float32(1.5)}, []string{"bn1", "momentum"}},
		{"spatial 0", graph.Attrs{"spatial": 0}, []string{"bn1", "spatial 0"}},
		{"unknown", graph.Attrs{"axis": 2}, []string{"bn1", "axis"}},
	} {
		t.Run("factory "+tc.name, func(t *testing.T) {
			_, err := Compile(mk(tc.attrs))
			cvWantErr(t, err, tc.frag...)
		})
	}
	c3 := func() *tensor.Tensor { return tensor.New(3) }
	for _, tc := range []struct {
		name  string
		train bool
		in    []*tensor.Tensor
		frag  []string
	}{
		{"scale length", false, []*tensor.Tensor{tensor.New(2, 3, 2, 2), tensor.New(4), c3(), c3(), c3()}, []string{"scale has shape [4], want [3]"}},
		{"var length", false, []*tensor.Tensor{tensor.New(2, 3), c3(), c3(), c3(), tensor.New(2)}, []string{"var has shape [2]"}},
		{"1-D input", false, []*tensor.Tensor{tensor.New(3), c3(), c3(), c3(), c3()}, []string{"no channel axis"}},
		{"missing mean", false, []*tensor.Tensor{tensor.New(2, 3), c3(), c3(), nil, c3()}, []string{"mean is missing"}},
		{"four inputs", false, []*tensor.Tensor{tensor.New(2, 3), c3(), c3(), c3()}, []string{"got 4 inputs"}},
		{"one value per channel", true, []*tensor.Tensor{tensor.New(1, 3), c3(), c3(), c3(), c3()}, []string{"more than one value per channel"}},
	} {
		t.Run("forward "+tc.name, func(t *testing.T) {
			_, err := cvCompile(t, mk(nil)).Forward(&Ctx{Train: tc.train}, tc.in)
			cvWantErr(t, err, tc.frag...)
		})
	}
	t.Run("backward after inference", func(t *testing.T) {
		k := cvCompile(t, mk(nil))
		in := []*tensor.Tensor{tensor.New(2, 3), c3(), c3(), c3(), c3()}
		y := cvForward(t, k, false, in...)
		_, err := k.Backward(&Ctx{}, in, []*tensor.Tensor{y}, []*tensor.Tensor{y}, []bool{true, true, true})
		cvWantErr(t, err, "training-mode forward")
	})
}

// TestBNDeterministic wants identical bits from two training passes with an
// uneven worker split, and a finite result.
func TestBNDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	run := func() []*tensor.Tensor {
		n, in := bnCases[6].build(5)
		k := cvCompile(t, n)
		y := cvForward(t, k, true, in...)
		g := cvBackward(t, k, in, y, cvRand(6, y.Shape...), []bool{true, true, true})
		return []*tensor.Tensor{y.Clone(), g[0].Clone(), g[1].Clone(), g[2].Clone(), in[3], in[4]}
	}
	a, b := run(), run()
	for i := range a {
		if !cvBitEqual(a[i], b[i]) || a[i].HasNaN() {
			t.Errorf("result %d differs between runs or is not finite", i)
		}
	}
}

// BenchmarkBNReluFwdBwd measures a training-mode BatchNormalization with
// its ReLU fused, forward and backward, on resnet20's first-stage shape.
func BenchmarkBNReluFwdBwd(b *testing.B) {
	g := graph.New("bnrelu")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 16, 28, 28}}}
	g.Params["s"] = cvRand(2, 16)
	g.Params["b"] = cvRand(3, 16)
	g.Params["m"] = tensor.New(16)
	g.Params["v"] = tensor.New(16)
	g.Params["v"].Fill(1)
	g.Nodes = []*graph.Node{
		{Name: "bn", Op: graph.OpBN, Inputs: []string{"x", "s", "b", "m", "v"}, Outputs: []string{"n"}},
		{Name: "relu", Op: graph.OpRelu, Inputs: []string{"n"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	e, err := New(g)
	if err != nil {
		b.Fatal(err)
	}
	x := cvRand(4, 128, 16, 28, 28)
	gout := map[string]*tensor.Tensor{"y": cvRand(5, 128, 16, 28, 28)}
	for b.Loop() {
		if _, err := e.Forward(x, true); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Backward(gout); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
