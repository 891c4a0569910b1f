package graph

// Index answers "who computes v" and "who reads v" in constant time, for
// passes that ask often (Producer and Consumers on Graph scan all nodes).
// It is a snapshot: rebuild it after changing the graph. The empty name ""
// (an absent optional input) is never a value.
type Index struct {
	producer  map[string]*Node
	consumers map[string][]*Node
	outputs   map[string]int
}

// NewIndex indexes the given nodes (g.Nodes when nodes is nil) and g's
// outputs. Consumers keep the nodes' order; a value produced twice maps to
// its last producer.
func NewIndex(g *Graph, nodes []*Node) *Index {
	if nodes == nil {
		nodes = g.Nodes
	}
	x := &Index{producer: map[string]*Node{}, consumers: map[string][]*Node{}, outputs: map[string]int{}}
	for _, n := range nodes {
		for _, o := range n.Outputs {
			if o != "" {
				x.producer[o] = n
			}
		}
		for _, in := range n.Inputs {
			if in != "" {
				x.consumers[in] = append(x.consumers[in], n)
			}
		}
	}
	for _, v := range g.Outputs {
		x.outputs[v.Name]++
	}
	return x
}

// Producer returns the node computing v, or nil for inputs and parameters.
func (x *Index) Producer(v string) *Node { return x.producer[v] }

// Consumers returns the nodes reading v, once per input slot that reads it.
func (x *Index) Consumers(v string) []*Node { return x.consumers[v] }

// IsOutput reports whether v is a graph output.
func (x *Index) IsOutput(v string) bool { return x.outputs[v] > 0 }

// Readers counts the input slots and graph outputs that read v.
func (x *Index) Readers(v string) int { return len(x.consumers[v]) + x.outputs[v] }
