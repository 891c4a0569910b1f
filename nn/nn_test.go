package nn_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

var inputs = [][]int{{1, 28, 28}, {3, 32, 32}}

func TestBuildEveryArch(t *testing.T) {
	for _, arch := range nn.Archs() {
		for _, in := range inputs {
			for _, classes := range []int{10, 7} {
				t.Run(fmt.Sprintf("%s/%v/%d", arch, in, classes), func(t *testing.T) {
					g, err := nn.Build(arch, in, classes, 1)
					if err != nil {
						t.Fatal(err)
					}
					if g.Meta[nn.MetaArch] != arch {
						t.Fatalf("Meta[%s] = %q", nn.MetaArch, g.Meta[nn.MetaArch])
					}
					if len(g.Inputs) != 1 || g.Inputs[0].Name != "input" || !slices.Equal(g.Inputs[0].Shape, []int{-1, in[0], in[1], in[2]}) {
						t.Fatalf("inputs %+v", g.Inputs)
					}
					if len(g.Outputs) != 1 || g.Outputs[0].Name != "logits" || !slices.Equal(g.Outputs[0].Shape, []int{-1, classes}) {
						t.Fatalf("outputs %+v", g.Outputs)
					}
					order, err := g.Topo()
					if err != nil {
						t.Fatal(err)
					}
					if len(order) != len(g.Nodes) {
						t.Fatalf("topo order has %d of %d nodes", len(order), len(g.Nodes))
					}
					shapes, err := g.InferShapes(map[string][]int{"input": {5, in[0], in[1], in[2]}})
					if err != nil {
						t.Fatal(err)
					}
					if s := shapes["logits"]; !slices.Equal(s, []int{5, classes}) {
						t.Fatalf("logits shape %v, want [5 %d]", s, classes)
					}
					checkNaming(t, g)
				})
			}
		}
	}
}

// checkNaming asserts the naming contract: unique node names, values
// "<node>.out" (the classifier's "logits"), parameters "<node>.<role>", no
// Conv bias before BN, every parameter read.
func checkNaming(t *testing.T, g *graph.Graph) {
	t.Helper()
	seen := map[string]bool{}
	read := map[string]bool{}
	for _, n := range g.Nodes {
		if seen[n.Name] {
			t.Fatalf("node name %q used twice", n.Name)
		}
		seen[n.Name] = true
		want := n.Name + ".out"
		if n.Name == "fc" {
			want = "logits"
		}
		if len(n.Outputs) != 1 || n.Outputs[0] != want {
			t.Fatalf("node %q outputs %v, want [%s]", n.Name, n.Outputs, want)
		}
		var roles []string
		switch n.Op {
		case graph.OpConv:
			roles = []string{"weight"}
		case graph.OpGemm:
			roles = []string{"weight", "bias"}
		case graph.OpBN:
			roles = []string{"scale", "B", "mean", "var"}
		}
		for i, r := range roles {
			p := n.Name + "." + r
			if n.Input(i+1) != p || !g.IsParam(p) {
				t.Fatalf("node %q input %d is %q, want parameter %q", n.Name, i+1, n.Input(i+1), p)
			}
		}
		if n.Op == graph.OpConv && len(n.Inputs) != 2 {
			t.Fatalf("conv %q has inputs %v: convs here are followed by BN and have no bias", n.Name, n.Inputs)
		}
		if n.Op == graph.OpConv {
			next := g.Consumers(n.Outputs[0])
			if len(next) != 1 || next[0].Op != graph.OpBN {
				t.Fatalf("conv %q is not followed by exactly one BN", n.Name)
			}
		}
		for _, in := range n.Inputs {
			read[in] = true
		}
	}
	for k := range g.Params {
		if !read[k] {
			t.Fatalf("parameter %q is read by no node", k)
		}
	}
}

func TestKnownNodeNames(t *testing.T) {
	tests := []struct {
		arch    string
		present []string
		absent  []string
		adds    int
	}{
		{"resnet8", []string{"stem.conv", "stem.bn", "stem.relu", "s1.b0.conv1", "s1.b0.bn1", "s1.b0.relu1", "s1.b0.conv2", "s1.b0.bn2",
			"s1.b0.add", "s1.b0.relu2", "s2.b0.down.conv", "s2.b0.down.bn", "s3.b0.down.conv", "pool", "flatten", "fc"},
			[]string{"s1.b0.down.conv", "s1.b1.conv1"}, 3},
		{"resnet20", []string{"s1.b2.conv1", "s3.b2.relu2", "s2.b0.down.bn"}, []string{"s2.b1.down.conv", "s1.b3.conv1"}, 9},
		{"darknet-s", []string{"stem.conv", "stem.act", "s1.ds.conv", "s1.ds.bn", "s1.ds.act", "s1.b0.conv1", "s1.b0.act2", "s3.b0.add", "fc"}, []string{"s4.ds.conv"}, 3},
		{"vgg-s", []string{"s1.c0.conv", "s1.c1.relu", "s1.pool", "s2.pool", "s3.c1.bn", "pool", "fc"}, []string{"s3.pool"}, 0},
		{"mobilenet-s", []string{"stem.relu6", "s1.b0.dw.conv", "s1.b0.add", "s2.b0.expand.conv", "s2.b1.add", "s3.b1.add", "s4.b0.project.bn", "head.conv"},
			[]string{"s1.b0.expand.conv", "s2.b0.add", "s3.b0.add", "s4.b0.add"}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			g, err := nn.Build(tc.arch, []int{1, 28, 28}, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tc.present {
				if g.Node(name) == nil {
					t.Errorf("node %q missing", name)
				}
			}
			for _, name := range tc.absent {
				if g.Node(name) != nil {
					t.Errorf("node %q should not exist", name)
				}
			}
			st, err := g.ComputeStats()
			if err != nil {
				t.Fatal(err)
			}
			if st.Ops[graph.OpAdd] != tc.adds {
				t.Errorf("%d Add nodes, want %d", st.Ops[graph.OpAdd], tc.adds)
			}
		})
	}
}

func TestResNetCosts(t *testing.T) {
	tests := []struct {
		arch           string
		params         int
		macsLo, macsHi int64
	}{
		// PyTorch's count of the same nets (1x28x28 input, 10 classes).
		{"resnet8", 77754, 9345920, 9345920},
		{"resnet20", 272186, 30.95e6, 31.05e6},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			g, err := nn.Build(tc.arch, []int{1, 28, 28}, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			st, err := g.ComputeStats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", tc.arch, st)
			if st.Params != tc.params {
				t.Errorf("%d params, want %d", st.Params, tc.params)
			}
			if st.MACs < tc.macsLo || st.MACs > tc.macsHi {
				t.Errorf("%d MACs, want [%d, %d]", st.MACs, tc.macsLo, tc.macsHi)
			}
		})
	}
}

// Parameter counts of the small nets, summed by hand from their layouts
// (conv weights + 2 per BN channel, fc 10*C+10) at 1x28x28, 10 classes.
func TestSmallNetParams(t *testing.T) {
	tests := []struct {
		arch   string
		params int
	}{
		// stem 144+32; s1 4608+64, 512+32, 4608+64; s2 18432+128, 2048+64,
		// 18432+128; s3 73728+256, 8192+128, 73728+256; fc 1290.
		{"darknet-s", 176 + 9888 + 39232 + 156288 + 1290},
		// 144+32, 2304+32; 4608+64, 9216+64; 18432+128, 36864+128; fc 650.
		{"vgg-s", 176 + 2336 + 4672 + 9280 + 18560 + 36992 + 650},
		// stem 176; s1.b0 dw+project 464; s2 3440, 5904; s3 6688, 9920;
		// s4 14080; head 8192+256; fc 1290.
		{"mobilenet-s", 176 + 464 + 3440 + 5904 + 6688 + 9920 + 14080 + 8448 + 1290},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			g, err := nn.Build(tc.arch, []int{1, 28, 28}, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			st, err := g.ComputeStats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", tc.arch, st)
			if st.Params != tc.params {
				t.Errorf("%d params, want %d", st.Params, tc.params)
			}
		})
	}
}

func TestDepthwiseGroups(t *testing.T) {
	g, err := nn.Build("mobilenet-s", []int{3, 32, 32}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nd := range g.Nodes {
		if !strings.HasSuffix(nd.Name, ".dw.conv") {
			continue
		}
		n++
		w := g.Params[nd.Inputs[1]]
		if grp := nd.Attrs.Int("group", 1); grp != w.Shape[0] || w.Shape[1] != 1 {
			t.Fatalf("%s: group %d with weight %v, want depthwise", nd.Name, grp, w.Shape)
		}
	}
	if n != 6 {
		t.Fatalf("%d depthwise convs, want 6", n)
	}
}

func TestSeeds(t *testing.T) {
	for _, arch := range nn.Archs() {
		t.Run(arch, func(t *testing.T) {
			a, _ := nn.Build(arch, []int{3, 32, 32}, 10, 42)
			b, _ := nn.Build(arch, []int{3, 32, 32}, 10, 42)
			c, _ := nn.Build(arch, []int{3, 32, 32}, 10, 43)
			if len(a.Params) != len(b.Params) || len(a.Params) != len(c.Params) {
				t.Fatal("parameter sets differ in size")
			}
			differs := 0
			for k, pa := range a.Params {
				if tensor.MaxAbsDiff(pa, b.Params[k]) != 0 {
					t.Fatalf("same seed, %q differs", k)
				}
				if tensor.MaxAbsDiff(pa, c.Params[k]) != 0 {
					differs++
				} else if strings.HasSuffix(k, ".weight") {
					t.Fatalf("seeds 42 and 43 give the same %q", k)
				}
			}
			if differs == 0 {
				t.Fatal("seeds 42 and 43 give identical models")
			}
		})
	}
}

// The initialisation follows torchvision: conv weights N(0, 2/fan_out), BN
// identity, Linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
func TestInitialisation(t *testing.T) {
	g, err := nn.Build("resnet20", []int{1, 28, 28}, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Conv: s3.b1.conv2 is [64,64,3,3], fan_out 576; 36864 samples give the
	// standard deviation within about 1% (3 sigma ~ 1.1%).
	w := g.Params["s3.b1.conv2.weight"]
	var sum, sq float64
	for _, v := range w.Data {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(w.Len())
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	want := math.Sqrt(2.0 / 576)
	if math.Abs(std-want) > 0.02*want || math.Abs(mean) > 3*want/math.Sqrt(n) {
		t.Errorf("conv weight mean %g std %g, want 0 and %g", mean, std, want)
	}
	for _, nd := range g.Nodes {
		if nd.Op != graph.OpBN {
			continue
		}
		for role, v := range map[string]float32{"scale": 1, "B": 0, "mean": 0, "var": 1} {
			for _, x := range g.Params[nd.Name+"."+role].Data {
				if x != v {
					t.Fatalf("%s.%s has %g, want %g", nd.Name, role, x, v)
				}
			}
		}
	}
	bound := float32(1 / math.Sqrt(64))
	for _, p := range []string{"fc.weight", "fc.bias"} {
		lo, hi := float32(1), float32(-1)
		for _, v := range g.Params[p].Data {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < -bound || hi > bound {
			t.Errorf("%s in [%g, %g], want within +-%g", p, lo, hi, bound)
		}
		if p == "fc.weight" && (hi < 0.8*bound || lo > -0.8*bound) {
			t.Errorf("%s in [%g, %g]: 640 uniform samples should come near +-%g", p, lo, hi, bound)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		arch    string
		in      []int
		classes int
		want    []string
	}{
		{"unknown", "resnet9000", []int{1, 28, 28}, 10, append([]string{"resnet9000"}, nn.Archs()...)},
		{"rank", "resnet8", []int{28, 28}, 10, []string{"[28 28]", "[C,H,W]"}},
		{"zero_dim", "resnet8", []int{1, 0, 28}, 10, []string{"[1 0 28]"}},
		{"classes", "resnet8", []int{1, 28, 28}, 0, []string{"classes"}},
		{"too_small", "vgg-s", []int{1, 3, 3}, 10, []string{"vgg-s", "[1 3 3]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nn.Build(tc.arch, tc.in, tc.classes, 1)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func ExampleBuild() {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		panic(err)
	}
	st, _ := g.ComputeStats()
	fmt.Println(g.Meta[nn.MetaArch], st.Params, st.MACs)
	fmt.Println(g.Node("s2.b0.down.conv").Inputs)
	// Output:
	// resnet8 77754 9345920
	// [s1.b0.relu2.out s2.b0.down.conv.weight]
}
