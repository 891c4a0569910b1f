package prune

import (
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
)

// The expected groups are written from the architectures' wiring: a plain
// conv's channels reach its BN and its consumers; every conv feeding a
// residual add chain joins one group; concat consumers see offsets; a
// depthwise conv passes its producer's channels through; the classifier's
// outputs and the image channels form no group.
func TestGroupsDetails(t *testing.T) {
	tests := []struct {
		name string
		g    *graph.Graph
		want []string
	}{
		{"resnet8", resnet(1, 1), []string{
			"group 0 (16 ch): out stem.conv [Conv W axis0], stem.bn [BN], in s1.b0.conv1 [Conv W axis1], out s1.b0.conv2 [Conv W axis0], s1.b0.bn2 [BN], in s2.b0.conv1 [Conv W axis1], in s2.b0.down.conv [Conv W axis1]",
			"group 1 (16 ch): out s1.b0.conv1 [Conv W axis0], s1.b0.bn1 [BN], in s1.b0.conv2 [Conv W axis1]",
			"group 2 (32 ch): out s2.b0.conv1 [Conv W axis0], s2.b0.bn1 [BN], in s2.b0.conv2 [Conv W axis1]",
			"group 3 (32 ch): out s2.b0.conv2 [Conv W axis0], s2.b0.bn2 [BN], out s2.b0.down.conv [Conv W axis0], s2.b0.down.bn [BN], in s3.b0.conv1 [Conv W axis1], in s3.b0.down.conv [Conv W axis1]",
			"group 4 (64 ch): out s3.b0.conv1 [Conv W axis0], s3.b0.bn1 [BN], in s3.b0.conv2 [Conv W axis1]",
			"group 5 (64 ch): out s3.b0.conv2 [Conv W axis0], s3.b0.bn2 [BN], out s3.b0.down.conv [Conv W axis0], s3.b0.down.bn [BN], in fc [Gemm W axis1]",
		}},
		{"darknet", darknet(1, 1), []string{
			"group 0 (8 ch): out stem.conv [Conv W axis0], stem.bn [BN], in s1.down.conv [Conv W axis1]",
			"group 1 (16 ch): out s1.down.conv [Conv W axis0], s1.down.bn [BN], in s1.b0.conv1 [Conv W axis1], out s1.b0.conv2 [Conv W axis0], s1.b0.bn2 [BN], in s2.down.conv [Conv W axis1]",
			"group 2 (8 ch): out s1.b0.conv1 [Conv W axis0], s1.b0.bn1 [BN], in s1.b0.conv2 [Conv W axis1]",
			"group 3 (32 ch): out s2.down.conv [Conv W axis0], s2.down.bn [BN], in s2.b0.conv1 [Conv W axis1], out s2.b0.conv2 [Conv W axis0], s2.b0.bn2 [BN], in fc [Gemm W axis1]",
			"group 4 (16 ch): out s2.b0.conv1 [Conv W axis0], s2.b0.bn1 [BN], in s2.b0.conv2 [Conv W axis1]",
		}},
		{"vgg flatten of 2x2 map", vgg(1), []string{
			"group 0 (8 ch): out c1.conv [Conv W axis0], c1.bn [BN], in c2.conv [Conv W axis1]",
			"group 1 (8 ch): out c2.conv [Conv W axis0], c2.bn [BN], in c3.conv [Conv W axis1]",
			"group 2 (16 ch): out c3.conv [Conv W axis0], c3.bn [BN], in fc [Gemm W axis1, 4 per ch]",
		}},
		{"mobilenet depthwise", mobilenet(1), []string{
			"group 0 (8 ch): out stem.conv [Conv W axis0], stem.bn [BN], in b0.expand.conv [Conv W axis1], out b0.project.conv [Conv W axis0], b0.project.bn [BN], in b1.expand.conv [Conv W axis1]",
			"group 1 (24 ch): out b0.expand.conv [Conv W axis0], b0.expand.bn [BN], dw b0.dw.conv [Conv W axis0, group], b0.dw.bn [BN], in b0.project.conv [Conv W axis1]",
			"group 2 (24 ch): out b1.expand.conv [Conv W axis0], b1.expand.bn [BN], dw b1.dw.conv [Conv W axis0, group], b1.dw.bn [BN], in b1.project.conv [Conv W axis1]",
			"group 3 (16 ch): out b1.project.conv [Conv W axis0], b1.project.bn [BN], in b2.expand.conv [Conv W axis1], out b2.project.conv [Conv W axis0], b2.project.bn [BN], in fc [Gemm W axis1]",
			"group 4 (48 ch): out b2.expand.conv [Conv W axis0], b2.expand.bn [BN], dw b2.dw.conv [Conv W axis0, group], b2.dw.bn [BN], in b2.project.conv [Conv W axis1]",
		}},
		{"concat offsets, per-channel operands, depthwise with bias, self-concat", concatNet(1), []string{
			"group 0 (4 ch): out left.conv [Conv W axis0], left.bn [BN], scale [Mul param axis1, ch 0:4 of 10], shift [Add param axis0, ch 0:4 of 10], in mix.conv [Conv W axis1, ch 0:4 of 10]",
			"group 1 (6 ch): out right.conv [Conv W axis0], right.bn [BN], scale [Mul param axis1, ch 4:10 of 10], shift [Add param axis0, ch 4:10 of 10], in mix.conv [Conv W axis1, ch 4:10 of 10]",
			"group 2 (12 ch): out mix.conv [Conv W axis0], mix.bn [BN], dw dw [Conv W axis0, group], in tail [Conv W axis1, ch 0:12 of 24], in tail [Conv W axis1, ch 12:24 of 24]",
			"group 3 (5 ch): out tail [Conv W axis0], in fc [Gemm W axis1]",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groups, err := Groups(tc.g)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimRight(DetailsAll(groups), "\n")
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("groups of %s:\n got:\n%s\nwant:\n%s", tc.g.Name, got, want)
			}
			// Deterministic: a second analysis prints the same text.
			again, _ := Groups(tc.g)
			if DetailsAll(again) != DetailsAll(groups) {
				t.Error("Details differ between two analyses of the same graph")
			}
		})
	}
}

// resnet20 (three blocks a stage): each stage's identity blocks all join the
// stage's residual group.
func TestGroupsResnet20ResidualChains(t *testing.T) {
	groups, err := Groups(resnet(3, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3+9 {
		t.Fatalf("got %d groups, want 12 (3 residual + 9 inner):\n%s", len(groups), DetailsAll(groups))
	}
	want := []string{
		"group 0 (16 ch): out stem.conv [Conv W axis0], stem.bn [BN], in s1.b0.conv1 [Conv W axis1], out s1.b0.conv2 [Conv W axis0], s1.b0.bn2 [BN], in s1.b1.conv1 [Conv W axis1], out s1.b1.conv2 [Conv W axis0], s1.b1.bn2 [BN], in s1.b2.conv1 [Conv W axis1], out s1.b2.conv2 [Conv W axis0], s1.b2.bn2 [BN], in s2.b0.conv1 [Conv W axis1], in s2.b0.down.conv [Conv W axis1]",
		"group 1 (16 ch): out s1.b0.conv1 [Conv W axis0], s1.b0.bn1 [BN], in s1.b0.conv2 [Conv W axis1]",
	}
	for i, w := range want {
		if got := groups[i].Details(); got != w {
			t.Errorf("group %d:\n got %s\nwant %s", i, got, w)
		}
	}
	// s3's residual group comes after s3.b0.conv1's group (its first
	// producer, s3.b0.conv2, follows s3.b0.conv1) and before s3.b1.conv1's.
	last := groups[len(groups)-3].Details()
	for _, m := range []string{"out s3.b0.conv2", "out s3.b0.down.conv", "out s3.b1.conv2", "out s3.b2.conv2", "in fc [Gemm W axis1]"} {
		if !strings.Contains(last, m) {
			t.Errorf("stage-3 residual group lacks %q: %s", m, last)
		}
	}
}

func TestGroupsBarriersAndErrors(t *testing.T) {
	t.Run("unknown op names the node", func(t *testing.T) {
		b := newBuilder("odd", 3, 4, 4, 1)
		x := b.cba("c", "input", 4, 3, 1, graph.OpRelu)
		y := b.node("weird", "Einsum", nil, x)
		b.g.Outputs = []graph.Value{{Name: y, Shape: []int{-1, 4, 4, 4}}}
		_, err := Groups(b.g)
		if err == nil || !strings.Contains(err.Error(), `"weird"`) {
			t.Fatalf("want an error naming node weird, got %v", err)
		}
	})
	t.Run("reshape is a barrier", func(t *testing.T) {
		b := newBuilder("reshape", 3, 4, 4, 1)
		x := b.cba("a", "input", 4, 3, 1, graph.OpRelu)
		x = b.cba("c", x, 4, 3, 1, graph.OpRelu)
		x = b.node("r", graph.OpReshape, graph.Attrs{"shape": []int{0, -1}}, x)
		y := b.node("fc", graph.OpGemm, graph.Attrs{"transB": 1}, x, b.param("fc.W", 0.1, 2, 64))
		b.g.Outputs = []graph.Value{{Name: y, Shape: []int{-1, 2}}}
		groups, err := Groups(b.g)
		if err != nil {
			t.Fatal(err)
		}
		got := DetailsAll(groups)
		if want := "group 0 (4 ch): out a.conv [Conv W axis0], a.bn [BN], in c.conv [Conv W axis1]\n"; got != want {
			t.Errorf("got %q, want %q (c.conv feeds the Reshape and must not be prunable)", got, want)
		}
	})
	t.Run("grouped conv is a barrier", func(t *testing.T) {
		b := newBuilder("grouped", 3, 4, 4, 1)
		x := b.cba("a", "input", 4, 3, 1, graph.OpRelu)
		x = b.conv("g2", x, 4, 3, 1, 2, false)
		x = b.cba("c", x, 4, 3, 1, graph.OpRelu)
		b.head(x, 2, true)
		groups, err := Groups(b.g)
		if err != nil {
			t.Fatal(err)
		}
		got := DetailsAll(groups)
		if want := "group 0 (4 ch): out c.conv [Conv W axis0], c.bn [BN], in fc [Gemm W axis1]\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("graph output channels are fixed", func(t *testing.T) {
		b := newBuilder("fcn", 3, 4, 4, 1)
		x := b.cba("a", "input", 4, 3, 1, graph.OpRelu)
		y := b.bn("out.bn", b.conv("out.conv", x, 5, 1, 1, 1, false))
		b.g.Outputs = []graph.Value{{Name: y, Shape: []int{-1, 5, 4, 4}}}
		groups, err := Groups(b.g)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || groups[0].Producers()[0] != "a.conv" {
			t.Errorf("want only a.conv's group, got:\n%s", DetailsAll(groups))
		}
	})
	t.Run("invalid graph", func(t *testing.T) {
		g := resnet(1, 1)
		g.Nodes[0].Inputs[0] = "nowhere"
		if _, err := Groups(g); err == nil || !strings.Contains(err.Error(), "nowhere") {
			t.Errorf("want an error naming the missing value, got %v", err)
		}
	})
}
