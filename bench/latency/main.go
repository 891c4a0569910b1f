// Command latency checks the latency lookup table's estimate against
// ONNX Runtime: it builds the table of a model (package latency, cached
// per machine), calibrates it with the model's measured batch-1 time,
// prunes the model by a few uniform and random per-group ratios, and
// prints for each pruned model the estimate, the measured time and the
// error, beside a MAC-proportional estimate (before * macs/macs_before).
//
//	go run ./bench/latency --model M.onnx [--round-to 8 --round-min 32 --random 6 --seed 1]
package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/latency"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
	"github.com/slimgo/slimgo/tensor"
)

func main() {
	model := flag.String("model", "", "ONNX model (required)")
	roundTo := flag.Int("round-to", 8, "prune's --round-to")
	roundMin := flag.Int("round-min", 32, "prune's --round-min")
	random := flag.Int("random", 6, "random policies besides the uniform ones")
	seed := flag.Uint64("seed", 1, "seed of the random policies")
	flag.Parse()
	if err := run(*model, *roundTo, *roundMin, *random, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

func run(model string, roundTo, roundMin, random int, seed uint64) error {
	g, err := onnx.ReadFile(model)
	if err != nil {
		return err
	}
	popt := prune.Options{Criterion: prune.L1, MinChannels: 1, RoundTo: roundTo, RoundMin: roundMin}
	t, err := latency.Build(g, latency.Options{Prune: popt, Log: os.Stderr})
	if err != nil {
		return err
	}
	before, err := latency.MeasureGraph(g)
	if err != nil {
		return err
	}
	st0, _ := g.ComputeStats()
	groups, err := prune.Groups(g)
	if err != nil {
		return err
	}
	t.Calibrate(before)
	one := *t // the constant alone (scale 1)
	small, err := pruned(g, groups, uniform(len(groups), 0.8), popt)
	if err != nil {
		return err
	}
	smallMs, err := latency.MeasureGraph(small)
	if err != nil {
		return err
	}
	if err := t.Fit(before, small, smallMs); err != nil {
		return err
	}
	fmt.Printf("%s: %.4f ms measured (%.4f ms at ratio 0.8), table convs %.4f ms, fit: rest %.4f ms + %.3f x convs; constant alone: rest %.4f ms; overhead %.4f ms (round-to %d, round-min %d)\n\n",
		model, before, smallMs, t.Full(), t.RestMs, t.Scale, one.RestMs, t.OverheadMs, roundTo, roundMin)
	fmt.Println("| policy | MACs | measured ms | table (fit) ms | error | table (constant alone) ms | error | MAC-proportional ms | error |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	var errT, errC, errM []float64
	rng := tensor.NewRNG(seed)
	for k := range 3 + random {
		ratios := make([]float64, len(groups))
		name := ""
		for i := range ratios {
			if k < 3 {
				ratios[i] = 0.2 * float64(k+1)
			} else {
				ratios[i] = 0.8 * rng.Float64()
			}
		}
		if k < 3 {
			name = fmt.Sprintf("uniform %.2f", ratios[0])
		} else {
			name = fmt.Sprintf("random %d", k-2)
		}
		p, err := pruned(g, groups, ratios, popt)
		if err != nil {
			return err
		}
		ms, err := latency.MeasureGraph(p)
		if err != nil {
			return err
		}
		est, err := t.Estimate(p)
		if err != nil {
			return err
		}
		c, _ := one.Estimate(p)
		st, _ := p.ComputeStats()
		mac := before * float64(st.MACs) / float64(st0.MACs)
		errT, errC, errM = append(errT, est/ms-1), append(errC, c/ms-1), append(errM, mac/ms-1)
		fmt.Printf("| %s | %.2f M | %.4f | %.4f | %+.1f%% | %.4f | %+.1f%% | %.4f | %+.1f%% |\n", name, float64(st.MACs)/1e6, ms,
			est, 100*(est/ms-1), c, 100*(c/ms-1), mac, 100*(mac/ms-1))
	}
	fmt.Printf("\nmean |error|: table (fit) %.1f%%, table (constant alone) %.1f%%, MAC-proportional %.1f%%\n",
		100*meanAbs(errT), 100*meanAbs(errC), 100*meanAbs(errM))
	return nil
}

func pruned(g *graph.Graph, groups []*prune.Group, ratios []float64, popt prune.Options) (*graph.Graph, error) {
	plan, err := prune.PlanByRatios(g, groups, ratios, popt)
	if err != nil {
		return nil, err
	}
	return prune.Apply(g, plan)
}

func meanAbs(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += math.Abs(x)
	}
	return s / float64(len(xs))
}

func uniform(n int, r float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = r
	}
	return out
}
