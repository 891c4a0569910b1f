package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Threads returns how many goroutines parallel loops use: GOMAXPROCS.
func Threads() int { return runtime.GOMAXPROCS(0) }

// ParallelFor splits [0, n) into at most Threads() contiguous chunks and runs
// f(lo, hi) on each concurrently, returning when all are done. With one
// thread or n <= 1 it calls f(0, n) directly. Chunk boundaries depend only on
// n and Threads(), so results are reproducible for a fixed GOMAXPROCS.
//
// The chunks after the first go to a pool of persistent worker goroutines
// that spin for a short while (spinWindow) after each job before parking,
// as OpenMP runtimes do: a training step is a hundred parallel loops with
// short serial gaps between them, and waking a parked thread took ~100 us
// on the 2-core virtual machine we measure on: with a new goroutine per
// call, the workers were idle 6% of a resnet20 step inside its parallel
// loops, 1.6% with the pool. A nested or concurrent ParallelFor (the pool is busy) starts
// goroutines instead. A panic in f crashes the program, as it would in any
// goroutine.
func ParallelFor(n int, f func(lo, hi int)) {
	t := min(Threads(), n)
	if t <= 1 {
		f(0, n)
		return
	}
	if !pool.mu.TryLock() {
		parallelGo(n, t, f)
		return
	}
	defer pool.mu.Unlock()
	pool.grow(t - 1)
	for i := 1; i < t; i++ {
		pool.slots[i-1].post(f, i*n/t, (i+1)*n/t)
	}
	// The calling goroutine does the first chunk itself instead of idling;
	// the deferred wait keeps the pool locked until every worker is done
	// even if f panics here.
	defer func() {
		for i := 1; i < t; i++ {
			pool.slots[i-1].wait()
		}
	}()
	f(0, n/t)
}

// parallelGo is ParallelFor's fallback: one new goroutine per extra chunk.
func parallelGo(n, t int, f func(lo, hi int)) {
	var wg sync.WaitGroup
	for i := 1; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	f(0, n/t)
	wg.Wait()
}

// spinWindow is how long an idle pool worker polls for its next job before
// it parks: long enough to cover the serial gaps between the parallel
// loops of a training step. runtime.Gosched between polls lets any other
// runnable goroutine (GC workers included) have the processor. A
// ParallelFor waiting for its workers polls the same way, without a limit.
var spinWindow = 500 * time.Microsecond

// workerPool is the set of persistent ParallelFor workers; mu is held by
// the ParallelFor call that is using them.
type workerPool struct {
	mu    sync.Mutex
	slots []*poolSlot
}

var pool workerPool

// grow starts workers until the pool has at least k. Workers never exit;
// idle ones are parked on a channel.
func (p *workerPool) grow(k int) {
	for len(p.slots) < k {
		s := &poolSlot{park: make(chan struct{}, 1)}
		p.slots = append(p.slots, s)
		go s.run()
	}
}

// poolSlot is one worker's mailbox. The poster writes f, lo and hi, then
// increments seq; the worker runs the job and stores seq into done. The
// atomics order the plain fields (the race detector knows them).
type poolSlot struct {
	f        func(lo, hi int)
	lo, hi   int
	seq      atomic.Uint64
	done     atomic.Uint64
	sleeping atomic.Bool
	park     chan struct{}
}

// post hands the worker a job and wakes it if it is parked.
func (s *poolSlot) post(f func(lo, hi int), lo, hi int) {
	s.f, s.lo, s.hi = f, lo, hi
	s.seq.Add(1)
	// The worker sets sleeping before its last look at seq, so either it
	// sees the new job or this sees it asleep (a spare token only causes a
	// spurious wake-up, which run tolerates).
	if s.sleeping.Load() {
		select {
		case s.park <- struct{}{}:
		default:
		}
	}
}

// wait returns when the worker has finished the last posted job.
func (s *poolSlot) wait() {
	want := s.seq.Load()
	for s.done.Load() != want {
		runtime.Gosched()
	}
}

// run is the worker loop.
func (s *poolSlot) run() {
	var last uint64
	for {
		start := time.Now()
		for s.seq.Load() == last {
			if time.Since(start) < spinWindow {
				runtime.Gosched()
				continue
			}
			s.sleeping.Store(true)
			if s.seq.Load() == last {
				<-s.park
			}
			s.sleeping.Store(false)
			start = time.Now()
		}
		last = s.seq.Load()
		f, lo, hi := s.f, s.lo, s.hi
		s.f = nil
		f(lo, hi)
		s.done.Store(last)
	}
}

// SgemmParallel is Sgemm split over Threads() goroutines for one large
// product; same arguments, result and panics as Sgemm. Ops that already
// parallelise over the batch call the single-threaded Sgemm instead.
//
// C is split into contiguous column ranges of whole 24-wide register tiles
// (or, when C has fewer column tiles than row tiles and too few to go
// round, row ranges of whole 4-row tiles). Each goroutine runs the packed
// Sgemm on its range, so every part of B is packed exactly once overall and
// only the (usually small, e.g. conv weight) A operand is packed per
// goroutine. Every element is computed with the same blocking and
// summation order as Sgemm, so the result is bitwise identical to Sgemm's
// for any GOMAXPROCS. Products under about a million multiply-adds run
// serially.
func SgemmParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	t := Threads()
	if t <= 1 || int64(m)*int64(n)*int64(k) < 1<<20 {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	nt, mt := ceilDiv(n, gemmNR), ceilDiv(m, gemmMR)
	if nt >= 2*t || nt >= mt {
		parts := min(t, nt)
		ParallelFor(parts, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				j0 := min(n, p*nt/parts*gemmNR)
				j1 := min(n, (p+1)*nt/parts*gemmNR)
				if j1 <= j0 {
					continue
				}
				var bs []float32
				if transB {
					bs = b[j0*ldb:]
				} else {
					bs = b[j0:]
				}
				Sgemm(transA, transB, m, j1-j0, k, alpha, a, lda, bs, ldb, beta, c[j0:], ldc)
			}
		})
		return
	}
	parts := min(t, mt)
	ParallelFor(parts, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i0 := min(m, p*mt/parts*gemmMR)
			i1 := min(m, (p+1)*mt/parts*gemmMR)
			if i1 <= i0 {
				continue
			}
			var as []float32
			if transA {
				as = a[i0:]
			} else {
				as = a[i0*lda:]
			}
			Sgemm(transA, transB, i1-i0, n, k, alpha, as, lda, b, ldb, beta, c[i0*ldc:], ldc)
		}
	})
}
