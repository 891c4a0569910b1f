package engine

import (
	"runtime"
	"testing"
)

// TestStripesMatchNaive runs fused Convs that take the stripe path (a
// 7x7 stride-2 stem and a 3x3 conv whose lowered matrices exceed
// stripeFloats, single images, so 2-3 threads split the stripes) through
// fusedConvMatchesNaive, after checking they take it.
func TestStripesMatchNaive(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, tc := range []convCase{
		{"7x7 stride 2 stem", 1, 3, 70, 66, 20, cvGeom(7, 7, 2, 3, 1, 1), true},
		{"3x3 at 60x60", 1, 16, 60, 60, 24, cvGeom(3, 3, 1, 1, 1, 1), false},
	} {
		n, x, w, b := tc.build(1)
		n.Op = OpFusedConv
		d, err := cvCompile(t, n).(*convKernel).check(convIn(x, w, b))
		if err != nil || !useStripes(d, &convFwd{kb: 1}, true) || useWinogradForward(d, true) {
			t.Fatalf("%s: does not take the stripe path (%v)", tc.name, err)
		}
		if rb := stripeRows(d); rb >= d.s.OH {
			t.Fatalf("%s: one stripe of %d rows covers all %d", tc.name, rb, d.s.OH)
		}
		fusedConvMatchesNaive(t, tc, uint64(900+10*i), uint64(950+i))
	}
}
