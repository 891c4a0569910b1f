// Command models measures slimgo's inference on whole models beside ONNX
// Runtime, at several thread counts and batch sizes, in one run: the
// harness of the convolution kernels (bench/speed/KERNELS.md).
//
//	nice go run ./bench/gemm/models -models mbv2=/tmp/speed/mobilenet_v2-224.onnx,resnet18=/tmp/speed/resnet18-224.onnx
//	nice go run ./bench/gemm/models -models nn:resnet8,nn:resnet20 -batches 64
//	go run ./bench/gemm/models -models m=/tmp/m.onnx -threads 2 -batches 1 -no-ort -cpuprofile cpu.out
//
// A model is NAME=FILE.onnx (its batch axis must be dynamic for ONNX
// Runtime at batches other than the file's) or nn:ARCH, an nn architecture
// on 1x28x28 inputs, written to a temporary ONNX file for the runtime.
// slimgo runs in this process (GOMAXPROCS set per row; engine.Optimize and
// an executor, as train.Throughput does; -reps timed passes after a
// warm-up); ONNX Runtime runs through tools/ort/run.js with --threads
// (-reps timed runs after a warm-up). slimgo and the runtime alternate
// over -rounds rounds. Columns: images per second of the fastest pass
// (the least disturbed on a shared machine), and CPU milliseconds per
// image over all timed passes (user+system time of the process, the
// cost that other load on the machine disturbs least; with 2 threads it
// includes the workers' spinning), the lowest over the rounds.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
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

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

type model struct {
	name, file string
	g          *graph.Graph
}

func main() {
	models := flag.String("models", "", "comma-separated NAME=FILE.onnx or nn:ARCH")
	batches := flag.String("batches", "1,8", "comma-separated batch sizes")
	threads := flag.String("threads", "1,2", "comma-separated thread counts (GOMAXPROCS, ORT intra-op threads)")
	reps := flag.Int("reps", 10, "timed passes per figure")
	rounds := flag.Int("rounds", 2, "alternating slimgo/ORT rounds (best counts)")
	noORT := flag.Bool("no-ort", false, "measure slimgo only")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of slimgo's timed passes")
	layers = flag.Bool("layers", false, "after the timed passes, time each node of slimgo's graph over as many more and print the means (stderr)")
	flag.Parse()
	if err := run(*models, *batches, *threads, *reps, *rounds, !*noORT, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "models:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("bad list %q", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func load(spec, tmp string) (model, error) {
	if arch, ok := strings.CutPrefix(spec, "nn:"); ok {
		g, err := nn.Build(arch, []int{1, 28, 28}, 10, 1)
		if err != nil {
			return model{}, err
		}
		file := filepath.Join(tmp, arch+".onnx")
		if err := onnx.WriteFile(file, g, onnx.WriteOptions{}); err != nil {
			return model{}, err
		}
		return model{arch, file, g}, nil
	}
	name, file, ok := strings.Cut(spec, "=")
	if !ok {
		return model{}, fmt.Errorf("model %q: want NAME=FILE.onnx or nn:ARCH", spec)
	}
	g, err := onnx.ReadFile(file)
	return model{name, file, g}, err
}

func run(models, batches, threads string, reps, rounds int, withORT bool, cpuprofile string) error {
	bs, err := ints(batches)
	if err != nil {
		return err
	}
	ts, err := ints(threads)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "slimgo-models")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	tw := tabwriter.NewWriter(os.Stdout, 8, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tbatch\tthreads\tslimgo img/s\tORT img/s\tslimgo/ORT\tslimgo CPU ms/img\tORT CPU ms/img\t")
	for _, spec := range strings.Split(models, ",") {
		m, err := load(spec, tmp)
		if err != nil {
			return err
		}
		in := m.g.Inputs[0].Shape
		for _, b := range bs {
			x := tensor.New(append([]int{b}, in[1:]...)...)
			x.FillNormal(tensor.NewRNG(2), 0, 1)
			xf := filepath.Join(tmp, "x.npy")
			if err := npy.WriteFile(xf, x); err != nil {
				return err
			}
			for _, t := range ts {
				var sg, so speed
				for range max(rounds, 1) {
					prev := runtime.GOMAXPROCS(t)
					r, err := slimgoSpeed(m.g, x, reps)
					runtime.GOMAXPROCS(prev)
					if err != nil {
						return fmt.Errorf("%s: %w", m.name, err)
					}
					sg = sg.best(r)
					if withORT {
						r, err := ortSpeed(m.file, xf, filepath.Join(tmp, "y.npy"), b, t, reps)
						if err != nil {
							return fmt.Errorf("%s: %w", m.name, err)
						}
						so = so.best(r)
					}
				}
				ratio := "-"
				if so.ips > 0 {
					ratio = fmt.Sprintf("%.2fx", sg.ips/so.ips)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%s\t%.3g\t%.3g\t\n", m.name, b, t, sg.ips, so.ips, ratio, sg.cpu, so.cpu)
				fmt.Fprintf(os.Stderr, "%s batch %d threads %d: %.1f / %.1f\n", m.name, b, t, sg.ips, so.ips)
			}
		}
	}
	return tw.Flush()
}

// speed is one side's figures: images/s of the fastest pass and CPU ms
// per image.
type speed struct{ ips, cpu float64 }

// best keeps the higher images/s and the lower CPU time of s and r.
func (s speed) best(r speed) speed {
	if s.ips == 0 {
		return r
	}
	return speed{max(s.ips, r.ips), min(s.cpu, r.cpu)}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// layers is the -layers flag.
var layers *bool

// slimgoSpeed runs g on x in inference mode as train.Throughput does
// (engine.Optimize, buffers recycled within a pass, one warm-up pass) and
// times reps passes.
func slimgoSpeed(g *graph.Graph, x *tensor.Tensor, reps int) (speed, error) {
	o, err := engine.Optimize(g)
	if err != nil {
		return speed{}, err
	}
	e, err := engine.New(o)
	if err != nil {
		return speed{}, err
	}
	e.SetRecycle(true) // as slimgo bench, predict and eval run it
	if _, err := e.Forward(x, false); err != nil {
		return speed{}, err
	}
	var s speed
	c0 := cpuTime()
	reps = max(reps, 1)
	for range reps {
		start := time.Now()
		if _, err := e.Forward(x, false); err != nil {
			return speed{}, err
		}
		s.ips = max(s.ips, float64(x.Shape[0])/time.Since(start).Seconds())
	}
	s.cpu = float64(cpuTime()-c0) / 1e6 / float64(reps*x.Shape[0])
	if *layers {
		e.SetTiming(true)
		for range reps {
			if _, err := e.Forward(x, false); err != nil {
				return speed{}, err
			}
		}
		printNodeTimes(e.NodeTimes())
	}
	return s, nil
}

// printNodeTimes writes each node's mean time per pass to stderr, in
// execution order, then the total per op type.
func printNodeTimes(nt []engine.NodeTime) {
	byOp := map[string]float64{}
	var ops []string
	for _, t := range nt {
		us := float64(t.Total.Microseconds()) / float64(max(t.Passes, 1))
		fmt.Fprintf(os.Stderr, "%10.1f us  %-14s %s\n", us, t.Op, t.Name)
		if _, ok := byOp[t.Op]; !ok {
			ops = append(ops, t.Op)
		}
		byOp[t.Op] += us
	}
	for _, op := range ops {
		fmt.Fprintf(os.Stderr, "%10.1f us  all %s\n", byOp[op], op)
	}
}

// ortSpeed runs tools/ort/run.js on one model: images/s of its fastest
// run and its CPU time per image.
func ortSpeed(model, in, out string, batch, threads, reps int) (speed, error) {
	cmd := exec.Command("node", filepath.Join(ort.Dir(), "run.js"), model, in, out,
		"--repeat", fmt.Sprint(max(reps, 2)), "--threads", fmt.Sprint(threads))
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return speed{}, fmt.Errorf("ONNX Runtime: %w", err)
	}
	var r struct {
		MinMS float64 `json:"min_ms"`
		CPUMS float64 `json:"cpu_ms"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.MinMS <= 0 {
		return speed{}, fmt.Errorf("ONNX Runtime output %q: %v", b, err)
	}
	return speed{float64(batch) * 1000 / r.MinMS, r.CPUMS / float64(batch)}, nil
}
