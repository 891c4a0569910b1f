package engine

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

type poolCase struct {
	name       string
	n, c, h, w int
	g          refGeom
	countPad   bool // AveragePool only
}

func cvPoolGeom(k, s, pad, dil int, ceil bool) refGeom {
	g := cvGeom(k, k, s, pad, dil, 1)
	g.ceil = ceil
	return g
}

var poolCases = []poolCase{
	{"2x2 stride2", 2, 3, 6, 8, cvPoolGeom(2, 2, 0, 1, false), false},
	{"2x2 stride2 odd floor", 2, 2, 7, 5, cvPoolGeom(2, 2, 0, 1, false), false},
	{"2x2 stride2 odd ceil", 2, 2, 7, 5, cvPoolGeom(2, 2, 0, 1, true), false},
	{"3x3 stride2 pad1", 2, 3, 7, 7, cvPoolGeom(3, 3, 2, 1, false), false},
	{"3x3 stride2 pad1 countpad", 2, 3, 7, 7, cvPoolGeom(3, 3, 2, 1, false), true},
	{"3x3 stride2 pad1 ceil countpad", 1, 3, 8, 6, cvPoolGeom(3, 2, 1, 1, true), true},
	{"3x3 stride1 pad1", 2, 2, 5, 6, cvPoolGeom(3, 1, 1, 1, false), false},
	{"dilation2", 2, 2, 9, 8, cvPoolGeom(3, 1, 2, 2, false), false},
	{"dilation2 ceil stride2", 1, 3, 10, 9, cvPoolGeom(2, 2, 1, 2, true), true},
	{"rect asym", 2, 2, 7, 9, refGeom{kh: 2, kw: 3, sh: 1, sw: 2, padT: 1, padL: 0, padB: 0, padR: 2, dh: 1, dw: 1, group: 1}, true},
	{"whole plane", 3, 2, 4, 4, cvPoolGeom(4, 1, 0, 1, false), false},
	{"large parallel", 8, 16, 12, 12, cvPoolGeom(3, 2, 1, 1, true), false},
	// Inference passes of 3x3 pad-1 max pools at stride 1 or 2 take
	// kernels.MaxPool3x3 ("3x3 stride1 pad1" above, on the long-row path,
	// and these two, whose rows are long enough for the row-by-row path);
	// the check that inference gives the training pass's output covers
	// them.
	{"3x3 stride2 pad1 wide", 2, 3, 20, 70, cvPoolGeom(3, 2, 1, 1, false), false},
	{"3x3 stride1 pad1 wide", 1, 2, 9, 40, cvPoolGeom(3, 1, 1, 1, false), false},
	// 2x2 stride-2 pools at inference take kernels.MaxPool2x2 (vector rows
	// from 16 outputs: this one, odd width, and "2x2 stride2" and its odd
	// floor case above on the Go rows).
	{"2x2 stride2 wide", 2, 3, 6, 67, cvPoolGeom(2, 2, 0, 1, false), false},
}

func (tc poolCase) node(op string) *graph.Node {
	a := tc.g.attrs()
	a["kernel_shape"] = []int{tc.g.kh, tc.g.kw}
	if tc.countPad && op == graph.OpAveragePool {
		a["count_include_pad"] = 1
	}
	return &graph.Node{Name: "pool_" + tc.name, Op: op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: a}
}

func TestPoolMatchesNaive(t *testing.T) {
	for i, tc := range poolCases {
		for _, op := range []string{graph.OpMaxPool, graph.OpAveragePool} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				isMax := op == graph.OpMaxPool
				x := cvRand(uint64(600+i), tc.n, tc.c, tc.h, tc.w)
				k := cvCompile(t, tc.node(op))
				y := cvForward(t, k, true, x)
				want, shape := naivePool(x, tc.g, isMax, tc.countPad)
				if !tensor.SameShape(y.Shape, shape) {
					t.Fatalf("shape %v, want %v", y.Shape, shape)
				}
				if msg := cvClose(y.Data, want, 1e-5); msg != "" {
					t.Fatalf("Y: %s", msg)
				}
				dy := cvRand(uint64(700+i), y.Shape...)
				g := cvBackward(t, k, []*tensor.Tensor{x}, y, dy, []bool{true})
				if msg := cvClose(g[0].Data, naivePoolAdjoint(x, dy, tc.g, isMax, tc.countPad), 1e-5); msg != "" {
					t.Fatalf("dX: %s", msg)
				}
				// Inference gives the same output.
				if yi := cvForward(t, k, false, x); !cvBitEqual(yi, y) {
					t.Error("inference output differs from training output")
				}
			})
		}
	}
}

func TestPoolGradCheck(t *testing.T) {
	for i, tc := range poolCases {
		if tc.n*tc.c*tc.h*tc.w > 300 {
			continue
		}
		for _, op := range []string{graph.OpMaxPool, graph.OpAveragePool} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				// Values 0.05 apart: the 0.01 step never changes a window's maximum.
				x := cvPermuted(uint64(800+i), 0.05, tc.n, tc.c, tc.h, tc.w)
				if err := CheckOp(tc.node(op), map[string]*tensor.Tensor{"x": x}, nil, GradCheck{MaxPerTensor: 64}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestMaxPoolTies checks PyTorch's tie rule: the first maximum in window
// order gets the gradient, exactly once.
func TestMaxPoolTies(t *testing.T) {
	x := tensor.From([]float32{1, 3, 3, 0, 2, 3, 3, 3, 0}, 1, 1, 3, 3)
	k := cvCompile(t, poolCase{g: cvPoolGeom(2, 1, 0, 1, false)}.node(graph.OpMaxPool))
	y := cvForward(t, k, true, x)
	dy := tensor.From([]float32{1, 10, 100, 1000}, 1, 1, 2, 2)
	g := cvBackward(t, k, []*tensor.Tensor{x}, y, dy, []bool{true})
	// Windows: {1,3,0,2}->x[1]; {3,3,2,3}->x[1]; {0,2,3,3}->x[6]; {2,3,3,0}->x[5].
	want := []float64{0, 11, 0, 0, 0, 1000, 100, 0, 0}
	if msg := cvClose(g[0].Data, want, 0); msg != "" {
		t.Fatal(msg)
	}
}

func TestGlobalAveragePool(t *testing.T) {
	for i, shape := range [][]int{{2, 3, 4, 5}, {1, 1, 1, 1}, {3, 2, 7, 7}, {16, 16, 9, 9}} {
		x := cvRand(uint64(900+i), shape...)
		n := &graph.Node{Name: "gap", Op: graph.OpGlobalAvg, Inputs: []string{"x"}, Outputs: []string{"y"}}
		k := cvCompile(t, n)
		y := cvForward(t, k, true, x)
		// Reference: AveragePool with a whole-plane window.
		whole := refGeom{kh: shape[2], kw: shape[3], sh: 1, sw: 1, dh: 1, dw: 1, group: 1}
		want, wshape := naivePool(x, whole, false, false)
		if !tensor.SameShape(y.Shape, wshape) {
			t.Fatalf("%v: shape %v, want %v", shape, y.Shape, wshape)
		}
		if msg := cvClose(y.Data, want, 1e-6); msg != "" {
			t.Fatalf("%v: %s", shape, msg)
		}
		dy := cvRand(uint64(950+i), y.Shape...)
		g := cvBackward(t, k, []*tensor.Tensor{x}, y, dy, []bool{true})
		if msg := cvClose(g[0].Data, naivePoolAdjoint(x, dy, whole, false, false), 1e-6); msg != "" {
			t.Fatalf("%v dX: %s", shape, msg)
		}
		if tensor.Size(shape) <= 200 {
			if err := CheckOp(n, map[string]*tensor.Tensor{"x": x}, nil, GradCheck{MaxPerTensor: 64}); err != nil {
				t.Fatalf("%v: %v", shape, err)
			}
		}
	}
}

func TestPoolErrors(t *testing.T) {
	mk := func(op string, attrs graph.Attrs) *graph.Node {
		return &graph.Node{Name: "pool1", Op: op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: attrs}
	}
	k3 := []int{3, 3}
	for _, tc := range []struct {
		name  string
		op    string
		attrs graph.Attrs
		frag  []string
	}{
		{"auto_pad same", graph.OpMaxPool, graph.Attrs{"kernel_shape": k3, "auto_pad": "SAME_LOWER"}, []string{`node "pool1" (MaxPool)`, `auto_pad "SAME_LOWER"`}},
		{"no kernel_shape", graph.OpAveragePool, graph.Attrs{}, []string{`node "pool1" (AveragePool)`, "kernel_shape"}},
		{"3-D kernel_shape", graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{2, 2, 2}}, []string{"pool1", "kernel_shape"}},
		{"storage_order", graph.OpMaxPool, graph.Attrs{"kernel_shape": k3, "storage_order": 1}, []string{"pool1", "storage_order 1"}},
		{"count_include_pad on max", graph.OpMaxPool, graph.Attrs{"kernel_shape": k3, "count_include_pad": 1}, []string{"pool1", "count_include_pad"}},
		{"count_include_pad 2", graph.OpAveragePool, graph.Attrs{"kernel_shape": k3, "count_include_pad": 2}, []string{"pool1", "count_include_pad 2"}},
		{"group", graph.OpAveragePool, graph.Attrs{"kernel_shape": k3, "group": 2}, []string{"pool1", "group"}},
		{"zero stride", graph.OpMaxPool, graph.Attrs{"kernel_shape": k3, "strides": []int{0, 0}}, []string{"pool1", "geometry"}},
		{"global with attr", graph.OpGlobalAvg, graph.Attrs{"kernel_shape": k3}, []string{`node "pool1" (GlobalAveragePool)`, "kernel_shape"}},
	} {
		t.Run("factory "+tc.name, func(t *testing.T) {
			_, err := Compile(mk(tc.op, tc.attrs))
			cvWantErr(t, err, tc.frag...)
		})
	}
	for _, tc := range []struct {
		name  string
		op    string
		attrs graph.Attrs
		in    []*tensor.Tensor
		frag  []string
	}{
		{"window larger than padded input", graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{5, 5}, "pads": []int{1, 1, 1, 1}}, []*tensor.Tensor{tensor.New(1, 1, 2, 2)}, []string{"smaller than the dilated 5x5 window"}},
		{"dilated window too large", graph.OpAveragePool, graph.Attrs{"kernel_shape": k3, "dilations": []int{3, 3}}, []*tensor.Tensor{tensor.New(1, 1, 6, 6)}, []string{"dilated 7x7"}},
		{"3-D input", graph.OpMaxPool, graph.Attrs{"kernel_shape": k3}, []*tensor.Tensor{tensor.New(1, 5, 5)}, []string{"must be 4-D"}},
		{"no input", graph.OpAveragePool, graph.Attrs{"kernel_shape": k3}, nil, []string{"needs input X"}},
		{"global 2-D", graph.OpGlobalAvg, nil, []*tensor.Tensor{tensor.New(2, 3)}, []string{"must be 4-D"}},
		{"global empty plane", graph.OpGlobalAvg, nil, []*tensor.Tensor{tensor.New(2, 3, 0, 4)}, []string{"non-empty plane"}},
	} {
		t.Run("forward "+tc.name, func(t *testing.T) {
			_, err := cvCompile(t, mk(tc.op, tc.attrs)).Forward(&Ctx{}, tc.in)
			cvWantErr(t, err, tc.frag...)
		})
	}
	t.Run("maxpool backward after inference", func(t *testing.T) {
		k := cvCompile(t, mk(graph.OpMaxPool, graph.Attrs{"kernel_shape": []int{2, 2}}))
		x := cvRand(1, 1, 2, 4, 4)
		y := cvForward(t, k, false, x)
		_, err := k.Backward(&Ctx{}, []*tensor.Tensor{x}, []*tensor.Tensor{y}, []*tensor.Tensor{y}, []bool{true})
		cvWantErr(t, err, "training-mode forward")
	})
}

func TestPoolDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	tc := poolCases[len(poolCases)-1]
	for _, op := range []string{graph.OpMaxPool, graph.OpAveragePool} {
		run := func() []*tensor.Tensor {
			x := cvRand(3, tc.n, tc.c, tc.h, tc.w)
			k := cvCompile(t, tc.node(op))
			y := cvForward(t, k, true, x)
			g := cvBackward(t, k, []*tensor.Tensor{x}, y, cvRand(4, y.Shape...), []bool{true})
			return []*tensor.Tensor{y, g[0]}
		}
		a, b := run(), run()
		if !cvBitEqual(a[0], b[0]) || !cvBitEqual(a[1], b[1]) {
			t.Errorf("%s: two runs differ", op)
		}
	}
}

// TestPool3x3Path checks which pool cases take kernels.MaxPool3x3 and
// kernels.MaxPool2x2 in inference.
func TestPool3x3Path(t *testing.T) {
	want := map[string]bool{"3x3 stride1 pad1": true, "3x3 stride2 pad1 wide": true, "3x3 stride1 pad1 wide": true}
	want2 := map[string]bool{"2x2 stride2": true, "2x2 stride2 odd floor": true, "2x2 stride2 wide": true}
	for _, tc := range poolCases {
		k := cvCompile(t, tc.node(graph.OpMaxPool)).(*poolKernel)
		s, err := k.shape([]*tensor.Tensor{tensor.New(tc.n, tc.c, tc.h, tc.w)})
		if err != nil {
			t.Fatal(err)
		}
		if got := isPool3x3(s); got != want[tc.name] {
			t.Errorf("%s: isPool3x3 %v, want %v", tc.name, got, want[tc.name])
		}
		if got := isPool2x2(s); got != want2[tc.name] {
			t.Errorf("%s: isPool2x2 %v, want %v", tc.name, got, want2[tc.name])
		}
	}
}

// TestMaxPlaneInteriorPath compares maxPlane, which takes a fast loop for
// 3x3 windows wholly inside the plane, with maxWindow on every output:
// values and argmax indices must be identical, on planes of 1 to 9 rows
// and columns, pads 0 to 2, strides 1 to 3, inputs with many ties (small
// integers) and NaNs.
func TestMaxPlaneInteriorPath(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := range 400 {
		s := kernels.ConvShape{KH: 3, KW: 3, DH: 1, DW: 1, H: 1 + r.IntN(9), W: 1 + r.IntN(9),
			SH: 1 + r.IntN(3), SW: 1 + r.IntN(3), PadT: r.IntN(3), PadL: r.IntN(3)}
		s.OH = (s.H+2*s.PadT-3)/s.SH + 1
		s.OW = (s.W+2*s.PadL-3)/s.SW + 1
		if s.OH < 1 || s.OW < 1 {
			continue
		}
		x := make([]float32, s.H*s.W)
		for i := range x {
			x[i] = float32(r.IntN(4))
			if r.IntN(20) == 0 {
				x[i] = float32(math.NaN())
			}
		}
		y, want := make([]float32, s.OH*s.OW), make([]float32, s.OH*s.OW)
		arg, wantArg := make([]int32, len(y)), make([]int32, len(y))
		maxPlane(s, x, y, arg)
		for oy := range s.OH {
			for ox := range s.OW {
				maxWindow(s, x, want, wantArg, oy, ox)
			}
		}
		for i := range y {
			same := y[i] == want[i] || (y[i] != y[i] && want[i] != want[i])
			if !same || arg[i] != wantArg[i] {
				t.Fatalf("trial %d %+v: output %d = %g at %d, want %g at %d", trial, s, i, y[i], arg[i], want[i], wantArg[i])
			}
		}
	}
}

// BenchmarkMaxPlaneTrain times maxPlane (a worker's scratch) with argmax on a resnet18 stem's
// max pool plane (112x112, 3x3, stride 2, pad 1).
func BenchmarkMaxPlaneTrain(b *testing.B) {
	s := kernels.ConvShape{KH: 3, KW: 3, DH: 1, DW: 1, H: 112, W: 112, SH: 2, SW: 2, PadT: 1, PadL: 1, OH: 56, OW: 56}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, s.H*s.W)
	for i := range x {
		x[i] = r.Float32()
	}
	y, arg := make([]float32, s.OH*s.OW), make([]int32, s.OH*s.OW)
	var sc maxScratch // a worker's, as in Forward
	for b.Loop() {
		maxPlaneSc(s, x, y, arg, &sc)
	}
}

// TestMaxPlaneVectorRows routes every interior row, however short, through
// the vector rows (max3x3Vec: strides 1 and 2 along the row) on planes up
// to 45 wide with ties and NaNs, against the window loop: values and
// argmax, bit for bit.
func TestMaxPlaneVectorRows(t *testing.T) {
	defer func(old int) { maxVecMin = old }(maxVecMin)
	r := rand.New(rand.NewPCG(11, 12))
	for _, vecMin := range []int{1, 8} {
		maxVecMin = vecMin
		for trial := range 300 {
			s := kernels.ConvShape{KH: 3, KW: 3, DH: 1, DW: 1, H: 3 + r.IntN(8), W: 3 + r.IntN(43),
				SH: 1 + r.IntN(2), SW: 1 + r.IntN(2), PadT: r.IntN(2), PadL: r.IntN(2)}
			s.OH = (s.H+2*s.PadT-3)/s.SH + 1
			s.OW = (s.W+2*s.PadL-3)/s.SW + 1
			x := make([]float32, s.H*s.W)
			for i := range x {
				x[i] = float32(r.IntN(4)) - 1
				if r.IntN(25) == 0 {
					x[i] = float32(math.NaN())
				}
			}
			y, want := make([]float32, s.OH*s.OW), make([]float32, s.OH*s.OW)
			arg, wantArg := make([]int32, len(y)), make([]int32, len(y))
			maxPlane(s, x, y, arg)
			y2 := make([]float32, len(y)) // without argmax (inference)
			maxPlane(s, x, y2, nil)
			for oy := range s.OH {
				for ox := range s.OW {
					maxWindow(s, x, want, wantArg, oy, ox)
				}
			}
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) || arg[i] != wantArg[i] || math.Float32bits(y2[i]) != math.Float32bits(want[i]) {
					t.Fatalf("min %d trial %d %+v: output %d = %g at %d, want %g at %d", vecMin, trial, s, i, y[i], arg[i], want[i], wantArg[i])
				}
			}
		}
	}
}

// TestMaxPoolOnRecycledBuffer runs every inference MaxPool case with its
// output recycled from a NaN-filled buffer of the pool (the 2x2 and 3x3
// fast paths skip the zeroing): the outputs must equal those on a fresh
// buffer, bit for bit.
func TestMaxPoolOnRecycledBuffer(t *testing.T) {
	for i, tc := range poolCases {
		k := cvCompile(t, tc.node(graph.OpMaxPool))
		x := cvRand(uint64(300+i), tc.n, tc.c, tc.h, tc.w)
		fresh := cvForward(t, k, false, x)
		ctx := &Ctx{pool: NewPool()}
		junk := ctx.pool.Get(fresh.Shape...)
		for j := range junk.Data {
			junk.Data[j] = float32(math.NaN())
		}
		ctx.pool.Reset()
		out, err := k.Forward(ctx, []*tensor.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		if &out[0].Data[0] != &junk.Data[0] {
			t.Fatalf("%s: the output was not the recycled buffer", tc.name)
		}
		if !cvBitEqual(out[0], fresh) {
			t.Errorf("%s: output on a recycled buffer differs", tc.name)
		}
	}
}
