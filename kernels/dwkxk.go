package kernels

import "fmt"

// Depthwise KxK (odd kernel sides, "same" padding (K-1)/2, stride 1 or 2,
// undilated): the 5x5 and 7x7 depthwise layers of MobileNetV3- and
// EfficientNet-style blocks, plane by plane. The plane is copied into a
// zero-bordered scratch, so every tap of every output reads a contiguous
// run of it: at stride 1 the whole plane is one long row of outputs over
// the padded grid (the pad columns' outputs are computed and dropped); at
// stride 2 each output row is the stride-1 row of its padded input row,
// of which every other column is kept (twice the multiply-adds of that
// row, but all in vectors). A row is a sum over the taps in order: AVX-512
// assembly (dwkxk_amd64.s) when UseAsm and the CPU has it, pure Go
// otherwise; both bound by bias, lo and hi as Depthwise3x3.

// PlaneKxK is the geometry of h x w planes for a kh x kw depthwise
// convolution at stride 1 or 2, worked out once for many planes.
type PlaneKxK struct {
	h, w, kh, kw, stride int
	oh, ow               int
	rs, plane            int       // padded row stride; padded plane (plus slack), after which the long row goes
	off                  []int     // tap ky*kw+kx reads the padded plane off[t] floats ahead
	small                *dwSmallK // the small-plane kernel's lane plan (w <= dwSmallKMaxW, kw <= dwSmallMaxK)
	s1                   *dwS1     // the stride-1 small-plane kernel's (s1Fits)
}

// NewPlaneKxK returns the geometry. It panics on an even or non-positive
// kernel side, a stride other than 1 or 2, or a size below 1.
func NewPlaneKxK(h, w, kh, kw, stride int) *PlaneKxK {
	if h < 1 || w < 1 || kh < 1 || kw < 1 || kh%2 == 0 || kw%2 == 0 || (stride != 1 && stride != 2) {
		panic(fmt.Sprintf("kernels.NewPlaneKxK: plane %dx%d, kernel %dx%d, stride %d (want odd kernel sides, stride 1 or 2)", h, w, kh, kw, stride))
	}
	p := &PlaneKxK{h: h, w: w, kh: kh, kw: kw, stride: stride,
		oh: (h-1)/stride + 1, ow: (w-1)/stride + 1, rs: w + kw - 1}
	p.plane = (h+kh-1)*p.rs + kw // kw floats of slack for the last long-row taps
	for ky := range kh {
		for kx := range kw {
			p.off = append(p.off, ky*p.rs+kx)
		}
	}
	if smallKFits(w, kw, stride) {
		p.small = newDWSmallK(w, kw, stride)
	}
	if s1Fits(w, kw, stride) {
		p.s1 = newDWS1(w, kw)
	}
	return p
}

// Matches reports whether p is the geometry of these planes.
func (p *PlaneKxK) Matches(h, w, kh, kw, stride int) bool {
	return p != nil && p.h == h && p.w == w && p.kh == kh && p.kw == kw && p.stride == stride
}

// Out returns the output plane's rows and columns.
func (p *PlaneKxK) Out() (oh, ow int) { return p.oh, p.ow }

// Scratch returns the scratch length Depthwise needs.
func (p *PlaneKxK) Scratch() int { return max(p.plane+p.h*p.rs, s1Scratch(p.h, p.kh, p.kw)) }

// Depthwise writes output plane y (oh x ow) = min(max(bias + the
// convolution of plane x (h x w) with the filter wts (kh*kw, row-major),
// lo), hi). scratch must hold Scratch() floats. It panics on a short
// slice.
func (p *PlaneKxK) Depthwise(x, wts []float32, bias, lo, hi float32, y, scratch []float32) {
	_ = x[p.h*p.w-1]
	_ = wts[p.kh*p.kw-1]
	_ = y[p.oh*p.ow-1]
	if p.small != nil && dwSmallOn() {
		dwSmallKAVX512(&y[0], &x[0], p.h, p.w, p.oh, p.stride, p.kh, p.kw, p.small, &wts[0], bias, lo, hi)
		return
	}
	if p.s1 != nil && dwSmallOn() {
		_ = scratch[s1Scratch(p.h, p.kh, p.kw)-1]
		dwS1AVX512(&y[0], &x[0], p.h, p.kh, p.kw, p.s1, &wts[0], bias, lo, hi, &scratch[0])
		return
	}
	pad, tmp := scratch[:p.plane], scratch[p.plane:p.plane+p.h*p.rs]
	p.padPlane(x, pad)
	if p.stride == 1 {
		n := (p.h-1)*p.rs + p.w // the last row's pad columns are not needed
		dwTaps(tmp[:n], pad, p.off, wts, bias, lo, hi)
		for oy := range p.oh {
			copy(y[oy*p.ow:(oy+1)*p.ow], tmp[oy*p.rs:oy*p.rs+p.w])
		}
		return
	}
	n := 2*p.ow - 1
	for oy := range p.oh {
		dwTaps(tmp[:n], pad[2*oy*p.rs:], p.off, wts, bias, lo, hi)
		row := y[oy*p.ow : (oy+1)*p.ow]
		for ox := range row {
			row[ox] = tmp[2*ox]
		}
	}
}

// padPlane copies x into the zero-bordered layout: x's row r at padded
// row r+(kh-1)/2 from column (kw-1)/2.
func (p *PlaneKxK) padPlane(x, pad []float32) {
	py, px := (p.kh-1)/2, (p.kw-1)/2
	clear(pad[:py*p.rs+px])
	for r := range p.h {
		at := (r+py)*p.rs + px
		copy(pad[at:at+p.w], x[r*p.w:(r+1)*p.w])
		end := (r+py+1)*p.rs + px // this row's right pad and the next row's left pad
		if r == p.h-1 {
			end = len(pad)
		}
		clear(pad[at+p.w : end])
	}
}

// dwTaps sets y[i] = min(max(bias + sum_t w[t]*x[off[t]+i], lo), hi) for
// i < len(y), the taps summed in order.
func dwTaps(y, x []float32, off []int, w []float32, bias, lo, hi float32) {
	n := len(y)
	if n == 0 {
		return
	}
	for _, o := range off {
		_ = x[o+n-1]
	}
	_ = w[len(off)-1]
	if UseAsm && useAVX512 && useDW512 {
		dwTapsAVX512(&y[0], n, &x[0], &off[0], &w[0], len(off), bias, lo, hi, 1<<(n%16)-1)
		return
	}
	for i := range y {
		s := bias
		for t, o := range off {
			s += w[t] * x[o+i]
		}
		y[i] = min(max(s, lo), hi)
	}
}
