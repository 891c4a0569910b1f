package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/slimgo/slimgo/graph"
)

// Block is a residual block: an Add whose inputs are a value x (the
// shortcut) and a branch computed from x alone, or two branches from x (a
// projection shortcut).
type Block struct {
	Name     string   // the Add node
	Input    string   // x, the value the block starts from
	Output   string   // the Add's output
	Branch   []string // nodes of the residual branch, topological order
	Shortcut []string // nodes of a projection shortcut (empty for identity)
	// Removable is true for an identity shortcut whose input shape equals
	// the Add's output shape; Reason says why a block is not.
	Removable bool
	Reason    string
}

// Blocks returns the residual blocks of g in topological order of their Add.
// A branch may hold any nodes, provided every one of them reads only x,
// parameters or other branch nodes, and nothing outside the block reads its
// outputs. An Add that is not of this form is not a block. It errors when g
// does not order or infer shapes.
func Blocks(g *graph.Graph) ([]Block, error) {
	order, err := g.Topo()
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	f := &blockFinder{g: g, order: order, ix: graph.NewIndex(g, order), pos: map[string]int{}}
	for _, v := range g.Inputs {
		f.pos[v.Name] = -1
	}
	for i, n := range order {
		for _, o := range n.Outputs {
			f.pos[o] = i
		}
	}
	var blocks []Block
	for _, n := range order {
		if blk, ok := f.block(n, shapes); ok {
			blocks = append(blocks, blk)
		}
	}
	return blocks, nil
}

// blockFinder holds what Blocks looks up while testing each Add.
type blockFinder struct {
	g     *graph.Graph
	order []*graph.Node
	ix    *graph.Index
	pos   map[string]int // value -> topological position of its producer (-1 for inputs)
}

// block returns the block ending at n when n is an Add of the block form.
func (f *blockFinder) block(n *graph.Node, shapes map[string][]int) (Block, bool) {
	g := f.g
	if n.Op != graph.OpAdd || len(n.Inputs) != 2 || len(n.Outputs) != 1 || g.IsParam(n.Inputs[0]) || g.IsParam(n.Inputs[1]) {
		return Block{}, false
	}
	a, b := n.Inputs[0], n.Inputs[1]
	if a == b {
		return Block{}, false
	}
	ancA, ancB := f.ancestors(a), f.ancestors(b)
	x, best := "", -2
	for v := range ancA {
		if ancB[v] && (f.pos[v] > best || (f.pos[v] == best && v < x)) {
			x, best = v, f.pos[v]
		}
	}
	if x == "" {
		return Block{}, false
	}
	blk := Block{Name: n.Name, Input: x, Output: n.Outputs[0]}
	switch x {
	case a, b:
		y := b
		if x == b {
			y = a
		}
		br := f.closure(x, y, n)
		if len(br) == 0 {
			return Block{}, false
		}
		blk.Branch = nodeNames(br)
		if !slices.Equal(shapes[x], shapes[blk.Output]) {
			blk.Reason = fmt.Sprintf("input shape %v differs from output shape %v", shapes[x], shapes[blk.Output])
		} else {
			blk.Removable = true
		}
	default:
		ba, bb := f.closure(x, a, n), f.closure(x, b, n)
		if ba == nil || bb == nil {
			return Block{}, false
		}
		// The longer path is the residual branch, the other the projection.
		if len(bb) > len(ba) {
			ba, bb = bb, ba
		}
		blk.Branch, blk.Shortcut = nodeNames(ba), nodeNames(bb)
		blk.Reason = "projection shortcut " + fmt.Sprint(blk.Shortcut)
	}
	return blk, true
}

// ancestors returns every non-parameter value v depends on, v included.
func (f *blockFinder) ancestors(v string) map[string]bool {
	seen := map[string]bool{v: true}
	stack := []string{v}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p := f.ix.Producer(s); p != nil {
			for _, in := range p.Inputs {
				if in != "" && !f.g.IsParam(in) && !seen[in] {
					seen[in] = true
					stack = append(stack, in)
				}
			}
		}
	}
	return seen
}

// closure returns the nodes computing y from x, or nil when y needs
// anything else or the nodes' outputs escape to outside readers.
func (f *blockFinder) closure(x, y string, add *graph.Node) []*graph.Node {
	if x == y {
		return []*graph.Node{}
	}
	in := map[*graph.Node]bool{}
	stack := []string{y}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == x || s == "" || f.g.IsParam(s) {
			continue
		}
		p := f.ix.Producer(s)
		if p == nil || f.pos[s] < f.pos[x] {
			return nil
		}
		if in[p] {
			continue
		}
		in[p] = true
		stack = append(stack, p.Inputs...)
	}
	var nodes []*graph.Node
	for _, n := range f.order {
		if !in[n] {
			continue
		}
		for _, o := range n.Outputs {
			if f.ix.IsOutput(o) {
				return nil
			}
			for _, c := range f.ix.Consumers(o) {
				if c != add && !in[c] {
					return nil
				}
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// nodeNames returns the nodes' names.
func nodeNames(ns []*graph.Node) []string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.Name
	}
	return s
}

// BlockScore selects which BatchNormalizations score a block.
type BlockScore int

const (
	// LastBN3x3 (default): the BN following the branch's last 3x3 Conv (for
	// a ResNet basic block, bn2; for a darknet 1x1-then-3x3 block, the 3x3's BN).
	LastBN3x3 BlockScore = iota
	// FirstBN3x3: the BN following the branch's first 3x3 Conv.
	FirstBN3x3
	// MeanBN3x3: mean over every 3x3 Conv's BN of its mean |gamma|.
	MeanBN3x3
)

// ScoreBNs returns the BatchNormalization nodes that score blk: those
// directly reading the output of a 3x3 Conv of the branch, chosen by sel. A
// branch without a 3x3 Conv followed by a BN falls back to all BNs of the
// branch. It errors when the branch has no BN at all.
func ScoreBNs(g *graph.Graph, blk Block, sel BlockScore) ([]*graph.Node, error) {
	var bns, all []*graph.Node
	inBranch := map[string]bool{}
	for _, name := range blk.Branch {
		inBranch[name] = true
	}
	for _, name := range blk.Branch {
		n := g.Node(name)
		if n == nil {
			return nil, fmt.Errorf("prune: block %q: node %q is not in the graph", blk.Name, name)
		}
		if n.Op == graph.OpBN {
			all = append(all, n)
		}
		if n.Op != graph.OpConv || len(n.Outputs) == 0 {
			continue
		}
		w := g.Params[n.Input(1)]
		if w == nil || w.Dims() != 4 || w.Shape[2] != 3 || w.Shape[3] != 3 {
			continue
		}
		for _, c := range g.Consumers(n.Outputs[0]) {
			if c.Op == graph.OpBN && inBranch[c.Name] {
				bns = append(bns, c)
				break
			}
		}
	}
	if len(bns) == 0 {
		bns = all
	}
	if len(bns) == 0 {
		return nil, fmt.Errorf("prune: block %q has no BatchNormalization to score it", blk.Name)
	}
	switch sel {
	case LastBN3x3:
		return bns[len(bns)-1:], nil
	case FirstBN3x3:
		return bns[:1], nil
	case MeanBN3x3:
		return bns, nil
	}
	return nil, fmt.Errorf("prune: unknown block score %d", sel)
}

// Score returns the mean |gamma| of blk's scoring BNs (see ScoreBNs), the
// mean taken over every channel of those BNs.
func Score(g *graph.Graph, blk Block, sel BlockScore) (float64, error) {
	bns, err := ScoreBNs(g, blk, sel)
	if err != nil {
		return 0, err
	}
	s := 0.0
	for _, bn := range bns {
		gamma := g.Params[bn.Input(1)]
		if gamma == nil || gamma.Len() == 0 {
			return 0, fmt.Errorf("prune: block %q: BN %q has no scale parameter", blk.Name, bn.Name)
		}
		m := 0.0
		for _, v := range gamma.Data {
			m += math.Abs(float64(v))
		}
		s += m / float64(gamma.Len())
	}
	return s / float64(len(bns)), nil
}

// PlanLayerPrune returns the names of the removable blocks to remove, weakest
// first: those scoring below threshold (when threshold > 0), at most k of
// them (when k > 0; k <= 0 means no limit). With neither set it returns
// nothing.
func PlanLayerPrune(g *graph.Graph, k int, threshold float64, sel BlockScore) ([]string, error) {
	if k <= 0 && threshold <= 0 {
		return nil, nil
	}
	blocks, err := Blocks(g)
	if err != nil {
		return nil, err
	}
	type cand struct {
		name  string
		score float64
	}
	var cs []cand
	for _, b := range blocks {
		if !b.Removable {
			continue
		}
		s, err := Score(g, b, sel)
		if err != nil {
			return nil, err
		}
		if threshold > 0 && s >= threshold {
			continue
		}
		cs = append(cs, cand{b.Name, s})
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.score, b.score) })
	if k > 0 && len(cs) > k {
		cs = cs[:k]
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out, nil
}

// RemoveBlocks returns a copy of g without the named blocks (Block.Name,
// i.e. their Add nodes): each block's branch and Add are deleted and the
// Add's readers read the block's input x instead (a graph output keeps its
// name through an Identity node). Nodes after the Add stay: for a ResNet
// basic block the ReLU after the Add now computes relu(x), which equals x
// because x is itself the output of a ReLU. Parameters no longer read are
// dropped. It errors naming a block that does not exist or is not
// removable.
func RemoveBlocks(g *graph.Graph, names []string) (*graph.Graph, error) {
	out := g.Clone()
	for _, name := range names {
		blocks, err := Blocks(out)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(blocks, func(b Block) bool { return b.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("prune: no residual block %q in graph %q", name, g.Name)
		}
		b := blocks[i]
		if !b.Removable {
			return nil, fmt.Errorf("prune: block %q is not removable: %s", name, b.Reason)
		}
		drop := map[string]bool{b.Name: true}
		for _, n := range b.Branch {
			drop[n] = true
		}
		var nodes []*graph.Node
		for _, n := range out.Nodes {
			if drop[n.Name] {
				continue
			}
			for j, in := range n.Inputs {
				if in == b.Output {
					n.Inputs[j] = b.Input
				}
			}
			nodes = append(nodes, n)
		}
		for _, v := range out.Outputs {
			if v.Name == b.Output {
				nodes = append(nodes, &graph.Node{Name: b.Name, Op: graph.OpIdentity, Inputs: []string{b.Input}, Outputs: []string{b.Output}})
				break
			}
		}
		out.Nodes = nodes
		used := map[string]bool{}
		for _, n := range nodes {
			for _, in := range n.Inputs {
				used[in] = true
			}
		}
		for p := range out.Params {
			if !used[p] {
				delete(out.Params, p)
			}
		}
	}
	if _, err := out.InferShapes(nil); err != nil {
		return nil, fmt.Errorf("prune: graph after block removal is invalid: %w", err)
	}
	return out, nil
}
