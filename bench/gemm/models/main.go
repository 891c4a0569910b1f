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
// slimgo runs in this process (GOMAXPROCS set per row, train.Throughput:
// best of -reps passes after a warm-up); ONNX Runtime runs through
// tools/ort/run.js with --threads (median of -reps runs after a warm-up).
// Figures are images per second. slimgo and the runtime alternate over
// -rounds rounds and the best figure of each is kept, since the machine
// may be shared.
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
	"text/tabwriter"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
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
	fmt.Fprintln(tw, "model\tbatch\tthreads\tslimgo img/s\tORT img/s\tslimgo/ORT\t")
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
				var best, bestORT float64
				for range max(rounds, 1) {
					prev := runtime.GOMAXPROCS(t)
					s, err := train.Throughput(m.g, x, reps)
					runtime.GOMAXPROCS(prev)
					if err != nil {
						return fmt.Errorf("%s: %w", m.name, err)
					}
					best = max(best, s)
					if withORT {
						s, err := ortSpeed(m.file, xf, filepath.Join(tmp, "y.npy"), b, t, reps)
						if err != nil {
							return fmt.Errorf("%s: %w", m.name, err)
						}
						bestORT = max(bestORT, s)
					}
				}
				ratio := "-"
				if bestORT > 0 {
					ratio = fmt.Sprintf("%.2fx", best/bestORT)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%s\t\n", m.name, b, t, best, bestORT, ratio)
				fmt.Fprintf(os.Stderr, "%s batch %d threads %d: %.1f / %.1f\n", m.name, b, t, best, bestORT)
			}
		}
	}
	return tw.Flush()
}

// ortSpeed runs tools/ort/run.js on one model and returns images/s from its
// median time.
func ortSpeed(model, in, out string, batch, threads, reps int) (float64, error) {
	cmd := exec.Command("node", filepath.Join(ort.Dir(), "run.js"), model, in, out,
		"--repeat", fmt.Sprint(max(reps, 2)), "--threads", fmt.Sprint(threads))
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("ONNX Runtime: %w", err)
	}
	var r struct{ MS float64 }
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("ONNX Runtime output %q: %w", b, err)
	}
	return float64(batch) * 1000 / r.MS, nil
}
