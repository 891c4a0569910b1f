package pipeline

import (
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/nn"
)

// TestFloat16Harmless: float16 parameters are accepted on a built resnet8
// (BN and biases move outputs by far less than the tolerance) and refused
// when rounding flips the predicted class though every output moves by
// less than the tolerance (logits decided by a 1e-4 bias gap).
func TestFloat16Harmless(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cluster.QuantizeGraph(g, cluster.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := float16Harmless(g, r)
	if err != nil || !ok {
		t.Fatalf("resnet8: float16 parameters refused (%v)", err)
	}
	// Only the bias decides the class now: 1 and 1+1e-4 are one float16.
	g.Params["fc.weight"].Zero()
	b := g.Params["fc.bias"]
	b.Fill(1)
	b.Data[3] = 1 + 1e-4
	var rr cluster.Result
	for _, l := range r.Layers {
		if l.Param != "fc.weight" {
			rr.Layers = append(rr.Layers, l)
		}
	}
	ok, err = float16Harmless(g, &rr)
	if err != nil || ok {
		t.Fatalf("a class flipped by float16 was accepted (err %v)", err)
	}
}
