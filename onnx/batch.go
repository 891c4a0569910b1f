package onnx

import (
	"fmt"
	"slices"

	"github.com/slimgo/slimgo/graph"
)

// MetaFileBatch is the metadata key under which ReadFile records the batch
// size a file fixed before import made it dynamic ("1" for a default
// torch.onnx.export). It describes the file read, so writers drop it.
const MetaFileBatch = "slimgo.file_batch"

// freeBatch makes a batch dimension that the file fixed at 1 dynamic, as
// torch.onnx.export does by default (no dynamic_axes): the model then runs
// at any batch. Reshape targets that copy the batch as a literal 1 are
// rewritten to 0 ("copy this dimension"). The rewrite is kept only when
// shape inference at batch 2 gives every graph output a batch of 2;
// otherwise (a graph that mixes the batch into other axes) g is left as the
// file gave it and a later shape mismatch names the input.
func freeBatch(g *graph.Graph) error {
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) == 0 || g.Inputs[0].Shape[0] != 1 {
		return nil
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return err
	}
	type change struct {
		n   *graph.Node
		old []int
	}
	var changed []change
	for _, n := range g.Nodes {
		if n.Op != graph.OpReshape {
			continue
		}
		in, out := shapes[n.Input(0)], shapes[n.Outputs[0]]
		s := n.Attrs.Ints("shape", nil)
		if len(in) > 0 && len(out) > 0 && len(s) > 0 && in[0] == 1 && out[0] == 1 && s[0] == 1 {
			changed = append(changed, change{n, s})
			ns := slices.Clone(s)
			ns[0] = 0
			n.Attrs["shape"] = ns
		}
	}
	in := slices.Clone(g.Inputs[0].Shape)
	in[0] = 2
	ok := true
	s2, err := g.InferShapes(map[string][]int{g.Inputs[0].Name: in})
	if err != nil {
		ok = false
	} else {
		for _, o := range g.Outputs {
			if s := s2[o.Name]; len(s) == 0 || s[0] != 2 {
				ok = false
			}
		}
	}
	if !ok {
		for _, c := range changed {
			c.n.Attrs["shape"] = c.old
		}
		return nil
	}
	g.Inputs[0].Shape[0] = -1
	g.Meta[MetaFileBatch] = fmt.Sprint(1)
	return nil
}
