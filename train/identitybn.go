package train

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// CalibrateIdentityBN gives the named BatchNormalization nodes of g, which
// must compute x + B in inference mode (as graph.UnfoldBN inserts them:
// scale 1, mean 0, variance 1-eps), statistics measured on their input over
// the first `images` examples of set (all when images <= 0 or more than
// set has), and sets scale = sqrt(var + eps) and B = mean + B, so each node
// still computes exactly x + B in inference mode while its scale factor is
// the channel's spread and its running statistics are what training-mode
// batches will see. This is how a model exported with BN folded into its
// convolutions gets scale factors that sparse training, slimming and layer
// pruning can rank. Errors: an unknown or non-BN name, a set without
// examples, a failed forward pass.
func CalibrateIdentityBN(g *graph.Graph, names []string, set *data.Dataset, images, batch int) error {
	if len(names) == 0 {
		return nil
	}
	if set.Len() == 0 || batch < 1 {
		return fmt.Errorf("train: BN calibration needs examples and a positive batch (%d examples, batch %d)", set.Len(), batch)
	}
	if images <= 0 || images > set.Len() {
		images = set.Len()
	}
	type acc struct {
		n   *graph.Node
		sum []float64
		sq  []float64
		cnt float64
	}
	accs := make([]*acc, len(names))
	for i, name := range names {
		n := g.Node(name)
		if n == nil || n.Op != graph.OpBN {
			return fmt.Errorf("train: %q is not a BatchNormalization node of %q", name, g.Name)
		}
		c := g.Params[n.Input(1)].Len()
		accs[i] = &acc{n: n, sum: make([]float64, c), sq: make([]float64, c)}
	}
	e, err := engine.New(g)
	if err != nil {
		return err
	}
	var x *tensor.Tensor
	for lo := 0; lo < images; lo += batch {
		hi := min(lo+batch, images)
		idx := make([]int, hi-lo)
		for j := range idx {
			idx[j] = lo + j
		}
		x, _ = set.Batch(idx, x, nil, nil)
		if _, err := e.Forward(x, false); err != nil {
			return err
		}
		for _, a := range accs {
			v := e.Value(a.n.Input(0))
			if v == nil || len(v.Shape) < 2 || v.Shape[1] != len(a.sum) {
				return fmt.Errorf("train: input of %q is not available or has the wrong shape", a.n.Name)
			}
			nb, c := v.Shape[0], v.Shape[1]
			plane := v.Len() / (nb * c)
			for b := range nb {
				for ch := range c {
					s, q := 0.0, 0.0
					for _, f := range v.Data[(b*c+ch)*plane : (b*c+ch+1)*plane] {
						s += float64(f)
						q += float64(f) * float64(f)
					}
					a.sum[ch] += s
					a.sq[ch] += q
				}
			}
			a.cnt += float64(nb * plane)
		}
	}
	for _, a := range accs {
		eps := float64(a.n.Attrs.Float("epsilon", 1e-5))
		scale, bias := g.Params[a.n.Input(1)].Data, g.Params[a.n.Input(2)].Data
		mean, vr := g.Params[a.n.Input(3)].Data, g.Params[a.n.Input(4)].Data
		for ch := range a.sum {
			m := a.sum[ch] / a.cnt
			v := max(a.sq[ch]/a.cnt-m*m, 0)
			mean[ch], vr[ch] = float32(m), float32(v)
			scale[ch] = float32(math.Sqrt(v + eps))
			bias[ch] += float32(m)
		}
	}
	return nil
}
