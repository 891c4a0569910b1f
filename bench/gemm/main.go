// Command gemm prints a table of single-precision GEMM throughput
// (GFLOP/s) for slimgo's kernels.Sgemm (one thread), kernels.SgemmParallel
// (GOMAXPROCS threads) and, when built with -tags openblas (cgo, needs
// libopenblas-dev), OpenBLAS cblas_sgemm on 1 and GOMAXPROCS threads.
//
//	go run ./bench/gemm                  # slimgo only, pure Go build
//	go run -tags openblas ./bench/gemm   # plus OpenBLAS columns
//
// Each figure is the best of -rounds passes over all shapes times -reps
// timed batches, each batch running the product enough times to take at
// least -min seconds; the best time is the least disturbed by other load
// on a shared machine.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slimgo/slimgo/kernels"
)

// shape is one product C[m,n] = op(A)*op(B); A is stored k x m when ta,
// B is stored n x k when tb.
type shape struct {
	name    string
	ta, tb  bool
	m, n, k int
}

// defaultShapes are the per-image GEMMs the engine's Conv runs for a
// resnet8 on 32x32 CIFAR images (forward W*col, weight gradient dY*colT,
// input gradient WT*dY), batch-lowered conv products and squares.
var defaultShapes = []shape{
	{"conv1 fwd 16f k27 32x32", false, false, 16, 1024, 27},
	{"s1 fwd 16f 3x3x16 32x32", false, false, 16, 1024, 144},
	{"s1 dW", false, true, 16, 144, 1024},
	{"s1 dX", true, false, 144, 1024, 16},
	{"s2 fwd 32f 3x3x32 16x16", false, false, 32, 256, 288},
	{"s2 dW", false, true, 32, 288, 256},
	{"s2 dX", true, false, 288, 256, 32},
	{"s3 fwd 64f 3x3x64 8x8", false, false, 64, 64, 576},
	{"s3 dW", false, true, 64, 576, 64},
	{"s3 dX", true, false, 576, 64, 64},
	{"batch-lowered 16f 28x28 b8", false, false, 16, 784 * 8, 144},
	{"batch-lowered 64f 7x7 b32", false, false, 64, 49 * 32, 576},
	{"square 256", false, false, 256, 256, 256},
	{"square 512", false, false, 512, 512, 512},
	{"square 1024", false, false, 1024, 1024, 1024},
}

func main() {
	reps := flag.Int("reps", 3, "timed batches per measurement (best is reported)")
	minSec := flag.Float64("min", 0.2, "minimum seconds per timed batch")
	rounds := flag.Int("rounds", 1, "passes over all shapes; each cell reports its best pass")
	only := flag.String("shapes", "", "comma-separated MxNxK list replacing the default shapes")
	ta := flag.Bool("ta", false, "with -shapes: A is stored transposed (k x m)")
	tb := flag.Bool("tb", false, "with -shapes: B is stored transposed (n x k)")
	flag.Parse()

	shapes := defaultShapes
	if *only != "" {
		var err error
		if shapes, err = parseShapes(*only, *ta, *tb); err != nil {
			fmt.Fprintln(os.Stderr, "gemm:", err)
			os.Exit(2)
		}
	}
	threads := runtime.GOMAXPROCS(0)
	cols := []string{"shape", "op", "M", "N", "K", "slimgo 1T", fmt.Sprintf("slimgo %dT", threads)}
	if openblasAvailable {
		cols = append(cols, "OpenBLAS 1T", fmt.Sprintf("OpenBLAS %dT", threads), "ratio 1T", fmt.Sprintf("ratio %dT", threads))
	}
	if *reps < 1 || *rounds < 1 || *minSec <= 0 {
		fmt.Fprintln(os.Stderr, "gemm: -reps and -rounds must be >= 1 and -min > 0")
		os.Exit(2)
	}
	fmt.Printf("GFLOP/s, best of %d rounds x %d batches of >= %.2fs; asm micro-kernel: %v; GOMAXPROCS=%d\n",
		*rounds, *reps, *minSec, kernels.UseAsm && kernels.AsmAvailable(), threads)
	// Rounds go over every shape in turn, so each cell's best time is
	// taken from moments spread over the whole run.
	best := make([][4]float64, len(shapes))
	ops := make([]string, len(shapes))
	for round := range *rounds {
		for i, s := range shapes {
			r := rand.New(rand.NewPCG(1, 2))
			a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			gf := func(f func()) float64 { return flops / bestTime(f, *reps, *minSec) / 1e9 }
			lda, ldb := s.k, s.n
			ops[i] = "A*B"
			if s.ta {
				lda = s.m
				ops[i] = "AT*B"
			}
			if s.tb {
				ldb = s.k
				ops[i] = strings.Replace(ops[i], "*B", "*BT", 1)
			}
			got := [4]float64{
				gf(func() { kernels.Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n) }),
				gf(func() { kernels.SgemmParallel(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n) }),
			}
			if openblasAvailable {
				got[2] = gf(func() { openblasSgemm(1, s.ta, s.tb, s.m, s.n, s.k, a, lda, b, ldb, c) })
				got[3] = gf(func() { openblasSgemm(threads, s.ta, s.tb, s.m, s.n, s.k, a, lda, b, ldb, c) })
			}
			for j := range got {
				if round == 0 || got[j] > best[i][j] {
					best[i][j] = got[j]
				}
			}
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	for i, s := range shapes {
		g := best[i]
		row := []string{s.name, ops[i], strconv.Itoa(s.m), strconv.Itoa(s.n), strconv.Itoa(s.k), f1(g[0]), f1(g[1])}
		if openblasAvailable {
			row = append(row, f1(g[2]), f1(g[3]), fmt.Sprintf("%.2f", g[0]/g[2]), fmt.Sprintf("%.2f", g[1]/g[3]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

func f1(x float64) string { return fmt.Sprintf("%.1f", x) }

// bestTime returns the least per-call seconds over reps batches; a warm-up
// call first fills caches and scratch pools.
func bestTime(f func(), reps int, minSec float64) float64 {
	f()
	best := 0.0
	for range reps {
		n := 0
		start := time.Now()
		for time.Since(start).Seconds() < minSec || n == 0 {
			f()
			n++
		}
		per := time.Since(start).Seconds() / float64(n)
		if best == 0 || per < best {
			best = per
		}
	}
	return best
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// parseShapes reads "MxNxK,MxNxK,..." with the given transposes.
func parseShapes(list string, ta, tb bool) ([]shape, error) {
	var out []shape
	for _, f := range strings.Split(list, ",") {
		parts := strings.Split(strings.TrimSpace(f), "x")
		if len(parts) != 3 {
			return nil, fmt.Errorf("shape %q: want MxNxK", f)
		}
		var d [3]int
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("shape %q: dimension %q is not a positive integer", f, p)
			}
			d[i] = v
		}
		out = append(out, shape{f, ta, tb, d[0], d[1], d[2]})
	}
	return out, nil
}
