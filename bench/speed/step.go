package main

// The training targets of issue 24 side by side (-targets): one training
// step (forward, backward, SGD with Nesterov momentum, BN in training mode)
// of slimgo and of PyTorch on the same architecture, timed per epoch of
// -steps steps as wall clock and as CPU time of the whole process (every
// thread: on a loaded machine the CPU a step costs survives preemption,
// its wall clock does not).
//
// resnet8/resnet20 are nn.Build's nets (1x28x28) on both sides (PyTorch's
// copy is in torch_speed.py). mobilenet_v2 (bench/models/user_models.py's
// user model: width 0.5, 1x28x28, stride-1 stem) and resnet18 (3x224x224)
// are torchvision's, exported by torch_speed.py with torch.onnx.export's
// defaults (BN folded) and imported by slimgo the way compress and prune
// treat such a file: graph.UnfoldBN puts a BatchNormalization back after
// every Conv (dropping the folded bias), which is torchvision's
// Conv(bias=False) -> BatchNorm2d again.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// target is one training measurement: model, batch and steps per epoch.
type target struct {
	model        string
	batch, steps int
}

// parseTargets reads "model/batch/steps,..." (steps optional: -steps).
func parseTargets(s string, steps int) ([]target, error) {
	var ts []target
	for _, f := range strings.Split(s, ",") {
		p := strings.Split(f, "/")
		t := target{model: p[0], batch: 128, steps: steps}
		var err error
		if len(p) > 1 {
			t.batch, err = strconv.Atoi(p[1])
		}
		if err == nil && len(p) > 2 {
			t.steps, err = strconv.Atoi(p[2])
		}
		if err != nil || len(p) > 3 || t.batch < 1 || t.steps < 1 {
			return nil, fmt.Errorf("bad -targets item %q (want model/batch[/steps])", f)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// stepResult is what a "step" child prints (torch_speed.py step too).
type stepResult struct {
	WallMs float64   `json:"wall_ms_per_step"`
	CPUMs  float64   `json:"cpu_ms_per_step"`
	Walls  []float64 `json:"wall_ms"`
	CPUs   []float64 `json:"cpu_ms"`
}

// processCPU is the CPU time (user + system) of every thread of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stepModel builds the target's graph: nn.Build for the built-in nets, else
// the ONNX file with BN unfolded.
func stepModel(model, onnxPath string) (*graph.Graph, []int, error) {
	if onnxPath == "" {
		g, err := nn.Build(model, []int{1, 28, 28}, 10, 1)
		return g, []int{1, 28, 28}, err
	}
	g, err := onnx.ReadFile(onnxPath)
	if err != nil {
		return nil, nil, err
	}
	if g, err = graph.UnfoldBN(g); err != nil {
		return nil, nil, err
	}
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) != 4 {
		return nil, nil, fmt.Errorf("%s: want one NCHW input", onnxPath)
	}
	return g, g.Inputs[0].Shape[1:], nil
}

// runStepChild trains the target for epochs epochs of steps steps on random
// images and prints the per-step wall and CPU times of every epoch and the
// smallest of each after the first (the warm-up).
func runStepChild(model, onnxPath string, batch, steps, epochs int, cpuprofile string) error {
	g, chw, err := stepModel(model, onnxPath)
	if err != nil {
		return err
	}
	set := syntheticCHW(steps*batch, chw, 1)
	opt := train.DefaultOptions()
	opt.Epochs, opt.Batch, opt.LR, opt.Schedule = max(epochs, 1), batch, 0.05, train.ScheduleConstant
	opt.Momentum, opt.Nesterov, opt.WeightDecay = 0.9, true, 5e-4
	var r stepResult
	last, lastCPU := time.Now(), processCPU()
	opt.OnEpoch = func(train.EpochStats) {
		now, cpu := time.Now(), processCPU()
		r.Walls = append(r.Walls, float64(now.Sub(last))/1e6/float64(steps))
		r.CPUs = append(r.CPUs, float64(cpu-lastCPU)/1e6/float64(steps))
		last, lastCPU = now, cpu
	}
	stop, err := startProfile(cpuprofile)
	if err != nil {
		return err
	}
	_, err = train.Fit(g, set, nil, opt)
	stop()
	if err != nil {
		return err
	}
	k := min(1, len(r.Walls)-1)
	r.WallMs, r.CPUMs = minOf(r.Walls[k:]), minOf(r.CPUs[k:])
	return json.NewEncoder(os.Stdout).Encode(r)
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

// syntheticCHW returns n random N(0,1) images of shape chw with random
// labels in [0, 10).
func syntheticCHW(n int, chw []int, seed uint64) *data.Dataset {
	rng := tensor.NewRNG(seed)
	per := chw[0] * chw[1] * chw[2]
	d := &data.Dataset{Name: "random", C: chw[0], H: chw[1], W: chw[2], X: make([]float32, n*per),
		Labels: make([]int32, n), Mean: make([]float32, chw[0]), Std: make([]float32, chw[0])}
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
	}
	for i := range d.Std {
		d.Std[i] = 1
	}
	for i := range d.Labels {
		d.Labels[i] = int32(rng.IntN(10))
	}
	for i := range 10 {
		d.Classes = append(d.Classes, strconv.Itoa(i))
	}
	return d
}

// runStep runs a child and decodes its stepResult.
func runStep(cmd *exec.Cmd) (stepResult, error) {
	var r stepResult
	err := runJSON(cmd, &r)
	return r, err
}

// exportTarget has PyTorch write the target's ONNX file into dir ("" for
// the built-in nets slimgo builds itself).
func (c config) exportTarget(model, dir string) (string, error) {
	if model == "resnet8" || model == "resnet20" {
		return "", nil
	}
	src, err := filepath.Abs(srcDir())
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, model+".onnx")
	cmd := exec.Command(c.python, filepath.Join(src, "torch_speed.py"), "export", model, path)
	cmd.Dir = dir // never the repository root: its onnx/ would shadow the Python module
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return "", fmt.Errorf("exporting %s: %w (%s)", model, err, out)
	}
	return path, nil
}

// runTargets measures every target at every thread count, slimgo and
// PyTorch alternating over c.rounds rounds (smallest figures count), and
// prints the table.
func runTargets(c config, ts []target) error {
	dir, err := os.MkdirTemp("", "slimgo-speed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srcAbs, err := filepath.Abs(srcDir())
	if err != nil {
		return err
	}
	it := strconv.Itoa
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := func() {
		fmt.Printf("training step (forward, backward, SGD Nesterov momentum), slimgo vs PyTorch (%s), %d CPUs, %s, %s\n",
			torchVersion(c), runtime.NumCPU(), runtime.Version(), time.Now().Format("2006-01-02 15:04"))
		fmt.Printf("ms per step: the smallest epoch mean over %d rounds (%d epochs per run, the first is warm-up); CPU = process CPU time, all threads\n\n",
			c.rounds, c.epochs)
		h := "model\tbatch\tthreads\tslimgo CPU\tPyTorch CPU\tCPU ratio\tslimgo wall\tPyTorch wall\twall ratio\t"
		if c.before != "" {
			fmt.Printf("before: %s, run after slimgo in every round\n", c.before)
			h += "before CPU\tbefore wall\t"
		}
		fmt.Fprintln(tw, h)
	}
	var lines []string
	for _, th := range c.threads {
		for _, t := range ts {
			path, err := c.exportTarget(t.model, dir)
			if err != nil {
				return err
			}
			common := []string{"-train-batch", it(t.batch), "-steps", it(t.steps), "-epochs", it(c.epochs), "-threads", it(th)}
			var g, p, b stepResult
			for range c.rounds {
				args := append([]string{"-child", "step", "-model", t.model, "-onnx", path}, common...)
				r, err := runStep(exec.Command(self, args...))
				if err != nil {
					return err
				}
				keepMin(&g, r)
				if c.before != "" {
					if r, err = runStep(exec.Command(c.before, args...)); err != nil {
						return err
					}
					keepMin(&b, r)
				}
				if c.noTorch {
					continue
				}
				cmd := exec.Command(c.python, filepath.Join(srcAbs, "torch_speed.py"), "step", t.model, it(t.batch), it(t.steps), it(c.epochs), it(th))
				cmd.Dir = os.TempDir() // the repository's onnx/ would shadow the Python module
				cmd.Env = append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE")
				if r, err = runStep(cmd); err != nil {
					return err
				}
				keepMin(&p, r)
			}
			l := fmt.Sprintf("%s\t%d\t%d\t%.1f\t%s\t%s\t%.1f\t%s\t%s\t", t.model, t.batch, th,
				g.CPUMs, fmtMs(p.CPUMs), ratio(p.CPUMs, g.CPUMs), g.WallMs, fmtMs(p.WallMs), ratio(p.WallMs, g.WallMs))
			if c.before != "" {
				l += fmt.Sprintf("%.1f\t%.1f\t", b.CPUMs, b.WallMs)
			}
			lines = append(lines, l)
		}
	}
	header()
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("\nratio = PyTorch ms / slimgo ms (above 1: slimgo faster); load average at the end %s\n", loadAvg())
	return nil
}

func keepMin(dst *stepResult, r stepResult) {
	if dst.CPUMs == 0 || r.CPUMs < dst.CPUMs {
		dst.CPUMs = r.CPUMs
	}
	if dst.WallMs == 0 || r.WallMs < dst.WallMs {
		dst.WallMs = r.WallMs
	}
}

func fmtMs(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(torch, slim float64) string {
	if torch == 0 || slim == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", torch/slim)
}
