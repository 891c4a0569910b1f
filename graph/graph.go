// Package graph is slimgo's model IR: a DAG of named nodes in the ONNX style.
// Values (tensors flowing between nodes) are named by strings; a node's inputs
// name either a value produced by another node, a graph input, or a parameter
// (an entry of Graph.Params, i.e. an ONNX initializer). The IR holds no engine
// state, so pruning, clustering and export work on it directly and a second
// execution backend can lower the same graph.
//
// Ops use ONNX names and a canonical form given by their OpSpec (spec_*.go); the ONNX
// importer rewrites other spellings (Clip min/max inputs, Resize scales,
// Reshape-as-flatten, MatMul with a constant, Constant nodes) into it.
package graph

import (
	"fmt"
	"maps"
	"slices"

	"github.com/slimgo/slimgo/tensor"
)

// Value describes a graph input or output. A dimension of -1 is dynamic
// (normally the batch).
type Value struct {
	Name  string
	Shape []int
}

// Node is one operation. Inputs may contain "" for an absent optional input.
type Node struct {
	Name    string
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   Attrs
}

// Graph is a model: inputs, outputs, nodes in any order, parameters by name
// and free-form metadata (architecture, class names, slimgo stage, ...).
type Graph struct {
	Name    string
	Inputs  []Value
	Outputs []Value
	Nodes   []*Node
	Params  map[string]*tensor.Tensor
	Meta    map[string]string
}

// New returns an empty graph.
func New(name string) *Graph {
	return &Graph{Name: name, Params: map[string]*tensor.Tensor{}, Meta: map[string]string{}}
}

// Input returns the input attribute i of n or "" when absent.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// Clone deep-copies the graph, its parameters included.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Params: make(map[string]*tensor.Tensor, len(g.Params)), Meta: maps.Clone(g.Meta)}
	if c.Meta == nil {
		c.Meta = map[string]string{}
	}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, Value{v.Name, slices.Clone(v.Shape)})
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, Value{v.Name, slices.Clone(v.Shape)})
	}
	for _, n := range g.Nodes {
		c.Nodes = append(c.Nodes, n.Clone())
	}
	for k, t := range g.Params {
		c.Params[k] = t.Clone()
	}
	return c
}

// Clone deep-copies a node (tensor attributes are shared; they are read-only).
func (n *Node) Clone() *Node {
	return &Node{Name: n.Name, Op: n.Op, Inputs: slices.Clone(n.Inputs), Outputs: slices.Clone(n.Outputs), Attrs: n.Attrs.Clone()}
}

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Producer returns the node producing value v, or nil for inputs and params.
func (g *Graph) Producer(v string) *Node {
	for _, n := range g.Nodes {
		if slices.Contains(n.Outputs, v) {
			return n
		}
	}
	return nil
}

// Consumers returns the nodes reading value v, in graph order.
func (g *Graph) Consumers(v string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if slices.Contains(n.Inputs, v) {
			out = append(out, n)
		}
	}
	return out
}

// IsParam reports whether name is a parameter.
func (g *Graph) IsParam(name string) bool { _, ok := g.Params[name]; return ok }

// Topo returns the nodes in a topological order (stable: ties keep graph
// order). It errors on a cycle, a value produced twice, or an input that no
// node, graph input or parameter provides.
func (g *Graph) Topo() ([]*Node, error) {
	avail := map[string]bool{}
	for _, v := range g.Inputs {
		avail[v.Name] = true
	}
	for k := range g.Params {
		avail[k] = true
	}
	produced := map[string]string{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if p, dup := produced[o]; dup {
				return nil, fmt.Errorf("graph: value %q produced by both %q and %q", o, p, n.Name)
			}
			produced[o] = n.Name
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !avail[in] && produced[in] == "" {
				return nil, fmt.Errorf("graph: node %q (%s) reads %q, which nothing provides", n.Name, n.Op, in)
			}
		}
	}
	done := make([]bool, len(g.Nodes))
	order := make([]*Node, 0, len(g.Nodes))
	for len(order) < len(g.Nodes) {
		progress := false
		for i, n := range g.Nodes {
			if done[i] {
				continue
			}
			ready := true
			for _, in := range n.Inputs {
				if in != "" && !avail[in] {
					ready = false
					break
				}
			}
			if ready {
				done[i] = true
				progress = true
				order = append(order, n)
				for _, o := range n.Outputs {
					avail[o] = true
				}
			}
		}
		if !progress {
			for i, n := range g.Nodes {
				if !done[i] {
					return nil, fmt.Errorf("graph: cycle through node %q (%s)", n.Name, n.Op)
				}
			}
		}
	}
	return order, nil
}

// Sort reorders g.Nodes topologically (see Topo).
func (g *Graph) Sort() error {
	order, err := g.Topo()
	if err != nil {
		return err
	}
	g.Nodes = order
	return nil
}

// RemoveUnused drops nodes whose outputs reach no graph output and parameters
// that no node reads.
func (g *Graph) RemoveUnused() {
	need := map[string]bool{}
	for _, v := range g.Outputs {
		need[v.Name] = true
	}
	keep := make([]bool, len(g.Nodes))
	for changed := true; changed; {
		changed = false
		for i, n := range g.Nodes {
			if keep[i] {
				continue
			}
			for _, o := range n.Outputs {
				if need[o] {
					keep[i] = true
					changed = true
					for _, in := range n.Inputs {
						need[in] = true
					}
					break
				}
			}
		}
	}
	var nodes []*Node
	for i, n := range g.Nodes {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	g.Nodes = nodes
	for k := range g.Params {
		if !need[k] {
			delete(g.Params, k)
		}
	}
}

// UniqueName returns prefix, or prefix_N, not yet used by a node, value or param.
func (g *Graph) UniqueName(prefix string) string {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		used[n.Name] = true
		for _, o := range n.Outputs {
			used[o] = true
		}
	}
	for k := range g.Params {
		used[k] = true
	}
	for _, v := range g.Inputs {
		used[v.Name] = true
	}
	if !used[prefix] {
		return prefix
	}
	for i := 1; ; i++ {
		if s := fmt.Sprintf("%s_%d", prefix, i); !used[s] {
			return s
		}
	}
}
