package prune

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

// exportScript writes torchvision's resnet18 and mobilenet_v2 (random
// weights, 10 classes, 32x32 inputs) as ONNX with BatchNormalization nodes
// kept (PyTorch 1.13 keeps them in this eval-mode, PRESERVE export).
const exportScript = `
import sys, warnings, torch, torchvision
warnings.simplefilter("ignore")
torch.manual_seed(0)
for name, m in [("resnet18", torchvision.models.resnet18(num_classes=10)),
                ("mobilenet_v2", torchvision.models.mobilenet_v2(num_classes=10))]:
    m.eval()
    torch.onnx.export(m, torch.randn(1, 3, 32, 32), sys.argv[1] + "/" + name + ".onnx",
                      opset_version=13, input_names=["input"], output_names=["logits"],
                      do_constant_folding=True,
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, training=torch.onnx.TrainingMode.PRESERVE)
`

// TestTorchvisionImports analyses models exported by PyTorch: the groups,
// blocks and exact surgery must work on foreign node names and layouts. It
// needs /usr/bin/python3 with torch and torchvision (skipped otherwise, and
// with -short since the export takes several seconds).
func TestTorchvisionImports(t *testing.T) {
	dir := torchExport(t, exportScript)
	tests := []struct {
		name      string
		groups    int
		removable int
		first     string
	}{
		// 4 stage groups (residual chains) + 8 inner; layer1.0, layer1.1,
		// layer2.1, layer3.1, layer4.1 have identity shortcuts.
		{"resnet18", 12, 5, "group 1 (64 ch): out /layer1/layer1.0/conv1/Conv [Conv W axis0], /layer1/layer1.0/bn1/BatchNormalization [BN], in /layer1/layer1.0/conv2/Conv [Conv W axis1]"},
		// stem (with the first block's depthwise) + 16 expansion groups + 7
		// project groups (one per output width) + the 1280-channel head.
		{"mobilenet_v2", 25, 10, "group 0 (32 ch): out /features/features.0/features.0.0/Conv [Conv W axis0], /features/features.0/features.0.1/BatchNormalization [BN], dw /features/features.1/conv/conv.0/conv.0.0/Conv [Conv W axis0, group], /features/features.1/conv/conv.0/conv.0.1/BatchNormalization [BN], in /features/features.1/conv/conv.1/Conv [Conv W axis1]"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := onnx.ReadFile(filepath.Join(dir, tc.name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			rng := tensor.NewRNG(uint64(i + 40))
			for _, n := range g.Nodes {
				if n.Op == graph.OpBN {
					g.Params[n.Inputs[1]].FillUniform(rng, 0.5, 1.5)
					g.Params[n.Inputs[2]].FillNormal(rng, 0, 0.2)
					g.Params[n.Inputs[3]].FillNormal(rng, 0, 0.2)
					g.Params[n.Inputs[4]].FillUniform(rng, 0.5, 1.5)
				}
			}
			groups, err := Groups(g)
			if err != nil {
				t.Fatal(err)
			}
			all := DetailsAll(groups)
			if len(groups) != tc.groups || !strings.Contains(all, tc.first+"\n") {
				t.Fatalf("%d groups (want %d), want a line %q:\n%s", len(groups), tc.groups, tc.first, all)
			}
			if strings.Contains(all, "out /fc/Gemm") || strings.Contains(all, "out /classifier") {
				t.Error("classifier outputs are prunable")
			}
			plan := randomPlan(groups, tensor.NewRNG(uint64(i+50)))
			checkExact(t, g, groups, plan, uint64(i))

			blocks, err := Blocks(g)
			if err != nil {
				t.Fatal(err)
			}
			z := g.Clone()
			var names []string
			for _, b := range blocks {
				if b.Removable {
					names = append(names, b.Name)
					silenceBranch(t, z, b)
				}
			}
			if len(names) != tc.removable {
				t.Fatalf("%d removable blocks %v, want %d", len(names), names, tc.removable)
			}
			rg, err := RemoveBlocks(z, names)
			if err != nil {
				t.Fatal(err)
			}
			x := randInput(g, 1, 7)
			if d := tensor.MaxAbsDiff(forward(t, z, x), forward(t, rg, x)); d > 1e-5 {
				t.Errorf("removing silenced blocks changed the output by %g", d)
			}
		})
	}
}

// torchExport runs a PyTorch export script (its first argument is the
// output directory) into a temporary directory and returns it, with the
// slow naive reference of checkExact off for the rest of the test. It
// skips with -short or without /usr/bin/python3 with numpy, torch and
// torchvision.
func torchExport(t *testing.T, script string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("exports with PyTorch; skipped with -short")
	}
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if err := exec.Command(py, "-c", "import numpy, torch, torchvision").Run(); err != nil {
		t.Skip("python3 lacks numpy/torch/torchvision")
	}
	skipReference = true
	t.Cleanup(func() { skipReference = false })
	dir := t.TempDir()
	if out, err := exec.Command("nice", py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	return dir
}
