package prune

import (
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// yoloGraph builds the detector yolo-s on 1x32x32 inputs with 3 classes
// (heads [N, 8, 4, 4] and [N, 8, 2, 2]) and random BN statistics.
func yoloGraph(t *testing.T, seed uint64) *graph.Graph {
	t.Helper()
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 3, seed)
	if err != nil {
		t.Fatal(err)
	}
	randomBN(g, seed)
	return g
}

// runAll runs g in inference mode and returns every output, in g.Outputs
// order.
func runAll(t *testing.T, g *graph.Graph, x *tensor.Tensor) []*tensor.Tensor {
	t.Helper()
	e, err := engine.New(g)
	if err != nil {
		t.Fatalf("engine.New(%s): %v", g.Name, err)
	}
	out, err := e.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, false)
	if err != nil {
		t.Fatalf("run %s: %v", g.Name, err)
	}
	var ys []*tensor.Tensor
	for _, v := range g.Outputs {
		ys = append(ys, out[v.Name].Clone())
	}
	return ys
}

// The detector's groups: channels flow through Resize into the neck's
// Concat and from there into every consumer; the heads' outputs are never
// a group's member.
func TestGroupsYOLO(t *testing.T) {
	g := yoloGraph(t, 1)
	groups, err := Groups(g)
	if err != nil {
		t.Fatal(err)
	}
	all := DetailsAll(groups)
	t.Logf("yolo-s groups:\n%s", all)
	var heads []string
	for _, v := range g.Outputs {
		heads = append(heads, g.Producer(v.Name).Name)
	}
	for _, grp := range groups {
		for _, m := range grp.Members {
			if m.Role == ConvOut && slices.Contains(heads, m.Node) {
				t.Errorf("head conv %s is pruned by group %d", m.Node, grp.ID)
			}
		}
	}
	// Every Conv reading a Concat sees slices of more than one group, at
	// offsets covering its whole input.
	for _, n := range g.Nodes {
		if n.Op != graph.OpConv || g.Producer(n.Input(0)) == nil || g.Producer(n.Input(0)).Op != graph.OpConcat {
			continue
		}
		seen := map[int]bool{}
		parts := 0
		for _, grp := range groups {
			for _, m := range grp.Members {
				if m.Node == n.Name && m.Role == ConvIn {
					parts++
					for _, i := range m.Index {
						seen[i] = true
					}
				}
			}
		}
		c := g.Params[n.Input(1)].Shape[1]
		if parts < 2 || len(seen) != c {
			t.Errorf("conv %s after a Concat: %d groups cover %d of its %d input channels", n.Name, parts, len(seen), c)
		}
	}
	// The lateral conv's channels reach the top-down Concat through the
	// nearest x2 Resize and the bottom-up Concat directly: one group.
	want := "out neck.lat4.conv [Conv W axis0], neck.lat4.bn [BN], in neck.c3a.conv [Conv W axis1, ch 0:64 of 128], in neck.c4.conv [Conv W axis1, ch 64:128 of 128]"
	if !strings.Contains(all, want) {
		t.Errorf("no group couples the lateral conv through Resize and both Concats: want %q", want)
	}
}

// Random plans on every group: the pruned detector runs, its heads keep
// their shapes and, with the removed channels zeroed first, its outputs
// are those of the unpruned model.
func TestApplyExactYOLO(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		g := yoloGraph(t, seed)
		groups, err := Groups(g)
		if err != nil {
			t.Fatal(err)
		}
		plan := randomPlan(groups, tensor.NewRNG(seed+20))
		z := zeroPruned(t, g, plan)
		pg, err := Apply(z, plan)
		if err != nil {
			t.Fatal(err)
		}
		x := randInput(g, 2, seed)
		want, got := runAll(t, z, x), runAll(t, pg, x)
		for i := range want {
			if !slices.Equal(got[i].Shape, want[i].Shape) {
				t.Fatalf("seed %d: head %s shape %v, want %v", seed, g.Outputs[i].Name, got[i].Shape, want[i].Shape)
			}
			if d := tensor.MaxAbsDiff(got[i], want[i]); d > 1e-4 {
				t.Fatalf("seed %d: head %s differs by %g", seed, g.Outputs[i].Name, d)
			}
		}
		before, _ := g.ComputeStats()
		after, err := pg.ComputeStats()
		if err != nil || after.Params >= before.Params {
			t.Fatalf("seed %d: params %d -> %d (%v)", seed, before.Params, after.Params, err)
		}
		// The slimming plan at a parameter budget works as well.
		sp, _, err := SlimPlanParams(g, groups, int(before.Params)/3, Options{MinChannels: 1, RoundTo: 8, RoundMin: 32})
		if err != nil {
			t.Fatal(err)
		}
		sg, err := Apply(g, sp)
		if err != nil {
			t.Fatal(err)
		}
		ys := runAll(t, sg, x)
		for i := range ys {
			if !slices.Equal(ys[i].Shape, want[i].Shape) {
				t.Fatalf("slim plan: head %s shape %v", g.Outputs[i].Name, ys[i].Shape)
			}
		}
	}
}

// The backbone's shortcut blocks are found and removable, each scored by
// its 3x3 conv's BN; removing silenced blocks leaves the heads' outputs.
func TestBlocksYOLO(t *testing.T) {
	g := yoloGraph(t, 3)
	blocks, err := Blocks(g)
	if err != nil {
		t.Fatal(err)
	}
	var rem []string
	for _, b := range blocks {
		if !b.Removable {
			t.Errorf("block %s not removable: %s", b.Name, b.Reason)
			continue
		}
		rem = append(rem, b.Name)
		bns, err := ScoreBNs(g, b, LastBN3x3)
		if err != nil || len(bns) != 1 {
			t.Fatalf("block %s: scoring BNs %v (%v)", b.Name, bns, err)
		}
		if w := g.Params[g.Producer(bns[0].Input(0)).Input(1)].Shape; w[2] != 3 {
			t.Errorf("block %s scored by %s after a %dx%d conv, want the 3x3", b.Name, bns[0].Name, w[2], w[3])
		}
	}
	if len(rem) != 4 {
		t.Fatalf("removable blocks %v, want yolo-s's 4 shortcut blocks", rem)
	}
	z := g.Clone()
	for _, b := range blocks {
		silenceBranch(t, z, b)
	}
	rg, err := RemoveBlocks(z, rem)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(g, 2, 5)
	want, got := runAll(t, z, x), runAll(t, rg, x)
	for i := range want {
		if d := tensor.MaxAbsDiff(got[i], want[i]); d > 1e-5 || !slices.Equal(got[i].Shape, want[i].Shape) {
			t.Fatalf("head %s changed by %g (shape %v) after removing silenced blocks", g.Outputs[i].Name, d, got[i].Shape)
		}
	}
	names, err := PlanLayerPrune(g, 2, 0, LastBN3x3)
	if err != nil || len(names) != 2 {
		t.Fatalf("PlanLayerPrune: %v %v", names, err)
	}
}
