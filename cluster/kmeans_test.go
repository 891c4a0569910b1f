package cluster

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/slimgo/slimgo/onnx"
)

// bruteForce returns the least weighted k-means cost over all k^n labelings.
func bruteForce(xs, ws []float64, k int) float64 {
	n := len(xs)
	lab := make([]int, n)
	best := math.Inf(1)
	for {
		var sw, s1 [8]float64
		for i, l := range lab {
			sw[l] += ws[i]
			s1[l] += ws[i] * xs[i]
		}
		var cost float64
		for i, l := range lab {
			d := xs[i] - s1[l]/sw[l]
			cost += ws[i] * d * d
		}
		best = min(best, cost)
		i := 0
		for ; i < n; i++ {
			lab[i]++
			if lab[i] < k {
				break
			}
			lab[i] = 0
		}
		if i == n {
			return best
		}
	}
}

// naiveDP is the textbook O(k n^2) dynamic programme over sorted values.
func naiveDP(xs []float64, k int) float64 {
	x := slices.Sorted(slices.Values(xs))
	n := len(x)
	cost := func(i, j int) float64 { // SSE of x[i:j]
		var m float64
		for _, v := range x[i:j] {
			m += v
		}
		m /= float64(j - i)
		var s float64
		for _, v := range x[i:j] {
			s += (v - m) * (v - m)
		}
		return s
	}
	D := make([]float64, n+1)
	for i := 1; i <= n; i++ {
		D[i] = cost(0, i)
	}
	for j := 2; j <= k; j++ {
		E := make([]float64, n+1)
		for i := range E {
			E[i] = math.Inf(1)
		}
		for i := j; i <= n; i++ {
			for m := j - 1; m < i; m++ {
				E[i] = min(E[i], D[m]+cost(m, i))
			}
		}
		D = E
	}
	return D[n]
}

func TestExactVsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 60 {
		n := 1 + rng.IntN(7)
		k := 1 + rng.IntN(4)
		xs := make([]float64, n)
		ws := make([]float64, n)
		for i := range xs {
			xs[i] = math.Round(rng.NormFloat64()*4) / 2 // duplicates happen
			ws[i] = 1
			if trial%2 == 1 {
				ws[i] = 0.5 + 2*rng.Float64()
			}
		}
		s, err := NewWeighted1D(xs, ws)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Exact(k)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteForce(xs, ws, k)
		if math.Abs(r.Inertia-want) > 1e-9*(1+want) {
			t.Fatalf("trial %d xs=%v ws=%v k=%d: DP %g, brute force %g", trial, xs, ws, k, r.Inertia, want)
		}
		if len(r.Centroids) > k || !slices.IsSorted(r.Centroids) {
			t.Fatalf("trial %d: centroids %v for k=%d", trial, r.Centroids, k)
		}
	}
}

func TestExactVsNaiveDP(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, tc := range []struct {
		name string
		n, k int
	}{{"n60k3", 60, 3}, {"n150k7", 150, 7}, {"n200k12", 200, 12}, {"n90k1", 90, 1}, {"n40k40", 40, 40}} {
		t.Run(tc.name, func(t *testing.T) {
			xs := laplace(rng, tc.n, 1)
			x64 := make([]float64, len(xs))
			for i, v := range xs {
				x64[i] = float64(v)
			}
			s, _ := NewSorted1D(xs)
			r, err := s.Exact(tc.k)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveDP(x64, tc.k)
			if math.Abs(r.Inertia-want) > 1e-9*(1+want) {
				t.Fatalf("divide-and-conquer DP %g, naive DP %g", r.Inertia, want)
			}
		})
	}
}

// TestLloydStep checks one Sorted1D Lloyd iteration against a naive
// assign-then-average step.
func TestLloydStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	xs := gaussMix(rng, 3000, []float64{-1, 0, 2}, 0.4)
	s, _ := NewSorted1D(xs)
	init := []float64{-2, -0.5, 0.1, 0.3, 1.5, 3}
	r, err := s.Lloyd(init, 1)
	if err != nil {
		t.Fatal(err)
	}
	sum := make([]float64, len(init))
	cnt := make([]float64, len(init))
	for _, x := range xs {
		best := 0
		for j := range init {
			if math.Abs(float64(x)-init[j]) < math.Abs(float64(x)-init[best]) {
				best = j
			}
		}
		sum[best] += float64(x)
		cnt[best]++
	}
	for j := range init {
		if want := sum[j] / cnt[j]; math.Abs(r.Centroids[j]-want) > 1e-9 {
			t.Errorf("centroid %d: %g want %g", j, r.Centroids[j], want)
		}
	}
}

func TestInertiaAndNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	xs := laplace(rng, 2000, 1)
	s, _ := NewSorted1D(xs)
	c := []float64{-3, -1, -0.2, 0, 0.5, 0.5000001, 4}
	var want float64
	for _, x := range xs {
		j := Nearest(c, float64(x))
		for m := range c {
			if math.Abs(float64(x)-c[m]) < math.Abs(float64(x)-c[j]) {
				t.Fatalf("Nearest(%g)=%d but %d is nearer", x, j, m)
			}
		}
		want += (float64(x) - c[j]) * (float64(x) - c[j])
	}
	if got := s.Inertia(c); math.Abs(got-want) > 1e-9*want {
		t.Fatalf("Inertia %g, naive %g", got, want)
	}
	if Nearest([]float64{1}, 5) != 0 || Nearest([]float64{0, 2}, 1) != 0 || Nearest([]float64{0, 2}, 1.0001) != 1 {
		t.Error("Nearest edge cases")
	}
}

// TestLloydVsExact is the differential test: Lloyd from any start never
// beats the DP optimum, and the optimum is a fixed point of Lloyd.
func TestLloydVsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for trial := range 20 {
		xs := gaussMix(rng, 500+rng.IntN(2000), []float64{-0.2, 0, 0.1, 0.3}, 0.05)
		k := 2 + rng.IntN(20)
		s, _ := NewSorted1D(xs)
		ex, err := s.Exact(k)
		if err != nil {
			t.Fatal(err)
		}
		init := make([]float64, k)
		for j := range init {
			init[j] = float64(xs[rng.IntN(len(xs))])
		}
		ll, err := s.Lloyd(init, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ll.Inertia < ex.Inertia*(1-1e-9) {
			t.Fatalf("trial %d: Lloyd %g below the optimum %g", trial, ll.Inertia, ex.Inertia)
		}
		fix, _ := s.Lloyd(ex.Centroids, 0)
		if math.Abs(fix.Inertia-ex.Inertia) > 1e-9*ex.Inertia || fix.Iters > 2 {
			t.Fatalf("trial %d: optimum is not a Lloyd fixed point (%g -> %g in %d iterations)", trial, ex.Inertia, fix.Inertia, fix.Iters)
		}
	}
}

// gapCase measures (ours - optimum)/optimum for the BIRCH-K + k-means|| +
// Lloyd pipeline on one sample, K chosen by BIRCH with the threshold scale.
func gapCase(t *testing.T, xs []float32, scale float64, seed uint64) (gap float64, k int) {
	t.Helper()
	T := DeriveThreshold(xs, scale)
	tr, err := Birch1D(xs, BirchOptions{Threshold: T, MaxLeaves: 256})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSorted1D(xs)
	k = min(tr.NumLeaves(), s.Distinct())
	r, err := s.KMeans(KMeansOptions{K: k, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := s.Exact(k)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Centroids) != k {
		t.Fatalf("k-means returned %d centroids for K=%d", len(r.Centroids), k)
	}
	return r.Inertia/ex.Inertia - 1, k
}

// TestKMeansQualityVsExact asserts the quality claim: on Laplace samples and
// Gaussian mixtures, with K from BIRCH over several thresholds and sizes, the
// final inertia is within 1% of the exact optimum on average (no case above
// 3%).
func TestKMeansQualityVsExact(t *testing.T) {
	var sum, worst float64
	cases := 0
	for _, n := range []int{3000, 20000} {
		for _, scale := range []float64{0.3, 0.1, 0.04} {
			for d, gen := range []func(*rand.Rand, int) []float32{
				func(r *rand.Rand, n int) []float32 { return laplace(r, n, 0.05) },
				func(r *rand.Rand, n int) []float32 { return gaussMix(r, n, []float64{-0.1, 0, 0.04, 0.15}, 0.02) },
			} {
				xs := gen(rand.New(rand.NewPCG(uint64(n), uint64(d))), n)
				gap, k := gapCase(t, xs, scale, 7)
				t.Logf("n=%d scale=%g dist=%d K=%d gap=%.4f%%", n, scale, d, k, 100*gap)
				if gap < -1e-9 {
					t.Fatalf("k-means beat the exact optimum: gap %g", gap)
				}
				sum += gap
				worst = max(worst, gap)
				cases++
			}
		}
	}
	if avg := sum / float64(cases); avg > 0.01 || worst > 0.03 {
		t.Fatalf("mean gap %.3f%%, worst %.3f%% (want <= 1%% and <= 3%%)", 100*avg, 100*worst)
	}
}

// TestKMeansQualityRealWeights: on every Conv/Gemm layer of a resnet8
// trained on Fashion-MNIST (testdata/models), BIRCH's K, k-means|| and
// Lloyd land within 1% of the exact 1-D optimum's inertia on average, at the
// default threshold and at a finer one.
func TestKMeansQualityRealWeights(t *testing.T) {
	g, err := onnx.ReadFile("../testdata/models/resnet8-fmnist.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, scale := range []float64{DefaultThresholdScale, 0.1} {
		sum, n := 0.0, 0
		for _, p := range SharedParams(g) {
			w := g.Params[p]
			gap, k := gapCase(t, w.Data, scale, 7)
			t.Logf("%s (%d weights): scale %g K=%d gap %.4f%%", p, w.Len(), scale, k, 100*gap)
			if gap > 0.03 {
				t.Errorf("%s: gap %.3f%% > 3%%", p, 100*gap)
			}
			sum += gap
			n++
		}
		if n == 0 || sum/float64(n) > 0.01 {
			t.Errorf("scale %g: mean gap %.3f%% over %d layers, want <= 1%%", scale, 100*sum/float64(max(n, 1)), n)
		}
	}
}

func TestKMeansFewDistinct(t *testing.T) {
	xs := []float32{1, 1, 2, 2, 2, 5, 5, 1}
	s, _ := NewSorted1D(xs)
	for _, method := range []string{"exact", "kmeans++"} {
		r, err := s.KMeans(KMeansOptions{K: 8, Recluster: method})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Centroids, []float64{1, 2, 5}) || r.Inertia != 0 {
			t.Errorf("%s: centroids %v inertia %g", method, r.Centroids, r.Inertia)
		}
	}
	// Lloyd from starts outside the data re-seeds empty clusters.
	r, err := s.Lloyd([]float64{-10, -9, -8}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Centroids, []float64{1, 2, 5}) {
		t.Errorf("Lloyd with empty clusters: %v", r.Centroids)
	}
	one, _ := NewSorted1D([]float32{3, 3, 3})
	if r, _ := one.Lloyd([]float64{0, 1}, 0); !slices.Equal(r.Centroids, []float64{3}) {
		t.Errorf("single value: %v", r.Centroids)
	}
}

func TestExactHist(t *testing.T) {
	xs := laplace(rand.New(rand.NewPCG(31, 32)), 20000, 0.05)
	s, _ := NewSorted1D(xs)
	for _, k := range []int{4, 16, 64} {
		ex, err := s.Exact(k)
		if err != nil {
			t.Fatal(err)
		}
		h, err := s.ExactHist(k, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if gap := h.Inertia/ex.Inertia - 1; gap < -1e-9 || gap > 0.005 {
			t.Errorf("K=%d: histogram gap %.4f%%", k, 100*gap)
		}
	}
}

func TestKMeansND(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	centers := [][]float64{{0, 0}, {5, 0}, {0, 5}, {5, 5}}
	var data []float64
	for i := range 800 {
		c := centers[i%4]
		data = append(data, c[0]+0.3*rng.NormFloat64(), c[1]+0.3*rng.NormFloat64())
	}
	r, err := KMeans(data, 2, KMeansOptions{K: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range centers {
		j, d := nearest(r.Centroids, c)
		if d > 0.05 {
			t.Errorf("centre %v: nearest centroid %v at distance^2 %g", c, r.Centroids[j], d)
		}
	}
	var inertia float64
	for i := range 800 {
		inertia += dist2(r.Centroids[r.Labels[i]], data[2*i:2*i+2])
	}
	if math.Abs(inertia-r.Inertia) > 1e-9*inertia {
		t.Errorf("inertia %g, recomputed from labels %g", r.Inertia, inertia)
	}
	// On 1-D data the general path never beats the DP optimum and lands
	// near it.
	xs := gaussMix(rng, 2000, []float64{-1, 0, 1.5}, 0.2)
	x64 := make([]float64, len(xs))
	for i, v := range xs {
		x64[i] = float64(v)
	}
	g, err := KMeans(x64, 1, KMeansOptions{K: 6, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSorted1D(xs)
	ex, _ := s.Exact(6)
	if g.Inertia < ex.Inertia*(1-1e-9) || g.Inertia > ex.Inertia*1.1 {
		t.Errorf("general k-means on 1-D data: %g vs optimum %g", g.Inertia, ex.Inertia)
	}
}

func TestKMeansErrors(t *testing.T) {
	s, _ := NewSorted1D([]float32{1, 2, 3})
	for _, tc := range []struct {
		name string
		opt  KMeansOptions
	}{
		{"K0", KMeansOptions{}},
		{"negRounds", KMeansOptions{K: 2, Rounds: -1}},
		{"nanOversample", KMeansOptions{K: 2, Oversample: math.NaN()}},
		{"badRecluster", KMeansOptions{K: 2, Recluster: "magic"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.KMeans(tc.opt); err == nil {
				t.Error("expected an error")
			}
		})
	}
	if _, err := NewSorted1D(nil); err == nil {
		t.Error("empty data accepted")
	}
	if _, err := NewSorted1D([]float32{float32(math.NaN())}); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := NewWeighted1D([]float64{1}, []float64{0}); err == nil {
		t.Error("zero weight accepted")
	}
	if _, err := s.Lloyd(nil, 0); err == nil {
		t.Error("Lloyd without centroids accepted")
	}
	if _, err := s.Exact(0); err == nil {
		t.Error("Exact K=0 accepted")
	}
	if _, err := KMeans([]float64{1, 2, 3}, 2, KMeansOptions{K: 1}); err == nil {
		t.Error("ragged data accepted")
	}
	if _, err := KMeans([]float64{1, 2}, 1, KMeansOptions{K: 1, Recluster: "exact"}); err == nil {
		t.Error("exact recluster in the general path accepted")
	}
}

func TestSortFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		xs := make([]float32, n)
		for i := range xs {
			switch rng.IntN(5) {
			case 0:
				xs[i] = 0
			case 1:
				xs[i] = float32(math.Copysign(0, -1))
			default:
				xs[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
			}
		}
		got := sortFloat32(xs)
		want := make([]float64, n)
		for i, v := range xs {
			want[i] = float64(v)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: radix sort differs from slices.Sort", n)
		}
	}
}

func TestKMeansParallelSeeds(t *testing.T) {
	xs := laplace(rand.New(rand.NewPCG(63, 64)), 5000, 1)
	s, _ := NewSorted1D(xs)
	for _, rc := range []string{"exact", "kmeans++"} {
		for _, k := range []int{1, 5, 40} {
			c, err := s.KMeansParallelSeeds(KMeansOptions{K: k, Seed: 2, Recluster: rc})
			if err != nil {
				t.Fatal(err)
			}
			if len(c) != k || !slices.IsSorted(c) || c[0] < s.X[0] || c[k-1] > s.X[len(s.X)-1] {
				t.Fatalf("%s K=%d: seeds %v", rc, k, c)
			}
			// Seeds are already good: their cost is within 2x of the optimum
			// for these smooth samples.
			ex, _ := s.Exact(k)
			if in := s.Inertia(c); in > 2*ex.Inertia {
				t.Errorf("%s K=%d: seed inertia %g vs optimum %g", rc, k, in, ex.Inertia)
			}
		}
	}
}
