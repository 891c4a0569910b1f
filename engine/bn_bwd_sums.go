package engine

// The two sums of a training BatchNormalization's backward pass (sum dY
// and sum dY*(X-mu) per plane, dY masked by the fused activation),
// gathered by the pass that writes dY, plane by plane while dY is in
// cache, instead of in a pass of the BN's own that reads dY back from
// memory: the Conv the BN feeds, after each chunk of its input gradient
// (convKernel.gatherInSums), and the executor's masked residual sum for
// the BN an Add+ReLU took the output of (Executor.sumGrads). They call
// the BN's own per-plane function (bnKernel.bwdPlaneSums) with the
// forward's coefficients, and the BN adds the planes in its order, so the
// sums are bitwise its own; planes not gathered the BN sums itself.

import "github.com/slimgo/slimgo/kernels"

// bnBwdPart holds per-plane backward sums gathered for one dY.
type bnBwdPart struct {
	dy    []float32 // the output gradient they describe
	c     int
	s, sx []float32 // per plane (image*c + channel)
	done  []bool    // per image: its planes were summed
}

// begin prepares p for dy of n images of c planes.
func (p *bnBwdPart) begin(dy []float32, n, c int) {
	p.dy, p.c = dy, c
	p.s, p.sx = grow32(p.s, n*c), grow32(p.sx, n*c)
	if cap(p.done) < n {
		p.done = make([]bool, n)
	}
	p.done = p.done[:n]
	clear(p.done)
}

// images returns how many images' sums were gathered for dy.
func (p *bnBwdPart) images(dy []float32) int {
	if len(p.dy) == 0 || len(p.dy) != len(dy) || &p.dy[0] != &dy[0] {
		return 0
	}
	n := 0
	for _, d := range p.done {
		if d {
			n++
		}
	}
	return n
}

// reset drops the gathered sums.
func (p *bnBwdPart) reset() { p.dy = nil }

// bwdPlaneSums returns the backward sums of one plane of X and dY with
// channel ch's forward coefficients (k.fwd, which the training Forward
// of a BN with a deferred output fills): the loop of Backward.
func (k *bnKernel) bwdPlaneSums(xs, dys []float32, ch int) (float32, float32) {
	o := &k.fwd
	switch {
	case k.relu:
		return vecBNBwdSumsRelu(xs, dys, o.mu[ch], o.a[ch], o.b[ch])
	case k.clip:
		return vecBNBwdSumsClamp(xs, dys, o.mu[ch], o.a[ch], o.b[ch], k.lo, k.hi)
	}
	return vecBNBwdSums(xs, dys, o.mu[ch])
}

// gatherPlanes sums planes [p0, p1) (p = image*c + channel) of the BN's
// input x (its deferred output's) and dy into k.part, which begin
// prepared for dy, and marks images whose planes are all done: whole
// images only (p0 and p1 multiples of c).
func (k *bnKernel) gatherPlanes(dy []float32, p0, p1 int) {
	o, part := &k.fwd, &k.part
	inner := o.inner
	for p := p0; p < p1; p++ {
		part.s[p], part.sx[p] = k.bwdPlaneSums(o.x[p*inner:(p+1)*inner], dy[p*inner:(p+1)*inner], p%o.c)
	}
	for j := p0 / o.c; j < p1/o.c; j++ {
		part.done[j] = true
	}
}

// gathered returns the sums of image img's plane ch when they were
// gathered for dy, else computes them (xs and dys: the plane's values).
func (k *bnKernel) gathered(dy []float32, img, ch int, xs, dys []float32, mu, a, beta float32) (float32, float32) {
	if part := &k.part; fuseBNBwdSums && len(part.dy) > 0 && len(part.dy) == len(dy) && &part.dy[0] == &dy[0] && part.done[img] {
		return part.s[img*part.c+ch], part.sx[img*part.c+ch]
	}
	switch {
	case k.relu:
		return vecBNBwdSumsRelu(xs, dys, mu, a, beta)
	case k.clip:
		return vecBNBwdSumsClamp(xs, dys, mu, a, beta, k.lo, k.hi)
	}
	return vecBNBwdSums(xs, dys, mu)
}

// fuseBNBwdSums enables the gathered backward sums; tests turn it off to
// compare against the BN's own pass.
var fuseBNBwdSums = true

// maskedSumGather is sumGrads' masked sum d = (o > 0 ? a+b : 0) image by
// image, gathering the backward sums of bn, whose deferred output the
// Add took and whose dY d is, from each image's planes just written.
func maskedSumGather(bn *bnKernel, o, a, b, d []float32) {
	f := &bn.fwd
	bn.part.begin(d, f.n, f.c)
	img := f.c * f.inner
	body := func(lo, hi int) {
		for j := lo; j < hi; j++ {
			r := j * img
			vecAddReluBwd(o[r:r+img], a[r:r+img], b[r:r+img], d[r:r+img])
			bn.gatherPlanes(d, j*f.c, (j+1)*f.c)
		}
	}
	if len(d) > parallelMin && f.n > 1 {
		kernels.ParallelFor(f.n, body)
		return
	}
	body(0, f.n)
}
