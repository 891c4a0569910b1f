package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// withProcs runs f with GOMAXPROCS set to p and restores it.
func withProcs(p int, f func()) {
	old := runtime.GOMAXPROCS(p)
	defer runtime.GOMAXPROCS(old)
	f()
}

// TestParallelForCoversRange checks every index in [0, n) is visited
// exactly once, in at most Threads() chunks.
func TestParallelForCoversRange(t *testing.T) {
	for _, tc := range []struct{ n, procs int }{{0, 2}, {1, 2}, {2, 2}, {7, 3}, {100, 2}, {5, 8}, {9, 1}} {
		t.Run(fmt.Sprintf("n%d_p%d", tc.n, tc.procs), func(t *testing.T) {
			withProcs(tc.procs, func() {
				hits := make([]int32, tc.n)
				var chunks atomic.Int32
				ParallelFor(tc.n, func(lo, hi int) {
					chunks.Add(1)
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("index %d visited %d times", i, h)
					}
				}
				if c := int(chunks.Load()); c > max(1, tc.procs) {
					t.Fatalf("%d chunks for %d threads", c, tc.procs)
				}
			})
		})
	}
}

// TestParallelForNestedConcurrent runs ParallelFor from inside its own
// chunks and from several goroutines at once (both take the goroutine
// fallback while the worker pool is busy), and after the pool sat idle past
// its spin window (workers parked): every index is still visited once.
func TestParallelForNestedConcurrent(t *testing.T) {
	withProcs(3, func() {
		const outer, inner = 7, 50
		check := func(hits []int32) {
			t.Helper()
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("index %d visited %d times", i, h)
				}
			}
		}
		run := func() []int32 {
			hits := make([]int32, outer*inner)
			ParallelFor(outer, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					ParallelFor(inner, func(a, b int) {
						for i := a; i < b; i++ {
							atomic.AddInt32(&hits[o*inner+i], 1)
						}
					})
				}
			})
			return hits
		}
		check(run())
		res := make(chan []int32, 4)
		for range 4 {
			go func() { res <- run() }()
		}
		for range 4 {
			check(<-res)
		}
		time.Sleep(3 * spinWindow)
		check(run())
	})
}

// TestParallelForCallerPanic checks that a panic in the calling
// goroutine's chunk reaches the caller only after the workers finished,
// and leaves the worker pool free for the next call.
func TestParallelForCallerPanic(t *testing.T) {
	withProcs(2, func() {
		var workerDone atomic.Bool
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic in chunk 0 was lost")
				}
				if !workerDone.Load() {
					t.Error("ParallelFor returned before its worker finished")
				}
			}()
			ParallelFor(2, func(lo, hi int) {
				if lo == 0 {
					panic("chunk 0")
				}
				time.Sleep(10 * time.Millisecond)
				workerDone.Store(true)
			})
		}()
		if !pool.mu.TryLock() {
			t.Fatal("the worker pool is still locked after the panic")
		}
		pool.mu.Unlock()
		var n atomic.Int32
		ParallelFor(2, func(lo, hi int) { n.Add(int32(hi - lo)) })
		if n.Load() != 2 {
			t.Fatalf("visited %d of 2 after the panic", n.Load())
		}
	})
}

// TestPoolSlotUnclaimedJobRunsOnWaiter checks the path a busy machine
// takes: a job whose worker never got to run (here: a slot with no worker
// goroutine at all) is run by the waiting caller, once.
func TestPoolSlotUnclaimedJobRunsOnWaiter(t *testing.T) {
	s := &poolSlot{park: make(chan struct{}, 1)}
	var runs, got atomic.Int32
	for i := range 3 {
		s.post(func(lo, hi int) { runs.Add(1); got.Store(int32(lo*10 + hi)) }, i, i+1)
		s.wait()
		if runs.Load() != int32(i+1) || got.Load() != int32(i*10+i+1) {
			t.Fatalf("job %d: %d runs, last ran (%d), want %d runs of (%d)", i, runs.Load(), got.Load(), i+1, i*10+i+1)
		}
		if st := s.state.Load(); st != slotIdle {
			t.Fatalf("job %d: slot state %d after wait, want idle", i, st)
		}
	}
}

// TestSgemmParallelMatchesSerial checks SgemmParallel is bitwise equal to
// Sgemm for column splits, row splits and the small serial fallback, at
// several thread counts, and close to the reference.
func TestSgemmParallelMatchesSerial(t *testing.T) {
	cases := []gemmCase{
		{name: "colsplit_conv", m: 32, n: 1570, k: 150, alpha: 1, beta: 0, nanC: true},
		{name: "colsplit_tt_beta", ta: true, tb: true, m: 70, n: 333, k: 90, alpha: 0.5, beta: 0.75},
		{name: "rowsplit_thinN", m: 1000, n: 20, k: 70, alpha: 1, beta: 1},
		{name: "rowsplit_tA_pad", ta: true, m: 601, n: 40, k: 65, alpha: -1, beta: 0, padA: 3, pC: 5, nanC: true},
		{name: "small_serial", m: 5, n: 7, k: 3, alpha: 1, beta: 0},
	}
	for ci, tc := range cases {
		for _, procs := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/p%d", tc.name, procs), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(ci), 9))
				a, lda, b, ldb, c, ldc := gemmOperands(r, tc)
				ser := append([]float32(nil), c...)
				par := append([]float32(nil), c...)
				ref := append([]float32(nil), c...)
				Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, ser, ldc)
				withProcs(procs, func() {
					SgemmParallel(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, par, ldc)
				})
				SgemmRef(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, ref, ldc)
				for i := range ser {
					if math.Float32bits(ser[i]) != math.Float32bits(par[i]) {
						t.Fatalf("element %d: parallel %v != serial %v", i, par[i], ser[i])
					}
				}
				if e := maxRelErr(par, ref, math.Sqrt(float64(tc.k))+1); e > 1e-5 {
					t.Fatalf("parallel vs reference: max scaled error %g", e)
				}
			})
		}
	}
}
