// Command speed measures slimgo against PyTorch on the same machine in one
// run: training images/s (SGD with Nesterov momentum, batch -train-batch),
// inference images/s (batch -infer-batch) and peak resident memory of a
// training run, for the CIFAR-style ResNets nn.Build makes on 1x28x28
// inputs, plus single-precision GEMM GFLOP/s. It prints a table with the
// slimgo/PyTorch ratio of every figure.
//
//	nice go run ./bench/speed                          # resnet8 and resnet20, 2 threads
//	nice go run ./bench/speed -threads 1,2 -rounds 3   # also single-threaded
//	nice go run ./bench/speed -models resnet8 -gemm "" # one net, no GEMM rows
//	go run ./bench/speed -child train -model resnet8 -cpuprofile cpu.out   # profile one side
//	nice go run ./bench/speed -targets resnet20/128/10,mobilenet_v2/128/10,resnet18/32/3  # issue 24's training targets (step.go)
//
// Every training and inference measurement runs in a child process (this
// program re-executed with -child, or torch_speed.py under -python), so the
// peak RSS the kernel reports for the child (getrusage ru_maxrss) is the
// memory of that run alone. Both sides get the same thread count
// (GOMAXPROCS / torch.set_num_threads), and slimgo and PyTorch children
// alternate over -rounds rounds, keeping the best figure of each, because
// the machine may be shared: the best run is the least disturbed one.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

type config struct {
	models     []string
	trainBatch int
	inferBatch int
	steps      int
	epochs     int
	reps       int
	rounds     int
	threads    []int
	python     string
	noTorch    bool
	gemmShapes [][3]int
	gemmMin    float64
	before     string // -before: a second build of this program, measured alongside (-targets)
}

func main() {
	models := flag.String("models", "resnet8,resnet20", "comma-separated nn architectures")
	trainBatch := flag.Int("train-batch", 128, "training mini-batch")
	inferBatch := flag.Int("infer-batch", 256, "inference batch")
	steps := flag.Int("steps", 10, "training steps per epoch")
	epochs := flag.Int("epochs", 3, "training epochs per run; the first is warm-up, the best of the rest counts")
	reps := flag.Int("reps", 10, "timed inference passes per run (best counts)")
	rounds := flag.Int("rounds", 2, "alternating slimgo/PyTorch rounds (best counts)")
	threads := flag.String("threads", "2", "comma-separated thread counts, each used by both sides (GOMAXPROCS, torch.set_num_threads)")
	python := flag.String("python", "/usr/bin/python3", "Python with torch")
	noTorch := flag.Bool("no-torch", false, "measure slimgo only")
	gemm := flag.String("gemm", "128x128x128,256x256x256,512x512x512,64x1568x576", "GEMM shapes MxNxK,... (empty: none)")
	gemmMin := flag.Float64("gemm-min", 0.2, "seconds per timed GEMM batch")
	child := flag.String("child", "", "run one measurement (train, infer or step) and print JSON; layers: a training step's time per node (-model, -onnx, -train-batch, -steps)")
	model := flag.String("model", "resnet8", "with -child: the architecture")
	cpuprofile := flag.String("cpuprofile", "", "with -child: write a CPU profile of the timed part")
	targets := flag.String("targets", "", "training steps only, per-step CPU and wall time: model/batch[/steps],... (models resnet8, resnet20, mobilenet_v2, resnet18; see step.go)")
	before := flag.String("before", "", "with -targets: another build of this program (e.g. at an earlier commit) whose slimgo step is measured in the same rounds, as a before/after pair")
	onnxPath := flag.String("onnx", "", "with -child step: the model's ONNX file (BN folded; unfolded before training)")
	flag.Parse()

	var nthreads []int
	for _, f := range strings.Split(*threads, ",") {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "speed: bad thread count %q in -threads %q\n", f, *threads)
			os.Exit(2)
		}
		nthreads = append(nthreads, v)
	}
	if *child != "" {
		runtime.GOMAXPROCS(nthreads[0])
		if *child == "layers" {
			if err := runLayersChild(*model, *onnxPath, *trainBatch, *steps, *cpuprofile); err != nil {
				fmt.Fprintln(os.Stderr, "speed:", err)
				os.Exit(1)
			}
			return
		}
		if *child == "step" {
			if err := runStepChild(*model, *onnxPath, *trainBatch, *steps, *epochs, *cpuprofile); err != nil {
				fmt.Fprintln(os.Stderr, "speed:", err)
				os.Exit(1)
			}
			return
		}
		if err := runChild(*child, *model, *trainBatch, *inferBatch, *steps, *epochs, *reps, *cpuprofile); err != nil {
			fmt.Fprintln(os.Stderr, "speed:", err)
			os.Exit(1)
		}
		return
	}
	cfg := config{models: strings.Split(*models, ","), trainBatch: *trainBatch, inferBatch: *inferBatch,
		steps: *steps, epochs: *epochs, reps: *reps, rounds: max(*rounds, 1), threads: nthreads,
		python: *python, noTorch: *noTorch, gemmMin: *gemmMin, before: *before}
	if *targets != "" {
		ts, err := parseTargets(*targets, *steps)
		if err == nil {
			err = runTargets(cfg, ts)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "speed:", err)
			os.Exit(1)
		}
		return
	}
	if *gemm != "" {
		for _, s := range strings.Split(*gemm, ",") {
			var d [3]int
			if _, err := fmt.Sscanf(s, "%dx%dx%d", &d[0], &d[1], &d[2]); err != nil {
				fmt.Fprintf(os.Stderr, "speed: bad GEMM shape %q (want MxNxK)\n", s)
				os.Exit(2)
			}
			cfg.gemmShapes = append(cfg.gemmShapes, d)
		}
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "speed:", err)
		os.Exit(1)
	}
}

// result is what a child prints (both sides use the same keys).
type result struct {
	ImagesPerS float64   `json:"images_per_s"`
	Epochs     []float64 `json:"epochs,omitempty"`
	GFlops     []float64 `json:"gflops,omitempty"`
	PeakMiB    float64   `json:"-"`
}

// runJSON runs a child command (its stderr passed through) and decodes
// its stdout, one JSON value, into v.
func runJSON(cmd *exec.Cmd, v any) error {
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s: output %q: %w", strings.Join(cmd.Args, " "), out, err)
	}
	return nil
}

// runProc runs a child command and decodes its JSON; PeakMiB is the child's
// maximum resident set size.
func runProc(cmd *exec.Cmd) (result, error) {
	var r result
	if err := runJSON(cmd, &r); err != nil {
		return r, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakMiB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	return r, nil
}

func (c config) goChild(mode, model string, threads int) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	return runProc(exec.Command(self, "-child", mode, "-model", model,
		"-train-batch", strconv.Itoa(c.trainBatch), "-infer-batch", strconv.Itoa(c.inferBatch),
		"-steps", strconv.Itoa(c.steps), "-epochs", strconv.Itoa(c.epochs),
		"-reps", strconv.Itoa(c.reps), "-threads", strconv.Itoa(threads)))
}

func (c config) torchChild(args ...string) (result, error) {
	return runProc(exec.Command(c.python, append([]string{filepath.Join(srcDir(), "torch_speed.py")}, args...)...))
}

// srcDir finds torch_speed.py from the repository root or this directory.
func srcDir() string {
	if _, err := os.Stat("torch_speed.py"); err == nil {
		return "."
	}
	return filepath.Join("bench", "speed")
}

// row is one line of the table.
type row struct {
	what, unit  string
	threads     int
	slim, torch float64
}

func run(c config) error {
	it := strconv.Itoa
	var rows []row
	best := func(dst *result, r result) {
		if r.ImagesPerS > dst.ImagesPerS {
			dst.ImagesPerS = r.ImagesPerS
		}
		if dst.PeakMiB == 0 || r.PeakMiB < dst.PeakMiB {
			dst.PeakMiB = r.PeakMiB
		}
	}
	for _, th := range c.threads {
		for _, m := range c.models {
			var gt, tt, gi, ti result
			for range c.rounds {
				r, err := c.goChild("train", m, th)
				if err != nil {
					return err
				}
				best(&gt, r)
				if !c.noTorch {
					r, err := c.torchChild("train", m, it(c.trainBatch), it(c.steps), it(c.epochs), it(th))
					if err != nil {
						return err
					}
					best(&tt, r)
				}
				r, err = c.goChild("infer", m, th)
				if err != nil {
					return err
				}
				best(&gi, r)
				if !c.noTorch {
					r, err := c.torchChild("infer", m, it(c.inferBatch), it(c.reps), it(th))
					if err != nil {
						return err
					}
					best(&ti, r)
				}
			}
			rows = append(rows,
				row{m + " train, batch " + it(c.trainBatch), "images/s", th, gt.ImagesPerS, tt.ImagesPerS},
				row{m + " infer, batch " + it(c.inferBatch), "images/s", th, gi.ImagesPerS, ti.ImagesPerS},
				row{m + " train peak RSS", "MiB", th, gt.PeakMiB, tt.PeakMiB})
		}
	}
	for _, th := range c.threads {
		if len(c.gemmShapes) == 0 {
			break
		}
		runtime.GOMAXPROCS(th)
		var spec []string
		for _, s := range c.gemmShapes {
			spec = append(spec, fmt.Sprintf("%d,%d,%d", s[0], s[1], s[2]))
		}
		g := make([]float64, len(c.gemmShapes))
		t := make([]float64, len(c.gemmShapes))
		for range c.rounds {
			for i, s := range c.gemmShapes {
				g[i] = max(g[i], gemmGFlops(s[0], s[1], s[2], c.gemmMin, 3))
			}
			if !c.noTorch {
				r, err := c.torchChild("gemm", strings.Join(spec, ";"), fmt.Sprint(c.gemmMin), "3", it(th))
				if err != nil {
					return err
				}
				for i := range t {
					if i < len(r.GFlops) {
						t[i] = max(t[i], r.GFlops[i])
					}
				}
			}
		}
		for i, s := range c.gemmShapes {
			rows = append(rows, row{fmt.Sprintf("sgemm %dx%dx%d", s[0], s[1], s[2]), "GFLOP/s", th, g[i], t[i]})
		}
	}
	fmt.Printf("slimgo vs PyTorch (%s), %d CPUs, %s, %s/%s, %s, load average at the end %s\n",
		torchVersion(c), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().Format("2006-01-02 15:04"), loadAvg())
	fmt.Printf("best of %d rounds; training: %d epochs x %d steps per run (first epoch is warm-up); inference: best of %d passes\n\n",
		c.rounds, c.epochs, c.steps, c.reps)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tthreads\tunit\tslimgo\tPyTorch\tslimgo/PyTorch\t")
	for _, r := range rows {
		ratio := "-"
		if r.torch > 0 {
			ratio = fmt.Sprintf("%.2fx", r.slim/r.torch)
		}
		tv := "-"
		if r.torch > 0 {
			tv = fmt.Sprintf("%.1f", r.torch)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%s\t%s\t\n", r.what, r.threads, r.unit, r.slim, tv, ratio)
	}
	return tw.Flush()
}

// torchVersion asks the peer Python for torch's version ("-" without it).
func torchVersion(c config) string {
	if c.noTorch {
		return "not run"
	}
	out, err := exec.Command(c.python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "torch version unknown"
	}
	return "torch " + strings.TrimSpace(string(out))
}

// loadAvg returns the 1-minute load average ("?" when unreadable): the
// machine may be shared, which the figures should be read against.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// gemmGFlops times kernels.SgemmParallel on an m x k by k x n product: the
// best of reps batches of at least minSec seconds.
func gemmGFlops(m, n, k int, minSec float64, reps int) float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(s []float32) {
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
	}
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	fill(a)
	fill(b)
	kernels.SgemmParallel(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	best := 0.0
	for range reps {
		iters, start := 0, time.Now()
		var dt float64
		for {
			kernels.SgemmParallel(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			iters++
			if dt = time.Since(start).Seconds(); dt >= minSec {
				break
			}
		}
		best = max(best, 2*float64(m)*float64(n)*float64(k)*float64(iters)/dt/1e9)
	}
	return best
}

// synthetic returns n random normalised 1x28x28 images with random labels
// in [0, 10).
func synthetic(n int, seed uint64) *data.Dataset {
	rng := tensor.NewRNG(seed)
	d := &data.Dataset{Name: "random", C: 1, H: 28, W: 28, X: make([]float32, n*784), Labels: make([]int32, n),
		Mean: []float32{0}, Std: []float32{1}}
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
	}
	for i := range d.Labels {
		d.Labels[i] = int32(rng.IntN(10))
		d.Classes = nil
	}
	for i := range 10 {
		d.Classes = append(d.Classes, strconv.Itoa(i))
	}
	return d
}

// runChild performs one measurement in this process and prints its JSON.
func runChild(mode, model string, trainBatch, inferBatch, steps, epochs, reps int, cpuprofile string) error {
	g, err := nn.Build(model, []int{1, 28, 28}, 10, 1)
	if err != nil {
		return err
	}
	var r result
	switch mode {
	case "train":
		set := synthetic(steps*trainBatch, 1)
		opt := train.DefaultOptions()
		opt.Epochs, opt.Batch, opt.LR, opt.Schedule = max(epochs, 1), trainBatch, 0.05, train.ScheduleConstant
		stop, err := startProfile(cpuprofile)
		if err != nil {
			return err
		}
		res, err := train.Fit(g, set, nil, opt)
		stop()
		if err != nil {
			return err
		}
		for i, e := range res.Epochs {
			r.Epochs = append(r.Epochs, e.ImagesPerSec)
			if i > 0 || len(res.Epochs) == 1 {
				r.ImagesPerS = max(r.ImagesPerS, e.ImagesPerSec)
			}
		}
	case "infer":
		x := tensor.New(inferBatch, 1, 28, 28)
		rng := tensor.NewRNG(2)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		stop, err := startProfile(cpuprofile)
		if err != nil {
			return err
		}
		r.ImagesPerS, err = train.Throughput(g, x, reps)
		stop()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown -child mode %q (want train or infer)", mode)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// startProfile starts a CPU profile into path ("" : none) and returns the
// function that stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
