package cluster

import (
	"fmt"
	"math"
)

// BirchOptions configure a CF-tree.
type BirchOptions struct {
	// Threshold T (> 0): a leaf entry may absorb a point only while its
	// radius after absorbing stays <= T.
	Threshold float64
	// Branching L (>= 2, default 50): the most entries a node holds before
	// it splits.
	Branching int
	// MaxLeaves caps the number of leaf entries (0 = no cap). When an
	// insertion would exceed it, the tree is rebuilt with a larger threshold
	// by reinserting its leaf CFs (classic BIRCH rebuilding), so K never
	// exceeds the cap.
	MaxLeaves int
}

// DefaultBranching is the node capacity L used when BirchOptions.Branching
// is 0 (scikit-learn's Birch uses the same default).
const DefaultBranching = 50

// Tree is the improved BIRCH CF-tree of the method (claim 7). Leaf nodes hold
// CF entries that summarise subclusters; inner nodes hold one CF entry per
// child summarising the child's subtree. The number of leaf entries is the
// number of clusters K.
//
// Insertion descends to the leaf whose path entries have the nearest
// centroids, then tries the nearest leaf entry; if absorbing the point would
// push its radius above T it tries the next-nearest entry (the improvement
// over classic BIRCH); only when neither can absorb does the point open a new
// entry. A node holding more than L entries splits, seeded by its two
// farthest entries, and splits propagate upward (a root split grows the
// tree). The CFs on the path are updated with every insertion.
type Tree struct {
	dim       int
	threshold float64
	branching int
	maxLeaves int

	root     *node
	leaves   int
	points   float64
	second   int // points absorbed by the next-nearest entry
	rebuilds int
	classic  bool // tests only: disable the next-nearest rule (classic BIRCH)

	pathNodes []*node
	pathIdx   []int
}

type entry struct {
	n, ss float64
	ls    []float64
	child *node // nil in a leaf
}

type node struct {
	leaf    bool
	entries []entry
}

// NewTree returns an empty CF-tree for points of dimension dim. It errors on
// dim < 1, a threshold that is not a positive finite number, Branching < 2
// (after the default) or a negative MaxLeaves.
func NewTree(dim int, opt BirchOptions) (*Tree, error) {
	if dim < 1 {
		return nil, fmt.Errorf("cluster: BIRCH dimension %d, want >= 1", dim)
	}
	if !(opt.Threshold > 0) || math.IsInf(opt.Threshold, 0) {
		return nil, fmt.Errorf("cluster: BIRCH threshold %v, want a positive finite value", opt.Threshold)
	}
	if opt.Branching == 0 {
		opt.Branching = DefaultBranching
	}
	if opt.Branching < 2 {
		return nil, fmt.Errorf("cluster: BIRCH branching %d, want >= 2", opt.Branching)
	}
	if opt.MaxLeaves < 0 {
		return nil, fmt.Errorf("cluster: BIRCH MaxLeaves %d, want >= 0", opt.MaxLeaves)
	}
	return &Tree{dim: dim, threshold: opt.Threshold, branching: opt.Branching, maxLeaves: opt.MaxLeaves,
		root: &node{leaf: true}}, nil
}

// Birch1D builds a CF-tree over 1-D values (the fast path for a layer's
// weights: no per-point allocation). It errors on invalid options or a
// non-finite value, naming its index.
func Birch1D(xs []float32, opt BirchOptions) (*Tree, error) {
	t, err := NewTree(1, opt)
	if err != nil {
		return nil, err
	}
	for i, x := range xs {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("cluster: BIRCH value %d is %v", i, x)
		}
	}
	var buf [1]float64
	for _, x := range xs {
		v := float64(x)
		buf[0] = v
		t.insert(1, buf[:], v*v)
	}
	return t, nil
}

// Insert adds one point. It errors if len(x) differs from the tree's
// dimension or x has a non-finite coordinate.
func (t *Tree) Insert(x []float64) error {
	if len(x) != t.dim {
		return fmt.Errorf("cluster: BIRCH point of dimension %d into a tree of dimension %d", len(x), t.dim)
	}
	var ss float64
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("cluster: BIRCH point coordinate %d is %v", i, v)
		}
		ss += v * v
	}
	t.insert(1, x, ss)
	return nil
}

// InsertCF adds a whole subcluster summarised by c (as BIRCH does when it
// rebuilds). It errors on a dimension mismatch or c.N <= 0.
func (t *Tree) InsertCF(c CF) error {
	if len(c.LS) != t.dim {
		return fmt.Errorf("cluster: BIRCH CF of dimension %d into a tree of dimension %d", len(c.LS), t.dim)
	}
	if !(c.N > 0) {
		return fmt.Errorf("cluster: BIRCH CF with N=%v, want > 0", c.N)
	}
	t.insert(c.N, c.LS, c.SS)
	return nil
}

// NumLeaves returns the number of leaf entries, i.e. the number of clusters K.
func (t *Tree) NumLeaves() int { return t.leaves }

// Threshold returns the current threshold (larger than the initial one after
// a rebuild forced by MaxLeaves).
func (t *Tree) Threshold() float64 { return t.threshold }

// Points returns the total weight inserted (the number of points when only
// points were inserted).
func (t *Tree) Points() float64 { return t.points }

// SecondNearestAbsorbs returns how many insertions were absorbed by the
// next-nearest leaf entry after the nearest one refused them.
func (t *Tree) SecondNearestAbsorbs() int { return t.second }

// Rebuilds returns how many times the MaxLeaves cap forced a rebuild.
func (t *Tree) Rebuilds() int { return t.rebuilds }

// Height returns the number of levels (1 for a tree that is a single leaf).
func (t *Tree) Height() int {
	h := 1
	for n := t.root; !n.leaf; n = n.entries[0].child {
		h++
	}
	return h
}

// Leaves returns copies of the leaf CFs in tree order (left to right).
func (t *Tree) Leaves() []CF {
	out := make([]CF, 0, t.leaves)
	var walk func(n *node)
	walk = func(n *node) {
		for i := range n.entries {
			e := &n.entries[i]
			if n.leaf {
				out = append(out, CF{N: e.n, LS: append([]float64(nil), e.ls...), SS: e.ss})
			} else {
				walk(e.child)
			}
		}
	}
	walk(t.root)
	return out
}

// insert adds a CF given by its fields; ls is not retained.
func (t *Tree) insert(n float64, ls []float64, ss float64) {
	t.points += n
	t.pathNodes = t.pathNodes[:0]
	t.pathIdx = t.pathIdx[:0]
	nd := t.root
	for !nd.leaf {
		best, bestD := 0, math.Inf(1)
		for i := range nd.entries {
			e := &nd.entries[i]
			if d := centroidDist2(e.n, e.ls, n, ls); d < bestD {
				best, bestD = i, d
			}
		}
		t.pathNodes = append(t.pathNodes, nd)
		t.pathIdx = append(t.pathIdx, best)
		nd = nd.entries[best].child
	}
	// Nearest and next-nearest leaf entries.
	i1, i2 := -1, -1
	d1, d2 := math.Inf(1), math.Inf(1)
	for i := range nd.entries {
		e := &nd.entries[i]
		d := centroidDist2(e.n, e.ls, n, ls)
		if d < d1 {
			i2, d2 = i1, d1
			i1, d1 = i, d
		} else if d < d2 {
			i2, d2 = i, d
		}
	}
	t2 := t.threshold * t.threshold
	target := -1
	if i1 >= 0 {
		e := &nd.entries[i1]
		if mergedRadius2(e.n, e.ls, e.ss, n, ls, ss) <= t2 {
			target = i1
		} else if i2 >= 0 && !t.classic {
			e = &nd.entries[i2]
			if mergedRadius2(e.n, e.ls, e.ss, n, ls, ss) <= t2 {
				target = i2
				t.second++
			}
		}
	}
	t.addPath(n, ls, ss)
	if target >= 0 {
		addInto(&nd.entries[target], n, ls, ss)
		return
	}
	nd.entries = append(nd.entries, entry{n: n, ls: append([]float64(nil), ls...), ss: ss})
	t.leaves++
	t.splitUp(nd)
	if t.maxLeaves > 0 && t.leaves > t.maxLeaves {
		t.rebuild()
	}
}

func addInto(e *entry, n float64, ls []float64, ss float64) {
	e.n += n
	e.ss += ss
	for i, v := range ls {
		e.ls[i] += v
	}
}

// addPath adds the CF to every inner entry on the recorded path.
func (t *Tree) addPath(n float64, ls []float64, ss float64) {
	for k, nd := range t.pathNodes {
		addInto(&nd.entries[t.pathIdx[k]], n, ls, ss)
	}
}

// splitUp splits the leaf nd (the end of the recorded path) while it or an
// ancestor holds more than L entries.
func (t *Tree) splitUp(nd *node) {
	for level := len(t.pathNodes) - 1; len(nd.entries) > t.branching; level-- {
		b := t.split(nd)
		if level < 0 {
			t.root = &node{entries: []entry{t.summary(nd), t.summary(b)}}
			return
		}
		parent := t.pathNodes[level]
		parent.entries[t.pathIdx[level]] = t.summary(nd)
		parent.entries = append(parent.entries, t.summary(b))
		nd = parent
	}
}

// split moves the entries of nd into nd and a new sibling, seeded by the two
// entries whose centroids are farthest apart; every other entry goes to the
// nearer seed.
func (t *Tree) split(nd *node) *node {
	es := nd.entries
	sa, sb, far := 0, 1, -1.0
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			if d := centroidDist2(es[i].n, es[i].ls, es[j].n, es[j].ls); d > far {
				sa, sb, far = i, j, d
			}
		}
	}
	a := make([]entry, 0, t.branching+1)
	b := &node{leaf: nd.leaf, entries: make([]entry, 0, t.branching+1)}
	for i := range es {
		switch {
		case i == sa:
			a = append(a, es[i])
		case i == sb:
			b.entries = append(b.entries, es[i])
		default:
			da := centroidDist2(es[i].n, es[i].ls, es[sa].n, es[sa].ls)
			db := centroidDist2(es[i].n, es[i].ls, es[sb].n, es[sb].ls)
			if da <= db {
				a = append(a, es[i])
			} else {
				b.entries = append(b.entries, es[i])
			}
		}
	}
	nd.entries = a
	return b
}

// summary returns the inner entry pointing to nd: the sum of its entries.
func (t *Tree) summary(nd *node) entry {
	e := entry{ls: make([]float64, t.dim), child: nd}
	for i := range nd.entries {
		addInto(&e, nd.entries[i].n, nd.entries[i].ls, nd.entries[i].ss)
	}
	return e
}

// rebuild grows the threshold and reinserts the leaf CFs until the number of
// leaf entries is within MaxLeaves. In 1-D the number of entries needed to
// cover a range scales like 1/T (like T^-d in d dimensions), so the growth
// factor is (leaves/cap)^(1/d), at least 1.1.
func (t *Tree) rebuild() {
	for t.leaves > t.maxLeaves {
		leaves := t.Leaves()
		grow := max(1.1, math.Pow(float64(t.leaves)/float64(t.maxLeaves), 1/float64(t.dim)))
		t.threshold *= grow
		t.root = &node{leaf: true}
		t.leaves = 0
		pts := t.points
		cap := t.maxLeaves
		t.maxLeaves = 0 // no recursive rebuild while reinserting
		for _, c := range leaves {
			t.insert(c.N, c.LS, c.SS)
		}
		t.maxLeaves = cap
		t.points = pts
		t.rebuilds++
	}
}
