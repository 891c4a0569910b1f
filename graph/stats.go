package graph

import "fmt"

// NodeStats is the cost of one node for one input image (batch 1).
type NodeStats struct {
	Name   string
	Op     string
	Params int   // trainable parameter values read by the node
	MACs   int64 // multiply-accumulates of Conv and Gemm (the usual convention)
	Out    []int // output shape at batch 1
}

// Stats is a whole-graph summary at batch 1.
type Stats struct {
	Params int   // trainable values: excludes BatchNormalization running mean/var
	MACs   int64 // Conv and Gemm multiply-accumulates per image
	Nodes  []NodeStats
	Ops    map[string]int // op histogram
}

// ComputeStats returns parameters and MACs per node and in total, for one
// image of the declared input shape. Shared parameters count once.
func (g *Graph) ComputeStats() (Stats, error) {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return Stats{}, err
	}
	order, _ := g.Topo()
	st := Stats{Ops: map[string]int{}}
	seen := map[string]bool{}
	for _, n := range order {
		ns := NodeStats{Name: n.Name, Op: n.Op}
		if len(n.Outputs) > 0 {
			ns.Out = shapes[n.Outputs[0]]
		}
		for i, in := range n.Inputs {
			if t, ok := g.Params[in]; ok && !IsBuffer(n.Op, i) {
				ns.Params += t.Len()
				if !seen[in] {
					seen[in] = true
					st.Params += t.Len()
				}
			}
		}
		if s := specs[n.Op]; s != nil && s.MACs != nil {
			ns.MACs = s.MACs(n, inputShapes(n, shapes), ns.Out)
		}
		st.MACs += ns.MACs
		st.Ops[n.Op]++
		st.Nodes = append(st.Nodes, ns)
	}
	return st, nil
}

// String formats a stats summary on one line.
func (s Stats) String() string {
	return fmt.Sprintf("%d params, %.2f M MACs, %d nodes", s.Params, float64(s.MACs)/1e6, len(s.Nodes))
}
