package data

import (
	"fmt"
	"math"
	"slices"
)

// Raw is a labelled image set with 8-bit pixels, before normalisation.
// Pix holds N*C*H*W bytes in NCHW order; Labels has N entries.
type Raw struct {
	Pix     []uint8
	Labels  []int32
	N       int
	C, H, W int
}

// check reports an inconsistent Raw (a programmer or reader error).
func (r *Raw) check() error {
	if r.N < 0 || r.C <= 0 || r.H <= 0 || r.W <= 0 {
		return fmt.Errorf("bad raw set shape N=%d C=%d H=%d W=%d", r.N, r.C, r.H, r.W)
	}
	if len(r.Pix) != r.N*r.C*r.H*r.W || len(r.Labels) != r.N {
		return fmt.Errorf("raw set holds %d pixels and %d labels, shape N=%d C=%d H=%d W=%d needs %d and %d",
			len(r.Pix), len(r.Labels), r.N, r.C, r.H, r.W, r.N*r.C*r.H*r.W, r.N)
	}
	return nil
}

// Head keeps the first n examples (all when n <= 0 or n >= N), sharing memory.
func (r *Raw) Head(n int) *Raw {
	if n <= 0 || n >= r.N {
		return r
	}
	s := *r
	s.N = n
	s.Pix = r.Pix[:n*r.C*r.H*r.W]
	s.Labels = r.Labels[:n]
	return &s
}

// Stats returns the per-channel mean and standard deviation (population)
// of the pixels scaled to [0, 1]. A channel whose standard deviation is
// below 1e-6 (a constant channel) gets std 1 so normalising stays finite.
func (r *Raw) Stats() (mean, std []float32) {
	mean = make([]float32, r.C)
	std = make([]float32, r.C)
	plane := r.H * r.W
	for c := range r.C {
		var hist [256]int64
		for i := range r.N {
			for _, p := range r.Pix[(i*r.C+c)*plane : (i*r.C+c+1)*plane] {
				hist[p]++
			}
		}
		var n, s, ss float64
		for v, k := range hist {
			x := float64(v) / 255
			n += float64(k)
			s += float64(k) * x
			ss += float64(k) * x * x
		}
		if n == 0 {
			mean[c], std[c] = 0, 1
			continue
		}
		m := s / n
		v := math.Max(ss/n-m*m, 0)
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(v))
		if std[c] < 1e-6 {
			std[c] = 1
		}
	}
	return mean, std
}

// Normalize converts r to a Dataset with X = (p/255 - mean[c]) / std[c].
// mean and std need one entry per channel (or one entry, used for all).
// Errors: wrong stats length, a non-positive or non-finite std, an
// inconsistent Raw.
func (r *Raw) Normalize(mean, std []float32) (*Dataset, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	m, s, err := expandStats(mean, std, r.C)
	if err != nil {
		return nil, err
	}
	d := &Dataset{C: r.C, H: r.H, W: r.W, Mean: m, Std: s,
		X: make([]float32, len(r.Pix)), Labels: append([]int32(nil), r.Labels...)}
	plane := r.H * r.W
	// A 256-entry table per channel: exact same value for the same byte.
	var lut [256]float32
	for c := range r.C {
		for v := range lut {
			lut[v] = (float32(v)/255 - m[c]) / s[c]
		}
		for i := range r.N {
			off := (i*r.C + c) * plane
			dst := d.X[off : off+plane]
			for j, p := range r.Pix[off : off+plane] {
				dst[j] = lut[p]
			}
		}
	}
	return d, nil
}

func expandStats(mean, std []float32, c int) (m, s []float32, err error) {
	if len(mean) != len(std) || (len(mean) != c && len(mean) != 1) {
		return nil, nil, fmt.Errorf("normalisation: %d means and %d stds for %d channels", len(mean), len(std), c)
	}
	m = make([]float32, c)
	s = make([]float32, c)
	for i := range c {
		j := i
		if len(mean) == 1 {
			j = 0
		}
		m[i], s[i] = mean[j], std[j]
		if !(s[i] > 0) || math.IsInf(float64(s[i]), 0) || math.IsNaN(float64(m[i])) || math.IsInf(float64(m[i]), 0) {
			return nil, nil, fmt.Errorf("normalisation: channel %d has mean %g std %g (std must be positive and finite)", i, m[i], s[i])
		}
	}
	return m, s, nil
}

// ToChannels converts r to c channels (1 or 3): RGB to gray by the ITU-R
// 601 luma weights (0.299, 0.587, 0.114), gray to RGB by replication.
// Returns r itself when it already has c channels.
func (r *Raw) ToChannels(c int) (*Raw, error) {
	if c == r.C {
		return r, nil
	}
	plane := r.H * r.W
	out := &Raw{Labels: r.Labels, N: r.N, C: c, H: r.H, W: r.W, Pix: make([]uint8, r.N*c*plane)}
	switch {
	case r.C == 1 && c == 3:
		for i := range r.N {
			src := r.Pix[i*plane : (i+1)*plane]
			for k := range 3 {
				copy(out.Pix[(i*3+k)*plane:], src)
			}
		}
	case r.C == 3 && c == 1:
		for i := range r.N {
			base := i * 3 * plane
			dst := out.Pix[i*plane : (i+1)*plane]
			for j := range dst {
				rr, gg, bb := r.Pix[base+j], r.Pix[base+plane+j], r.Pix[base+2*plane+j]
				dst[j] = luma(rr, gg, bb)
			}
		}
	default:
		return nil, fmt.Errorf("cannot convert %d channels to %d (only 1 and 3 are supported)", r.C, c)
	}
	return out, nil
}

// luma is the rounded ITU-R 601 luma of an 8-bit RGB triple.
func luma(r, g, b uint8) uint8 {
	return uint8((299*uint32(r) + 587*uint32(g) + 114*uint32(b) + 500) / 1000)
}

// Resize returns r with every image resized to h x w by bilinear
// interpolation (half-pixel centres, as torch's align_corners=False), values
// rounded to the nearest byte. Returns r itself when the size is unchanged.
func (r *Raw) Resize(h, w int) *Raw {
	if h == r.H && w == r.W {
		return r
	}
	out := &Raw{Labels: r.Labels, N: r.N, C: r.C, H: h, W: w, Pix: make([]uint8, r.N*r.C*h*w)}
	rs := newResizer(r.H, r.W, h, w)
	for p := range r.N * r.C {
		rs.plane(out.Pix[p*h*w:(p+1)*h*w], r.Pix[p*r.H*r.W:(p+1)*r.H*r.W])
	}
	return out
}

// resizer holds the precomputed bilinear taps for one size change.
type resizer struct {
	inH, inW, outH, outW int
	y0, y1, x0, x1       []int
	fy, fx               []float32 // weight of the second tap
}

// taps computes, for each of the out positions, the two source indices and
// the weight of the second, for half-pixel-centre bilinear sampling.
func taps(in, out int) (i0, i1 []int, f []float32) {
	i0, i1, f = make([]int, out), make([]int, out), make([]float32, out)
	scale := float64(in) / float64(out)
	for o := range out {
		s := (float64(o)+0.5)*scale - 0.5
		if s < 0 {
			s = 0
		}
		a := int(math.Floor(s))
		if a > in-1 {
			a = in - 1
		}
		b := min(a+1, in-1)
		i0[o], i1[o], f[o] = a, b, float32(s-float64(a))
		if a == b {
			f[o] = 0
		}
	}
	return i0, i1, f
}

func newResizer(inH, inW, outH, outW int) *resizer {
	rs := &resizer{inH: inH, inW: inW, outH: outH, outW: outW}
	rs.y0, rs.y1, rs.fy = taps(inH, outH)
	rs.x0, rs.x1, rs.fx = taps(inW, outW)
	return rs
}

// plane resizes one 8-bit plane src (inH*inW) into dst (outH*outW).
func (rs *resizer) plane(dst, src []uint8) {
	for y := range rs.outH {
		r0 := src[rs.y0[y]*rs.inW : (rs.y0[y]+1)*rs.inW]
		r1 := src[rs.y1[y]*rs.inW : (rs.y1[y]+1)*rs.inW]
		fy := rs.fy[y]
		for x := range rs.outW {
			a, b := rs.x0[x], rs.x1[x]
			fx := rs.fx[x]
			top := float32(r0[a]) + fx*(float32(r0[b])-float32(r0[a]))
			bot := float32(r1[a]) + fx*(float32(r1[b])-float32(r1[a]))
			v := top + fy*(bot-top)
			dst[y*rs.outW+x] = uint8(min(max(v+0.5, 0), 255))
		}
	}
}

// swapRB returns r with its first and third channels exchanged (RGB <->
// BGR); r must have 3 channels.
func (r *Raw) swapRB() *Raw {
	plane := r.H * r.W
	out := &Raw{Labels: r.Labels, N: r.N, C: r.C, H: r.H, W: r.W, Pix: slices.Clone(r.Pix)}
	for i := range r.N {
		base := i * 3 * plane
		copy(out.Pix[base:base+plane], r.Pix[base+2*plane:base+3*plane])
		copy(out.Pix[base+2*plane:base+3*plane], r.Pix[base:base+plane])
	}
	return out
}
