// Command cputime measures the CPU time one inference pass of slimgo's
// engine takes on a single thread, for several models side by side: the
// figure to compare on a shared, loaded machine, where wall-clock passes
// are stretched by whatever else runs (a pass preempted for 10 ms
// still costs the same CPU time). It is Linux-only (the calling thread's
// CPU time, getrusage RUSAGE_THREAD) and runs the engine with one worker,
// so every kernel runs on the measuring thread.
//
//	go run ./bench/speed/cputime -models a.onnx,b.onnx -batch 64 -passes 20 -rounds 3
//
// Each round runs every model's passes in turn (after one warm-up pass;
// at least -passes and -min-cpu of CPU time) and takes the mean CPU time
// per pass; the smallest round mean of each
// model is printed, in ms per pass and images/s of CPU time. The
// executor is the one train.TimeInference and `slimgo bench` use
// (engine.Optimize, buffers recycled). ONNX Runtime's counterpart is
// tools/ort/run.js --threads 1 --timing, whose cpu_ms is the process's
// CPU time per run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/tensor"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		fmt.Fprintln(os.Stderr, "cputime:", err)
		os.Exit(1)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	models := flag.String("models", "", "comma-separated .onnx files (required)")
	batch := flag.Int("batch", 1, "images per pass")
	passes := flag.Int("passes", 20, "timed passes per model and round")
	rounds := flag.Int("rounds", 3, "rounds; the smallest round mean counts")
	minCPU := flag.Duration("min-cpu", 500*time.Millisecond, "and run each model's passes of a round until this much CPU time (the kernel may account CPU time in scheduler ticks)")
	flag.Parse()
	if *models == "" || *batch < 1 || *passes < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "usage: cputime -models a.onnx[,b.onnx...] [-batch B] [-passes N] [-rounds R]")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	names := strings.Split(*models, ",")
	type model struct {
		e    *engine.Executor
		x    *tensor.Tensor
		best time.Duration
	}
	ms := make([]*model, len(names))
	for i, name := range names {
		g, err := onnx.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cputime:", err)
			os.Exit(2)
		}
		o, err := engine.Optimize(g)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cputime:", err)
			os.Exit(2)
		}
		e, err := engine.New(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cputime:", err)
			os.Exit(2)
		}
		e.SetRecycle(true)
		x := tensor.New(append([]int{*batch}, g.Inputs[0].Shape[1:]...)...)
		x.FillNormal(tensor.NewRNG(1), 0, 1)
		ms[i] = &model{e: e, x: x, best: time.Duration(1 << 62)}
	}
	for range *rounds {
		for i, m := range ms {
			run := func() {
				if _, err := m.e.Forward(m.x, false); err != nil {
					fmt.Fprintf(os.Stderr, "cputime: %s: %v\n", names[i], err)
					os.Exit(1)
				}
			}
			run()
			t0 := threadCPU()
			n := 0
			for n < *passes || threadCPU()-t0 < *minCPU {
				run()
				n++
			}
			m.best = min(m.best, (threadCPU()-t0)/time.Duration(n))
		}
	}
	for i, m := range ms {
		fmt.Printf("%-28s batch %3d: %8.3f ms CPU per pass, %9.1f images per CPU second\n",
			names[i], *batch, float64(m.best)/1e6, float64(*batch)/m.best.Seconds())
	}
}
