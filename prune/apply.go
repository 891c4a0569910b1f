package prune

import (
	"fmt"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Plan maps a group to the channels it keeps (indices into 0..Size-1). A
// group absent from the plan keeps all its channels.
type Plan map[*Group][]int

// Apply returns a copy of g with the channels not kept by plan physically
// removed: Conv weights on axis 0 and/or 1 (a depthwise Conv's group
// attribute follows its channel count), biases, the four BatchNormalization
// vectors, per-channel Add/Mul operands and Gemm weights (for a flattened
// map, the H*W columns of each channel). g is not modified. The groups must
// come from Groups(g). It errors, naming the group, when a keep list is
// empty, out of range or repeats an index, when a member's tensor does not
// match g, or when the result fails shape inference.
func Apply(g *graph.Graph, plan Plan) (*graph.Graph, error) {
	// drop[param][axis] = entries removed along that axis.
	drop := map[string]map[int]map[int]bool{}
	dw := map[string]bool{}
	groups := make([]*Group, 0, len(plan))
	for grp := range plan {
		groups = append(groups, grp)
	}
	slices.SortFunc(groups, func(a, b *Group) int { return a.ID - b.ID })
	for _, grp := range groups {
		keep := slices.Clone(plan[grp])
		slices.Sort(keep)
		if len(keep) == 0 {
			return nil, fmt.Errorf("prune: group %d (%s): keeps no channel", grp.ID, firstNode(grp))
		}
		for i, k := range keep {
			if k < 0 || k >= grp.Size {
				return nil, fmt.Errorf("prune: group %d (%s): channel %d out of range 0..%d", grp.ID, firstNode(grp), k, grp.Size-1)
			}
			if i > 0 && keep[i-1] == k {
				return nil, fmt.Errorf("prune: group %d (%s): channel %d kept twice", grp.ID, firstNode(grp), k)
			}
		}
		if len(keep) == grp.Size {
			continue
		}
		kept := make([]bool, grp.Size)
		for _, k := range keep {
			kept[k] = true
		}
		for _, m := range grp.Members {
			if g.Node(m.Node) == nil {
				return nil, fmt.Errorf("prune: group %d: member node %q is not in graph %q", grp.ID, m.Node, g.Name)
			}
			if m.Role == Depthwise {
				dw[m.Node] = true
			}
			for _, ta := range m.Tensors {
				t := g.Params[ta.Param]
				if t == nil || ta.Axis >= t.Dims() {
					return nil, fmt.Errorf("prune: group %d: %s %q: no parameter %q with axis %d", grp.ID, m.Role, m.Node, ta.Param, ta.Axis)
				}
				block := m.Block
				if len(m.Tensors) > 1 && ta != m.Tensors[0] {
					block = 1 // biases and BN vectors hold one entry per channel
				}
				if t.Shape[ta.Axis] != m.Of*block {
					return nil, fmt.Errorf("prune: group %d: %s %q: parameter %q has shape %v, want %d on axis %d", grp.ID, m.Role, m.Node, ta.Param, t.Shape, m.Of*block, ta.Axis)
				}
				if drop[ta.Param] == nil {
					drop[ta.Param] = map[int]map[int]bool{}
				}
				d := drop[ta.Param][ta.Axis]
				if d == nil {
					d = map[int]bool{}
					drop[ta.Param][ta.Axis] = d
				}
				for j, ix := range m.Index {
					if kept[j] {
						continue
					}
					for b := range block {
						d[ix*block+b] = true
					}
				}
			}
		}
	}
	out := g.Clone()
	for p, axes := range drop {
		t := out.Params[p]
		for ax, d := range axes {
			keep := make([]int, 0, t.Shape[ax])
			for i := range t.Shape[ax] {
				if !d[i] {
					keep = append(keep, i)
				}
			}
			if len(keep) == 0 {
				return nil, fmt.Errorf("prune: parameter %q would lose every entry of axis %d", p, ax)
			}
			t = Slice(t, ax, keep)
		}
		out.Params[p] = t
	}
	for _, n := range out.Nodes {
		if dw[n.Name] {
			n.Attrs = n.Attrs.Clone()
			if n.Attrs == nil {
				n.Attrs = graph.Attrs{}
			}
			n.Attrs["group"] = out.Params[n.Inputs[1]].Shape[0]
		}
	}
	if _, err := out.InferShapes(nil); err != nil {
		return nil, fmt.Errorf("prune: pruned graph is invalid: %w", err)
	}
	return out, nil
}

func firstNode(grp *Group) string {
	if len(grp.Members) == 0 {
		return "no members"
	}
	return grp.Members[0].Node
}

// Slice returns a new tensor holding the entries keep (in that order) of t
// along axis. It panics on an axis or index out of range (a programmer
// error; Apply checks both first).
func Slice(t *tensor.Tensor, axis int, keep []int) *tensor.Tensor {
	outer, n, inner := split(t.Shape, axis)
	shape := slices.Clone(t.Shape)
	shape[axis] = len(keep)
	r := tensor.New(shape...)
	for o := range outer {
		for j, k := range keep {
			if k < 0 || k >= n {
				panic(fmt.Sprintf("prune: Slice index %d out of range for axis %d of %v", k, axis, t.Shape))
			}
			copy(r.Data[(o*len(keep)+j)*inner:(o*len(keep)+j+1)*inner], t.Data[(o*n+k)*inner:(o*n+k+1)*inner])
		}
	}
	return r
}
