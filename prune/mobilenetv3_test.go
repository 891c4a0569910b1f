package prune

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

// mobilenetV3Script exports torchvision's mobilenet_v3_small (random
// weights, 10 classes) twice: with torch.onnx.export's defaults (opset 14,
// BN folded into the convs, HardSwish nodes, fixed batch) and with the
// settings of exportScript (opset 13, BN kept, dynamic batch; before opset
// 14 PyTorch writes Hardswish as x * HardSigmoid(x)). BN parameters and
// statistics are randomised first: at torchvision's initialisation every BN
// is an identity and the squeeze-excitation gates sit near 0.5, which would
// let a wrong BN or gate pass unnoticed; the Linear layers get PyTorch's
// default initialisation instead of torchvision's N(0, 0.01), so that the
// logits are of order 1. It also saves a 2x3x64x64 input and
// PyTorch's logits for it.
const mobilenetV3Script = `
import sys, warnings, numpy as np, torch, torchvision
warnings.simplefilter("ignore")
torch.manual_seed(0)
m = torchvision.models.mobilenet_v3_small(num_classes=10)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.normal_(0, 0.2)
            mod.running_mean.normal_(0, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
        elif isinstance(mod, torch.nn.Linear):
            mod.reset_parameters()
m.eval()
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    y = m(x)
d = sys.argv[1]
np.save(d + "/x.npy", x.numpy())
np.save(d + "/y.npy", y.numpy())
torch.onnx.export(m, x, d + "/default.onnx")
torch.onnx.export(m, x, d + "/preserve.onnx",
                  opset_version=13, input_names=["input"], output_names=["logits"],
                  do_constant_folding=True,
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, training=torch.onnx.TrainingMode.PRESERVE)
`

// relDiff is max |a - b| / max |ref|.
func relDiff(t *testing.T, got, ref *tensor.Tensor) float64 {
	t.Helper()
	if !tensor.SameShape(got.Shape, ref.Shape) {
		t.Fatalf("shape %v, reference %v", got.Shape, ref.Shape)
	}
	scale := 0.0
	for _, v := range ref.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	if scale == 0 {
		t.Fatal("reference output is all zero: a comparison would prove nothing")
	}
	return tensor.MaxAbsDiff(got, ref) / scale
}

// TestTorchvisionMobilenetV3 imports torchvision's mobilenet_v3_small as
// PyTorch exports it, checks the engine computes PyTorch's logits, that the
// squeeze-excitation gates are coupled with the channels they scale, and
// that a 50% uniform pruning is exact on the kept channels, runs, and
// exports to a file ONNX Runtime runs with the engine's output.
//
// Tolerances are relative to the largest |logit|. Import and engine:
// 1e-4, the bound onnx's tests use against ONNX Runtime; the float32
// convolutions of a 50-conv network sum in another order than PyTorch's
// (measured: below 1e-6 here). Surgery: 1e-5 absolute, as checkExact
// (removing a silenced channel changes sums by rounding only). Export:
// 1e-4 again (measured: below 1e-6).
func TestTorchvisionMobilenetV3(t *testing.T) {
	dir := torchExport(t, mobilenetV3Script)
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	const fe = "/features/features.4/block/block"
	tests := []struct {
		name string
		ops  map[string]int // ops that must be present, with their count
		line string         // a Details line: the first SE block with HardSwish
	}{
		{"default", map[string]int{graph.OpHardSwish: 19, graph.OpHardSigmoid: 9, graph.OpBN: 0},
			"group 6 (96 ch): out " + fe + ".0/block.0.0/Conv [Conv W axis0], dw " + fe + ".1/block.1.0/Conv [Conv W axis0, group], " +
				"in " + fe + ".2/fc1/Conv [Conv W axis1], out " + fe + ".2/fc2/Conv [Conv W axis0], in " + fe + ".3/block.3.0/Conv [Conv W axis1]"},
		{"preserve", map[string]int{graph.OpHardSwish: 0, graph.OpHardSigmoid: 28, graph.OpBN: 34},
			"group 6 (96 ch): out " + fe + ".0/block.0.0/Conv [Conv W axis0], " + fe + ".0/block.0.1/BatchNormalization [BN], " +
				"dw " + fe + ".1/block.1.0/Conv [Conv W axis0, group], " + fe + ".1/block.1.1/BatchNormalization [BN], " +
				"in " + fe + ".2/fc1/Conv [Conv W axis1], out " + fe + ".2/fc2/Conv [Conv W axis0], in " + fe + ".3/block.3.0/Conv [Conv W axis1]"},
	}
	var jobs []ort.Job
	var engineOut []*tensor.Tensor
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".onnx")
			g, err := onnx.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := g.ComputeStats()
			if err != nil {
				t.Fatal(err)
			}
			for op, n := range tc.ops {
				if st.Ops[op] != n {
					t.Errorf("%d %s nodes, want %d (ops %v)", st.Ops[op], op, n, st.Ops)
				}
			}
			y := forward(t, g, x)
			d := relDiff(t, y, want)
			t.Logf("import: %s; engine vs PyTorch: max abs diff %.3g, relative %.3g", st, tensor.MaxAbsDiff(y, want), d)
			if d > 1e-4 {
				t.Fatalf("engine vs PyTorch: relative difference %.3g exceeds 1e-4", d)
			}

			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			checkMobilenetGroups(t, groups, tc.line)
			py, out := pruneMobilenet(t, g, groups, st, x, filepath.Join(dir, tc.name+"_pruned.onnx"))
			jobs = append(jobs, ort.Job{Model: path, X: x}, ort.Job{Model: out, X: x})
			engineOut = append(engineOut, y, py)
		})
	}
	if !ort.Available() {
		t.Skip("node is not installed: ONNX Runtime comparisons skipped")
	}
	if len(jobs) != 2*len(tests) {
		return // a subtest failed
	}
	outs, err := ort.RunBatch(jobs)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		what := tests[i/2].name + [...]string{" original", " pruned export"}[i%2]
		d := relDiff(t, engineOut[i], o)
		t.Logf("%s: ONNX Runtime vs engine max abs diff %.3g, relative %.3g", what, tensor.MaxAbsDiff(engineOut[i], o), d)
		if d > 1e-4 {
			t.Errorf("%s: ONNX Runtime vs engine: relative difference %.3g exceeds 1e-4", what, d)
		}
	}
}

// mobilenetFe is the name prefix of features.4's block, the first SE block
// with HardSwish.
const mobilenetFe = "/features/features.4/block/block"

// checkMobilenetGroups checks the channel groups of mobilenet_v3_small and
// that they hold line.
func checkMobilenetGroups(t *testing.T, groups []*Group, line string) {
	t.Helper()
	all := DetailsAll(groups)
	// 9 SE blocks: each gate joins its block's expanded channels
	// (9 groups with fc2 outputs) and each fc1 is a group alone; 7
	// expansion-only or stem groups, 2 residual chains, 1 plain
	// projection, the head conv and the classifier's hidden layer.
	gates, hidden := 0, 0
	for _, grp := range groups {
		s := grp.Details()
		if strings.Contains(s, "/fc2/Conv [Conv W axis0]") && strings.Contains(s, "dw ") {
			gates++
		}
		if len(grp.Members) == 2 && strings.Contains(s, "out ") && strings.Contains(s, "/fc1/Conv [Conv W axis0], in ") {
			hidden++
		}
	}
	if len(groups) != 27 || gates != 9 || hidden != 9 || !strings.Contains(all, line+"\n") {
		t.Fatalf("%d groups (want 27), %d with an SE gate (want 9), %d SE hidden (want 9); want a line %q:\n%s", len(groups), gates, hidden, line, all)
	}
	if !strings.Contains(all, "group 7 (24 ch): out "+mobilenetFe+".2/fc1/Conv [Conv W axis0], in "+mobilenetFe+".2/fc2/Conv [Conv W axis1]\n") {
		t.Errorf("features.4's SE hidden channels are not a group of their own:\n%s", all)
	}
}

// pruneMobilenet prunes every group of g by half, checks the surgery, the
// costs and the ONNX round trip through out, and returns the pruned
// graph's output for x.
func pruneMobilenet(t *testing.T, g *graph.Graph, groups []*Group, st graph.Stats, x *tensor.Tensor, out string) (*tensor.Tensor, string) {
	t.Helper()
	ratios := make([]float64, len(groups))
	for i := range ratios {
		ratios[i] = 0.5
	}
	plan, err := PlanByRatios(g, groups, ratios, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkExact(t, g, groups, plan, 3)
	pg, err := Apply(g, plan)
	if err != nil {
		t.Fatal(err)
	}
	pst, err := pg.ComputeStats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pruned 50%% uniform: %s (from %d params, %.2f M MACs)", pst, st.Params, float64(st.MACs)/1e6)
	if pst.Params > st.Params*6/10 || pst.MACs > st.MACs*6/10 {
		t.Errorf("50%% pruning kept %d of %d params, %d of %d MACs", pst.Params, st.Params, pst.MACs, st.MACs)
	}
	py := forward(t, pg, x)
	if err := onnx.WriteFile(out, pg, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := onnx.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Bit-identical but for HardSwish, which opset 13 writes as
	// x * HardSigmoid(x; alpha=float32(1/6)): rounding differs.
	if d := relDiff(t, forward(t, back, x), py); d > 1e-6 {
		t.Errorf("re-imported pruned export differs from the pruned graph by %.3g (relative)", d)
	}
	return py, out
}
