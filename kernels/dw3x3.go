package kernels

import (
	"fmt"
	"math"
)

// Depthwise 3x3, pad 1, stride 1 or 2: the layer of every MobileNet-style
// block, computed plane by plane as whole output rows. The input plane is
// first copied into a zero-bordered scratch layout (for stride 2 with its
// even and odd columns split apart), so every one of the nine taps of an
// output row reads a contiguous run of the scratch and the row is nine
// multiply-adds over vectors, with no bounds tests: AVX2+FMA assembly
// (dw3x3_amd64.s, 16 outputs a step) when UseAsm, pure Go otherwise.

// Depthwise3x3Out returns the output size along an axis of length n of a
// 3x3 pad-1 convolution with the given stride: (n-1)/stride + 1.
func Depthwise3x3Out(n, stride int) int { return (n-1)/stride + 1 }

// dw3Layout is the scratch layout of one plane. Stride 1: the padded plane
// (h+2 rows of rs = w+2 floats, x's row r-1 at row r from column 1).
// Stride 2: the even padded rows 0, 2, ..., 2*oh, then (from odd) the odd
// ones 1, 3, ..., 2*oh-1, each of rs = we+ow floats holding the even
// padded columns (we = ow+1 of them; padded column 2j is x's 2j-1) then
// the odd ones (padded column 2j+1 is x's 2j). Either way output row oy's
// tap (ky, kx) reads a contiguous run starting at off[ky*3+kx] + oy*rs, so
// a plane whose rows are short is computed as one long row over an oh x rs
// grid (temp, at tmp, 8 floats after the plane so that the assembly may
// round the long row up to whole vectors: the extra outputs read those
// floats and are never copied out) and its ow valid columns copied out.
type dw3Layout struct {
	stride, h, w, oh, ow int
	rs, we, odd, tmp     int
	off                  [9]int
}

func dw3LayoutFor(h, w, stride int) dw3Layout {
	l := dw3Layout{stride: stride, h: h, w: w, oh: Depthwise3x3Out(h, stride), ow: Depthwise3x3Out(w, stride)}
	if stride == 1 {
		l.rs = w + 2
		l.tmp = (h+2)*l.rs + 8
		for t := range 9 {
			l.off[t] = t/3*l.rs + t%3
		}
		return l
	}
	l.we = l.ow + 1
	l.rs = l.we + l.ow
	l.odd = (l.oh + 1) * l.rs
	l.tmp = l.odd + l.oh*l.rs + 8
	for kx, c := range [3]int{0, l.we, 1} {
		l.off[kx], l.off[3+kx], l.off[6+kx] = c, l.odd+c, l.rs+c
	}
	return l
}

// Depthwise3x3Scratch returns the scratch length Depthwise3x3 needs for an
// h x w plane at the given stride (1 or 2).
func Depthwise3x3Scratch(h, w, stride int) int {
	l := dw3LayoutFor(h, w, stride)
	return l.scratch()
}

func (l *dw3Layout) scratch() int { return l.tmp + l.oh*l.rs + 8 }

// Plane3x3 is the plane geometry of Depthwise3x3 and MaxPool3x3 (h x w,
// pad 1, stride 1 or 2) worked out once for many planes.
type Plane3x3 struct {
	l     dw3Layout
	small *dwSmall // the small-plane kernel's lane plan (w <= dwSmallMaxW)
	// smallK is the KxK small-plane kernel's plan for wider planes at
	// stride 2 (dwSmallMaxW < w <= dwSmallKMaxW).
	smallK *dwSmallK
	wide   *dwWide // the wide kernels' plan (planes wider than those)
	// s1 is the stride-1 geometry of the same plane, for the input
	// gradient of a stride-2 convolution (nil at stride 1).
	s1 *Plane3x3
}

// NewPlane3x3 returns the geometry of h x w planes at the given stride. It
// panics on a stride other than 1 or 2 or a size below 1.
func NewPlane3x3(h, w, stride int) *Plane3x3 {
	if stride != 1 && stride != 2 || h < 1 || w < 1 {
		panic(fmt.Sprintf("kernels.NewPlane3x3: plane %dx%d stride %d (want positive sizes, stride 1 or 2)", h, w, stride))
	}
	p := &Plane3x3{l: dw3LayoutFor(h, w, stride)}
	switch {
	case w <= dwSmallMaxW:
		p.small = newDWSmall(w, stride)
	case smallKFits(w, 3, stride):
		p.smallK = newDWSmallK(w, 3, stride)
	case wideFits(w, stride):
		p.wide = newDWWide(w, stride)
	}
	if stride == 2 {
		p.s1 = NewPlane3x3(h, w, 1)
	}
	return p
}

// Scratch returns the scratch length the plane's convolutions need.
func (p *Plane3x3) Scratch() int { return p.l.scratch() }

// Matches reports whether p is the geometry of h x w planes at stride.
func (p *Plane3x3) Matches(h, w, stride int) bool {
	return p != nil && p.l.h == h && p.l.w == w && p.l.stride == stride
}

// dw3LongRow is the output width below which a plane is computed as one
// long row (a vector step is 16 outputs).
const dw3LongRow = 32

// Depthwise3x3 writes one output plane y (OH x OW, OH = Depthwise3x3Out(h,
// stride), likewise OW) of a 3x3 depthwise convolution with pad 1 of the
// input plane x (h x w) at stride 1 or 2:
//
//	y[oy,ox] = min(max(bias + sum_{ky,kx<3} k[ky*3+kx] * x[oy*s-1+ky, ox*s-1+kx], lo), hi)
//
// summing the taps in that order, with out-of-image pixels reading 0. lo
// and hi fuse an activation: -Inf and +Inf for none, 0 and +Inf for ReLU,
// 0 and 6 for ReLU6; a NaN sum stays NaN. The assembly path rounds each
// multiply-add once (FMA), the Go path twice, so they agree to rounding.
// scratch must hold Depthwise3x3Scratch(h, w, stride) floats; its contents
// are overwritten. It panics on a bad stride or a short slice (a programmer
// error).
func Depthwise3x3(x []float32, h, w, stride int, k []float32, bias, lo, hi float32, y, scratch []float32) {
	NewPlane3x3(h, w, stride).Depthwise(x, k, bias, lo, hi, y, scratch)
}

// Depthwise is Depthwise3x3 on one plane of p's geometry.
func (p *Plane3x3) Depthwise(x, k []float32, bias, lo, hi float32, y, scratch []float32) {
	l := &p.l
	if len(x) < l.h*l.w || len(k) < 9 || len(y) < l.oh*l.ow || len(scratch) < l.scratch() {
		panic(fmt.Sprintf("kernels.Depthwise3x3: x %d, k %d, y %d, scratch %d elements for a %dx%d plane at stride %d",
			len(x), len(k), len(y), len(scratch), l.h, l.w, l.stride))
	}
	var wt [9]float32
	copy(wt[:], k)
	switch {
	case p.small != nil && dwSmallOn():
		dw3SmallAVX512(&y[0], &x[0], l.h, l.w, l.oh, l.stride, p.small, &wt, bias, lo, hi)
		return
	case p.smallK != nil && dwSmallOn():
		dwSmallKAVX512(&y[0], &x[0], l.h, l.w, l.oh, l.stride, 3, 3, p.smallK, &wt[0], bias, lo, hi)
		return
	case p.wide != nil && dwSmallOn():
		m := p.wide.masks
		dw3WideAVX512(&y[0], &x[0], l.h, l.w, l.oh, l.ow, l.stride, p.wide, &m[0], len(m)/3, &p.wide.zero[0], &wt, bias, lo, hi)
		return
	}
	l.fill(x, scratch, 0)
	if l.ow < dw3LongRow {
		grid := scratch[l.tmp : l.tmp+l.longRow()]
		dw3Row(grid, scratch, &l.off, &wt, bias, lo, hi)
		l.copyOut(grid, y)
		return
	}
	var off [9]int
	for oy := range l.oh {
		for t, o := range l.off {
			off[t] = o + oy*l.rs
		}
		dw3Row(y[oy*l.ow:(oy+1)*l.ow], scratch, &off, &wt, bias, lo, hi)
	}
}

// longRow returns the outputs of the long row over the oh x rs grid: up
// to the last valid one, rounded up to whole vectors for the assembly.
func (l *dw3Layout) longRow() int {
	n := (l.oh-1)*l.rs + l.ow
	if UseAsm && hasAsmKernel {
		n = (n + 7) &^ 7
	}
	return n
}

// copyOut copies the valid ow columns of every grid row into y.
func (l *dw3Layout) copyOut(grid, y []float32) {
	for oy := range l.oh {
		copy(y[oy*l.ow:(oy+1)*l.ow], grid[oy*l.rs:])
	}
}

// fill copies x into the layout, the border (and, at stride 2, any
// padded column past the image) set to pad.
func (l *dw3Layout) fill(x, s []float32, pad float32) {
	if l.stride == 1 {
		l.padPlane(x, s, pad)
	} else {
		l.splitPlane(x, s, pad)
	}
}

func fillWith(s []float32, v float32) {
	if v == 0 {
		clear(s)
		return
	}
	for i := range s {
		s[i] = v
	}
}

// padPlane copies x into the stride-1 layout with its border.
func (l *dw3Layout) padPlane(x []float32, s []float32, pad float32) {
	h, w := l.h, l.w
	fillWith(s[:l.rs], pad)
	for r := range h {
		row := s[(r+1)*l.rs : (r+2)*l.rs]
		row[0] = pad
		copy(row[1:w+1], x[r*w:(r+1)*w])
		row[w+1] = pad
	}
	fillWith(s[(h+1)*l.rs:(h+2)*l.rs], pad)
}

// splitPlane copies x into the stride-2 layout: padded row p goes to even
// row p/2 or odd row p/2, its columns split; rows outside the image are
// all pad.
func (l *dw3Layout) splitPlane(x []float32, s []float32, pad float32) {
	w := l.w
	for p := range 2*l.oh + 1 {
		at := p / 2 * l.rs
		if p%2 == 1 {
			at += l.odd
		}
		row := s[at : at+l.rs]
		if p == 0 || p > l.h {
			fillWith(row, pad)
			continue
		}
		xr := x[(p-1)*w : p*w]
		ev, od := row[:l.we], row[l.we:]
		ev[0] = pad
		n := w / 2 // even padded columns 2..2n hold x's columns 1, 3, ..., 2n-1
		v := 0     // odd padded columns (ow = (w+1)/2 of them): x's 0, 2, ...
		if UseAsm && hasAsmKernel && n >= 8 {
			v = n &^ 7
			deinterleaveAVX2(&xr[0], &od[0], &ev[1], v)
		}
		for j := v + 1; j <= n; j++ {
			ev[j] = xr[2*j-1]
		}
		fillWith(ev[n+1:], pad)
		for j := v; j < len(od); j++ {
			od[j] = xr[2*j]
		}
	}
}

// MaxPool3x3 writes one output plane y (OH x OW as for Depthwise3x3) of a
// 3x3 max pool with pad 1 of the plane x (h x w) at stride 1 or 2: the
// maximum over the window's taps inside the image, taken in row-major tap
// order as acc = (acc > v ? acc : v), so a NaN tap makes the result NaN
// unless a later tap replaces it (what the x86 max instruction does; the
// Go path does the same). scratch must hold Depthwise3x3Scratch(h, w,
// stride) floats. It panics on a bad stride or a short slice.
func MaxPool3x3(x []float32, h, w, stride int, y, scratch []float32) {
	NewPlane3x3(h, w, stride).MaxPool(x, y, scratch)
}

// MaxPool is MaxPool3x3 on one plane of p's geometry.
func (p *Plane3x3) MaxPool(x, y, scratch []float32) {
	l := &p.l
	if len(x) < l.h*l.w || len(y) < l.oh*l.ow || len(scratch) < l.scratch() {
		panic(fmt.Sprintf("kernels.MaxPool3x3: x %d, y %d, scratch %d elements for a %dx%d plane at stride %d",
			len(x), len(y), len(scratch), l.h, l.w, l.stride))
	}
	if l.stride == 2 && hasPool2() && p.maxPoolS2Rows(x, y, scratch) {
		return
	}
	l.fill(x, scratch, float32(math.Inf(-1)))
	if l.ow < dw3LongRow {
		grid := scratch[l.tmp : l.tmp+l.longRow()]
		max9Row(grid, scratch, &l.off)
		l.copyOut(grid, y)
		return
	}
	var off [9]int
	for oy := range l.oh {
		for t, o := range l.off {
			off[t] = o + oy*l.rs
		}
		max9Row(y[oy*l.ow:(oy+1)*l.ow], scratch, &off)
	}
}

// maxPoolS2Rows is MaxPool at stride 2 through maxPool3s2RowAVX512: each
// output row from its three input rows copied into -inf padded rows in
// scratch (a missing row all -inf), so the same taps in the same order as
// the padded plane gives. It reports false, doing nothing, when scratch
// is too short for the rows.
func (p *Plane3x3) maxPoolS2Rows(x, y, scratch []float32) bool {
	l := &p.l
	h, w, oh, ow := l.h, l.w, l.oh, l.ow
	nblk := (ow + 15) / 16
	rl := 32*nblk + 2 // the last block reads p[32*nblk+1]
	if len(scratch) < 4*rl || w+1 > rl {
		return false
	}
	ninf := float32(math.Inf(-1))
	neg := scratch[3*rl : 4*rl]
	fillWith(neg, ninf)
	pad := func(dst []float32, iy int) *float32 {
		if iy < 0 || iy >= h {
			return &neg[0]
		}
		dst[0] = ninf
		copy(dst[1:w+1], x[iy*w:(iy+1)*w])
		fillWith(dst[w+1:rl], ninf)
		return &dst[0]
	}
	tail := 1<<(ow-16*(nblk-1)) - 1
	for oy := range oh {
		p0 := pad(scratch[0:rl], 2*oy-1)
		p1 := pad(scratch[rl:2*rl], 2*oy)
		p2 := pad(scratch[2*rl:3*rl], 2*oy+1)
		maxPool3s2RowAVX512(p0, p1, p2, &y[oy*ow], nblk, tail)
	}
	return true
}

// max9Row sets y[i] to the running maximum (acc > v ? acc : v) of
// x[off[t]+i] over t = 0..8, 8-wide blocks in assembly when available.
func max9Row(y, x []float32, off *[9]int) {
	n := len(y)
	for _, o := range off {
		_ = x[o : o+n]
	}
	v := 0
	if UseAsm && hasAsmKernel && n >= 8 {
		v = n &^ 7
		max9RowAVX2(&y[0], v, &x[0], off)
	}
	for i := v; i < n; i++ {
		acc := x[off[0]+i]
		for _, o := range off[1:] {
			if t := x[o+i]; !(acc > t) {
				acc = t
			}
		}
		y[i] = acc
	}
}

// dw3Row sets y[i] = min(max(bias + sum_t w[t]*x[off[t]+i], lo), hi) for
// i < len(y): 16-wide blocks and a masked rest in AVX-512 assembly, or
// 8-wide blocks in AVX2 and a Go rest, when available.
func dw3Row(y, x []float32, off *[9]int, w *[9]float32, bias, lo, hi float32) {
	n := len(y)
	for _, o := range off {
		_ = x[o : o+n]
	}
	v := 0
	switch {
	case UseAsm && useAVX512 && useDW512 && n >= 1:
		dw3RowAVX512(&y[0], n, &x[0], off, w, bias, lo, hi, 1<<(n%16)-1)
		return
	case UseAsm && hasAsmKernel && n >= 8:
		v = n &^ 7
		dw3RowAVX2(&y[0], v, &x[0], off, w, bias, lo, hi)
	}
	dw3RowGo(y, x, off, w, bias, lo, hi, v)
}

// useDW512 lets dw3Row take the AVX-512 kernel when useAVX512 holds;
// tests turn it off to compare it with the AVX2 one.
var useDW512 = true

// dw3RowGo is dw3Row in Go for i in [from, len(y)).
func dw3RowGo(y, x []float32, off *[9]int, w *[9]float32, bias, lo, hi float32, from int) {
	n := len(y)
	x0, x1, x2 := x[off[0]:off[0]+n], x[off[1]:off[1]+n], x[off[2]:off[2]+n]
	x3, x4, x5 := x[off[3]:off[3]+n], x[off[4]:off[4]+n], x[off[5]:off[5]+n]
	x6, x7, x8 := x[off[6]:off[6]+n], x[off[7]:off[7]+n], x[off[8]:off[8]+n]
	for i := from; i < n; i++ {
		s := bias + w[0]*x0[i]
		s += w[1] * x1[i]
		s += w[2] * x2[i]
		s += w[3] * x3[i]
		s += w[4] * x4[i]
		s += w[5] * x5[i]
		s += w[6] * x6[i]
		s += w[7] * x7[i]
		s += w[8] * x8[i]
		y[i] = min(max(s, lo), hi)
	}
}
