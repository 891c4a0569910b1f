package prune

import (
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// silenceBranch zeroes gamma and beta of the last BatchNormalization of the
// block's branch, so the branch adds exactly zero (the nodes after that BN
// are activations with f(0) = 0).
func silenceBranch(t *testing.T, g *graph.Graph, b Block) {
	t.Helper()
	for i := len(b.Branch) - 1; i >= 0; i-- {
		n := g.Node(b.Branch[i])
		if n.Op == graph.OpBN {
			g.Params[n.Inputs[1]].Zero()
			g.Params[n.Inputs[2]].Zero()
			return
		}
	}
	t.Fatalf("block %s has no BN", b.Name)
}

func TestBlocksHandBuilt(t *testing.T) {
	tests := []struct {
		name      string
		g         *graph.Graph
		removable []string
		branch0   []string
	}{
		{"resnet8", resnet(1, 1), []string{"s1.b0.add"}, []string{"s1.b0.conv1", "s1.b0.bn1", "s1.b0.relu1", "s1.b0.conv2", "s1.b0.bn2"}},
		{"darknet", darknet(2, 1), []string{"s1.b0.add", "s1.b1.add", "s2.b0.add", "s2.b1.add"}, []string{"s1.b0.conv1", "s1.b0.bn1", "s1.b0.act1", "s1.b0.conv2", "s1.b0.bn2", "s1.b0.act2"}},
		{"mobilenet", mobilenet(1), []string{"b0.add", "b2.add"}, []string{"b0.expand.conv", "b0.expand.bn", "b0.expand.act", "b0.dw.conv", "b0.dw.bn", "b0.dw.act", "b0.project.conv", "b0.project.bn"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blocks, err := Blocks(tc.g)
			if err != nil {
				t.Fatal(err)
			}
			var rem []string
			for _, b := range blocks {
				if b.Removable {
					rem = append(rem, b.Name)
				}
			}
			if !slices.Equal(rem, tc.removable) {
				t.Fatalf("removable %v, want %v", rem, tc.removable)
			}
			if !slices.Equal(blocks[0].Branch, tc.branch0) {
				t.Errorf("first branch %v, want %v", blocks[0].Branch, tc.branch0)
			}
			// Remove each block alone, silenced first: output unchanged, the
			// branch's parameters gone.
			for _, name := range rem {
				b := blocks[slices.IndexFunc(blocks, func(b Block) bool { return b.Name == name })]
				z := tc.g.Clone()
				silenceBranch(t, z, b)
				rg, err := RemoveBlocks(z, []string{name})
				if err != nil {
					t.Fatal(err)
				}
				x := randInput(tc.g, 2, 1)
				if d := tensor.MaxAbsDiff(forward(t, z, x), forward(t, rg, x)); d > 1e-5 {
					t.Errorf("removing silenced %s changed the output by %g", name, d)
				}
				for _, n := range b.Branch {
					if rg.Node(n) != nil {
						t.Errorf("%s: node %s survived", name, n)
					}
					for _, in := range z.Node(n).Inputs {
						if z.IsParam(in) && rg.IsParam(in) {
							t.Errorf("%s: parameter %s survived", name, in)
						}
					}
				}
				// Without silencing the output must change (the test can fail).
				rg2, _ := RemoveBlocks(tc.g, []string{name})
				if d := tensor.MaxAbsDiff(forward(t, tc.g, x), forward(t, rg2, x)); d < 1e-4 {
					t.Errorf("removing live block %s changed nothing (%g): test is vacuous", name, d)
				}
			}
		})
	}
}

func TestRemoveBlocksErrorsAndOutputs(t *testing.T) {
	g := resnet(1, 1)
	for _, tc := range []struct{ name, block, want string }{
		{"projection", "s2.b0.add", "not removable"},
		{"unknown", "s9.add", "no residual block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RemoveBlocks(g, []string{tc.block})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.block) {
				t.Errorf("want error naming %s with %q, got %v", tc.block, tc.want, err)
			}
		})
	}
	t.Run("add output is the graph output", func(t *testing.T) {
		b := newBuilder("tail-add", 3, 4, 4, 1)
		x := b.cba("a", "input", 4, 3, 1, graph.OpRelu)
		y := b.bn("r.bn", b.conv("r.conv", x, 4, 3, 1, 1, false))
		out := b.node("r.add", graph.OpAdd, nil, x, y)
		b.g.Outputs = []graph.Value{{Name: out, Shape: []int{-1, 4, 4, 4}}}
		rg, err := RemoveBlocks(b.g, []string{"r.add"})
		if err != nil {
			t.Fatal(err)
		}
		if rg.Outputs[0].Name != out {
			t.Fatalf("output renamed to %s", rg.Outputs[0].Name)
		}
		xin := randInput(b.g, 1, 2)
		e := forward(t, rg, xin)
		ref, _ := refRun(b.g, xin) // a's output equals the reduced graph's
		_ = ref
		a := b.g.Clone()
		a.Outputs = []graph.Value{{Name: x, Shape: []int{-1, 4, 4, 4}}}
		a.RemoveUnused()
		if d := tensor.MaxAbsDiff(e, forward(t, a, xin)); d != 0 {
			t.Errorf("output after removal differs from the block input by %g", d)
		}
	})
	t.Run("consecutive blocks without post-add activation", func(t *testing.T) {
		g := darknet(3, 4)
		z := g.Clone()
		blocks, _ := Blocks(z)
		var names []string
		for _, b := range blocks[:2] {
			silenceBranch(t, z, b)
			names = append(names, b.Name)
		}
		rg, err := RemoveBlocks(z, names)
		if err != nil {
			t.Fatal(err)
		}
		x := randInput(g, 1, 5)
		if d := tensor.MaxAbsDiff(forward(t, z, x), forward(t, rg, x)); d > 1e-5 {
			t.Errorf("removing s1.b0 and s1.b1 changed the output by %g", d)
		}
	})
}

func TestScoreAndPlanLayerPrune(t *testing.T) {
	g := resnet(3, 1)
	blocks, _ := Blocks(g)
	byName := map[string]Block{}
	for _, b := range blocks {
		byName[b.Name] = b
	}
	setGamma := func(bn string, v float32) { g.Params[bn+".scale"].Fill(v) }
	for _, b := range blocks {
		p := strings.TrimSuffix(b.Name, ".add")
		setGamma(p+".bn1", 1)
		setGamma(p+".bn2", 1)
	}
	setGamma("s2.b1.bn2", 0.1)
	setGamma("s1.b2.bn2", 0.2)
	setGamma("s3.b1.bn1", 0.05)                // first 3x3 BN: matters only for FirstBN3x3/MeanBN3x3
	g.Params["s3.b2.bn2.scale"].Data[0] = -0.5 // |gamma| counts

	scoreTests := []struct {
		block string
		sel   BlockScore
		want  float64
	}{
		{"s2.b1.add", LastBN3x3, 0.1},
		{"s2.b1.add", FirstBN3x3, 1},
		{"s2.b1.add", MeanBN3x3, 0.55},
		{"s3.b1.add", FirstBN3x3, 0.05},
		{"s3.b2.add", LastBN3x3, (63 + 0.5) / 64},
	}
	for _, tc := range scoreTests {
		s, err := Score(g, byName[tc.block], tc.sel)
		if err != nil || abs(s-tc.want) > 1e-6 {
			t.Errorf("Score(%s, %d) = %g, %v; want %g", tc.block, tc.sel, s, err, tc.want)
		}
	}
	planTests := []struct {
		name      string
		k         int
		threshold float64
		sel       BlockScore
		want      []string
	}{
		{"k=2 last", 2, 0, LastBN3x3, []string{"s2.b1.add", "s1.b2.add"}},
		{"threshold 0.15", 0, 0.15, LastBN3x3, []string{"s2.b1.add"}},
		{"k=1 first", 1, 0, FirstBN3x3, []string{"s3.b1.add"}},
		{"k=3 threshold 0.61 mean", 3, 0.61, MeanBN3x3, []string{"s3.b1.add", "s2.b1.add", "s1.b2.add"}},
		{"nothing asked", 0, 0, LastBN3x3, nil},
		{"projections never chosen", 100, 0, LastBN3x3, nil},
	}
	for _, tc := range planTests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanLayerPrune(g, tc.k, tc.threshold, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "projections never chosen" {
				if len(got) != 7 || slices.Contains(got, "s2.b0.add") || slices.Contains(got, "s3.b0.add") {
					t.Errorf("got %v: want the 7 identity blocks", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
