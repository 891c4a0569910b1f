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
// loops, 2-3% with the pool. A nested or concurrent ParallelFor (the pool is busy) starts
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
// it parks: long enough to cover most serial gaps between the parallel
// loops of a training step (~85 us on average in resnet20's), short
// enough that a busy machine loses little to the polling. Measured on 2
// cores, resnet20 training, 2 threads: workers idle 2-3% of the time in
// parallel loops (500 us: 1.6-1.9%, a goroutine per call: 6%); with a
// CPU-bound process beside it, 363-393 images/s against 347-366 with 500
// us and 378-387 with a goroutine per call. The polls are a PAUSE apart,
// with a runtime.Gosched every relaxSpins of them, which lets any other
// runnable goroutine (GC workers included) have the processor. A
// ParallelFor waiting for its workers polls the same way.
var spinWindow = 150 * time.Microsecond

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

// poolSlot is one worker's mailbox. The poster writes f, lo and hi and sets
// state to posted; whoever moves state from posted to claimed runs the job: the worker, or
// the poster itself when it finds the job still unclaimed after its own
// chunk. So a worker whose thread the OS has descheduled (a busy machine)
// never holds the caller up: its job simply runs on the caller. The atomics
// order the plain fields (the race detector knows them).
type poolSlot struct {
	f        func(lo, hi int)
	lo, hi   int
	state    atomic.Uint32 // slotIdle, slotPosted or slotClaimed
	sleeping atomic.Bool
	park     chan struct{}
}

const (
	slotIdle uint32 = iota
	slotPosted
	slotClaimed
)

// post hands the worker a job (the slot is idle) and wakes it if it is
// parked.
func (s *poolSlot) post(f func(lo, hi int), lo, hi int) {
	s.f, s.lo, s.hi = f, lo, hi
	s.state.Store(slotPosted)
	// The worker sets sleeping before its last look at state, so either it
	// sees the new job or this sees it asleep (a spare token only causes a
	// spurious wake-up, which run tolerates).
	if s.sleeping.Load() {
		select {
		case s.park <- struct{}{}:
		default:
		}
	}
}

// claim runs the posted job if nobody has claimed it yet.
func (s *poolSlot) claim() {
	if !s.state.CompareAndSwap(slotPosted, slotClaimed) {
		return
	}
	f, lo, hi := s.f, s.lo, s.hi
	s.f = nil
	defer s.state.Store(slotIdle)
	f(lo, hi)
}

// wait returns when the last posted job is done, running it here if the
// worker has not started it.
func (s *poolSlot) wait() {
	s.claim()
	for spins := 0; s.state.Load() != slotIdle; spins++ {
		if spins%relaxSpins == relaxSpins-1 {
			runtime.Gosched()
		} else {
			cpuRelax()
		}
	}
}

// relaxSpins is how many looks at a slot's state a spin-wait takes, a
// PAUSE apart, per runtime.Gosched call (which lets other goroutines,
// GC workers included, have the processor, and reads the clock). Polling
// through Gosched alone took a worker about a microsecond to see a job
// (runtime locks, nanotime), as long as a whole stage of a small
// convolution at batch 1: the poster had often finished its own chunk and
// taken the worker's back before the worker saw it. With PAUSE between
// looks, resnet20 at batch 1 on 2 threads ran at 1703-1804 images/s
// against 1510-1597 (mobilenet_v3_small 462-488 against 438-471).
const relaxSpins = 64

// run is the worker loop.
func (s *poolSlot) run() {
	for {
		start := time.Now()
		for spins := 0; s.state.Load() != slotPosted; spins++ {
			if spins%relaxSpins != relaxSpins-1 {
				cpuRelax()
				continue
			}
			if time.Since(start) < spinWindow {
				runtime.Gosched()
				continue
			}
			s.sleeping.Store(true)
			if s.state.Load() != slotPosted {
				<-s.park
			}
			s.sleeping.Store(false)
			start = time.Now()
		}
		s.claim()
	}
}

// SgemmParallel is Sgemm split over Threads() goroutines for one large
// product; same arguments, result and panics as Sgemm. Ops that already
// parallelise over the batch call the single-threaded Sgemm instead.
//
// C is split into contiguous column ranges of whole register tiles (48
// columns wide with the wide AVX-512 kernel, else 24; splitCols) (or,
// when C has fewer column tiles than row tiles and too few to go
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
	u := splitCols()
	nt, mt := ceilDiv(n, u), ceilDiv(m, gemmMR)
	if nt >= 2*t || nt >= mt {
		parts := min(t, nt)
		ParallelFor(parts, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				j0 := min(n, p*nt/parts*u)
				j1 := min(n, (p+1)*nt/parts*u)
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
