package cluster

import (
	"math"
	"math/rand/v2"
	"testing"
)

// laplace returns n samples of a Laplace(0, b) distribution (the usual shape
// of trained conv weights).
func laplace(rng *rand.Rand, n int, b float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		u := rng.Float64() - 0.5
		s := 1.0
		if u < 0 {
			s = -1
		}
		out[i] = float32(-b * s * math.Log(1-2*math.Abs(u)))
	}
	return out
}

// gaussMix returns n samples of an equal-weight mixture of Gaussians.
func gaussMix(rng *rand.Rand, n int, means []float64, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(means[rng.IntN(len(means))] + std*rng.NormFloat64())
	}
	return out
}

// checkTree verifies the structural invariants of a CF-tree: every node holds
// at most L entries (and at least one unless it is an empty root), every
// inner entry equals the sum of its child's entries, all leaves are at the
// same depth, every leaf entry has radius <= T, and the leaf count and total
// weight match.
func checkTree(t *testing.T, tr *Tree) {
	t.Helper()
	leafDepth := -1
	leaves := 0
	var total float64
	var walk func(n *node, depth int) CF
	walk = func(n *node, depth int) CF {
		sum := CF{LS: make([]float64, tr.dim)}
		if len(n.entries) > tr.branching {
			t.Fatalf("node at depth %d holds %d entries > L=%d", depth, len(n.entries), tr.branching)
		}
		if len(n.entries) == 0 && n != tr.root {
			t.Fatalf("empty non-root node at depth %d", depth)
		}
		for i := range n.entries {
			e := &n.entries[i]
			c := CF{N: e.n, LS: e.ls, SS: e.ss}
			if n.leaf {
				if e.child != nil {
					t.Fatalf("leaf entry with a child")
				}
				leaves++
				total += e.n
				if r := c.Radius(); r > tr.threshold*(1+1e-9) {
					t.Fatalf("leaf entry radius %g > T=%g", r, tr.threshold)
				}
			} else {
				sub := walk(e.child, depth+1)
				if math.Abs(sub.N-e.n) > 1e-9*e.n || math.Abs(sub.SS-e.ss) > 1e-9*(1+math.Abs(e.ss)) {
					t.Fatalf("inner entry (N=%g SS=%g) != sum of child (N=%g SS=%g)", e.n, e.ss, sub.N, sub.SS)
				}
				for d := range e.ls {
					if math.Abs(sub.LS[d]-e.ls[d]) > 1e-9*(1+math.Abs(e.ls[d])) {
						t.Fatalf("inner entry LS[%d]=%g != child sum %g", d, e.ls[d], sub.LS[d])
					}
				}
			}
			sum.Add(c)
		}
		if n.leaf {
			if leafDepth < 0 {
				leafDepth = depth
			} else if leafDepth != depth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
		}
		return sum
	}
	walk(tr.root, 0)
	if leaves != tr.NumLeaves() {
		t.Fatalf("counted %d leaf entries, NumLeaves()=%d", leaves, tr.NumLeaves())
	}
	if math.Abs(total-tr.Points()) > 1e-9*tr.Points() {
		t.Fatalf("leaf weight %g != points %g", total, tr.Points())
	}
}

func TestCFFormulas(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{1, 2, 5} {
		pts := make([][]float64, 37)
		for i := range pts {
			pts[i] = make([]float64, dim)
			for d := range pts[i] {
				pts[i][d] = 3*rng.NormFloat64() + float64(d)
			}
		}
		// Naive references.
		mean := make([]float64, dim)
		for _, p := range pts {
			for d, v := range p {
				mean[d] += v / float64(len(pts))
			}
		}
		var sse, pair float64
		for i, p := range pts {
			for d, v := range p {
				sse += (v - mean[d]) * (v - mean[d])
			}
			for j, q := range pts {
				if i != j {
					for d := range p {
						pair += (p[d] - q[d]) * (p[d] - q[d])
					}
				}
			}
		}
		n := float64(len(pts))
		wantR := math.Sqrt(sse / n)
		wantD := math.Sqrt(pair / (n * (n - 1)))

		// CF of all points, built as the sum of two halves (additivity).
		a, b := PointCF(pts[0]), PointCF(pts[20])
		for _, p := range pts[1:20] {
			a.Add(PointCF(p))
		}
		for _, p := range pts[21:] {
			b.Add(PointCF(p))
		}
		all := Merge(a, b)
		if all.N != n {
			t.Fatalf("dim %d: N=%g want %g", dim, all.N, n)
		}
		for d, c := range all.Centroid() {
			if math.Abs(c-mean[d]) > 1e-12*(1+math.Abs(mean[d])) {
				t.Errorf("dim %d: centroid[%d]=%g want %g", dim, d, c, mean[d])
			}
		}
		if got := all.Radius(); math.Abs(got-wantR) > 1e-9*wantR {
			t.Errorf("dim %d: radius %g want %g", dim, got, wantR)
		}
		if got := all.Diameter(); math.Abs(got-wantD) > 1e-9*wantD {
			t.Errorf("dim %d: diameter %g want %g", dim, got, wantD)
		}
		if got := all.SSE(); math.Abs(got-sse) > 1e-9*sse {
			t.Errorf("dim %d: SSE %g want %g", dim, got, sse)
		}
		// The merged radius helper agrees with Merge(...).Radius().
		if got := math.Sqrt(mergedRadius2(a.N, a.LS, a.SS, b.N, b.LS, b.SS)); math.Abs(got-wantR) > 1e-9*wantR {
			t.Errorf("dim %d: mergedRadius %g want %g", dim, got, wantR)
		}
		// Merge does not modify its inputs.
		if a.N != 20 || b.N != n-20 {
			t.Errorf("dim %d: Merge modified its inputs (N %g, %g)", dim, a.N, b.N)
		}
	}
	if (CF{LS: []float64{0}}).Radius() != 0 || PointCF([]float64{4}).Diameter() != 0 {
		t.Errorf("empty/singleton CF should have zero radius and diameter")
	}
}

// TestBirchSecondNearest builds the case the improvement exists for: the
// point 1.5 is nearest to the entry {-0.98, 0.98} (centroid 0), which cannot
// absorb it (radius would be 1.068 > T=1), while the next-nearest entry {3.2}
// can (radius 0.85). Classic BIRCH opens a third entry instead.
func TestBirchSecondNearest(t *testing.T) {
	pts := []float32{-0.98, 0.98, 3.2, 1.5}
	for _, tc := range []struct {
		name        string
		classic     bool
		wantK       int
		wantSecond  int
		wantNearest []float64 // N of each leaf entry in order
	}{
		{"improved", false, 2, 1, []float64{2, 2}},
		{"classic", true, 3, 0, []float64{2, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTree(1, BirchOptions{Threshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			tr.classic = tc.classic
			for _, p := range pts {
				if err := tr.Insert([]float64{float64(p)}); err != nil {
					t.Fatal(err)
				}
			}
			checkTree(t, tr)
			if tr.NumLeaves() != tc.wantK || tr.SecondNearestAbsorbs() != tc.wantSecond {
				t.Fatalf("K=%d second=%d, want K=%d second=%d", tr.NumLeaves(), tr.SecondNearestAbsorbs(), tc.wantK, tc.wantSecond)
			}
			for i, c := range tr.Leaves() {
				if c.N != tc.wantNearest[i] {
					t.Errorf("leaf %d has N=%g want %g", i, c.N, tc.wantNearest[i])
				}
			}
		})
	}
}

// TestBirchInsertionOrder: the same points {0,1,2,3} with T=0.5 give K=2 in
// ascending order ({0,1},{2,3}) and K=3 in the order 1,2,0,3 ({1,2} blocks
// both 0 and 3, and {0,3} is too wide).
func TestBirchInsertionOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []float64
		wantK int
	}{
		{"ascending", []float64{0, 1, 2, 3}, 2},
		{"descending", []float64{3, 2, 1, 0}, 2},
		{"middle-first", []float64{1, 2, 0, 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _ := NewTree(1, BirchOptions{Threshold: 0.5})
			for _, p := range tc.order {
				if err := tr.Insert([]float64{p}); err != nil {
					t.Fatal(err)
				}
			}
			checkTree(t, tr)
			if tr.NumLeaves() != tc.wantK {
				t.Fatalf("K=%d want %d", tr.NumLeaves(), tc.wantK)
			}
		})
	}
	// Shuffled orders of a larger sample: K varies a little, invariants hold.
	xs := laplace(rand.New(rand.NewPCG(3, 4)), 5000, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	minK, maxK := math.MaxInt, 0
	for range 5 {
		rng.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
		tr, err := Birch1D(xs, BirchOptions{Threshold: 0.05, Branching: 8})
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, tr)
		minK, maxK = min(minK, tr.NumLeaves()), max(maxK, tr.NumLeaves())
	}
	if maxK > 2*minK {
		t.Errorf("K over shuffles ranges %d..%d: order sensitivity larger than expected", minK, maxK)
	}
}

func TestBirchSplitsKeepCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name string
		L    int
		T    float64
		n    int
	}{
		{"L2", 2, 0.01, 3000},
		{"L3", 3, 0.02, 3000},
		{"L4", 4, 0.005, 5000},
		{"L50", 50, 0.001, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			xs := laplace(rng, tc.n, 1)
			tr, err := Birch1D(xs, BirchOptions{Threshold: tc.T, Branching: tc.L})
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, tr)
			if tr.NumLeaves() <= tc.L {
				t.Fatalf("only %d leaves: the case does not exercise splits", tr.NumLeaves())
			}
			if h := tr.Height(); h < 2 {
				t.Fatalf("height %d after %d leaves with L=%d", h, tr.NumLeaves(), tc.L)
			}
		})
	}
}

func TestBirchKGrowsAsThresholdShrinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float32
	}{
		{"laplace", laplace(rand.New(rand.NewPCG(9, 10)), 20000, 0.05)},
		{"gauss-mix", gaussMix(rand.New(rand.NewPCG(11, 12)), 20000, []float64{-0.1, 0, 0.12}, 0.02)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := 0
			for _, T := range []float64{0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001} {
				tr, err := Birch1D(tc.xs, BirchOptions{Threshold: T})
				if err != nil {
					t.Fatal(err)
				}
				k := tr.NumLeaves()
				if k < prev {
					t.Errorf("T=%g: K=%d < %d at the previous larger T", T, k, prev)
				}
				prev = k
			}
			if prev < 20 {
				t.Errorf("smallest T gives only K=%d", prev)
			}
		})
	}
}

func TestBirchMultiDim(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	centers := [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}, {10, 10, 10}}
	tr, err := NewTree(3, BirchOptions{Threshold: 1, Branching: 3})
	if err != nil {
		t.Fatal(err)
	}
	const per = 200
	for i := range per * len(centers) {
		c := centers[i%len(centers)]
		p := []float64{c[0] + 0.1*rng.NormFloat64(), c[1] + 0.1*rng.NormFloat64(), c[2] + 0.1*rng.NormFloat64()}
		if err := tr.Insert(p); err != nil {
			t.Fatal(err)
		}
	}
	checkTree(t, tr)
	if tr.NumLeaves() != len(centers) {
		t.Fatalf("K=%d want %d", tr.NumLeaves(), len(centers))
	}
	if tr.Height() < 2 {
		t.Errorf("5 entries with L=3 should have split the root")
	}
	for _, cf := range tr.Leaves() {
		if cf.N != per {
			t.Errorf("leaf holds %g points, want %d", cf.N, per)
		}
		cen := cf.Centroid()
		found := false
		for _, c := range centers {
			d := math.Hypot(math.Hypot(cen[0]-c[0], cen[1]-c[1]), cen[2]-c[2])
			found = found || d < 0.1
		}
		if !found {
			t.Errorf("leaf centroid %v is near no blob centre", cen)
		}
	}
}

func TestBirchMaxLeaves(t *testing.T) {
	xs := laplace(rand.New(rand.NewPCG(15, 16)), 20000, 1)
	for _, cap := range []int{4, 16, 256} {
		tr, err := Birch1D(xs, BirchOptions{Threshold: 1e-4, MaxLeaves: cap})
		if err != nil {
			t.Fatal(err)
		}
		checkTree(t, tr)
		if tr.NumLeaves() > cap || tr.NumLeaves() < cap/4 {
			t.Errorf("cap %d: K=%d", cap, tr.NumLeaves())
		}
		if tr.Rebuilds() == 0 || tr.Threshold() <= 1e-4 {
			t.Errorf("cap %d: expected rebuilds with a larger threshold, got %d rebuilds, T=%g", cap, tr.Rebuilds(), tr.Threshold())
		}
	}
}

func TestBirchErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		dim  int
		opt  BirchOptions
	}{
		{"dim0", 0, BirchOptions{Threshold: 1}},
		{"zeroT", 1, BirchOptions{}},
		{"negT", 1, BirchOptions{Threshold: -1}},
		{"nanT", 1, BirchOptions{Threshold: math.NaN()}},
		{"infT", 1, BirchOptions{Threshold: math.Inf(1)}},
		{"L1", 1, BirchOptions{Threshold: 1, Branching: 1}},
		{"negCap", 1, BirchOptions{Threshold: 1, MaxLeaves: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTree(tc.dim, tc.opt); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
	tr, _ := NewTree(2, BirchOptions{Threshold: 1})
	if err := tr.Insert([]float64{1}); err == nil {
		t.Error("dimension mismatch accepted")
	}
	if err := tr.Insert([]float64{1, math.NaN()}); err == nil {
		t.Error("NaN accepted")
	}
	if err := tr.InsertCF(CF{N: 0, LS: []float64{0, 0}}); err == nil {
		t.Error("empty CF accepted")
	}
	if _, err := Birch1D([]float32{1, float32(math.Inf(1))}, BirchOptions{Threshold: 1}); err == nil {
		t.Error("Inf value accepted")
	}
}
