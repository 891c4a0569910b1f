package main

// -child layers: where a training step's time goes, node by node. The
// model (as -child step builds it: nn.Build's resnet8/resnet20, or -onnx
// with BN unfolded) runs forward in training mode and backward from a
// constant output gradient on random images, through the engine directly
// (no loss or optimizer), with engine.Executor.SetTiming on; it prints
// each node's mean forward and backward wall time over -steps steps after
// three warm-ups, and the step's total; -cpuprofile profiles those steps.

import (
	"fmt"
	"time"

	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/tensor"
)

func runLayersChild(model, onnxPath string, batch, steps int, cpuprofile string) error {
	g, chw, err := stepModel(model, onnxPath)
	if err != nil {
		return err
	}
	e, err := engine.New(g)
	if err != nil {
		return err
	}
	e.SetParamGradsOnly(true)
	x := tensor.New(append([]int{batch}, chw...)...)
	rng := tensor.NewRNG(1)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	var dy *tensor.Tensor
	step := func() error {
		out, err := e.Forward(x, true)
		if err != nil {
			return err
		}
		if dy == nil {
			dy = tensor.New(out.Shape...)
			for i := range dy.Data {
				dy.Data[i] = 1 / float32(len(dy.Data))
			}
		}
		e.ZeroGrad()
		_, err = e.Backward(map[string]*tensor.Tensor{g.Outputs[0].Name: dy})
		return err
	}
	for range 3 {
		if err := step(); err != nil {
			return err
		}
	}
	stop, err := startProfile(cpuprofile)
	if err != nil {
		return err
	}
	e.SetTiming(true)
	t0 := time.Now()
	for range max(steps, 1) {
		if err := step(); err != nil {
			return err
		}
	}
	wall := time.Since(t0) / time.Duration(max(steps, 1))
	stop()
	ms := func(d time.Duration, n int) float64 { return float64(d) / 1e6 / float64(max(n, 1)) }
	var fw, bw float64
	fmt.Printf("%-32s %-20s %10s %10s\n", "node", "op", "fwd ms", "bwd ms")
	for _, n := range e.NodeTimes() {
		f, b := ms(n.Total, n.Passes), ms(n.Backward, n.BackPasses)
		fw += f
		bw += b
		fmt.Printf("%-32s %-20s %10.3f %10.3f\n", n.Name, n.Op, f, b)
	}
	fmt.Printf("step %.1f ms: nodes forward %.1f ms, backward %.1f ms (the rest: gradient sums between nodes)\n",
		ms(wall, 1), fw, bw)
	return nil
}
