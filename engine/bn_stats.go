package engine

// Batch statistics of a training BatchNormalization gathered by the Conv
// that produces its input, chunk by chunk, right after the chunk's output
// is written and while it is still in cache, instead of in a pass of the
// BN's own over the whole tensor (which comes from memory). The BN sums
// each (image, channel) plane in float32, shifted by image 0's first value
// of the channel, and adds the planes in float64 in image order
// (op_batchnorm.go); the Conv computes the same per-plane sums with the
// same function (vecSums) once it knows the shifts, that is once the chunk
// holding image 0 is done, and the BN adds them in the same order, so the
// statistics are bitwise its own. Planes of chunks that finished before
// the shifts were known (on several workers) the BN sums itself.

import (
	"sync/atomic"
)

// convStats holds the per-plane sums a Conv's last training Forward
// gathered for the BN reading its output (convKernel.stats).
type convStats struct {
	y     []float32 // the output they describe
	n, c  int
	inner int
	shift []float32 // per channel: y's value at (image 0, channel, 0, ...)
	ready atomic.Bool
	s, ss []float32 // per plane (image*c + channel): sums of y-shift and (y-shift)^2
	done  []bool    // per image: its planes were summed
	valid bool      // set by the Conv's Forward, cleared by the BN reading them
}

// begin prepares s for a Forward writing y of n images of c planes of
// inner values.
func (s *convStats) begin(y []float32, n, c, inner int) {
	s.y, s.n, s.c, s.inner = y, n, c, inner
	s.shift = grow32(s.shift, c)
	s.s, s.ss = grow32(s.s, n*c), grow32(s.ss, n*c)
	if cap(s.done) < n {
		s.done = make([]bool, n)
	}
	s.done = s.done[:n]
	clear(s.done)
	s.ready.Store(false)
	s.valid = true
}

// chunk sums the planes of images [lo, hi), just written; the chunk with
// image 0 first publishes the shifts. Chunks run on several workers at
// once: each writes only its own images' entries.
func (s *convStats) chunk(lo, hi int) {
	if lo == 0 {
		for ch := range s.c {
			s.shift[ch] = s.y[ch*s.inner]
		}
		s.ready.Store(true)
	} else if !s.ready.Load() {
		return
	}
	for j := lo; j < hi; j++ {
		for ch := range s.c {
			off := (j*s.c + ch) * s.inner
			s.s[j*s.c+ch], s.ss[j*s.c+ch] = vecSums(s.y[off:off+s.inner], s.shift[ch])
		}
		s.done[j] = true
	}
}

// planeSums returns the shifted sums of image img's plane ch of x (a BN's
// input, NCHW-like with c channels of inner values), from s when its last
// Forward gathered them for this tensor, else computed.
func (s *convStats) planeSums(x []float32, img, ch, c, inner int, shift float32) (float32, float32) {
	if s != nil && s.valid && s.done[img] && s.shift[ch] == shift {
		return s.s[img*c+ch], s.ss[img*c+ch]
	}
	off := (img*c + ch) * inner
	return vecSums(x[off:off+inner], shift)
}

// statsFor returns the sums a Conv gathered for x (n images of c planes of
// inner values), or nil when it did not (another tensor, another shape, an
// inference pass, already read).
func statsFor(k *convKernel, x []float32, n, c, inner int) *convStats {
	if k == nil || !fuseBNStats || len(x) == 0 {
		return nil
	}
	s := &k.stats
	if !s.valid || len(s.y) != len(x) || &s.y[0] != &x[0] || s.n != n || s.c != c || s.inner != inner {
		return nil
	}
	return s
}

// fuseBNStats enables the gathered statistics; tests turn it off to
// compare against the BN's own pass.
var fuseBNStats = true
