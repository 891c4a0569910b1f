package prune

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slimgo/slimgo/graph"
)

// Role says how a Member's tensors are indexed by a group's channels.
type Role int

// Roles, in the order Details prints the members of one node.
const (
	// ConvOut: a Conv's output channels; W[M,C,kh,kw] axis 0 and bias B[M].
	ConvOut Role = iota
	// Depthwise: a depthwise Conv (group == C == M, W[C,1,kh,kw]) that passes
	// the channels through; W axis 0, bias, and the group attribute.
	Depthwise
	// BN: a BatchNormalization; scale, B, mean and var (axis 0 each).
	BN
	// ChanParam: a per-channel parameter operand of an elementwise Add or Mul
	// (e.g. Mul by [1,C,1,1]); the parameter's channel axis.
	ChanParam
	// ConvIn: a Conv's input channels; W axis 1.
	ConvIn
	// GemmIn: a Gemm's input features; channel c owns the Block features
	// c*Block .. (c+1)*Block-1 (Block = H*W of a flattened map, 1 otherwise)
	// of W axis 1 (transB=1) or axis 0 (transB=0).
	GemmIn
	// GemmOut: a Gemm's output features; W axis 0 (transB=1) or 1, and bias.
	GemmOut
)

func (r Role) String() string {
	switch r {
	case ConvOut:
		return "ConvOut"
	case Depthwise:
		return "Depthwise"
	case BN:
		return "BN"
	case ChanParam:
		return "ChanParam"
	case ConvIn:
		return "ConvIn"
	case GemmIn:
		return "GemmIn"
	case GemmOut:
		return "GemmOut"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// TensorAxis names a parameter and the axis a group's channels index.
type TensorAxis struct {
	Param string
	Axis  int
}

// Member is one place a group's channels occur.
type Member struct {
	Node string
	Op   string
	Role Role
	// Index[j] is the position, along the member's channel axis, of the
	// group's channel j (in channels; multiply by Block for GemmIn).
	Index []int
	// Of is the length of the member's channel axis in channels (for a
	// consumer of a Concat it exceeds the group's size).
	Of int
	// Block is the number of tensor entries per channel along the axis: H*W
	// for a Gemm reading a flattened feature map, 1 otherwise.
	Block int
	// Tensors are the parameters sliced when a channel goes.
	Tensors []TensorAxis
}

// Group is a set of coupled channels: removing channel j of the group
// removes entry Index[j] of every member (see Member). Groups are numbered
// from 0 in the order of their first member in topological order.
type Group struct {
	ID      int
	Size    int // number of channels
	Members []Member
}

// HasBN reports whether any member is a BatchNormalization.
func (g *Group) HasBN() bool {
	for _, m := range g.Members {
		if m.Role == BN {
			return true
		}
	}
	return false
}

// Producers returns the names of the nodes creating the group's channels
// (ConvOut and GemmOut members), in member order.
func (g *Group) Producers() []string {
	var out []string
	for _, m := range g.Members {
		if m.Role == ConvOut || m.Role == GemmOut {
			out = append(out, m.Node)
		}
	}
	return out
}

// Details prints the group on one line, deterministically:
//
//	group 3 (32 ch): out s2.b0.conv1 [Conv W axis0], s2.b0.bn1 [BN], in s2.b0.conv2 [Conv W axis1]
//
// A member indexed by anything but channels 0..Size-1 of an axis of length
// Size shows its slice, e.g. "[Conv W axis1, ch 32:64 of 96]".
func (g *Group) Details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %d (%d ch): ", g.ID, g.Size)
	for i, m := range g.Members {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.String())
	}
	return b.String()
}

// String formats one member as Details does.
func (m Member) String() string {
	var what string
	switch m.Role {
	case ConvOut:
		what = "out " + m.Node + " [Conv W axis0"
	case Depthwise:
		what = "dw " + m.Node + " [Conv W axis0, group"
	case BN:
		what = m.Node + " [BN"
	case ChanParam:
		what = fmt.Sprintf("%s [%s param axis%d", m.Node, m.Op, m.Tensors[0].Axis)
	case ConvIn:
		what = "in " + m.Node + " [Conv W axis1"
	case GemmIn:
		what = fmt.Sprintf("in %s [Gemm W axis%d", m.Node, m.Tensors[0].Axis)
		if m.Block > 1 {
			what += fmt.Sprintf(", %d per ch", m.Block)
		}
	case GemmOut:
		what = fmt.Sprintf("out %s [Gemm W axis%d", m.Node, m.Tensors[0].Axis)
	default:
		what = m.Node + " [" + m.Role.String()
	}
	if s := sliceText(m.Index, m.Of); s != "" {
		what += ", ch " + s
	}
	return what + "]"
}

// sliceText describes an index list unless it is exactly 0..of-1.
func sliceText(idx []int, of int) string {
	contiguous := true
	for j := 1; j < len(idx); j++ {
		if idx[j] != idx[0]+j {
			contiguous = false
			break
		}
	}
	if contiguous && len(idx) > 0 {
		if idx[0] == 0 && len(idx) == of {
			return ""
		}
		return fmt.Sprintf("%d:%d of %d", idx[0], idx[0]+len(idx), of)
	}
	s := make([]string, len(idx))
	for j, v := range idx {
		s[j] = strconv.Itoa(v)
	}
	return "{" + strings.Join(s, ",") + "} of " + strconv.Itoa(of)
}

// DetailsAll prints one Details line per group.
func DetailsAll(groups []*Group) string {
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(g.Details())
		b.WriteByte('\n')
	}
	return b.String()
}

// chans is the channel view of one value: the element id of each channel
// and, for a flattened feature map, the number of features per channel.
type chans struct {
	elems []int
	block int
}

// slot is one occurrence of one element in a member.
type slot struct {
	pos     int // topological position of the node
	node    *graph.Node
	role    Role
	index   int
	of      int
	block   int
	tensors []TensorAxis
}

type analyzer struct {
	g      *graph.Graph
	shapes map[string][]int
	parent []int
	fixed  []bool
	slots  [][]slot // by element id
	vals   map[string]*chans
	pos    int
}

func (a *analyzer) newElems(n int, fixed bool) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = len(a.parent)
		a.parent = append(a.parent, ids[i])
		a.fixed = append(a.fixed, fixed)
		a.slots = append(a.slots, nil)
	}
	return ids
}

func (a *analyzer) find(e int) int {
	for a.parent[e] != e {
		a.parent[e] = a.parent[a.parent[e]]
		e = a.parent[e]
	}
	return e
}

func (a *analyzer) union(x, y int) {
	x, y = a.find(x), a.find(y)
	if x == y {
		return
	}
	if y < x {
		x, y = y, x
	}
	a.parent[y] = x
	a.fixed[x] = a.fixed[x] || a.fixed[y]
}

func (a *analyzer) fix(c *chans) {
	if c == nil {
		return
	}
	for _, e := range c.elems {
		a.fixed[a.find(e)] = true
	}
}

func (a *analyzer) add(e int, s slot) { a.slots[e] = append(a.slots[e], s) }

// channelsOf returns the channel count of a shape (axis 1), or 0.
func channelsOf(s []int) int {
	if len(s) < 2 {
		return 0
	}
	return s[1]
}

// barrier makes every channel n reads unprunable and gives its outputs fresh
// unprunable channels.
func (a *analyzer) barrier(n *graph.Node) {
	for _, in := range n.Inputs {
		a.fix(a.vals[in])
	}
	for _, o := range n.Outputs {
		if c := channelsOf(a.shapes[o]); c > 0 {
			a.vals[o] = &chans{elems: a.newElems(c, true), block: 1}
		}
	}
}

// Groups analyses g and returns its prunable channel groups, numbered in
// topological order. It errors when the graph does not order or infer
// shapes (see graph.InferShapes) or when a node's op has no coupling rule;
// the error names the node.
//
// Coupling rules (X is the data input, C its channels):
//
//	Conv group=1          in: ConvIn on X; out: new channels (ConvOut)
//	Conv depthwise        W [C,1,k,k], group=C: out channels = X's channels (Depthwise)
//	Conv other groups     barrier
//	BatchNormalization    out = X's channels (BN)
//	Relu LeakyRelu Clip Sigmoid Silu HardSigmoid HardSwish Identity Dropout
//	MaxPool AveragePool GlobalAveragePool Resize
//	                      out = X's channels
//	Add Mul               operands with C channels are joined channel by channel;
//	                      a parameter operand broadcasting over C is a ChanParam;
//	                      an operand broadcasting from 1 channel is left alone
//	                      (so a squeeze-excitation gate [N,C,1,1] times x [N,C,H,W]
//	                      joins the gate's producer, fc2, with x's channels)
//	Concat axis=1         out = the inputs' channels, in order; other axes: barrier
//	Flatten axis=1        out = X's channels, each spread over H*W features
//	Gemm (transA=0)       in: GemmIn on A; out: new channels (GemmOut)
//	Reshape               barrier
func Groups(g *graph.Graph) ([]*Group, error) {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	order, err := g.Topo()
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	a := &analyzer{g: g, shapes: shapes, vals: map[string]*chans{}}
	for _, v := range g.Inputs {
		if c := channelsOf(shapes[v.Name]); c > 0 {
			a.vals[v.Name] = &chans{elems: a.newElems(c, true), block: 1}
		}
	}
	for i, n := range order {
		a.pos = i
		if err := a.node(n); err != nil {
			return nil, err
		}
	}
	for _, v := range g.Outputs {
		a.fix(a.vals[v.Name])
	}
	return a.collect(), nil
}

func (a *analyzer) param(name string) bool { return name != "" && a.g.IsParam(name) }

func (a *analyzer) node(n *graph.Node) error {
	x := a.vals[n.Input(0)]
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	switch graph.CouplingOf(n.Op) {
	case graph.CoupleConv:
		a.conv(n, x)
	case graph.CoupleBN:
		if x == nil || x.block != 1 || !a.param(n.Input(1)) || !a.param(n.Input(2)) || !a.param(n.Input(3)) || !a.param(n.Input(4)) {
			a.barrier(n)
			return nil
		}
		ts := []TensorAxis{{n.Inputs[1], 0}, {n.Inputs[2], 0}, {n.Inputs[3], 0}, {n.Inputs[4], 0}}
		for i, e := range x.elems {
			a.add(e, slot{pos: a.pos, node: n, role: BN, index: i, of: len(x.elems), block: 1, tensors: ts})
		}
		a.vals[out] = x
	case graph.CouplePass:
		if x == nil {
			a.barrier(n)
			return nil
		}
		a.vals[out] = x
	case graph.CoupleSpatial:
		if x == nil || x.block != 1 {
			a.barrier(n)
			return nil
		}
		a.vals[out] = x
	case graph.CoupleElementwise:
		a.elementwise(n)
	case graph.CoupleConcat:
		ax := n.Attrs.Int("axis", 1)
		if ax < 0 {
			ax += len(a.shapes[out])
		}
		c := &chans{block: 1}
		for _, in := range n.Inputs {
			v := a.vals[in]
			if ax != 1 || v == nil || v.block != 1 || a.param(in) {
				a.barrier(n)
				return nil
			}
			c.elems = append(c.elems, v.elems...)
		}
		a.vals[out] = c
	case graph.CoupleFlatten:
		xs := a.shapes[n.Input(0)]
		ax := n.Attrs.Int("axis", 1)
		if ax < 0 {
			ax += len(xs)
		}
		if x == nil || ax != 1 {
			a.barrier(n)
			return nil
		}
		hw := 1
		for _, d := range xs[2:] {
			hw *= d
		}
		a.vals[out] = &chans{elems: x.elems, block: x.block * hw}
	case graph.CoupleGemm:
		a.gemm(n, x)
	case graph.CoupleBarrier:
		a.barrier(n)
	default:
		return fmt.Errorf("prune: node %q: op %q has no channel-coupling rule", n.Name, n.Op)
	}
	return nil
}

func (a *analyzer) conv(n *graph.Node, x *chans) {
	w, b := n.Input(1), n.Input(2)
	if x == nil || x.block != 1 || !a.param(w) || (b != "" && !a.param(b)) {
		a.barrier(n)
		return
	}
	ws := a.g.Params[w].Shape
	c := len(x.elems)
	group := n.Attrs.Int("group", 1)
	outTs := []TensorAxis{{w, 0}}
	if b != "" {
		outTs = append(outTs, TensorAxis{b, 0})
	}
	switch {
	case group == 1:
		for i, e := range x.elems {
			a.add(e, slot{pos: a.pos, node: n, role: ConvIn, index: i, of: c, block: 1, tensors: []TensorAxis{{w, 1}}})
		}
		y := a.newElems(ws[0], false)
		for j, e := range y {
			a.add(e, slot{pos: a.pos, node: n, role: ConvOut, index: j, of: ws[0], block: 1, tensors: outTs})
		}
		a.vals[n.Outputs[0]] = &chans{elems: y, block: 1}
	case group == c && ws[0] == c && ws[1] == 1:
		for i, e := range x.elems {
			a.add(e, slot{pos: a.pos, node: n, role: Depthwise, index: i, of: c, block: 1, tensors: outTs})
		}
		a.vals[n.Outputs[0]] = x
	default:
		a.barrier(n)
	}
}

func (a *analyzer) elementwise(n *graph.Node) {
	if len(n.Inputs) != 2 || len(n.Outputs) == 0 {
		a.barrier(n)
		return
	}
	os := a.shapes[n.Outputs[0]]
	c := channelsOf(os)
	var full *chans
	var params []string
	for _, in := range n.Inputs {
		if a.param(in) {
			params = append(params, in)
			continue
		}
		v := a.vals[in]
		if v == nil || c == 0 {
			a.barrier(n)
			return
		}
		if len(v.elems) == c && channelsOf(a.shapes[in]) == c {
			if full == nil {
				full = v
				continue
			}
			if full.block != v.block {
				a.barrier(n)
				return
			}
			for i := range v.elems {
				a.union(full.elems[i], v.elems[i])
			}
		}
	}
	if full == nil {
		a.barrier(n)
		return
	}
	for _, p := range params {
		ps := a.g.Params[p].Shape
		ax := 1 - (len(os) - len(ps))
		if ax < 0 || ps[ax] == 1 {
			continue
		}
		if ps[ax] != c || full.block != 1 {
			a.barrier(n)
			return
		}
		for i, e := range full.elems {
			a.add(e, slot{pos: a.pos, node: n, role: ChanParam, index: i, of: c, block: 1, tensors: []TensorAxis{{p, ax}}})
		}
	}
	a.vals[n.Outputs[0]] = full
}

func (a *analyzer) gemm(n *graph.Node, x *chans) {
	w, b := n.Input(1), n.Input(2)
	if x == nil || n.Attrs.Int("transA", 0) != 0 || !a.param(w) || (b != "" && !a.param(b)) {
		a.barrier(n)
		return
	}
	ws := a.g.Params[w].Shape
	inAx, outAx := 0, 1
	if n.Attrs.Int("transB", 0) != 0 {
		inAx, outAx = 1, 0
	}
	if len(x.elems)*x.block != ws[inAx] {
		a.barrier(n)
		return
	}
	for i, e := range x.elems {
		a.add(e, slot{pos: a.pos, node: n, role: GemmIn, index: i, of: len(x.elems), block: x.block, tensors: []TensorAxis{{w, inAx}}})
	}
	m := ws[outAx]
	outTs := []TensorAxis{{w, outAx}}
	if b != "" {
		bs := a.g.Params[b].Shape
		switch {
		case len(bs) >= 1 && bs[len(bs)-1] == m && m > 1:
			outTs = append(outTs, TensorAxis{b, len(bs) - 1})
		case len(bs) == 0 || bs[len(bs)-1] == 1:
			// A broadcast bias follows every kept output as is.
		default:
			a.barrier(n)
			return
		}
	}
	y := a.newElems(m, false)
	for j, e := range y {
		a.add(e, slot{pos: a.pos, node: n, role: GemmOut, index: j, of: m, block: 1, tensors: outTs})
	}
	a.vals[n.Outputs[0]] = &chans{elems: y, block: 1}
}

// collect turns the union-find components into groups: components whose
// slots touch the same members, in the same order, are parallel channels of
// one group.
func (a *analyzer) collect() []*Group {
	comps := map[int][]slot{}
	var roots []int
	for e := range a.parent {
		r := a.find(e)
		if a.fixed[r] {
			continue
		}
		if _, ok := comps[r]; !ok {
			roots = append(roots, r)
		}
		comps[r] = append(comps[r], a.slots[e]...)
	}
	type comp struct {
		slots []slot
		key   string
	}
	bykey := map[string][]comp{}
	var keys []string
	for _, r := range roots {
		s := comps[r]
		if len(s) == 0 {
			continue
		}
		slices.SortFunc(s, func(x, y slot) int {
			return cmp.Or(cmp.Compare(x.pos, y.pos), cmp.Compare(x.role, y.role), cmp.Compare(x.index, y.index))
		})
		var kb strings.Builder
		for _, sl := range s {
			fmt.Fprintf(&kb, "%d/%d;", sl.pos, sl.role)
		}
		k := kb.String()
		if _, ok := bykey[k]; !ok {
			keys = append(keys, k)
		}
		bykey[k] = append(bykey[k], comp{s, k})
	}
	var groups []*Group
	for _, k := range keys {
		cs := bykey[k]
		slices.SortFunc(cs, func(x, y comp) int { return cmp.Compare(x.slots[0].index, y.slots[0].index) })
		first := cs[0].slots
		grp := &Group{Size: len(cs)}
		for p, sl := range first {
			m := Member{Node: sl.node.Name, Op: sl.node.Op, Role: sl.role, Of: sl.of, Block: sl.block, Tensors: sl.tensors, Index: make([]int, len(cs))}
			for j, c := range cs {
				m.Index[j] = c.slots[p].index
			}
			grp.Members = append(grp.Members, m)
		}
		groups = append(groups, grp)
	}
	// Roots are the smallest element ids of their components and elements
	// are created in topological order, so groups come out in the order of
	// their first producer.
	for i, grp := range groups {
		grp.ID = i
	}
	return groups
}
