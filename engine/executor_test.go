package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// fanOutGraph reads x twice: y = Identity(x) + Mul(x, s) with s a parameter
// of x's shape, so dy/dx = 1 + s element-wise and dy/ds = x.
func fanOutGraph(shape []int, s *tensor.Tensor) *graph.Graph {
	g := graph.New("fanout")
	g.Inputs = []graph.Value{{Name: "x", Shape: append([]int{-1}, shape[1:]...)}}
	g.Params["s"] = s
	g.Nodes = []*graph.Node{
		{Name: "id", Op: graph.OpIdentity, Inputs: []string{"x"}, Outputs: []string{"a"}},
		{Name: "scale", Op: graph.OpMul, Inputs: []string{"x", "s"}, Outputs: []string{"b"}},
		{Name: "sum", Op: graph.OpAdd, Inputs: []string{"a", "b"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	return g
}

func TestExecutorFanOutAccumulates(t *testing.T) {
	shape := []int{2, 3, 4}
	x, s := ewRand(1, shape...), ewRand(2, shape...)
	g := fanOutGraph(shape, s)
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
		t.Fatal(err)
	}
	dy := ewRand(3, shape...)
	in, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
	if err != nil {
		t.Fatal(err)
	}
	gx := in["x"]
	if gx == nil {
		t.Fatal("no gradient for x")
	}
	for i := range gx.Data {
		if want := dy.Data[i] * (1 + s.Data[i]); abs32(gx.Data[i]-want) > 1e-6 {
			t.Fatalf("dx[%d] = %g, want dy*(1+s) = %g (both paths summed)", i, gx.Data[i], want)
		}
		if want := dy.Data[i] * x.Data[i]; abs32(e.Grads["s"].Data[i]-want) > 1e-6 {
			t.Fatalf("ds[%d] = %g, want dy*x = %g", i, e.Grads["s"].Data[i], want)
		}
	}
	// A second backward of the same pass adds into the parameter gradients.
	if _, err := e.Backward(map[string]*tensor.Tensor{"y": dy}); err != nil {
		t.Fatal(err)
	}
	for i := range dy.Data {
		if want := 2 * dy.Data[i] * x.Data[i]; abs32(e.Grads["s"].Data[i]-want) > 1e-5 {
			t.Fatalf("after two Backward calls ds[%d] = %g, want %g", i, e.Grads["s"].Data[i], want)
		}
	}
	if err := CheckGraph(g, map[string]*tensor.Tensor{"x": x}, GradCheck{}); err != nil {
		t.Fatal(err)
	}
}

// The same value read twice by one node: y = x + x, y = x * x.
func TestExecutorSameValueTwiceInOneNode(t *testing.T) {
	for _, op := range []string{graph.OpAdd, graph.OpMul} {
		t.Run(op, func(t *testing.T) {
			g := graph.New("twice")
			g.Inputs = []graph.Value{{Name: "x", Shape: []int{3, 4}}}
			g.Nodes = []*graph.Node{{Name: "n", Op: op, Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}
			g.Outputs = []graph.Value{{Name: "y"}}
			x := ewRand(4, 3, 4)
			e, _ := New(g)
			if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
				t.Fatal(err)
			}
			dy := ewRand(5, 3, 4)
			in, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
			if err != nil {
				t.Fatal(err)
			}
			for i := range dy.Data {
				want := 2 * dy.Data[i] // d(x+x)/dx = 2
				if op == graph.OpMul {
					want *= x.Data[i] // d(x*x)/dx = 2x
				}
				if abs32(in["x"].Data[i]-want) > 1e-6 {
					t.Fatalf("dx[%d] = %g, want %g", i, in["x"].Data[i], want)
				}
			}
		})
	}
}

func TestExecutorBackwardNeedsTrainingRun(t *testing.T) {
	shape := []int{1, 2}
	g := fanOutGraph(shape, ewRand(1, shape...))
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	dy := map[string]*tensor.Tensor{"y": tensor.New(shape...)}
	if _, err := e.Backward(dy); err == nil {
		t.Fatal("Backward before any Run: want an error")
	}
	if _, err := e.Run(map[string]*tensor.Tensor{"x": tensor.New(shape...)}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Backward(dy); err == nil || !strings.Contains(err.Error(), "training") {
		t.Fatalf("Backward after an inference Run: want an error about training mode, got %v", err)
	}
}

func TestExecutorInputErrors(t *testing.T) {
	g := fanOutGraph([]int{1, 3, 4}, ewRand(1, 1, 3, 4))
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		inputs map[string]*tensor.Tensor
		want   []string
	}{
		{"missing", map[string]*tensor.Tensor{"other": tensor.New(1, 3, 4)}, []string{"missing", `"x"`}},
		{"wrong_rank", map[string]*tensor.Tensor{"x": tensor.New(3, 4)}, []string{`"x"`, "[3 4]", "[-1 3 4]"}},
		{"wrong_dim", map[string]*tensor.Tensor{"x": tensor.New(2, 3, 5)}, []string{`"x"`, "[2 3 5]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Run(tc.inputs, false)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %s", err, w)
				}
			}
		})
	}
	// The dynamic batch dimension accepts any size (s [1,3,4] broadcasts).
	if _, err := e.Run(map[string]*tensor.Tensor{"x": tensor.New(5, 3, 4)}, false); err != nil {
		t.Fatalf("batch 5 on a [-1,3,4] input: %v", err)
	}
}

func TestExecutorUnsupportedOpNamesNode(t *testing.T) {
	g := graph.New("t")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{1, 2}}}
	g.Nodes = []*graph.Node{
		{Name: "ok", Op: graph.OpRelu, Inputs: []string{"x"}, Outputs: []string{"a"}},
		{Name: "weird_node", Op: "FancyOp", Inputs: []string{"a"}, Outputs: []string{"y"}},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	_, err := New(g)
	if err == nil || !strings.Contains(err.Error(), "weird_node") || !strings.Contains(err.Error(), "FancyOp") {
		t.Fatalf("want an error naming weird_node and FancyOp, got %v", err)
	}
}

// A failing kernel's error is wrapped with the node's name and op.
func TestExecutorRunErrorNamesNode(t *testing.T) {
	g := graph.New("t")
	g.Inputs = []graph.Value{{Name: "a", Shape: []int{2, 3}}, {Name: "b", Shape: []int{2, 4}}}
	g.Nodes = []*graph.Node{{Name: "join", Op: graph.OpConcat, Inputs: []string{"a", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"axis": 0}}}
	g.Outputs = []graph.Value{{Name: "y"}}
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Run(map[string]*tensor.Tensor{"a": tensor.New(2, 3), "b": tensor.New(2, 4)}, false)
	if err == nil || !strings.Contains(err.Error(), `"join"`) || !strings.Contains(err.Error(), "Concat") {
		t.Fatalf("want an error naming join (Concat), got %v", err)
	}
}

// Pooled tensors are reused across passes: a second Run with different data
// must not see the first pass's values.
func TestExecutorRepeatedRuns(t *testing.T) {
	shape := []int{2, 3}
	g := fanOutGraph(shape, ewRand(1, shape...))
	e, _ := New(g)
	for seed := uint64(10); seed < 13; seed++ {
		x := ewRand(seed, shape...)
		out, err := e.Forward(x, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x.Data {
			if want := x.Data[i] + x.Data[i]*g.Params["s"].Data[i]; abs32(out.Data[i]-want) > 1e-6 {
				t.Fatalf("pass %d: y[%d] = %g, want %g", seed, i, out.Data[i], want)
			}
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// TestBNReluFusion checks that a BatchNormalization read only by a Relu
// runs fused and gives bit-identical outputs, gradients and running
// statistics to the same net kept apart by an Identity, in both modes; and
// that a BN read twice is not fused.
func TestBNReluFusion(t *testing.T) {
	testBNActFusion(t, graph.Node{Name: "relu", Op: graph.OpRelu}, true)
}

// TestBNClipFusion is TestBNReluFusion for a Clip after the BN (ReLU6, and
// bounds both sides of zero that clip values at both ends): fused, it is
// bit-identical to the BN and Clip apart, on the assembly and the Go path.
// The narrow bounds skip the numeric gradient check: with many values near
// a kink its finite differences cross it.
func TestBNClipFusion(t *testing.T) {
	for _, b := range [][2]float32{{0, 6}, {-0.3, 0.4}} {
		act := graph.Node{Name: "clip", Op: graph.OpClip, Attrs: graph.Attrs{"min": b[0], "max": b[1]}}
		t.Run(fmt.Sprint(b), func(t *testing.T) { testBNActFusion(t, act, b[0] == 0) })
	}
}

// testBNActFusion checks the fusion of a BatchNormalization with the
// activation act (its name, op and attributes) that alone reads it, with
// a numeric gradient check of the fused graph when gradcheck is set.
func testBNActFusion(t *testing.T, act graph.Node, gradcheck bool) {
	build := func(split bool) *graph.Graph {
		g := graph.New("bnrelu")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 5, 6}}}
		g.Params["w"] = cvRand(1, 4, 3, 3, 3)
		g.Params["s"] = cvRand(2, 4)
		g.Params["b"] = cvRand(3, 4)
		g.Params["m"] = cvRand(4, 4)
		g.Params["v"] = tensor.New(4)
		g.Params["v"].Fill(1.5)
		bnOut := "n"
		g.Nodes = []*graph.Node{
			{Name: "conv", Op: graph.OpConv, Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attrs: cvGeom(3, 3, 1, 1, 1, 1).attrs()},
			{Name: "bn", Op: graph.OpBN, Inputs: []string{"c", "s", "b", "m", "v"}, Outputs: []string{"n"}},
		}
		if split {
			g.Nodes = append(g.Nodes, &graph.Node{Name: "id", Op: graph.OpIdentity, Inputs: []string{"n"}, Outputs: []string{"n2"}})
			bnOut = "n2"
		}
		g.Nodes = append(g.Nodes,
			&graph.Node{Name: act.Name, Op: act.Op, Attrs: act.Attrs, Inputs: []string{bnOut}, Outputs: []string{"r"}},
			&graph.Node{Name: "gap", Op: graph.OpGlobalAvg, Inputs: []string{"r"}, Outputs: []string{"y"}})
		g.Outputs = []graph.Value{{Name: "y"}}
		return g
	}
	x := cvRand(5, 4, 3, 5, 6)
	type result struct {
		y, dx  *tensor.Tensor
		grads  map[string]*tensor.Tensor
		params map[string]*tensor.Tensor
		bnVal  *tensor.Tensor
	}
	run := func(g *graph.Graph, train bool) result {
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		var r result
		for range 2 { // a second pass reuses the pool's tensors
			out, err := e.Run(map[string]*tensor.Tensor{"x": x}, train)
			if err != nil {
				t.Fatal(err)
			}
			r.y = out["y"].Clone()
			r.bnVal = e.Value("n")
			if !train {
				continue
			}
			e.ZeroGrad()
			gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(6, out["y"].Shape...)})
			if err != nil {
				t.Fatal(err)
			}
			r.dx = gi["x"].Clone()
		}
		r.grads, r.params = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
		for k, v := range e.Grads {
			r.grads[k] = v.Clone()
		}
		for k, v := range g.Params {
			r.params[k] = v.Clone()
		}
		return r
	}
	for _, train := range []bool{false, true} {
		fused, apart := run(build(false), train), run(build(true), train)
		if fused.bnVal != nil || apart.bnVal == nil {
			t.Errorf("train=%v: BN output kept %v (fused), %v (apart): want dropped only when fused", train, fused.bnVal != nil, apart.bnVal != nil)
		}
		if !cvBitEqual(fused.y, apart.y) {
			t.Errorf("train=%v: fused output differs", train)
		}
		if !train {
			continue
		}
		if !cvBitEqual(fused.dx, apart.dx) {
			t.Errorf("fused input gradient differs")
		}
		for k, v := range apart.grads {
			if !cvBitEqual(fused.grads[k], v) {
				t.Errorf("fused gradient of %q differs", k)
			}
		}
		for k, v := range apart.params {
			if !cvBitEqual(fused.params[k], v) {
				t.Errorf("running statistic / parameter %q differs after the fused pass", k)
			}
		}
	}
	// A BN output that is also a graph output stays a separate value.
	g := build(false)
	g.Outputs = append(g.Outputs, graph.Value{Name: "n"})
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
	if err != nil || out["n"] == nil {
		t.Fatalf("BN output that is a graph output: %v, err %v", out["n"], err)
	}
	if err := CheckGraph(build(false), map[string]*tensor.Tensor{"x": x}, GradCheck{MaxPerTensor: 16}); gradcheck && err != nil {
		t.Fatal(err)
	}
	// Only dScale/dB wanted (no input gradient): the masked gradient goes
	// through scratch and gives the same dScale/dB.
	bn := &graph.Node{Name: "bn", Op: graph.OpBN, Inputs: []string{"x", "s", "b", "m", "v"}, Outputs: []string{"y"}}
	k := cvCompile(t, bn).(*bnKernel)
	k.relu, k.clip = act.Op == graph.OpRelu, act.Op == graph.OpClip
	k.lo, k.hi = act.Attrs.Float("min", 0), act.Attrs.Float("max", 0)
	in := []*tensor.Tensor{cvRand(7, 3, 4, 2, 2), cvRand(8, 4), cvRand(9, 4), tensor.New(4), tensor.New(4)}
	y := cvForward(t, k, true, in...)
	dy := cvRand(10, y.Shape...)
	all := cvBackward(t, k, in, y, dy, []bool{true, true, true})
	some := cvBackward(t, k, in, y, dy, []bool{false, true, true})
	if some[0] != nil || !cvBitEqual(all[1], some[1]) || !cvBitEqual(all[2], some[2]) {
		t.Errorf("fused BN without dX: dScale/dB differ from the full backward pass")
	}
}

// TestAddReluFusion checks that an Add read only by a Relu (a residual
// join) runs fused, with outputs and gradients bit-identical to the same
// net kept apart by an Identity, for a same-shape Add and a broadcast
// (per-channel) one. (The unfused Add and Relu have their own numeric
// gradient checks; a whole-graph one here would cross ReLU kinks.)
func TestAddReluFusion(t *testing.T) {
	build := func(split, bcast bool) *graph.Graph {
		g := graph.New("addrelu")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 5, 6}}}
		g.Params["w1"] = cvRand(11, 4, 3, 3, 3)
		g.Params["w2"] = cvRand(12, 4, 3, 1, 1)
		g.Params["c"] = cvRand(13, 1, 4, 1, 1)
		other := "c2"
		if bcast {
			other = "c"
		}
		g.Nodes = []*graph.Node{
			{Name: "conv1", Op: graph.OpConv, Inputs: []string{"x", "w1"}, Outputs: []string{"c1"}, Attrs: cvGeom(3, 3, 1, 1, 1, 1).attrs()},
			{Name: "conv2", Op: graph.OpConv, Inputs: []string{"x", "w2"}, Outputs: []string{"c2"}, Attrs: cvGeom(1, 1, 1, 0, 1, 1).attrs()},
			{Name: "add", Op: graph.OpAdd, Inputs: []string{"c1", other}, Outputs: []string{"s"}},
		}
		sum := "s"
		if split {
			g.Nodes = append(g.Nodes, &graph.Node{Name: "id", Op: graph.OpIdentity, Inputs: []string{"s"}, Outputs: []string{"s2"}})
			sum = "s2"
		}
		g.Nodes = append(g.Nodes,
			&graph.Node{Name: "relu", Op: graph.OpRelu, Inputs: []string{sum}, Outputs: []string{"r"}},
			&graph.Node{Name: "gap", Op: graph.OpGlobalAvg, Inputs: []string{"r"}, Outputs: []string{"y"}})
		g.Outputs = []graph.Value{{Name: "y"}}
		return g
	}
	x := cvRand(14, 4, 3, 5, 6)
	type result struct {
		y, dx, sum *tensor.Tensor
		grads      map[string]*tensor.Tensor
	}
	run := func(g *graph.Graph) result {
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
		if err != nil {
			t.Fatal(err)
		}
		r := result{y: out["y"].Clone(), sum: e.Value("s"), grads: map[string]*tensor.Tensor{}}
		gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(15, out["y"].Shape...)})
		if err != nil {
			t.Fatal(err)
		}
		r.dx = gi["x"].Clone()
		for k, v := range e.Grads {
			r.grads[k] = v.Clone()
		}
		return r
	}
	for _, bcast := range []bool{false, true} {
		fused, apart := run(build(false, bcast)), run(build(true, bcast))
		if fused.sum != nil || apart.sum == nil {
			t.Errorf("bcast=%v: Add output kept %v (fused), %v (apart): want dropped only when fused", bcast, fused.sum != nil, apart.sum != nil)
		}
		if !cvBitEqual(fused.y, apart.y) || !cvBitEqual(fused.dx, apart.dx) {
			t.Errorf("bcast=%v: fused output or input gradient differs", bcast)
		}
		for k, v := range apart.grads {
			if !cvBitEqual(fused.grads[k], v) {
				t.Errorf("bcast=%v: fused gradient of %q differs", bcast, k)
			}
		}
	}
}

// TestExecutorParamGradsOnly: with SetParamGradsOnly, Backward returns no
// input gradient and the parameters' gradients are bit for bit those of a
// full Backward (a Conv reading the input, Relu, a second Conv); turned
// off again, the input gradient is back.
func TestExecutorParamGradsOnly(t *testing.T) {
	g := graph.New("convs")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 6, 6}}}
	g.Params["w1"], g.Params["w2"] = cvRand(2, 4, 3, 3, 3), cvRand(3, 2, 4, 3, 3)
	pads := cvGeom(3, 3, 1, 1, 1, 1).attrs()
	g.Nodes = []*graph.Node{
		{Name: "c1", Op: graph.OpConv, Inputs: []string{"x", "w1"}, Outputs: []string{"a"}, Attrs: pads.Clone()},
		{Name: "r", Op: graph.OpRelu, Inputs: []string{"a"}, Outputs: []string{"b"}},
		{Name: "c2", Op: graph.OpConv, Inputs: []string{"b", "w2"}, Outputs: []string{"y"}, Attrs: pads.Clone()},
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	x, dy := cvRand(4, 5, 3, 6, 6), cvRand(5, 5, 2, 6, 6)
	run := func(only bool) (map[string]*tensor.Tensor, map[string][]float32) {
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		e.SetParamGradsOnly(only)
		if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
			t.Fatal(err)
		}
		in, err := e.Backward(map[string]*tensor.Tensor{"y": dy})
		if err != nil {
			t.Fatal(err)
		}
		grads := map[string][]float32{}
		for k, v := range e.Grads {
			grads[k] = append([]float32(nil), v.Data...)
		}
		return in, grads
	}
	inAll, all := run(false)
	inOnly, only := run(true)
	if inAll["x"] == nil || len(inOnly) != 0 {
		t.Fatalf("input gradients: full Backward %v, params only %v", inAll["x"] != nil, len(inOnly))
	}
	for _, k := range []string{"w1", "w2"} {
		if len(only[k]) == 0 || len(only[k]) != len(all[k]) {
			t.Fatalf("%s: %d gradient values, want %d", k, len(only[k]), len(all[k]))
		}
		for i := range all[k] {
			if only[k][i] != all[k][i] {
				t.Fatalf("%s[%d] = %g, full Backward %g", k, i, only[k][i], all[k][i])
			}
		}
	}
}

// TestExecutorTiming checks SetTiming's counts: forward passes of both
// modes, Backward calls, and a sum for each node that ran.
func TestExecutorTiming(t *testing.T) {
	shape := []int{2, 3, 4}
	x, s := ewRand(1, shape...), ewRand(2, shape...)
	e, err := New(fanOutGraph(shape, s))
	if err != nil {
		t.Fatal(err)
	}
	if e.NodeTimes() != nil {
		t.Fatal("NodeTimes without SetTiming")
	}
	e.SetTiming(true)
	for range 3 {
		if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Backward(map[string]*tensor.Tensor{"y": ewRand(3, shape...)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, false); err != nil {
		t.Fatal(err)
	}
	nt := e.NodeTimes()
	if len(nt) != 3 {
		t.Fatalf("%d node times, want 3", len(nt))
	}
	for _, n := range nt {
		if n.Passes != 4 || n.BackPasses != 3 {
			t.Errorf("%s: %d forward passes and %d backward, want 4 and 3", n.Name, n.Passes, n.BackPasses)
		}
		if n.Total <= 0 || n.Backward <= 0 {
			t.Errorf("%s: forward %v, backward %v: want both summed", n.Name, n.Total, n.Backward)
		}
	}
	e.SetTiming(false)
	if e.NodeTimes() != nil {
		t.Fatal("NodeTimes after SetTiming(false)")
	}
}
