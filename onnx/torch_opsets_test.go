package onnx

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/npy"
)

// opsetScript exports one small residual net (Conv-BN-ReLU, a shortcut
// Add, max pooling, global average pooling, flatten, Linear) in eval mode
// at every opset from 11 to 17, alternately with the initializers listed
// among the graph inputs (keep_initializers_as_inputs, as older exporters
// write them), otherwise with the defaults (batch fixed at 1, BN folded);
// and PyTorch's output for a batch of 3 random images.
const opsetScript = `
import sys, warnings, numpy as np, torch, torch.nn as nn
warnings.simplefilter("ignore")
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                               nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 5)
    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.b(x))
        x = self.pool(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)
m = Net()
for mod in m.modules():
    if isinstance(mod, nn.BatchNorm2d):
        mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.5, 0.5)
        mod.running_mean.uniform_(-0.5, 0.5); mod.running_var.uniform_(0.5, 2)
m.eval()
out = sys.argv[1]
for opset in range(11, 18):
    torch.onnx.export(m, torch.randn(1, 3, 12, 12), f"{out}/net{opset}.onnx", opset_version=opset,
                      keep_initializers_as_inputs=(opset % 2 == 1))
x = torch.randn(3, 3, 12, 12)
np.save(f"{out}/x.npy", x.numpy())
np.save(f"{out}/y.npy", m(x).detach().numpy())
`

// TestTorchExportsAllOpsets reads PyTorch's exports of one net at opsets
// 11-17, with and without initializers among the inputs, and runs each at
// a batch of 3 (the files fix it at 1) against PyTorch's own output.
func TestTorchExportsAllOpsets(t *testing.T) {
	if testing.Short() {
		t.Skip("exports with PyTorch; skipped with -short")
	}
	if exec.Command(python, "-c", "import torch").Run() != nil {
		t.Skip(python + " with torch is not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("nice", python, "-c", opsetScript, dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	x, err := npy.ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for opset := 11; opset <= 17; opset++ {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			g, err := ReadFile(filepath.Join(dir, fmt.Sprintf("net%d.onnx", opset)))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Inputs) != 1 || g.Inputs[0].Shape[0] != -1 {
				t.Fatalf("inputs %v: want the image input alone, with a dynamic batch", g.Inputs)
			}
			e, err := engine.New(g)
			if err != nil {
				t.Fatal(err)
			}
			y, err := e.Forward(x, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(y.Data) != len(want.Data) {
				t.Fatalf("output %v, PyTorch %v", y.Shape, want.Shape)
			}
			var maxd, ref float64
			for i, v := range y.Data {
				maxd = max(maxd, math.Abs(float64(v-want.Data[i])))
				ref = max(ref, math.Abs(float64(want.Data[i])))
			}
			if maxd > ortTol*ref {
				t.Errorf("max |slimgo - PyTorch| = %g (outputs up to %g)", maxd, ref)
			}
		})
	}
}
