package engine

import (
	"slices"
	"testing"

	"github.com/slimgo/slimgo/graph"
)

// TestKernelsMatchSpecs: the engine has a kernel for every op graph
// specifies, and registers none that graph does not know (OpFusedConv, the
// engine-internal op of Optimize, is compiled apart and not registered).
func TestKernelsMatchSpecs(t *testing.T) {
	if got, want := Supported(), graph.Specs(); !slices.Equal(got, want) {
		t.Fatalf("kernels for %v, specs for %v", got, want)
	}
}
