package prune

import (
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// nnGraph builds a built-in architecture on 3x16x16 inputs and gives its
// BatchNormalizations random statistics and affine parameters (nn
// initialises gamma 1, beta 0, which would hide indexing mistakes).
func nnGraph(t *testing.T, arch string, seed uint64) *graph.Graph {
	t.Helper()
	g, err := nn.Build(arch, []int{3, 16, 16}, 10, seed)
	if err != nil {
		t.Fatal(err)
	}
	randomBN(g, seed)
	return g
}

// randomBN gives g's BatchNormalizations random statistics and affine
// parameters drawn with seed+100.
func randomBN(g *graph.Graph, seed uint64) {
	rng := tensor.NewRNG(seed + 100)
	for _, n := range g.Nodes {
		if n.Op != graph.OpBN {
			continue
		}
		g.Params[n.Inputs[1]].FillUniform(rng, 0.5, 1.5)
		g.Params[n.Inputs[2]].FillNormal(rng, 0, 0.2)
		g.Params[n.Inputs[3]].FillNormal(rng, 0, 0.2)
		g.Params[n.Inputs[4]].FillUniform(rng, 0.5, 1.5)
	}
}

var nnArchs = []string{"resnet8", "resnet20", "darknet-s", "vgg-s", "mobilenet-s"}

func TestGroupsNNResnet8(t *testing.T) {
	groups, err := Groups(nnGraph(t, "resnet8", 1))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"group 0 (16 ch): out stem.conv [Conv W axis0], stem.bn [BN], in s1.b0.conv1 [Conv W axis1], out s1.b0.conv2 [Conv W axis0], s1.b0.bn2 [BN], in s2.b0.conv1 [Conv W axis1], in s2.b0.down.conv [Conv W axis1]",
		"group 1 (16 ch): out s1.b0.conv1 [Conv W axis0], s1.b0.bn1 [BN], in s1.b0.conv2 [Conv W axis1]",
		"group 2 (32 ch): out s2.b0.conv1 [Conv W axis0], s2.b0.bn1 [BN], in s2.b0.conv2 [Conv W axis1]",
		"group 3 (32 ch): out s2.b0.conv2 [Conv W axis0], s2.b0.bn2 [BN], out s2.b0.down.conv [Conv W axis0], s2.b0.down.bn [BN], in s3.b0.conv1 [Conv W axis1], in s3.b0.down.conv [Conv W axis1]",
		"group 4 (64 ch): out s3.b0.conv1 [Conv W axis0], s3.b0.bn1 [BN], in s3.b0.conv2 [Conv W axis1]",
		"group 5 (64 ch): out s3.b0.conv2 [Conv W axis0], s3.b0.bn2 [BN], out s3.b0.down.conv [Conv W axis0], s3.b0.down.bn [BN], in fc [Gemm W axis1]",
		"",
	}, "\n")
	if got := DetailsAll(groups); got != want {
		t.Errorf("nn resnet8 groups:\n got:\n%s\nwant:\n%s", got, want)
	}
}

// Structural facts of the built-in nets that the groups must reflect.
func TestGroupsNNStructure(t *testing.T) {
	tests := []struct {
		arch     string
		groups   int
		contains []string
	}{
		// 3 residual groups + 9 inner ones.
		{"resnet20", 12, []string{"out s3.b2.conv2 [Conv W axis0], s3.b2.bn2 [BN], in fc [Gemm W axis1]"}},
		// per stage a residual group (downsampling conv + blocks) and one per block.
		{"darknet-s", 7, []string{"out s2.ds.conv [Conv W axis0], s2.ds.bn [BN], in s2.b0.conv1 [Conv W axis1], out s2.b0.conv2 [Conv W axis0], s2.b0.bn2 [BN], in s3.ds.conv [Conv W axis1]"}},
		{"vgg-s", 6, []string{"out s3.c1.conv [Conv W axis0], s3.c1.bn [BN], in fc [Gemm W axis1]"}},
		// An expansion-1 block: the depthwise conv passes the stem's channels
		// on, and the add ties the project conv's outputs to them, so that
		// conv is indexed by the group on both axes.
		{"mobilenet-s", 10, []string{
			"dw s1.b0.dw.conv [Conv W axis0, group], s1.b0.dw.bn [BN], out s1.b0.project.conv [Conv W axis0], in s1.b0.project.conv [Conv W axis1]",
			"out s2.b0.expand.conv [Conv W axis0], s2.b0.expand.bn [BN], dw s2.b0.dw.conv [Conv W axis0, group], s2.b0.dw.bn [BN], in s2.b0.project.conv [Conv W axis1]",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			groups, err := Groups(nnGraph(t, tc.arch, 1))
			if err != nil {
				t.Fatal(err)
			}
			all := DetailsAll(groups)
			if len(groups) != tc.groups {
				t.Errorf("%d groups, want %d:\n%s", len(groups), tc.groups, all)
			}
			for _, c := range tc.contains {
				if !strings.Contains(all, c) {
					t.Errorf("no group contains %q:\n%s", c, all)
				}
			}
			if strings.Contains(all, "out fc") {
				t.Error("the classifier's outputs must not be prunable")
			}
		})
	}
}

func TestApplyExactNN(t *testing.T) {
	for i, arch := range nnArchs {
		t.Run(arch, func(t *testing.T) {
			g := nnGraph(t, arch, uint64(i+1))
			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			plan := randomPlan(groups, tensor.NewRNG(uint64(i+20)))
			checkExact(t, g, groups, plan, uint64(i))
		})
	}
}

func TestSlimNNRespectsOptions(t *testing.T) {
	for i, arch := range nnArchs {
		t.Run(arch, func(t *testing.T) {
			g := nnGraph(t, arch, uint64(i+1))
			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{MinChannels: 4, RoundTo: 8}
			plan, err := SlimPlan(g, groups, 0.6, opt)
			if err != nil {
				t.Fatal(err)
			}
			for grp, keep := range plan {
				if len(keep) < 4 || (len(keep)%8 != 0 && len(keep) != grp.Size) {
					t.Errorf("group %d keeps %d of %d: want >= 4 and a multiple of 8", grp.ID, len(keep), grp.Size)
				}
			}
			pg := checkExact(t, g, groups, plan, 1)
			st, _ := pg.ComputeStats()
			t.Logf("%s slim 0.6: %s", arch, st)
		})
	}
}

func TestBlocksNN(t *testing.T) {
	tests := []struct {
		arch      string
		removable []string
		fixed     []string
		scoreBN   string // BN scoring the first removable block (LastBN3x3)
	}{
		{"resnet8", []string{"s1.b0.add"}, []string{"s2.b0.add", "s3.b0.add"}, "s1.b0.bn2"},
		{"resnet20", []string{"s1.b0.add", "s1.b1.add", "s1.b2.add", "s2.b1.add", "s2.b2.add", "s3.b1.add", "s3.b2.add"}, []string{"s2.b0.add", "s3.b0.add"}, "s1.b0.bn2"},
		{"darknet-s", []string{"s1.b0.add", "s2.b0.add", "s3.b0.add"}, nil, "s1.b0.bn2"},
		{"mobilenet-s", []string{"s1.b0.add", "s2.b1.add", "s3.b1.add"}, nil, "s1.b0.dw.bn"},
		{"vgg-s", nil, nil, ""},
	}
	for i, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			g := nnGraph(t, tc.arch, uint64(i+1))
			blocks, err := Blocks(g)
			if err != nil {
				t.Fatal(err)
			}
			var rem, fix []string
			for _, b := range blocks {
				if b.Removable {
					rem = append(rem, b.Name)
				} else {
					fix = append(fix, b.Name)
				}
			}
			if strings.Join(rem, ",") != strings.Join(tc.removable, ",") || strings.Join(fix, ",") != strings.Join(tc.fixed, ",") {
				t.Fatalf("removable %v, fixed %v; want %v and %v", rem, fix, tc.removable, tc.fixed)
			}
			if len(rem) == 0 {
				return
			}
			bns, err := ScoreBNs(g, blocks[0], LastBN3x3)
			if err != nil || len(bns) != 1 || bns[0].Name != tc.scoreBN {
				t.Errorf("scoring BN of %s: %v %v, want %s", blocks[0].Name, bns, err, tc.scoreBN)
			}
			// Remove every removable block after silencing its branch.
			z := g.Clone()
			for _, b := range blocks {
				if b.Removable {
					silenceBranch(t, z, b)
				}
			}
			rg, err := RemoveBlocks(z, rem)
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(g, 2, 3)
			if d := tensor.MaxAbsDiff(forward(t, z, x), forward(t, rg, x)); d > 1e-5 {
				t.Fatalf("output changed by %g after removing silenced blocks", d)
			}
			before, _ := g.ComputeStats()
			after, err := rg.ComputeStats()
			if err != nil {
				t.Fatal(err)
			}
			if after.Params >= before.Params || after.MACs >= before.MACs {
				t.Errorf("params %d -> %d, MACs %d -> %d", before.Params, after.Params, before.MACs, after.MACs)
			}
			left, _ := Blocks(rg)
			for _, b := range left {
				if b.Removable {
					t.Errorf("block %s still present", b.Name)
				}
			}
		})
	}
}
