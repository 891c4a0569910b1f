package kernels

import "fmt"

// MaxPool2x2 writes one output plane y (h/2 x w/2) of a 2x2 max pool at
// stride 2 without padding of the plane x (h x w; an odd last row or
// column is not read): each output the running maximum acc = (acc > v ?
// acc : v) of its window's taps in row-major order (what the x86 max
// instruction computes with the accumulator first; the Go path does the
// same), sixteen outputs a step in AVX-512 (the last ones of a row under
// masks). It panics on a short slice.
func MaxPool2x2(x []float32, h, w int, y []float32) {
	oh, ow := h/2, w/2
	if len(x) < h*w || len(y) < oh*ow {
		panic(fmt.Sprintf("kernels.MaxPool2x2: x %d, y %d elements for a %dx%d plane", len(x), len(y), h, w))
	}
	if ow == 0 {
		return
	}
	if hasPool2() {
		t := ow % 16
		bits := func(k int) int { return 1<<min(max(k, 0), 16) - 1 }
		tail := 0
		if t > 0 {
			tail = bits(2*t) | bits(2*t-16)<<16 | bits(t)<<32
		}
		for oy := range oh {
			maxPool2RowAVX512(&x[2*oy*w], &x[(2*oy+1)*w], &y[oy*ow], ow, tail)
		}
		return
	}
	for oy := range oh {
		maxPool2Go(x[2*oy*w:(2*oy+1)*w], x[(2*oy+1)*w:(2*oy+2)*w], y[oy*ow:(oy+1)*ow], 0)
	}
}

// maxPool2Go computes outputs [from, len(y)) of a MaxPool2x2 row.
func maxPool2Go(r0, r1, y []float32, from int) {
	for i := from; i < len(y); i++ {
		acc := r0[2*i]
		for _, t := range [3]float32{r0[2*i+1], r1[2*i], r1[2*i+1]} {
			if !(acc > t) {
				acc = t
			}
		}
		y[i] = acc
	}
}
