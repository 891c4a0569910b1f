package cluster

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// testGraph is conv(3->16, 3x3) + BN + ReLU + GAP + flatten + Gemm(16->10)
// plus a second Conv that shares the first one's weight.
func testGraph(seed uint64) *graph.Graph {
	rng := tensor.NewRNG(seed)
	g := graph.New("t")
	g.Inputs = []graph.Value{{Name: "x", Shape: []int{-1, 3, 8, 8}}}
	g.Outputs = []graph.Value{{Name: "y", Shape: []int{-1, 10}}}
	add := func(name string, fill func(*tensor.Tensor), shape ...int) {
		t := tensor.New(shape...)
		fill(t)
		g.Params[name] = t
	}
	normal := func(std float64) func(*tensor.Tensor) {
		return func(t *tensor.Tensor) { t.FillNormal(rng, 0, std) }
	}
	add("conv.w", func(t *tensor.Tensor) {
		copy(t.Data, laplace(rand.New(rand.NewPCG(seed, 1)), t.Len(), 0.1))
	}, 16, 3, 3, 3)
	add("conv.b", normal(0.1), 16)
	add("bn.scale", normal(1), 16)
	add("bn.bias", normal(0.1), 16)
	add("bn.mean", normal(0.1), 16)
	add("bn.var", func(t *tensor.Tensor) { t.Fill(1) }, 16)
	add("fc.w", normal(0.2), 10, 16)
	add("fc.b", normal(0.1), 10)
	g.Nodes = []*graph.Node{
		{Name: "conv", Op: graph.OpConv, Inputs: []string{"x", "conv.w", "conv.b"}, Outputs: []string{"c"}},
		{Name: "conv2", Op: graph.OpConv, Inputs: []string{"x", "conv.w"}, Outputs: []string{"c2"}},
		{Name: "bn", Op: graph.OpBN, Inputs: []string{"c", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, Outputs: []string{"b"}},
		{Name: "relu", Op: graph.OpRelu, Inputs: []string{"b"}, Outputs: []string{"r"}},
		{Name: "gap", Op: graph.OpGlobalAvg, Inputs: []string{"r"}, Outputs: []string{"p"}},
		{Name: "flat", Op: graph.OpFlatten, Inputs: []string{"p"}, Outputs: []string{"f"}},
		{Name: "fc", Op: graph.OpGemm, Inputs: []string{"f", "fc.w", "fc.b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}},
	}
	return g
}

func TestQuantizeGraph(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     Options
		layers  []string
		skipped []string
		wantK   int // 0: BIRCH decides
	}{
		{"default", Options{Seed: 1}, []string{"conv.w", "fc.w"}, nil, 0},
		{"fixedK", Options{FixedK: 8, Method: "kmeans"}, []string{"conv.w", "fc.w"}, nil, 8},
		{"exact", Options{FixedK: 5, Method: "exact"}, []string{"conv.w", "fc.w"}, nil, 5},
		{"capped", Options{Threshold: 1e-6, MaxClusters: 12}, []string{"conv.w", "fc.w"}, nil, 0},
		{"minSize", Options{MinSize: 200}, []string{"conv.w"}, []string{"fc.w"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testGraph(5)
			orig := g.Clone()
			r, err := QuantizeGraph(g, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, l := range r.Layers {
				names = append(names, l.Param)
			}
			if !slices.Equal(names, tc.layers) || !slices.Equal(r.Skipped, tc.skipped) {
				t.Fatalf("layers %v skipped %v, want %v and %v", names, r.Skipped, tc.layers, tc.skipped)
			}
			for name, p := range g.Params {
				if r.Layer(name) == nil && tensor.MaxAbsDiff(p, orig.Params[name]) != 0 {
					t.Errorf("parameter %q is not clustered but changed", name)
				}
			}
			for _, l := range r.Layers {
				w, o := g.Params[l.Param], orig.Params[l.Param]
				if !slices.Equal(l.Shape, w.Shape) || len(l.Indices) != w.Len() || l.K != len(l.Codebook) {
					t.Fatalf("%s: shape %v, %d indices, K=%d with %d centroids", l.Param, l.Shape, len(l.Indices), l.K, len(l.Codebook))
				}
				if tc.wantK > 0 && l.K != tc.wantK {
					t.Errorf("%s: K=%d want %d", l.Param, l.K, tc.wantK)
				}
				if tc.opt.MaxClusters > 0 && (l.K > tc.opt.MaxClusters || l.K < tc.opt.MaxClusters/2) {
					t.Errorf("%s: K=%d with the cap at %d", l.Param, l.K, tc.opt.MaxClusters)
				}
				if l.K < 2 || l.K > 256 {
					t.Errorf("%s: K=%d", l.Param, l.K)
				}
				for i := 1; i < l.K; i++ {
					if !(l.Codebook[i-1] < l.Codebook[i]) {
						t.Fatalf("%s: codebook not strictly ascending: %v", l.Param, l.Codebook)
					}
				}
				var sse float64
				for i, v := range w.Data {
					if v != l.Codebook[l.Indices[i]] {
						t.Fatalf("%s[%d]=%g, codebook value %g", l.Param, i, v, l.Codebook[l.Indices[i]])
					}
					// Each weight went to its nearest centroid.
					for _, c := range l.Codebook {
						if math.Abs(float64(o.Data[i])-float64(c)) < math.Abs(float64(o.Data[i])-float64(v))-1e-12 {
							t.Fatalf("%s[%d]=%g mapped to %g but %g is nearer", l.Param, i, o.Data[i], v, c)
						}
					}
					d := float64(o.Data[i]) - float64(v)
					sse += d * d
				}
				if math.Abs(sse-l.Inertia) > 1e-6*sse {
					t.Errorf("%s: inertia %g, recomputed %g", l.Param, l.Inertia, sse)
				}
				n := float64(w.Len())
				if want := (float64(IndexBits(l.K))*n + 32*float64(l.K)) / n; l.BitsPerWeight != want || l.IndexBits != IndexBits(l.K) {
					t.Errorf("%s: bits/weight %g want %g", l.Param, l.BitsPerWeight, want)
				}
			}
		})
	}
}

// TestQuantizeExactIsBest: with the same K the exact method's inertia is a
// lower bound for the k-means pipeline, and the pipeline lands within 1%.
func TestQuantizeExactIsBest(t *testing.T) {
	xs := laplace(rand.New(rand.NewPCG(41, 42)), 4000, 0.05)
	for _, k := range []int{3, 9, 30} {
		a, err := QuantizeValues(xs, Options{FixedK: k}, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := QuantizeValues(xs, Options{FixedK: k, Method: "exact"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if b.Inertia > a.Inertia*(1+1e-6) || a.Inertia > b.Inertia*1.01 {
			t.Errorf("K=%d: k-means %g, exact %g", k, a.Inertia, b.Inertia)
		}
	}
	// The derived threshold scales with the layer: K is scale invariant.
	big := make([]float32, len(xs))
	for i, x := range xs {
		big[i] = 8 * x
	}
	a, _ := QuantizeValues(xs, Options{}, 1)
	b, _ := QuantizeValues(big, Options{}, 1)
	if a.K != b.K || a.K < 8 {
		t.Errorf("K=%d for the layer, %d for the layer times 8", a.K, b.K)
	}
	c, _ := QuantizeValues([]float32{2, 2, 2}, Options{}, 1)
	if c.K != 1 || c.IndexBits != 0 || c.Inertia != 0 {
		t.Errorf("constant layer: %+v", c)
	}
}

func TestQuantizeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"negT", Options{Threshold: -1}, "threshold"},
		{"bigK", Options{MaxClusters: 300}, "max clusters"},
		{"fixedBig", Options{FixedK: 257}, "fixed K"},
		{"kmeansNoK", Options{Method: "kmeans"}, "FixedK"},
		{"method", Options{Method: "dbscan"}, "unknown method"},
		{"branching", Options{Branching: 1}, "branching"},
		{"minsize", Options{MinSize: -1}, "min size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := QuantizeGraph(testGraph(1), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	g := testGraph(1)
	g.Params["fc.w"].Data[7] = float32(math.NaN())
	before := g.Clone()
	_, err := QuantizeGraph(g, Options{})
	if err == nil || !strings.Contains(err.Error(), "fc.w") {
		t.Fatalf("NaN weight: error %v, want one naming fc.w", err)
	}
	if tensor.MaxAbsDiff(g.Params["conv.w"], before.Params["conv.w"]) != 0 {
		t.Error("graph modified although QuantizeGraph failed")
	}
}

// TestCentroidGradsMath checks the fine-tuning hook against finite
// differences: for L(w) = sum a_i w_i^2/2 + b_i w_i with w = c[idx],
// dL/dc_k computed from the per-weight gradients equals the numerical
// derivative, and ProjectGrads + an SGD step + Reshare is exactly a gradient
// step on the centroids that keeps the weights shared.
func TestCentroidGradsMath(t *testing.T) {
	g := testGraph(9)
	r, err := QuantizeGraph(g, Options{FixedK: 6, Method: "kmeans"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(43, 44))
	coef := map[string][2][]float64{}
	for _, l := range r.Layers {
		a, b := make([]float64, len(l.Indices)), make([]float64, len(l.Indices))
		for i := range a {
			a[i], b[i] = rng.Float64(), rng.NormFloat64()
		}
		coef[l.Param] = [2][]float64{a, b}
	}
	loss := func(l LayerResult, cb []float64) float64 {
		var s float64
		ab := coef[l.Param]
		for i, j := range l.Indices {
			w := cb[j]
			s += ab[0][i]*w*w/2 + ab[1][i]*w
		}
		return s
	}
	grads := map[string]*tensor.Tensor{}
	for _, l := range r.Layers {
		gt := tensor.New(l.Shape...)
		ab := coef[l.Param]
		for i, j := range l.Indices {
			gt.Data[i] = float32(ab[0][i]*float64(l.Codebook[j]) + ab[1][i])
		}
		grads[l.Param] = gt
	}
	cg, err := r.CentroidGrads(grads)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Layers {
		cb := make([]float64, l.K)
		for k, v := range l.Codebook {
			cb[k] = float64(v)
		}
		for k := range cb {
			h := 1e-4
			p, m := slices.Clone(cb), slices.Clone(cb)
			p[k] += h
			m[k] -= h
			num := (loss(l, p) - loss(l, m)) / (2 * h)
			if math.Abs(num-cg[l.Param][k]) > 1e-3*(1+math.Abs(num)) {
				t.Errorf("%s centroid %d: dL/dc %g, numerical %g", l.Param, k, cg[l.Param][k], num)
			}
		}
	}
	// ProjectGrads + SGD step + Reshare == gradient step on the centroids.
	const lr = 1e-3
	want := map[string][]float32{}
	for _, l := range r.Layers {
		for k, c := range l.Codebook {
			want[l.Param] = append(want[l.Param], float32(float64(c)-lr*cg[l.Param][k]))
		}
	}
	if err := r.ProjectGrads(grads); err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Layers {
		w := g.Params[l.Param]
		for i := range w.Data {
			w.Data[i] -= lr * grads[l.Param].Data[i]
		}
	}
	if err := r.Reshare(g); err != nil {
		t.Fatal(err)
	}
	for _, l := range r.Layers {
		got := r.Layer(l.Param).Codebook
		for k := range got {
			if math.Abs(float64(got[k]-want[l.Param][k])) > 1e-6*(1+math.Abs(float64(want[l.Param][k]))) {
				t.Errorf("%s centroid %d after step: %g want %g", l.Param, k, got[k], want[l.Param][k])
			}
		}
		for i, v := range g.Params[l.Param].Data {
			if v != got[l.Indices[i]] {
				t.Fatalf("%s[%d] not shared after Reshare", l.Param, i)
			}
		}
	}
	if err := r.ProjectGrads(map[string]*tensor.Tensor{"fc.w": tensor.New(3)}); err == nil {
		t.Error("gradient of the wrong size accepted")
	}
}

// TestReshareReorders: centroids that cross after a step are re-sorted with
// the indices remapped, so every weight keeps its value.
func TestReshareReorders(t *testing.T) {
	g := graph.New("r")
	g.Params["w"] = tensor.From([]float32{0, 0, 1, 1, 2}, 5)
	g.Params["x"] = tensor.New(1)
	g.Nodes = []*graph.Node{{Name: "fc", Op: graph.OpGemm, Inputs: []string{"x", "w"}, Outputs: []string{"y"}}}
	r, err := QuantizeGraph(g, Options{FixedK: 3, Method: "exact"})
	if err != nil {
		t.Fatal(err)
	}
	w := g.Params["w"].Data
	w[0], w[1] = 3, 3 // cluster 0 jumps past the others
	if err := r.Reshare(g); err != nil {
		t.Fatal(err)
	}
	l := r.Layer("w")
	if !slices.Equal(l.Codebook, []float32{1, 2, 3}) || !slices.Equal(w, []float32{3, 3, 1, 1, 2}) || !slices.Equal(l.Indices, []uint8{2, 2, 0, 0, 1}) {
		t.Errorf("codebook %v indices %v weights %v", l.Codebook, l.Indices, w)
	}
	delete(g.Params, "w")
	if err := r.Reshare(g); err == nil {
		t.Error("missing parameter accepted")
	}
}

// TestSizeAwareThreshold: a layer smaller than SizeRef gets its derived
// threshold scaled by sqrt(n/SizeRef), hence at least as many clusters.
func TestSizeAwareThreshold(t *testing.T) {
	rng := tensor.NewRNG(12)
	xs := make([]float32, 144)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 0.1)
	}
	on, err := QuantizeValues(xs, Options{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	off, err := QuantizeValues(xs, Options{SizeRef: -1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := DeriveThreshold(xs, DefaultThresholdScale) * math.Sqrt(144.0/DefaultSizeRef)
	// BIRCH only ever raises T (when the leaves exceed MaxClusters).
	if on.Threshold < want*(1-1e-12) || on.Threshold >= off.Threshold {
		t.Fatalf("threshold %g, want sqrt(n/SizeRef)*c*std = %g (plain %g)", on.Threshold, want, off.Threshold)
	}
	if on.K <= off.K {
		t.Fatalf("size-aware K %d not above plain K %d for a 144-weight layer", on.K, off.K)
	}
	big := make([]float32, 2*DefaultSizeRef)
	for i := range big {
		big[i] = float32(rng.NormFloat64())
	}
	a, _ := QuantizeValues(big, Options{}, 1)
	b, _ := QuantizeValues(big, Options{SizeRef: -1}, 1)
	if a.K != b.K {
		t.Fatalf("a layer above SizeRef changed K: %d vs %d", a.K, b.K)
	}
}
