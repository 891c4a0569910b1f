package onnx

import (
	"testing"

	"github.com/slimgo/slimgo/graph"
)

// TestOpTablesCoverSpecs: every canonical op can be exported, every ONNX
// spelling its spec lists can be imported, and nothing is imported that no
// spec claims.
func TestOpTablesCoverSpecs(t *testing.T) {
	claimed := map[string]bool{}
	for _, op := range graph.Specs() {
		if exporters[op] == nil {
			t.Errorf("op %s has no export hook", op)
		}
		for _, name := range graph.Spec(op).ONNX {
			claimed[name] = true
			if importers[name] == nil {
				t.Errorf("ONNX op %s (spec %s) has no import hook", name, op)
			}
		}
	}
	for name := range importers {
		if !claimed[name] {
			t.Errorf("ONNX op %s is imported but no spec lists it", name)
		}
	}
	for op := range exporters {
		if graph.Spec(op) == nil {
			t.Errorf("export hook for %s, which has no spec", op)
		}
	}
}
