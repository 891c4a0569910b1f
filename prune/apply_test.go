package prune

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

type netCase struct {
	name string
	g    func() *graph.Graph
}

func handNets() []netCase {
	return []netCase{
		{"resnet8", func() *graph.Graph { return resnet(1, 3) }},
		{"resnet20", func() *graph.Graph { return resnet(3, 4) }},
		{"darknet-s", func() *graph.Graph { return darknet(2, 5) }},
		{"vgg-s", func() *graph.Graph { return vgg(6) }},
		{"mobilenet-s", func() *graph.Graph { return mobilenet(7) }},
		{"concat+depthwise", func() *graph.Graph { return concatNet(8) }},
	}
}

// randomPlan keeps a random subset (between 1 and Size-1 channels) of
// every group.
func randomPlan(groups []*Group, rng *rand.Rand) Plan {
	plan := Plan{}
	for _, grp := range groups {
		if grp.Size < 2 {
			continue
		}
		k := 1 + rng.IntN(grp.Size-1)
		keep := rng.Perm(grp.Size)[:k]
		plan[grp] = keep
	}
	return plan
}

// checkExact prunes g by plan after zeroing the pruned channels and checks
// that the output does not change, the result is valid and smaller.
func checkExact(t *testing.T, g *graph.Graph, groups []*Group, plan Plan, seed uint64) *graph.Graph {
	t.Helper()
	z := zeroPruned(t, g, plan)
	pg, err := Apply(z, plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Topo(); err != nil {
		t.Fatal(err)
	}
	x := randInput(g, 2, seed)
	want := forward(t, z, x)
	got := forward(t, pg, x)
	if d := tensor.MaxAbsDiff(got, want); d > 1e-5 {
		t.Fatalf("pruned output differs by %g", d)
	}
	before, err := g.ComputeStats()
	if err != nil {
		t.Fatal(err)
	}
	after, err := pg.ComputeStats()
	if err != nil {
		t.Fatal(err)
	}
	pruned := false
	for grp, keep := range plan {
		pruned = pruned || len(keep) < grp.Size
	}
	if pruned && (after.Params >= before.Params || after.MACs >= before.MACs) {
		t.Fatalf("params %d -> %d, MACs %d -> %d: both must drop", before.Params, after.Params, before.MACs, after.MACs)
	}
	// g itself is untouched by Apply.
	again, _ := Groups(g)
	if DetailsAll(again) != DetailsAll(groups) {
		t.Fatal("Apply modified its input graph")
	}
	return pg
}

// Zeroing the gamma and beta of every BN of a group at some channels makes
// those channels constant zero; removing them must leave the output as is.
func TestApplyExact(t *testing.T) {
	for _, nc := range handNets() {
		t.Run(nc.name, func(t *testing.T) {
			g := nc.g()
			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			for seed := range uint64(3) {
				plan := randomPlan(groups, tensor.NewRNG(seed+10))
				pg := checkExact(t, g, groups, plan, seed)
				// Group sizes after pruning are the kept counts.
				pgroups, err := Groups(pg)
				if err != nil {
					t.Fatal(err)
				}
				if len(pgroups) != len(groups) {
					t.Fatalf("%d groups after pruning, %d before", len(pgroups), len(groups))
				}
				for i, grp := range groups {
					want := grp.Size
					if keep, ok := plan[grp]; ok {
						want = len(keep)
					}
					if pgroups[i].Size != want {
						t.Errorf("group %d has %d channels after pruning, want %d", i, pgroups[i].Size, want)
					}
				}
			}
		})
	}
}

// Pruning only the groups the test zeroes: prune one group at a time (a
// wrong member list shows up as a wrong output for that group alone).
func TestApplyExactOneGroupAtATime(t *testing.T) {
	for _, nc := range handNets() {
		t.Run(nc.name, func(t *testing.T) {
			g := nc.g()
			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			for i, grp := range groups {
				if grp.Size < 2 {
					continue
				}
				keep := []int{0}
				for j := 2; j < grp.Size; j += 2 {
					keep = append(keep, j)
				}
				checkExact(t, g, groups, Plan{grp: keep}, uint64(i))
			}
		})
	}
}

func TestApplySlicesTensors(t *testing.T) {
	g := concatNet(1)
	groups, err := Groups(g)
	if err != nil {
		t.Fatal(err)
	}
	// group 2: mix.conv (12) -> dw -> tail reads it twice.
	plan := Plan{groups[2]: {1, 5, 7}, groups[0]: {0, 3}}
	pg, err := Apply(g, plan)
	if err != nil {
		t.Fatal(err)
	}
	shape := func(p string) []int { return pg.Params[p].Shape }
	tests := []struct {
		param string
		want  []int
	}{
		{"left.conv.W", []int{2, 3, 3, 3}},
		{"left.bn.scale", []int{2}},
		{"left.bn.var", []int{2}},
		{"scale.p", []int{1, 8, 1, 1}},
		{"shift.p", []int{8, 1, 1}},
		{"mix.conv.W", []int{3, 8, 3, 3}},
		{"mix.conv.B", []int{3}},
		{"mix.bn.mean", []int{3}},
		{"dw.W", []int{3, 1, 3, 3}},
		{"dw.B", []int{3}},
		{"tail.W", []int{5, 6, 1, 1}},
		{"fc.W", []int{3, 5}},
	}
	for _, tc := range tests {
		if got := shape(tc.param); !slices.Equal(got, tc.want) {
			t.Errorf("%s: shape %v, want %v", tc.param, got, tc.want)
		}
	}
	if grp := pg.Node("dw").Attrs.Int("group", 0); grp != 3 {
		t.Errorf("depthwise group attribute %d, want 3", grp)
	}
	// Entries are the kept ones: mix.conv.W filter 5, input channel 3 (left's channel 3).
	ow, nw := g.Params["mix.conv.W"], pg.Params["mix.conv.W"]
	for k := range 9 {
		if a, b := ow.Data[(5*10+3)*9+k], nw.Data[(1*8+1)*9+k]; a != b {
			t.Fatalf("mix.conv.W[5,3] tap %d: %g, pruned[1,1] %g", k, a, b)
		}
	}
	// tail reads dw's channels at 0..11 and 12..23: kept 1,5,7 and 13,17,19.
	tw, ntw := g.Params["tail.W"], pg.Params["tail.W"]
	for m := range 5 {
		for j, c := range []int{1, 5, 7, 13, 17, 19} {
			if tw.Data[m*24+c] != ntw.Data[m*6+j] {
				t.Fatalf("tail.W[%d,%d] not carried to [%d,%d]", m, c, m, j)
			}
		}
	}
}

func TestApplyFlattenColumns(t *testing.T) {
	g := vgg(2)
	groups, err := Groups(g)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := Apply(g, Plan{groups[2]: {2, 9}})
	if err != nil {
		t.Fatal(err)
	}
	ow, nw := g.Params["fc.W"], pg.Params["fc.W"]
	if !slices.Equal(nw.Shape, []int{10, 8}) {
		t.Fatalf("fc.W shape %v, want [10 8] (2 channels x 4 positions)", nw.Shape)
	}
	for m := range 10 {
		for j, c := range []int{2, 9} {
			for p := range 4 {
				if ow.Data[m*64+c*4+p] != nw.Data[m*8+j*4+p] {
					t.Fatalf("fc.W row %d: channel %d position %d not carried over", m, c, p)
				}
			}
		}
	}
}

func TestApplyKeepAllIsIdentity(t *testing.T) {
	g := resnet(1, 9)
	groups, _ := Groups(g)
	plan := Plan{}
	for _, grp := range groups {
		all := make([]int, grp.Size)
		for i := range all {
			all[i] = grp.Size - 1 - i // any order
		}
		plan[grp] = all
	}
	pg, err := Apply(g, plan)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(g, 1, 1)
	if d := tensor.MaxAbsDiff(forward(t, g, x), forward(t, pg, x)); d != 0 {
		t.Errorf("keeping every channel changed the output by %g", d)
	}
}

func TestApplyErrors(t *testing.T) {
	g := resnet(1, 1)
	groups, _ := Groups(g)
	other, _ := Groups(darknet(1, 1))
	tests := []struct {
		name string
		plan Plan
		want string
	}{
		{"empty keep", Plan{groups[1]: {}}, "keeps no channel"},
		{"out of range", Plan{groups[1]: {0, 16}}, "out of range"},
		{"negative", Plan{groups[1]: {-1}}, "out of range"},
		{"duplicate", Plan{groups[1]: {3, 3}}, "kept twice"},
		{"group of another graph", Plan{other[1]: {0}}, "not in graph"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(g, tc.plan)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}
