package engine

import (
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// TestBufferPoolReusesRecent checks the pool's choice: a request takes the
// most recently freed buffer that holds it and is at most twice its size,
// resliced and zeroed, and a fresh one when none fits.
func TestBufferPoolReusesRecent(t *testing.T) {
	p := NewPool()
	a, b, c := p.Get(100), p.Get(300), p.Get(150)
	for _, x := range []*tensor.Tensor{a, b, c} {
		for i := range x.Data {
			x.Data[i] = 7
		}
	}
	p.release(a)
	p.release(c)
	p.release(b)
	// 160 floats: b (300) was freed last but c (150) is too small; b fits
	// within twice the request, so b it is, not a fresh buffer.
	got := p.Get(2, 80)
	if &got.Data[0] != &b.Data[0] || len(got.Data) != 160 {
		t.Fatalf("Get(160) took a buffer of cap %d, len %d; want b's (300)", cap(got.Data), len(got.Data))
	}
	for _, v := range got.Data {
		if v != 0 {
			t.Fatal("a recycled buffer from Get is not zeroed")
		}
	}
	// 40 floats: a (100) is over twice the request: a fresh buffer.
	if got := p.Get(40); &got.Data[0] == &a.Data[0] || &got.Data[0] == &c.Data[0] {
		t.Fatal("Get(40) took a buffer of more than twice its size")
	}
	// 120: c (150) is the most recent that fits.
	if got := p.Get(120); &got.Data[0] != &c.Data[0] {
		t.Fatal("Get(120) did not take c")
	}
}

// TestBufferPoolSteadyState runs the same sequence of requests, releases
// and resets (mobilenet-like sizes that differ by up to 6x) pass after
// pass: from the third pass on the pool must allocate nothing.
func TestBufferPoolSteadyState(t *testing.T) {
	sizes := []int{12544 * 32, 12544 * 16, 12544 * 96, 3136 * 96, 3136 * 24, 3136 * 144, 3136 * 144, 3136 * 24, 784 * 144, 784 * 32, 10}
	p := NewPool()
	seen := map[*float32]bool{}
	for pass := range 5 {
		p.Reset()
		var live []*tensor.Tensor
		fresh := 0
		for i, n := range sizes {
			x := p.Get(n)
			if !seen[&x.Data[0]] {
				seen[&x.Data[0]] = true
				fresh++
			}
			live = append(live, x)
			if i >= 2 { // each value is read by the next two nodes
				p.release(live[i-2])
			}
		}
		if pass >= 2 && fresh > 0 {
			t.Fatalf("pass %d allocated %d fresh buffers", pass, fresh)
		}
	}
}
