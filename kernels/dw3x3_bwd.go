package kernels

import (
	"fmt"
	"math"
)

// The backward pass of Depthwise3x3 on one plane, through the same
// layouts as the forward, so that both gradients are vector loops:
//
//   - the filter gradient dk[t] = sum over outputs of dy * the input the tap
//     t read. In the layout every output row's tap reads a contiguous run
//     starting at off[t] + oy*rs, so with dy laid out on the oh x rs grid
//     (zeros in the rs-ow columns past each row) each tap is one dot
//     product of that grid with the layout from off[t];
//   - the input gradient of a 3x3 pad-1 convolution at stride 1 is the
//     stride-1 pad-1 convolution of dy with the filter turned by 180
//     degrees; at stride 2 it is the same of dy spread on the h x w plane
//     (dy[oy][ox] at row 2*oy, column 2*ox, zeros between), both computed
//     by Depthwise.
//
// The zero columns of the grid multiply input values (or the next row's):
// an infinite input makes the filter gradient NaN where the direct sum
// would be infinite, both non-finite.

// BackwardScratch returns the scratch length DepthwiseBackward needs.
func (p *Plane3x3) BackwardScratch() int {
	l := &p.l
	dk := l.scratch() + l.oh*l.rs
	if l.stride == 1 {
		return max(dk, l.scratch())
	}
	s1 := dw3LayoutFor(l.h, l.w, 1)
	return max(dk, l.h*l.w+s1.scratch())
}

// DepthwiseBackward is the backward pass of p.Depthwise(x, k, 0, -Inf,
// +Inf, y, _) on one plane: given dy (oh x ow), it overwrites dx (h x w)
// with the input gradient when dx is not nil, and adds the filter
// gradient into dk[0:9] when dk is not nil. scratch must hold
// p.BackwardScratch() floats; its contents are overwritten. It panics on a
// short slice (a programmer error).
func (p *Plane3x3) DepthwiseBackward(x, dy, k, dx, dk, scratch []float32) {
	l := &p.l
	if len(x) < l.h*l.w || len(dy) < l.oh*l.ow || len(k) < 9 || dx != nil && len(dx) < l.h*l.w ||
		dk != nil && len(dk) < 9 || len(scratch) < p.BackwardScratch() {
		panic(fmt.Sprintf("kernels.DepthwiseBackward: x %d, dy %d, k %d, dx %d, dk %d, scratch %d elements for a %dx%d plane at stride %d",
			len(x), len(dy), len(k), len(dx), len(dk), len(scratch), l.h, l.w, l.stride))
	}
	if dk != nil {
		l.fill(x, scratch, 0)
		n := (l.oh-1)*l.rs + l.ow
		grid := scratch[l.scratch() : l.scratch()+n]
		for oy := range l.oh {
			copy(grid[oy*l.rs:oy*l.rs+l.ow], dy[oy*l.ow:(oy+1)*l.ow])
			if oy+1 < l.oh {
				clear(grid[oy*l.rs+l.ow : (oy+1)*l.rs])
			}
		}
		for t, o := range l.off {
			dk[t] += dot(grid, scratch[o:o+n])
		}
	}
	if dx == nil {
		return
	}
	var flip [9]float32
	for t := range 9 {
		flip[t] = k[8-t]
	}
	inf := float32(math.Inf(1))
	if l.stride == 1 {
		p.Depthwise(dy, flip[:], 0, -inf, inf, dx, scratch)
		return
	}
	s1 := p.s1
	up := scratch[:l.h*l.w]
	clear(up)
	for oy := range l.oh {
		row := up[2*oy*l.w:]
		for ox, v := range dy[oy*l.ow : (oy+1)*l.ow] {
			row[2*ox] = v
		}
	}
	s1.Depthwise(up, flip[:], 0, -inf, inf, dx, scratch[l.h*l.w:])
}
