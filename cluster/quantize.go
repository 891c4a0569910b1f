package cluster

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Options configure weight sharing on a graph. The zero value is usable:
// BIRCH with a threshold derived from each layer's spread picks K, then
// k-means|| and Lloyd place the centroids.
type Options struct {
	// Threshold is the BIRCH threshold T in weight units. 0 derives it per
	// layer as ThresholdScale * std(layer weights).
	Threshold float64
	// ThresholdScale is c in T = c * std when Threshold is 0 (default
	// DefaultThresholdScale).
	ThresholdScale float64
	// MaxClusters caps K (default and maximum 256, so an index fits a byte).
	MaxClusters int
	// Branching is the CF-tree node capacity L (default 50).
	Branching int
	// Method: "birch-kmeans" (default: K from BIRCH, or FixedK; then
	// k-means|| seeding and Lloyd), "kmeans" (FixedK required; k-means|| and
	// Lloyd) or "exact" (K from BIRCH or FixedK; the exact 1-D optimum by
	// dynamic programming, on a 4096-bin histogram refined by Lloyd when
	// K * distinct values exceeds MaxExactCells).
	Method string
	// FixedK > 0 skips BIRCH and uses this K for every layer.
	FixedK int
	// Seed makes the k-means|| sampling reproducible.
	Seed uint64
	// MinSize: Conv/Gemm weights with fewer values stay float.
	MinSize int
	// SizeRef makes the derived threshold size-aware: a layer of n < SizeRef
	// weights gets T = c * std * sqrt(n / SizeRef) (default DefaultSizeRef;
	// negative: off). Small layers are the first and last layers of a CNN
	// (the stem conv, the classifier), the ones most sensitive to
	// quantization, and the cheapest to give many clusters: a 144-weight
	// stem conv stored at 8 bits costs 144 bytes. Measured on a trained
	// resnet8 (Fashion-MNIST): clustering the stem conv alone at the plain
	// c*std threshold cost 5 accuracy points.
	SizeRef int
}

// DefaultSizeRef is the layer size below which the derived threshold shrinks.
const DefaultSizeRef = 4096

// DefaultThresholdScale is the default c of the derived threshold T = c*std.
// A threshold proportional to the layer's standard deviation makes K
// independent of the layer's scale (a layer multiplied by 10 gets the same
// K), so one constant suits every layer. BIRCH entries with radius <= T cover
// an interval of about 2*sqrt(3)*T, so K ~ (spread of the bulk)/(3.5*T) plus
// a few tail entries; with c = 0.2, 10^4-10^6 Laplace-shaped weights (the
// usual shape of trained conv weights) get K of about 27-35, i.e. 5-6 bit
// indices, and a Gaussian layer 14-22. That is the regime in which Deep
// Compression (Han et al. 2016) and later work report weight sharing with
// no accuracy loss for conv layers; smaller c gives more clusters (measured
// sweep in bench/cluster/README.md).
const DefaultThresholdScale = 0.2

// MaxK is the largest number of clusters a layer may have (uint8 indices).
const MaxK = 256

// LayerResult is the weight sharing of one parameter.
type LayerResult struct {
	Param         string
	Shape         []int
	K             int       // number of centroids (len(Codebook))
	Codebook      []float32 // centroids, sorted ascending (distinct as produced by QuantizeValues)
	Indices       []uint8   // per weight (row-major, as the tensor), index into Codebook
	IndexBits     int       // ceil(log2 K), the bits a packed index takes (0 when K = 1)
	BitsPerWeight float64   // (IndexBits*n + 32*K) / n: indices plus a float32 codebook
	Inertia       float64   // sum of squared differences between the original and shared weights
	Threshold     float64   // BIRCH threshold used (0 when K was fixed)
}

// Result is the weight sharing of a graph: one entry per clustered parameter,
// in graph node order, and the Conv/Gemm weights left float (MinSize).
type Result struct {
	Layers  []LayerResult
	Skipped []string
}

// Layer returns the result for a parameter, or nil.
func (r *Result) Layer(param string) *LayerResult {
	for i := range r.Layers {
		if r.Layers[i].Param == param {
			return &r.Layers[i]
		}
	}
	return nil
}

func (o *Options) defaults() error {
	if o.SizeRef == 0 {
		o.SizeRef = DefaultSizeRef
	}
	if o.ThresholdScale == 0 {
		o.ThresholdScale = DefaultThresholdScale
	}
	if o.MaxClusters == 0 {
		o.MaxClusters = MaxK
	}
	if o.Branching == 0 {
		o.Branching = DefaultBranching
	}
	if o.Method == "" {
		o.Method = "birch-kmeans"
	}
	switch {
	case o.Threshold < 0 || math.IsNaN(o.Threshold) || math.IsInf(o.Threshold, 0):
		return fmt.Errorf("cluster: threshold %v, want >= 0 and finite", o.Threshold)
	case !(o.ThresholdScale > 0) || math.IsInf(o.ThresholdScale, 0):
		return fmt.Errorf("cluster: threshold scale %v, want > 0", o.ThresholdScale)
	case o.MaxClusters < 1 || o.MaxClusters > MaxK:
		return fmt.Errorf("cluster: max clusters %d, want 1..%d", o.MaxClusters, MaxK)
	case o.FixedK < 0 || o.FixedK > MaxK:
		return fmt.Errorf("cluster: fixed K %d, want 0..%d", o.FixedK, MaxK)
	case o.Branching < 2:
		return fmt.Errorf("cluster: branching %d, want >= 2", o.Branching)
	case o.MinSize < 0:
		return fmt.Errorf("cluster: min size %d, want >= 0", o.MinSize)
	}
	switch o.Method {
	case "birch-kmeans", "exact":
	case "kmeans":
		if o.FixedK == 0 {
			return fmt.Errorf("cluster: method \"kmeans\" needs FixedK (use \"birch-kmeans\" to let BIRCH choose K)")
		}
	default:
		return fmt.Errorf("cluster: unknown method %q (want birch-kmeans, kmeans or exact)", o.Method)
	}
	return nil
}

// SharedParams returns the names of the parameters weight sharing applies to:
// input 1 (the weight) of every Conv and Gemm node that is a parameter, once
// each, in node order. BatchNormalization parameters and biases are not
// included.
func SharedParams(g *graph.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Op != graph.OpConv && n.Op != graph.OpGemm {
			continue
		}
		w := n.Input(1)
		if w != "" && g.IsParam(w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// QuantizeGraph clusters the weights of every Conv and Gemm (input 1) of g,
// layer by layer, and writes the shared values (each weight replaced by its
// centroid) into g.Params, so executing g evaluates the weight-shared model.
// Other parameters are untouched. It errors on invalid options or a layer
// with a non-finite weight (naming the parameter); g is unchanged on error.
func QuantizeGraph(g *graph.Graph, opt Options) (*Result, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	res := &Result{}
	for li, name := range SharedParams(g) {
		w := g.Params[name]
		if w.Len() < max(opt.MinSize, 1) {
			res.Skipped = append(res.Skipped, name)
			continue
		}
		lr, err := QuantizeValues(w.Data, opt, opt.Seed+uint64(li)*0x9e3779b97f4a7c15)
		if err != nil {
			return nil, fmt.Errorf("cluster: parameter %q %v: %w", name, w.Shape, err)
		}
		lr.Param, lr.Shape = name, slices.Clone(w.Shape)
		res.Layers = append(res.Layers, *lr)
	}
	for _, l := range res.Layers {
		l.Expand(g.Params[l.Param].Data)
	}
	return res, nil
}

// QuantizeValues clusters one layer's values (see QuantizeGraph; opt's zero
// fields take defaults, seed drives the sampling). Param and Shape of the
// result are left empty. It errors on no values, a non-finite value or
// invalid options.
func QuantizeValues(xs []float32, opt Options, seed uint64) (*LayerResult, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	s, err := NewSorted1D(xs)
	if err != nil {
		return nil, err
	}
	lr := &LayerResult{}
	k := opt.FixedK
	if k == 0 {
		T := opt.Threshold
		if T == 0 {
			T = DeriveThreshold(xs, opt.ThresholdScale)
			if opt.SizeRef > 0 && len(xs) < opt.SizeRef {
				T *= math.Sqrt(float64(len(xs)) / float64(opt.SizeRef))
			}
		}
		if T > 0 {
			tr, err := Birch1D(xs, BirchOptions{Threshold: T, Branching: opt.Branching, MaxLeaves: opt.MaxClusters})
			if err != nil {
				return nil, err
			}
			k, lr.Threshold = tr.NumLeaves(), tr.Threshold()
		} else {
			k = 1 // all values equal
		}
	}
	k = min(k, opt.MaxClusters, s.Distinct())
	var r *Result1D
	if opt.Method == "exact" {
		u := s.Distinct()
		if int64(k)*int64(u) <= MaxExactCells {
			r, err = s.Exact(k)
		} else {
			r, err = s.ExactHist(k, 4096)
		}
	} else {
		r, err = s.KMeans(KMeansOptions{K: k, Seed: seed})
	}
	if err != nil {
		return nil, err
	}
	// Round the codebook to float32 (what is stored and executed) and
	// assign every weight to its nearest stored value.
	cb := make([]float32, 0, len(r.Centroids))
	for _, c := range r.Centroids {
		v := float32(c)
		if len(cb) == 0 || v != cb[len(cb)-1] {
			cb = append(cb, v)
		}
	}
	c64 := make([]float64, len(cb))
	for i, v := range cb {
		c64[i] = float64(v)
	}
	lr.K, lr.Codebook = len(cb), cb
	lr.Indices = make([]uint8, len(xs))
	for i, x := range xs {
		lr.Indices[i] = uint8(Nearest(c64, float64(x)))
	}
	lr.IndexBits = IndexBits(lr.K)
	lr.BitsPerWeight = (float64(lr.IndexBits)*float64(len(xs)) + 32*float64(lr.K)) / float64(len(xs))
	lr.Inertia = s.Inertia(c64)
	return lr, nil
}

// IndexBits returns ceil(log2 k), the bits of a packed index (0 for k <= 1).
func IndexBits(k int) int {
	if k <= 1 {
		return 0
	}
	return bits.Len(uint(k - 1))
}

// Expand writes Codebook[Indices[i]] into dst[i]; dst must hold len(Indices)
// values (it panics otherwise, a programmer error).
func (l *LayerResult) Expand(dst []float32) {
	if len(dst) != len(l.Indices) {
		panic(fmt.Sprintf("cluster: Expand of %d indices into %d values", len(l.Indices), len(dst)))
	}
	for i, j := range l.Indices {
		dst[i] = l.Codebook[j]
	}
}

// CentroidGrads returns, for every clustered layer with a gradient in grads
// (keyed by parameter name, shaped as the parameter), the gradient of the
// loss with respect to each centroid: dL/dc_k = sum of dL/dw_i over the
// weights i in cluster k (the chain rule, since w_i = c_{idx_i}). Layers
// without a gradient are absent from the result. It errors on a gradient
// whose size differs from the layer.
func (r *Result) CentroidGrads(grads map[string]*tensor.Tensor) (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, l := range r.Layers {
		gt, ok := grads[l.Param]
		if !ok || gt == nil {
			continue
		}
		if gt.Len() != len(l.Indices) {
			return nil, fmt.Errorf("cluster: gradient of %q has %d values, the layer %d", l.Param, gt.Len(), len(l.Indices))
		}
		s := make([]float64, l.K)
		for i, j := range l.Indices {
			s[j] += float64(gt.Data[i])
		}
		out[l.Param] = s
	}
	return out, nil
}

// ProjectGrads is the trained-quantization hook (Deep Compression): call it
// between Backward and the optimizer step. It replaces, in place, the
// gradient of every weight of a clustered layer by dL/dc of its cluster (see
// CentroidGrads), so all weights of a cluster receive the same gradient and,
// from equal values and equal optimizer state, take the same step: a plain
// SGD step then moves every centroid by -lr * dL/dc exactly. Call Reshare
// after the step to absorb rounding and optimizer-state differences. Errors
// as CentroidGrads.
func (r *Result) ProjectGrads(grads map[string]*tensor.Tensor) error {
	cg, err := r.CentroidGrads(grads)
	if err != nil {
		return err
	}
	for _, l := range r.Layers {
		s, ok := cg[l.Param]
		if !ok {
			continue
		}
		d := grads[l.Param].Data
		for i, j := range l.Indices {
			d[i] = float32(s[j])
		}
	}
	return nil
}

// Reshare re-imposes weight sharing after an optimizer step: each centroid
// becomes the mean of its cluster's current weights in g, the codebook is
// re-sorted (indices remapped) if centroids crossed, and the centroid values
// are written back into g. Inertia keeps its clustering-time value. It errors
// if a clustered parameter is missing from g or changed size.
func (r *Result) Reshare(g *graph.Graph) error {
	for li := range r.Layers {
		l := &r.Layers[li]
		w, ok := g.Params[l.Param]
		if !ok {
			return fmt.Errorf("cluster: reshare: parameter %q not in graph %q", l.Param, g.Name)
		}
		if w.Len() != len(l.Indices) {
			return fmt.Errorf("cluster: reshare: parameter %q has %d values, clustered %d", l.Param, w.Len(), len(l.Indices))
		}
		sum := make([]float64, l.K)
		cnt := make([]float64, l.K)
		for i, j := range l.Indices {
			sum[j] += float64(w.Data[i])
			cnt[j]++
		}
		for k := range l.Codebook {
			if cnt[k] > 0 {
				l.Codebook[k] = float32(sum[k] / cnt[k])
			}
		}
		if !slices.IsSorted(l.Codebook) {
			order := make([]int, l.K)
			for k := range order {
				order[k] = k
			}
			slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(float64(l.Codebook[a]), float64(l.Codebook[b])) })
			remap := make([]uint8, l.K)
			cb := make([]float32, l.K)
			for newK, oldK := range order {
				remap[oldK] = uint8(newK)
				cb[newK] = l.Codebook[oldK]
			}
			for i, j := range l.Indices {
				l.Indices[i] = remap[j]
			}
			l.Codebook = cb
		}
		l.Expand(w.Data)
	}
	return nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
