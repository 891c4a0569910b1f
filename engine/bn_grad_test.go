package engine

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// bnGradNet is a small graph with every kind of Conv -> BN pair: 3x3 pad 1
// (implicit lowering; Winograd input gradient on small maps) with a fused
// ReLU, 3x3 stride 2 (polyphase), a 1x1 stride-2 Conv with a bias before a
// fused Clip (the deferred gradient materialised for the bias gradient), a
// depthwise Conv (materialised), a grouped 3x3, and a Conv read by a BN and
// an Add (not deferred). Input x is [N, 4, H, W]. smooth replaces the
// activations by Identity, for a numeric gradient check away from kinks.
func bnGradNet(smooth bool) *graph.Graph {
	g := graph.New("bngrad")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 4, -1, -1}}}
	conv := func(name, in string, wshape []int, geo refGeom, bias bool) *graph.Node {
		g.Params[name+".w"] = cvRand(uint64(len(g.Params)+1), wshape...)
		ins := []string{in, name + ".w"}
		if bias {
			g.Params[name+".b"] = cvRand(uint64(len(g.Params)+1), wshape[0])
			ins = append(ins, name+".b")
		}
		return &graph.Node{Name: name, Op: graph.OpConv, Inputs: ins, Outputs: []string{name}, Attrs: geo.attrs()}
	}
	bn := func(name, in string, c int) *graph.Node {
		for i, p := range []string{".s", ".b", ".m", ".v"} {
			t := cvRand(uint64(len(g.Params)+1), c)
			if i == 3 {
				for j := range t.Data {
					t.Data[j] = 1 + t.Data[j]*t.Data[j]
				}
			}
			g.Params[name+p] = t
		}
		return &graph.Node{Name: name, Op: graph.OpBN, Inputs: []string{in, name + ".s", name + ".b", name + ".m", name + ".v"}, Outputs: []string{name}}
	}
	node := func(name, op string, attrs graph.Attrs, ins ...string) *graph.Node {
		if smooth && (op == graph.OpRelu || op == graph.OpClip) {
			op, attrs = graph.OpIdentity, nil
		}
		return &graph.Node{Name: name, Op: op, Inputs: ins, Outputs: []string{name}, Attrs: attrs}
	}
	g.Nodes = []*graph.Node{
		conv("c0", "x", []int{6, 4, 3, 3}, cvGeom(3, 3, 1, 1, 1, 1), false), bn("n0", "c0", 6),
		node("r0", graph.OpRelu, nil, "n0"),
		conv("c1", "r0", []int{6, 6, 3, 3}, cvGeom(3, 3, 2, 1, 1, 1), false), bn("n1", "c1", 6),
		conv("c2", "r0", []int{6, 6, 1, 1}, cvGeom(1, 1, 2, 0, 1, 1), true), bn("n2", "c2", 6),
		node("k2", graph.OpClip, graph.Attrs{"min": float32(-0.5), "max": float32(0.7)}, "n2"),
		node("a1", graph.OpAdd, nil, "n1", "k2"),
		conv("c3", "a1", []int{6, 1, 3, 3}, cvGeom(3, 3, 1, 1, 1, 6), false), bn("n3", "c3", 6),
		conv("c4", "n3", []int{6, 3, 3, 3}, cvGeom(3, 3, 1, 1, 1, 2), false), bn("n4", "c4", 6),
		node("r4", graph.OpRelu, nil, "n4"),
		conv("c5", "r4", []int{6, 6, 3, 3}, cvGeom(3, 3, 1, 1, 1, 1), false), bn("n5", "c5", 6),
		node("a2", graph.OpAdd, nil, "n5", "c5"),
		node("y", graph.OpGlobalAvg, nil, "a2"),
	}
	g.Outputs = []graph.Value{{Name: "y"}}
	return g
}

// TestBNGradDeferred checks the BN input gradient left to the Conv before
// it (bn_grad.go): on bnGradNet, at map sizes taking the Winograd and the
// implicit input gradient, with 3 images (chunks of unequal size), two
// training steps give bitwise the outputs, running statistics, parameter
// and input gradients of the same net with the deferral off; the deferral
// links the BNs it should, and the Convs that can fill from it do.
func TestBNGradDeferred(t *testing.T) {
	type result struct {
		dx    *tensor.Tensor
		grads map[string]*tensor.Tensor
		g     *graph.Graph
		e     *Executor
	}
	run := func(on bool, h int) result {
		defer func(v bool) { fuseBNGrads = v }(fuseBNGrads)
		fuseBNGrads = on
		g := bnGradNet(false)
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		x := cvRand(99, 3, 4, h, h)
		var r result
		for step := range 2 {
			out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
			if err != nil {
				t.Fatal(err)
			}
			e.ZeroGrad()
			gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(uint64(7+step), out["y"].Shape...)})
			if err != nil {
				t.Fatal(err)
			}
			r.dx = gi["x"].Clone()
		}
		r.grads = map[string]*tensor.Tensor{}
		for k, v := range e.Grads {
			r.grads[k] = v.Clone()
		}
		r.g, r.e = g, e
		return r
	}
	for _, h := range []int{8, 16} {
		t.Run(fmt.Sprint(h), func(t *testing.T) {
			on, off := run(true, h), run(false, h)
			if !cvBitEqual(on.dx, off.dx) {
				t.Errorf("input gradient differs")
			}
			if len(on.grads) != len(off.grads) {
				t.Errorf("%d gradients, want %d", len(on.grads), len(off.grads))
			}
			for k, v := range off.grads {
				if !cvBitEqual(on.grads[k], v) {
					t.Errorf("gradient of %q differs", k)
				}
			}
			for k, v := range off.g.Params {
				if !cvBitEqual(on.g.Params[k], v) {
					t.Errorf("parameter %q differs after the steps", k)
				}
			}
			checkBNLinks(t, on.e)
		})
	}
	if err := CheckGraph(bnGradNet(true), map[string]*tensor.Tensor{"x": cvRand(98, 3, 4, 8, 8)}, GradCheck{MaxPerTensor: 24}); err != nil {
		t.Fatal(err)
	}
}

// checkBNLinks checks which BNs of bnGradNet hand their gradient on and
// which Convs filled their padded dY from it (their plane scratch exists).
func checkBNLinks(t *testing.T, e *Executor) {
	t.Helper()
	linked := map[string]bool{}
	filled := map[string]bool{}
	for i, n := range e.order {
		switch k := e.kernels[i].(type) {
		case *bnKernel:
			linked[n.Name] = k.gradTo != nil
		case *convKernel:
			filled[n.Name] = k.dyscr != nil
		}
	}
	wantLinked := map[string]bool{"n0": true, "n1": true, "n2": true, "n3": true, "n4": true, "n5": false}
	wantFilled := map[string]bool{"c0": true, "c1": true, "c2": false, "c3": false, "c4": true, "c5": false}
	for k, v := range wantLinked {
		if linked[k] != v {
			t.Errorf("BN %s linked to its Conv: %v, want %v", k, linked[k], v)
		}
	}
	for k, v := range wantFilled {
		if filled[k] != v {
			t.Errorf("Conv %s filled dY from the BN's coefficients: %v, want %v", k, filled[k], v)
		}
	}
}

// testParams returns a function that adds a random parameter of the given
// shape to g under name (seeds seed+1, seed+2, ... in call order; a name
// ending in "v", a BN variance, gets 1 + v^2) and returns the name.
func testParams(g *graph.Graph, seed uint64) func(name string, shape ...int) string {
	return func(name string, shape ...int) string {
		seed++
		g.Params[name] = cvRand(seed, shape...)
		if name[len(name)-1] == 'v' {
			for j, v := range g.Params[name].Data {
				g.Params[name].Data[j] = 1 + v*v
			}
		}
		return name
	}
}

// resNetLike is two residual blocks (Conv-BN-ReLU, Conv-BN, Add, ReLU) on
// a stem Conv-BN-ReLU, then global average pooling: every block output is
// read by the next block's Conv and its Add, so its gradient is a sum.
func resNetLike(c int) *graph.Graph {
	g := graph.New("resnetlike")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 2, -1, -1}}}
	param := testParams(g, 1)
	add := func(name, op string, ins ...string) {
		attrs := graph.Attrs(nil)
		if op == graph.OpConv {
			attrs = cvGeom(3, 3, 1, 1, 1, 1).attrs()
		}
		g.Nodes = append(g.Nodes, &graph.Node{Name: name, Op: op, Inputs: ins, Outputs: []string{name}, Attrs: attrs})
	}
	convBN := func(name, in string, cin int) string {
		add(name, graph.OpConv, in, param(name+".w", c, cin, 3, 3))
		add(name+".bn", graph.OpBN, name, param(name+".s", c), param(name+".b", c), param(name+".m", c), param(name+".v", c))
		return name + ".bn"
	}
	add("r0", graph.OpRelu, convBN("c0", "x", 2))
	in := "r0"
	for b := range 2 {
		p := fmt.Sprint("b", b)
		add(p+".r1", graph.OpRelu, convBN(p+".c1", in, c))
		add(p+".add", graph.OpAdd, convBN(p+".c2", p+".r1", c), in)
		add(p+".out", graph.OpRelu, p+".add")
		in = p + ".out"
	}
	add("y", graph.OpGlobalAvg, in)
	g.Outputs = []graph.Value{{Name: "y"}}
	return g
}

// TestReluSumMasked checks the residual gradient sums masked by the
// Add+ReLU they feed (Executor.sumGrads), with and without the other
// fusions (deferred BN gradients and outputs, gathered statistics): two training steps of resNetLike give bitwise the gradients
// and parameters of the unfused executor, and the masked sums happen (one
// per block output read twice).
func TestReluSumMasked(t *testing.T) {
	run := func(sums, bn bool) (map[string]*tensor.Tensor, *tensor.Tensor, int) {
		defer func(a, b, c, d bool) { fuseReluSums, fuseBNGrads, fuseBNAdd, fuseBNStats = a, b, c, d }(fuseReluSums, fuseBNGrads, fuseBNAdd, fuseBNStats)
		fuseReluSums, fuseBNGrads, fuseBNAdd, fuseBNStats = sums, bn, bn, bn
		g := resNetLike(5)
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		x := cvRand(50, 3, 2, 9, 9)
		var dx *tensor.Tensor
		for step := range 2 {
			out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
			if err != nil {
				t.Fatal(err)
			}
			e.ZeroGrad()
			gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(uint64(60+step), out["y"].Shape...)})
			if err != nil {
				t.Fatal(err)
			}
			dx = gi["x"].Clone()
		}
		r := map[string]*tensor.Tensor{}
		for k, v := range e.Grads {
			r["grad "+k] = v.Clone()
		}
		for k, v := range g.Params {
			r[k] = v
		}
		return r, dx, e.maskedSums
	}
	ref, refDX, n := run(false, false)
	if n != 0 {
		t.Fatalf("%d masked sums with the fusion off", n)
	}
	for _, bn := range []bool{false, true} {
		got, dx, n := run(true, bn)
		if n != 2 { // two steps, one block output read by Conv and Add
			t.Errorf("bn=%v: %d masked sums, want 2", bn, n)
		}
		if !cvBitEqual(dx, refDX) {
			t.Errorf("bn=%v: input gradient differs", bn)
		}
		for k, v := range ref {
			if !cvBitEqual(got[k], v) {
				t.Errorf("bn=%v: %s differs", bn, k)
			}
		}
	}
	// A step of 1e-2 crosses ReLU kinks of this net (on the unfused
	// executor too); 3e-3 does not.
	if err := CheckGraph(resNetLike(3), map[string]*tensor.Tensor{"x": cvRand(51, 2, 2, 6, 6)}, GradCheck{MaxPerTensor: 24, Eps: 3e-3}); err != nil {
		t.Fatal(err)
	}
}

// TestBNStatsGathered checks the BN batch sums gathered by the Conv before
// it (bn_stats.go): on bnGradNet, on 1 and 3 threads, with and without an
// outlying first value (the BN's second pass, shifted by the mean),
// outputs, running statistics and gradients of two training steps are
// bitwise those of the BN's own pass; on one thread every image of the
// chunked Convs was gathered.
func TestBNStatsGathered(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	run := func(on bool, x *tensor.Tensor) (map[string]*tensor.Tensor, *Executor) {
		defer func(v bool) { fuseBNStats = v }(fuseBNStats)
		fuseBNStats = on
		g := bnGradNet(false)
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		r := map[string]*tensor.Tensor{}
		for step := range 2 {
			out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
			if err != nil {
				t.Fatal(err)
			}
			r[fmt.Sprint("y", step)] = out["y"].Clone()
			e.ZeroGrad()
			if _, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(uint64(70+step), out["y"].Shape...)}); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range e.Grads {
			r["grad "+k] = v.Clone()
		}
		for k, v := range g.Params {
			r[k] = v
		}
		return r, e
	}
	for _, threads := range []int{1, 3} {
		for _, outlier := range []bool{false, true} {
			runtime.GOMAXPROCS(threads)
			x := cvRand(97, 5, 4, 8, 8)
			if outlier {
				for c := range 4 {
					x.Data[c*64], x.Data[c*64+1], x.Data[c*64+8] = 500, 400, 450
				}
			}
			ref, _ := run(false, x)
			got, e := run(true, x)
			for k, v := range ref {
				if !cvBitEqual(got[k], v) {
					t.Errorf("threads %d outlier %v: %s differs", threads, outlier, k)
				}
			}
			if threads > 1 {
				continue
			}
			for i, n := range e.order {
				k, ok := e.kernels[i].(*convKernel)
				if !ok || !k.feedsBN || n.Name == "c3" { // c3: depthwise, not chunked
					continue
				}
				if len(k.stats.done) != 5 || slices.Contains(k.stats.done, false) {
					t.Errorf("outlier %v: Conv %s gathered images %v, want all 5", outlier, n.Name, k.stats.done)
				}
			}
		}
	}
}

// TestBNAddDeferred checks the BN output left to the Add reading it
// (bn_add.go): on bnGradNet (n1 and n5 feed Adds, one operand a BN, the
// other a Clip or a Conv), on resNetLike's Add+ReLU joins and on a BN added to a broadcast [1, C, 1, 1]
// parameter (the output materialised), two training steps and an
// inference pass give bitwise the outputs, gradients and parameters of
// the separate passes; Value has no deferred output after a training pass.
func TestBNAddDeferred(t *testing.T) {
	bcast := func() *graph.Graph {
		g := graph.New("bnbcast")
		g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 4, -1, -1}}}
		for i, p := range []string{"w", "s", "b", "m", "v", "p"} {
			shape := []int{4}
			switch p {
			case "w":
				shape = []int{4, 4, 3, 3}
			case "p":
				shape = []int{1, 4, 1, 1}
			}
			g.Params[p] = cvRand(uint64(30+i), shape...)
		}
		g.Params["v"].Fill(1.5)
		g.Nodes = []*graph.Node{
			{Name: "c", Op: graph.OpConv, Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attrs: cvGeom(3, 3, 1, 1, 1, 1).attrs()},
			{Name: "n", Op: graph.OpBN, Inputs: []string{"c", "s", "b", "m", "v"}, Outputs: []string{"n"}},
			{Name: "a", Op: graph.OpAdd, Inputs: []string{"n", "p"}, Outputs: []string{"a"}},
			{Name: "r", Op: graph.OpRelu, Inputs: []string{"a"}, Outputs: []string{"r"}},
			{Name: "y", Op: graph.OpGlobalAvg, Inputs: []string{"r"}, Outputs: []string{"y"}},
		}
		g.Outputs = []graph.Value{{Name: "y"}}
		return g
	}
	run := func(on bool, build func() *graph.Graph, bnName string, cin int) map[string]*tensor.Tensor {
		defer func(v bool) { fuseBNAdd = v }(fuseBNAdd)
		fuseBNAdd = on
		g := build()
		e, err := New(g)
		if err != nil {
			t.Fatal(err)
		}
		x := cvRand(96, 3, cin, 8, 8)
		r := map[string]*tensor.Tensor{}
		for step := range 2 {
			out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
			if err != nil {
				t.Fatal(err)
			}
			r[fmt.Sprint("y", step)] = out["y"].Clone()
			if v := e.Value(bnName); (v == nil) != on {
				t.Errorf("deferral %v: Value(%s) after a training pass is %v", on, bnName, v)
			}
			e.ZeroGrad()
			gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(uint64(80+step), out["y"].Shape...)})
			if err != nil {
				t.Fatal(err)
			}
			r[fmt.Sprint("dx", step)] = gi["x"].Clone()
		}
		out, err := e.Run(map[string]*tensor.Tensor{"x": x}, false)
		if err != nil {
			t.Fatal(err)
		}
		r["inference"] = out["y"].Clone()
		if e.Value(bnName) == nil {
			t.Errorf("deferral %v: Value(%s) after an inference pass is nil", on, bnName)
		}
		for k, v := range e.Grads {
			r["grad "+k] = v.Clone()
		}
		for k, v := range g.Params {
			r[k] = v
		}
		return r
	}
	nets := []struct {
		name  string
		build func() *graph.Graph
		bn    string
		cin   int
	}{
		{"bngrad n1", func() *graph.Graph { return bnGradNet(false) }, "n1", 4},
		{"bngrad n5", func() *graph.Graph { return bnGradNet(false) }, "n5", 4},
		{"resnetlike (Add+ReLU)", func() *graph.Graph { return resNetLike(5) }, "b1.c2.bn", 2},
		{"broadcast", bcast, "n", 4},
	}
	for _, c := range nets {
		ref, got := run(false, c.build, c.bn, c.cin), run(true, c.build, c.bn, c.cin)
		for k, v := range ref {
			if !cvBitEqual(got[k], v) {
				t.Errorf("%s: %s differs", c.name, k)
			}
		}
	}
}

// bnChainNet is Conv-BN-ReLU, depthwise Conv-BN, 3x3 stride-2 Conv-BN-ReLU,
// 3x3 Conv-BN, global average pooling on x [N, 3, H, W]: each BN output
// is read by the next Conv alone, which fills its padded input from it
// (c3), or has it materialised (the depthwise and stride-2 Convs).
func bnChainNet() *graph.Graph {
	g := graph.New("bnchain")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, -1, -1}}}
	param := testParams(g, 40)
	in := "x"
	for i, l := range []struct {
		cin, group, stride int
		relu               bool
	}{{3, 1, 1, true}, {6, 6, 1, false}, {6, 1, 2, true}, {6, 1, 1, false}} {
		c := fmt.Sprint("c", i)
		g.Nodes = append(g.Nodes,
			&graph.Node{Name: c, Op: graph.OpConv, Inputs: []string{in, param(c+".w", 6, l.cin/l.group, 3, 3)}, Outputs: []string{c}, Attrs: cvGeom(3, 3, l.stride, 1, 1, l.group).attrs()},
			&graph.Node{Name: c + ".bn", Op: graph.OpBN, Inputs: []string{c, param(c+".s", 6), param(c+".b", 6), param(c+".m", 6), param(c+".v", 6)}, Outputs: []string{c + ".bn"}})
		in = c + ".bn"
		if l.relu {
			g.Nodes = append(g.Nodes, &graph.Node{Name: c + ".r", Op: graph.OpRelu, Inputs: []string{in}, Outputs: []string{c + ".r"}})
			in = c + ".r"
		}
	}
	g.Nodes = append(g.Nodes, &graph.Node{Name: "y", Op: graph.OpGlobalAvg, Inputs: []string{in}, Outputs: []string{"y"}})
	g.Outputs = []graph.Value{{Name: "y"}}
	return g
}

// trainRecord runs two training steps and an inference pass of g on x
// and returns the outputs, input and parameter gradients and parameters.
func trainRecord(t *testing.T, g *graph.Graph, x *tensor.Tensor) (map[string]*tensor.Tensor, *Executor) {
	t.Helper()
	e, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	r := map[string]*tensor.Tensor{}
	for step := range 2 {
		out, err := e.Run(map[string]*tensor.Tensor{"x": x}, true)
		if err != nil {
			t.Fatal(err)
		}
		r[fmt.Sprint("y", step)] = out["y"].Clone()
		e.ZeroGrad()
		gi, err := e.Backward(map[string]*tensor.Tensor{"y": cvRand(uint64(90+step), out["y"].Shape...)})
		if err != nil {
			t.Fatal(err)
		}
		r[fmt.Sprint("dx", step)] = gi["x"].Clone()
	}
	for k, v := range e.Grads {
		r["grad "+k] = v.Clone()
	}
	out, err := e.Run(map[string]*tensor.Tensor{"x": x}, false)
	if err != nil {
		t.Fatal(err)
	}
	r["inference"] = out["y"].Clone()
	for k, v := range g.Params {
		r[k] = v
	}
	return r, e
}

// TestBNConvInDeferred checks the BN output left to the Conv reading it
// (bn_conv_in.go): on bnChainNet, bnGradNet and resNetLike, at two map
// sizes, everything trainRecord records is bitwise the same with the
// deferral off, and in bnChainNet the Convs fill from it or materialise it
// as their lowering requires.
func TestBNConvInDeferred(t *testing.T) {
	nets := []struct {
		name  string
		build func() *graph.Graph
		cin   int
	}{
		{"chain", bnChainNet, 3},
		{"bngrad", func() *graph.Graph { return bnGradNet(false) }, 4},
		{"resnetlike", func() *graph.Graph { return resNetLike(5) }, 2},
	}
	for _, c := range nets {
		for _, h := range []int{8, 16} {
			x := cvRand(95, 3, c.cin, h, h)
			fuseBNConvIn = false
			ref, _ := trainRecord(t, c.build(), x)
			fuseBNConvIn = true
			got, e := trainRecord(t, c.build(), x)
			for k, v := range ref {
				if !cvBitEqual(got[k], v) {
					t.Errorf("%s %dx%d: %s differs", c.name, h, h, k)
				}
			}
			if c.name != "chain" {
				continue
			}
			if _, err := e.Run(map[string]*tensor.Tensor{"x": x}, true); err != nil {
				t.Fatal(err)
			}
			for i, n := range e.order {
				k, ok := e.kernels[i].(*convKernel)
				if !ok || n.Name == "c0" {
					continue
				}
				fills, mat := k.in.src != nil, k.in.mat != nil
				if want := n.Name == "c3"; fills != want || mat == want {
					t.Errorf("%dx%d: Conv %s fills X from the BN %v, materialises it %v", h, h, n.Name, fills, mat)
				}
			}
		}
	}
}

// TestBNFusionsAllOff compares every training fusion of this file on
// against all off, on 1 and 3 threads, on bnChainNet, bnGradNet and
// resNetLike: bitwise the same steps.
func TestBNFusionsAllOff(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	flags := []*bool{&fuseBNGrads, &fuseReluSums, &fuseBNStats, &fuseBNAdd, &fuseBNConvIn, &fuseBNBwdSums, &fuseConvSums}
	set := func(on bool) {
		for _, f := range flags {
			*f = on
		}
	}
	defer set(true)
	for _, threads := range []int{1, 3} {
		runtime.GOMAXPROCS(threads)
		for _, c := range []struct {
			build func() *graph.Graph
			cin   int
		}{{bnChainNet, 3}, {func() *graph.Graph { return bnGradNet(false) }, 4}, {func() *graph.Graph { return resNetLike(5) }, 2}} {
			x := cvRand(94, 4, c.cin, 10, 10)
			set(false)
			ref, _ := trainRecord(t, c.build(), x)
			set(true)
			got, e := trainRecord(t, c.build(), x)
			for k, v := range ref {
				if !cvBitEqual(got[k], v) {
					t.Errorf("threads %d %s: %s differs", threads, e.G.Name, k)
				}
			}
		}
	}
}

// TestBNBwdSumsGathered checks the BN backward sums gathered by the pass
// writing dY (bn_bwd_sums.go): on resNetLike (the blocks' first BNs feed
// Convs whose input gradient gathers them, the second BNs Add+ReLU joins
// whose masked sum does) and bnChainNet, everything trainRecord records
// is bitwise the same with the gathering off, and those BNs took every
// image's sums gathered.
func TestBNBwdSumsGathered(t *testing.T) {
	defer func() { fuseBNBwdSums = true }()
	for _, c := range []struct {
		build func() *graph.Graph
		cin   int
		want  []string
	}{
		{func() *graph.Graph { return resNetLike(5) }, 2, []string{"b0.c1.bn", "b1.c1.bn", "b0.c2.bn"}},
		{bnChainNet, 3, []string{"c2.bn"}},
	} {
		x := cvRand(93, 3, c.cin, 12, 12)
		fuseBNBwdSums = false
		ref, _ := trainRecord(t, c.build(), x)
		fuseBNBwdSums = true
		got, e := trainRecord(t, c.build(), x)
		for k, v := range ref {
			if !cvBitEqual(got[k], v) {
				t.Errorf("%s: %s differs", e.G.Name, k)
			}
		}
		for i, n := range e.order {
			if k, ok := e.kernels[i].(*bnKernel); ok && slices.Contains(c.want, n.Name) && k.gatheredImages != 3 {
				t.Errorf("%s: BN %s gathered %d images' sums, want 3", e.G.Name, n.Name, k.gatheredImages)
			}
		}
	}
}

// TestConvSumFused checks the residual sums written by the next block's
// first Conv into its input gradient (conv_sum.go): two training steps of
// resNetLike record bitwise the same values as with sumGrads' own pass,
// on 1 and 3 threads, with the Conv's input gradient through Winograd
// (10x10 maps) and the implicit GEMM (16x16), the Conv wrote the sum in
// both steps and the BN before the Add took its sums from it.
func TestConvSumFused(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func() { fuseConvSums = true }()
	for _, threads := range []int{1, 3} {
		runtime.GOMAXPROCS(threads)
		for _, hw := range []int{10, 16} {
			x := cvRand(95, 4, 2, hw, hw)
			fuseConvSums = false
			ref, e0 := trainRecord(t, resNetLike(5), x)
			fuseConvSums = true
			got, e := trainRecord(t, resNetLike(5), x)
			if e0.convSums != 0 || e.convSums != 2 || e.maskedSums != e0.maskedSums {
				t.Errorf("threads %d, %dx%d: %d and %d sums written by the Conv (masked sums %d and %d), want 0 and 2",
					threads, hw, hw, e0.convSums, e.convSums, e0.maskedSums, e.maskedSums)
			}
			for k, v := range ref {
				if !cvBitEqual(got[k], v) {
					t.Errorf("threads %d, %dx%d: %s differs", threads, hw, hw, k)
				}
			}
			// The BN the summed Add normalised took its backward sums
			// from the Conv's chunks, every image.
			for i, n := range e.order {
				if k, ok := e.kernels[i].(*bnKernel); ok && n.Name == "b0.c2.bn" && k.gatheredImages != 4 {
					t.Errorf("threads %d, %dx%d: BN %s gathered %d images' sums, want 4", threads, hw, hw, n.Name, k.gatheredImages)
				}
			}
		}
	}
}
