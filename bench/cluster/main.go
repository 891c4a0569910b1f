// Command cluster times slimgo's BIRCH and k-means against scikit-learn on
// the same Laplace-distributed weights and prints a side-by-side table.
//
//	go run ./bench/cluster -n 1000000 -k 16
//
// It writes the weights to a .npy file, times the Go side (best of -reps
// runs), runs sklearn_cluster.py with -python on the same file (one run: its
// BIRCH takes tens of seconds) and prints both, with the exact 1-D optimum
// as the quality reference. -peer=false skips scikit-learn.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/tensor"
)

type peerResult struct {
	BirchS        float64 `json:"birch_s"`
	BirchK        int     `json:"birch_k"`
	KMeansS       float64 `json:"kmeans_s"`
	KMeansInertia float64 `json:"kmeans_inertia"`
	KMeansIters   int     `json:"kmeans_iters"`
	Threads       int     `json:"threads"`
}

func main() {
	n := flag.Int("n", 1_000_000, "number of weights")
	k := flag.Int("k", 16, "clusters for the k-means step")
	scale := flag.Float64("scale", cluster.DefaultThresholdScale, "BIRCH threshold T = scale * std (ignored if -threshold > 0)")
	threshold := flag.Float64("threshold", 0, "BIRCH threshold T in weight units")
	seed := flag.Uint64("seed", 1, "seed for the data and the sampling")
	reps := flag.Int("reps", 3, "Go runs per step (the best is reported)")
	peer := flag.Bool("peer", true, "also run scikit-learn")
	python := flag.String("python", "/usr/bin/python3", "Python with scikit-learn")
	keep := flag.String("data", "", "write the weights to this .npy path (default: a temporary file)")
	flag.Parse()
	if err := run(*n, *k, *scale, *threshold, *seed, *reps, *peer, *python, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

func laplace(rng *rand.Rand, n int, b float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		u := rng.Float64() - 0.5
		out[i] = float32(-b * math.Copysign(1, u) * math.Log(1-2*math.Abs(u)))
	}
	return out
}

// best runs f reps times and returns the shortest wall time.
func best(reps int, f func() error) (time.Duration, error) {
	b := time.Duration(math.MaxInt64)
	for range max(reps, 1) {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		b = min(b, time.Since(t0))
	}
	return b, nil
}

func run(n, k int, scale, threshold float64, seed uint64, reps int, peer bool, python, dataPath string) error {
	xs := laplace(rand.New(rand.NewPCG(seed, 7)), n, 0.05)
	T := threshold
	if T <= 0 {
		T = cluster.DeriveThreshold(xs, scale)
	}
	if dataPath == "" {
		dir, err := os.MkdirTemp("", "slimgo-bench-cluster")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dataPath = filepath.Join(dir, "weights.npy")
	}
	if err := npy.WriteFile(dataPath, tensor.From(xs, n)); err != nil {
		return err
	}

	var tree *cluster.Tree
	tBirch, err := best(reps, func() (err error) {
		tree, err = cluster.Birch1D(xs, cluster.BirchOptions{Threshold: T, Branching: 50})
		return err
	})
	if err != nil {
		return err
	}
	var km *cluster.Result1D
	tKM, err := best(reps, func() error {
		s, err := cluster.NewSorted1D(xs) // the sort is part of the cost
		if err != nil {
			return err
		}
		km, err = s.KMeans(cluster.KMeansOptions{K: k, Seed: seed})
		return err
	})
	if err != nil {
		return err
	}
	var lr *cluster.LayerResult
	tAll, err := best(reps, func() (err error) {
		lr, err = cluster.QuantizeValues(xs, cluster.Options{Threshold: T}, seed)
		return err
	})
	if err != nil {
		return err
	}
	s, _ := cluster.NewSorted1D(xs)
	opt, err := s.Exact(k)
	if err != nil {
		return err
	}

	fmt.Printf("%d Laplace(0, 0.05) weights, T = %.6g (%s), K = %d for k-means; Go %s, GOMAXPROCS %d, %s/%s\n",
		n, T, tDesc(threshold, scale), k, runtime.Version(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	var pr *peerResult
	if peer {
		cmd := exec.Command(python, filepath.Join(srcDir(), "sklearn_cluster.py"), dataPath, fmt.Sprint(T), fmt.Sprint(k), fmt.Sprint(seed))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("scikit-learn peer: %w", err)
		}
		pr = &peerResult{}
		if err := json.Unmarshal(out, pr); err != nil {
			return fmt.Errorf("scikit-learn peer output %q: %w", out, err)
		}
	}
	fmt.Printf("\n| step | scikit-learn | slimgo | speed-up |\n|---|---|---|---|\n")
	row := func(name string, peerS float64, ours time.Duration) {
		if pr == nil {
			fmt.Printf("| %s | - | %.3f s | - |\n", name, ours.Seconds())
			return
		}
		fmt.Printf("| %s | %.3f s | %.3f s | %.1fx |\n", name, peerS, ours.Seconds(), peerS/ours.Seconds())
	}
	row("BIRCH CF-tree", pr.get(func(p *peerResult) float64 { return p.BirchS }), tBirch)
	row(fmt.Sprintf("k-means K=%d", k), pr.get(func(p *peerResult) float64 { return p.KMeansS }), tKM)
	row("BIRCH + k-means", pr.get(func(p *peerResult) float64 { return p.BirchS + p.KMeansS }), tBirch+tKM)
	fmt.Printf("\nBIRCH leaf entries: slimgo %d", tree.NumLeaves())
	if pr != nil {
		fmt.Printf(", scikit-learn %d", pr.BirchK)
	}
	fmt.Printf("\nk-means inertia: exact optimum %.6g; slimgo %.6g (+%.3f%%, %d Lloyd iterations)",
		opt.Inertia, km.Inertia, 100*(km.Inertia/opt.Inertia-1), km.Iters)
	if pr != nil {
		fmt.Printf("; scikit-learn %.6g (+%.3f%%, %d iterations, %d threads)", pr.KMeansInertia, 100*(pr.KMeansInertia/opt.Inertia-1), pr.KMeansIters, pr.Threads)
	}
	fmt.Printf("\nwhole slimgo layer pipeline (BIRCH picks K=%d, k-means||, Lloyd, indices): %.3f s, %.2f bits/weight\n",
		lr.K, tAll.Seconds(), lr.BitsPerWeight)
	return nil
}

func (p *peerResult) get(f func(*peerResult) float64) float64 {
	if p == nil {
		return 0
	}
	return f(p)
}

func tDesc(threshold, scale float64) string {
	if threshold > 0 {
		return "given"
	}
	return fmt.Sprintf("%g * std", scale)
}

// srcDir is the directory of this program's sources (for the peer script):
// the working directory if it holds the script, else bench/cluster under it.
func srcDir() string {
	if _, err := os.Stat("sklearn_cluster.py"); err == nil {
		return "."
	}
	return filepath.Join("bench", "cluster")
}
