package pipeline

import (
	"fmt"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/train"
)

// bnCalibImages is how many training images measure the statistics of a
// restored BatchNormalization.
const bnCalibImages = 2048

// hasBN reports whether g has any BatchNormalization node.
func hasBN(g *graph.Graph) bool {
	for _, n := range g.Nodes {
		if n.Op == graph.OpBN {
			return true
		}
	}
	return false
}

// restoreBN gives a model exported with BN folded into its convolutions
// (no BatchNormalization at all) a BatchNormalization after every Conv,
// as `convert --unfold-bn` does, with statistics measured on up to
// bnCalibImages images of set and scale factors equal to each channel's
// spread (train.CalibrateIdentityBN): the restored model computes what g
// computes, and its BN scale factors rank channels. A model with any BN is
// returned as it is (restored = 0).
func restoreBN(e *Env, g *graph.Graph, set *data.Dataset, batch int) (out *graph.Graph, restored int, err error) {
	if hasBN(g) {
		return g, 0, nil
	}
	before := map[string]bool{}
	for _, n := range g.Nodes {
		before[n.Name] = true
	}
	out, err = graph.UnfoldBN(g)
	if err != nil {
		return nil, 0, AsInput(err)
	}
	var names []string
	for _, n := range out.Nodes {
		if n.Op == graph.OpBN && !before[n.Name] {
			names = append(names, n.Name)
		}
	}
	if len(names) == 0 {
		return g, 0, nil
	}
	if err := train.CalibrateIdentityBN(out, names, set, bnCalibImages, batch); err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(e.Log, "the model has no BatchNormalization (BN folded at export): restored %d, with statistics and scale factors from %d training images; the output is folded again\n",
		len(names), min(bnCalibImages, set.Len()))
	return out, len(names), nil
}
