package cluster

import (
	"fmt"
	"math"
	"slices"
)

// MaxExactCells bounds K * (distinct values) for Sorted1D.Exact: the
// backtracking table holds one int32 per cell (128 MiB at the bound).
const MaxExactCells = 1 << 25

// Exact returns the optimal 1-D k-means clustering into min(k, distinct
// values) clusters (the Ckmeans.1d.dp idea). In 1-D an optimal cluster is a
// contiguous run of the sorted values, so with D[j][i] the least cost of the
// first i distinct values in j clusters,
//
//	D[j][i] = min over m < i of D[j-1][m] + cost(m, i),
//
// where cost is the weighted squared error of a run, O(1) from prefix sums.
// The optimal split m is non-decreasing in i, so each layer is filled by
// divide and conquer in O(n log n): O(k n log n) in total, n the number of
// distinct values (equal values are merged first, their weights summed).
// It errors on k < 1 or when k*n exceeds MaxExactCells (use ExactHist).
func (s *Sorted1D) Exact(k int) (*Result1D, error) {
	if k < 1 {
		return nil, fmt.Errorf("cluster: exact k-means K=%d, want >= 1", k)
	}
	u := s.dedup()
	n := len(u.X)
	k = min(k, n)
	if int64(k)*int64(n) > MaxExactCells {
		return nil, fmt.Errorf("cluster: exact k-means on %d distinct values with K=%d needs %d table cells, more than %d; use ExactHist", n, k, int64(k)*int64(n), MaxExactCells)
	}
	cuts := exactDP(n, k, u.segSSE)
	c := make([]float64, k)
	for j := range c {
		c[j] = u.segMean(cuts[j], cuts[j+1])
	}
	slices.Sort(c)
	return &Result1D{Centroids: c, Inertia: s.Inertia(c)}, nil
}

// exactDP partitions n ordered atoms into k contiguous runs minimising the
// sum of cost(i, j) over runs [i, j), for a cost with the concave-Monge
// property of the 1-D k-means cost (optimal last-run start non-decreasing in
// the prefix length). It returns the k+1 cut positions (0 first, n last).
// Requires 1 <= k <= n.
func exactDP(n, k int, cost func(i, j int) float64) []int {
	prev := make([]float64, n+1)
	cur := make([]float64, n+1)
	for i := 1; i <= n; i++ {
		prev[i] = cost(0, i)
	}
	// arg[j-2][i]: start of the last run in the best j-run solution of the
	// first i atoms.
	arg := make([][]int32, k-1)
	for j := 2; j <= k; j++ {
		row := make([]int32, n+1)
		arg[j-2] = row
		for i := range cur {
			cur[i] = math.Inf(1)
		}
		var fill func(lo, hi, optLo, optHi int)
		fill = func(lo, hi, optLo, optHi int) {
			if lo > hi {
				return
			}
			mid := (lo + hi) / 2
			best, bestM := math.Inf(1), max(optLo, j-1)
			for m := max(optLo, j-1); m <= min(optHi, mid-1); m++ {
				if v := prev[m] + cost(m, mid); v < best {
					best, bestM = v, m
				}
			}
			cur[mid], row[mid] = best, int32(bestM)
			fill(lo, mid-1, optLo, bestM)
			fill(mid+1, hi, bestM, optHi)
		}
		fill(j, n, j-1, n-1)
		prev, cur = cur, prev
	}
	cuts := make([]int, k+1)
	cuts[k] = n
	for j := k; j >= 2; j-- {
		cuts[j-1] = int(arg[j-2][cuts[j]])
	}
	return cuts
}

// dedup returns s with equal values merged (weights summed); s itself when
// all values are distinct.
func (s *Sorted1D) dedup() *Sorted1D {
	if s.Distinct() == len(s.X) {
		return s
	}
	u := &Sorted1D{}
	for i, x := range s.X {
		if i > 0 && x == s.X[i-1] {
			u.W[len(u.W)-1] += s.w(i)
			continue
		}
		u.X = append(u.X, x)
		u.W = append(u.W, s.w(i))
	}
	u.prefix()
	return u
}

// ExactHist approximates the exact optimum for large data: the values are
// binned into at most bins equal-width bins over [min, max], each non-empty
// bin becomes one weighted point at its mean, the exact optimum of the bins
// is found by Exact, and Lloyd iterations on the full data refine it. The
// result is optimal among partitions that never split a bin, then locally
// improved. It errors on k < 1 or bins < k.
func (s *Sorted1D) ExactHist(k, bins int) (*Result1D, error) {
	if k < 1 || bins < k {
		return nil, fmt.Errorf("cluster: ExactHist K=%d bins=%d, want 1 <= K <= bins", k, bins)
	}
	lo, hi := s.X[0], s.X[len(s.X)-1]
	if hi == lo {
		return &Result1D{Centroids: []float64{lo}, Inertia: 0}, nil
	}
	var bx, bw []float64
	width := (hi - lo) / float64(bins)
	start := 0
	for b := 0; b < bins && start < len(s.X); b++ {
		edge := lo + float64(b+1)*width
		end := start
		if b == bins-1 {
			end = len(s.X)
		} else {
			for end < len(s.X) && s.X[end] < edge {
				end++
			}
		}
		if end > start {
			bx = append(bx, s.segMean(start, end))
			bw = append(bw, s.pw[end]-s.pw[start])
		}
		start = end
	}
	h, err := NewWeighted1D(bx, bw)
	if err != nil {
		return nil, err
	}
	r, err := h.Exact(k)
	if err != nil {
		return nil, err
	}
	return s.Lloyd(r.Centroids, 0)
}
