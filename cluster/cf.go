// Package cluster implements stage 2 of the slimgo method: weight sharing by
// adaptive clustering. It holds
//
//   - an improved BIRCH CF-tree (Tree, Birch1D) that chooses the number of
//     clusters K of a layer from a distance threshold T;
//   - k-means|| seeding followed by Lloyd iterations (Sorted1D for the 1-D
//     fast path on sorted values with prefix sums, KMeans for points of any
//     dimension);
//   - the exact 1-D k-means optimum by dynamic programming (Sorted1D.Exact),
//     used as the quality reference and as an option for small layers;
//   - weight sharing on a graph (QuantizeGraph) with a centroid fine-tuning
//     hook (Result.ProjectGrads, Result.Reshare);
//   - a compact bit-packed file format (WritePacked, ReadPacked) whose byte
//     count is the "stored size" slimgo reports.
//
// All randomness comes from explicit seeds; the same inputs and options give
// the same output.
package cluster

import (
	"fmt"
	"math"
)

// CF is a BIRCH clustering feature: the number of points N, their linear sum
// LS (one value per dimension) and the sum of their squared norms SS. CFs are
// additive: the CF of the union of two disjoint point sets is the field-wise
// sum of their CFs, which is what lets a CF-tree summarise its subtrees.
type CF struct {
	N  float64
	LS []float64
	SS float64
}

// PointCF returns the CF of the single point x (N=1, LS=x, SS=|x|^2).
// LS is a copy of x.
func PointCF(x []float64) CF {
	c := CF{N: 1, LS: append([]float64(nil), x...)}
	for _, v := range x {
		c.SS += v * v
	}
	return c
}

// Dim returns the dimension of the points summarised by c.
func (c CF) Dim() int { return len(c.LS) }

// Clone returns a deep copy of c.
func (c CF) Clone() CF { return CF{N: c.N, LS: append([]float64(nil), c.LS...), SS: c.SS} }

// Add adds o into c (CF additivity). It panics if the dimensions differ,
// which is a programmer error.
func (c *CF) Add(o CF) {
	if len(o.LS) != len(c.LS) {
		panic(fmt.Sprintf("cluster: CF.Add of dimension %d into %d", len(o.LS), len(c.LS)))
	}
	c.N += o.N
	c.SS += o.SS
	for i, v := range o.LS {
		c.LS[i] += v
	}
}

// Merge returns a+b as a new CF.
func Merge(a, b CF) CF {
	m := a.Clone()
	m.Add(b)
	return m
}

// Centroid returns LS/N (nil for an empty CF).
func (c CF) Centroid() []float64 {
	if c.N == 0 {
		return nil
	}
	out := make([]float64, len(c.LS))
	for i, v := range c.LS {
		out[i] = v / c.N
	}
	return out
}

// Radius returns the root mean squared distance of the points to their
// centroid, sqrt(SS/N - |LS/N|^2) (0 for an empty CF).
func (c CF) Radius() float64 { return math.Sqrt(radius2(c.N, c.LS, c.SS)) }

// Diameter returns the root mean squared distance between pairs of distinct
// points, sqrt((2*N*SS - 2*|LS|^2) / (N*(N-1))) (0 when N < 2).
func (c CF) Diameter() float64 {
	if c.N < 2 {
		return 0
	}
	var l2 float64
	for _, v := range c.LS {
		l2 += v * v
	}
	d := (2*c.N*c.SS - 2*l2) / (c.N * (c.N - 1))
	return math.Sqrt(max(d, 0))
}

// SSE returns the sum of squared distances of the points to their centroid,
// SS - |LS|^2/N (the k-means cost of the subcluster).
func (c CF) SSE() float64 {
	if c.N == 0 {
		return 0
	}
	return c.N * radius2(c.N, c.LS, c.SS)
}

// radius2 is the squared radius of a CF given by its fields, clamped at 0
// against rounding.
func radius2(n float64, ls []float64, ss float64) float64 {
	if n == 0 {
		return 0
	}
	var m2 float64
	for _, v := range ls {
		m := v / n
		m2 += m * m
	}
	return max(ss/n-m2, 0)
}

// mergedRadius2 is the squared radius of the union of two CFs, computed
// without allocating.
func mergedRadius2(n1 float64, ls1 []float64, ss1 float64, n2 float64, ls2 []float64, ss2 float64) float64 {
	n := n1 + n2
	if len(ls1) == 1 { // 1-D fast path
		m := (ls1[0] + ls2[0]) / n
		return max((ss1+ss2)/n-m*m, 0)
	}
	var m2 float64
	for i := range ls1 {
		m := (ls1[i] + ls2[i]) / n
		m2 += m * m
	}
	return max((ss1+ss2)/n-m2, 0)
}

// centroidDist2 is the squared distance between the centroids of two CFs.
func centroidDist2(n1 float64, ls1 []float64, n2 float64, ls2 []float64) float64 {
	if len(ls1) == 1 {
		d := ls1[0]/n1 - ls2[0]/n2
		return d * d
	}
	var s float64
	for i := range ls1 {
		d := ls1[i]/n1 - ls2[i]/n2
		s += d * d
	}
	return s
}
