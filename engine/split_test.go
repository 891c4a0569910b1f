package engine

import (
	"math"
	"runtime"
	"testing"

	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// TestSplitMatchesLayerByLayer runs an optimised mobilenet-s on 96x96
// images at batches 5 and 2 on 1 to 3 threads, depth-first over its first
// blocks (the pass plans a cut) and layer by layer (splitOff, no
// recycling, so every value is kept): the same value at the cut, whole
// batch, and the same outputs, to rounding, on every call (the plan is
// cached); batches no larger than the thread count are not split.
func TestSplitMatchesLayerByLayer(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	g, err := nn.Build("mobilenet-s", []int{3, 96, 96}, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	randomiseBN(g, 6)
	o, err := Optimize(g)
	if err != nil {
		t.Fatal(err)
	}
	close := func(what string, got, want *tensor.Tensor) {
		t.Helper()
		if got == nil || want == nil || !tensor.SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: shapes %v and %v", what, got, want)
		}
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-4*(1+math.Abs(float64(want.Data[i]))) {
				t.Fatalf("%s: element %d = %g depth-first, %g layer by layer", what, i, got.Data[i], want.Data[i])
			}
		}
	}
	in := o.Inputs[0].Name
	for _, threads := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(threads)
		for _, n := range []int{5, 2} {
			x := cvRand(uint64(10+n), n, 3, 96, 96)
			ref, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Run(map[string]*tensor.Tensor{in: x}, false)
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			e.SetRecycle(true)
			for range 2 { // the second call uses the cached plan
				got, err := e.Run(map[string]*tensor.Tensor{in: x}, false)
				if err != nil {
					t.Fatal(err)
				}
				var sp *splitPlan
				for _, p := range e.splits {
					sp = p.plan
				}
				if (sp != nil) != (n > threads) {
					t.Fatalf("%d threads, batch %d: plan %v", threads, n, sp)
				}
				if sp != nil {
					close("value at the cut", e.Value(sp.live), ref.Value(sp.live))
				}
				close("output", got[o.Outputs[0].Name], want[o.Outputs[0].Name])
			}
		}
	}
}
