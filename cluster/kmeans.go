package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// ResultND is a clustering of points of any dimension.
type ResultND struct {
	Centroids [][]float64 // K centroids of length dim
	Labels    []int       // index of the nearest centroid of every point
	Inertia   float64     // sum of squared distances to the nearest centroid
	Iters     int         // Lloyd iterations run
}

// KMeans clusters n = len(data)/dim points stored row-major in data (point i
// is data[i*dim:(i+1)*dim]) into min(K, n) clusters: k-means|| seeding
// (weighted k-means++ reclustering of the candidates), then Lloyd iterations
// until no label changes or MaxIter, Restarts times, keeping the lowest
// inertia. This is the general path, O(n*K*dim) per iteration; use Sorted1D
// for 1-D data. It errors on dim < 1, a length that is not a multiple of
// dim, no points, non-finite values or invalid options.
func KMeans(data []float64, dim int, opt KMeansOptions) (*ResultND, error) {
	if dim < 1 {
		return nil, fmt.Errorf("cluster: k-means dimension %d, want >= 1", dim)
	}
	if len(data) == 0 || len(data)%dim != 0 {
		return nil, fmt.Errorf("cluster: k-means data of length %d is not a positive multiple of dimension %d", len(data), dim)
	}
	for i, v := range data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("cluster: k-means point %d coordinate %d is %v", i/dim, i%dim, v)
		}
	}
	if err := opt.defaults(false); err != nil {
		return nil, err
	}
	p := points{data: data, dim: dim}
	k := min(opt.K, p.n())
	var best *ResultND
	for r := range opt.Restarts {
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(r)*0x9e3779b97f4a7c15+1))
		seeds := p.seedParallel(k, opt, rng)
		res := p.lloyd(seeds, nil, opt.MaxIter)
		if best == nil || res.Inertia < best.Inertia {
			best = res
		}
	}
	return best, nil
}

// points is a row-major set of points with optional weights.
type points struct {
	data []float64
	dim  int
	w    []float64 // nil: unit weights
}

func (p points) n() int             { return len(p.data) / p.dim }
func (p points) at(i int) []float64 { return p.data[i*p.dim : (i+1)*p.dim] }
func (p points) weight(i int) float64 {
	if p.w == nil {
		return 1
	}
	return p.w[i]
}

func dist2(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// nearest returns the index of the centroid nearest to x and the squared
// distance.
func nearest(c [][]float64, x []float64) (int, float64) {
	best, bd := 0, math.Inf(1)
	for j, cj := range c {
		if d := dist2(cj, x); d < bd {
			best, bd = j, d
		}
	}
	return best, bd
}

func (p points) drawByWeight(rng *rand.Rand, cum []float64) int {
	u := rng.Float64() * cum[len(cum)-1]
	return min(sort.Search(len(cum)-1, func(i int) bool { return cum[i+1] > u }), len(cum)-2)
}

// seedParallel is k-means|| (see Sorted1D.KMeansParallelSeeds) for points.
func (p points) seedParallel(k int, opt KMeansOptions, rng *rand.Rand) [][]float64 {
	n := p.n()
	cum := make([]float64, n+1)
	for i := range n {
		cum[i+1] = cum[i] + p.weight(i)
	}
	cand := [][]float64{append([]float64(nil), p.at(p.drawByWeight(rng, cum))...)}
	d2 := make([]float64, n)
	var phi float64
	for i := range n {
		d2[i] = dist2(cand[0], p.at(i))
		phi += p.weight(i) * d2[i]
	}
	l := opt.Oversample * float64(k)
	for range opt.Rounds {
		if phi <= 0 {
			break
		}
		first := len(cand)
		for i := range n {
			if q := l * p.weight(i) * d2[i] / phi; q > 0 && rng.Float64() < q {
				cand = append(cand, append([]float64(nil), p.at(i)...))
			}
		}
		phi = 0
		for i := range n {
			for _, c := range cand[first:] {
				d2[i] = min(d2[i], dist2(c, p.at(i)))
			}
			phi += p.weight(i) * d2[i]
		}
	}
	// Weight each candidate by the points nearest to it.
	cw := make([]float64, len(cand))
	for i := range n {
		j, _ := nearest(cand, p.at(i))
		cw[j] += p.weight(i)
	}
	cp := points{dim: p.dim}
	for j, c := range cand {
		if cw[j] > 0 {
			cp.data = append(cp.data, c...)
			cp.w = append(cp.w, cw[j])
		}
	}
	if cp.n() <= k {
		return p.topUp(cp, k)
	}
	seeds := cp.kmeansPP(k, rng)
	return cp.lloyd(seeds, nil, opt.MaxIter).Centroids
}

// topUp returns the candidate points plus, while fewer than k, the data
// points farthest from the chosen ones (stopping if every point is covered).
func (p points) topUp(c points, k int) [][]float64 {
	var out [][]float64
	for j := range c.n() {
		out = append(out, append([]float64(nil), c.at(j)...))
	}
	for len(out) < k {
		far, fd := -1, 0.0
		for i := range p.n() {
			if _, d := nearest(out, p.at(i)); d > fd {
				far, fd = i, d
			}
		}
		if far < 0 {
			break
		}
		out = append(out, append([]float64(nil), p.at(far)...))
	}
	return out
}

// kmeansPP is weighted greedy k-means++ (2+ln k trials per centre).
func (p points) kmeansPP(k int, rng *rand.Rand) [][]float64 {
	n := p.n()
	trials := 2 + int(math.Log(float64(k)))
	cum := make([]float64, n+1)
	for i := range n {
		cum[i+1] = cum[i] + p.weight(i)
	}
	c := [][]float64{append([]float64(nil), p.at(p.drawByWeight(rng, cum))...)}
	d2 := make([]float64, n)
	for i := range n {
		d2[i] = dist2(c[0], p.at(i))
	}
	tmp := make([]float64, n)
	for len(c) < k {
		for i := range n {
			cum[i+1] = cum[i] + p.weight(i)*d2[i]
		}
		if cum[n] <= 0 {
			break
		}
		bestI, bestPhi := -1, math.Inf(1)
		for range trials {
			i := p.drawByWeight(rng, cum)
			var phi float64
			for j := range n {
				phi += p.weight(j) * min(d2[j], dist2(p.at(i), p.at(j)))
			}
			if phi < bestPhi {
				bestI, bestPhi = i, phi
			}
		}
		x := p.at(bestI)
		c = append(c, append([]float64(nil), x...))
		for j := range n {
			tmp[j] = min(d2[j], dist2(x, p.at(j)))
		}
		d2, tmp = tmp, d2
	}
	return c
}

// lloyd runs weighted Lloyd iterations from init (modified in place). An
// empty cluster takes the point farthest from its centroid.
func (p points) lloyd(c [][]float64, labels []int, maxIter int) *ResultND {
	n, k := p.n(), len(c)
	if labels == nil {
		labels = make([]int, n)
		for i := range labels {
			labels[i] = -1
		}
	}
	sum := make([][]float64, k)
	for j := range sum {
		sum[j] = make([]float64, p.dim)
	}
	wsum := make([]float64, k)
	it := 0
	for it < maxIter {
		it++
		changed := false
		for i := range n {
			j, _ := nearest(c, p.at(i))
			if j != labels[i] {
				labels[i], changed = j, true
			}
		}
		if !changed {
			break
		}
		for j := range sum {
			clear(sum[j])
			wsum[j] = 0
		}
		for i := range n {
			w, x := p.weight(i), p.at(i)
			for d, v := range x {
				sum[labels[i]][d] += w * v
			}
			wsum[labels[i]] += w
		}
		for j := range c {
			if wsum[j] > 0 {
				for d := range c[j] {
					c[j][d] = sum[j][d] / wsum[j]
				}
				continue
			}
			far, fd := -1, 0.0
			for i := range n {
				if d := dist2(c[labels[i]], p.at(i)); d > fd {
					far, fd = i, d
				}
			}
			if far >= 0 {
				copy(c[j], p.at(far))
				labels[far] = j
			}
		}
	}
	var inertia float64
	for i := range n {
		j, d := nearest(c, p.at(i))
		labels[i] = j
		inertia += p.weight(i) * d
	}
	return &ResultND{Centroids: c, Labels: labels, Inertia: inertia, Iters: it}
}
