package engine

// Pooling over NCHW planes: MaxPool, AveragePool and GlobalAveragePool.
//
//	MaxPool, AveragePool  X[N,C,H,W] -> Y[N,C,OH,OW]
//	GlobalAveragePool     X[N,C,H,W] -> Y[N,C,1,1]
//
// Window geometry (kernel_shape, strides, pads, dilations, ceil_mode) is the
// ONNX one resolved by graph.Geom; output sizes follow graph.ConvGeom.Out.
// Taps that fall in the padding are skipped: MaxPool takes the maximum of the
// taps inside the image (the first one on ties, as PyTorch does) and keeps
// its position for the backward pass in training mode; AveragePool divides
// by the number of taps inside the image (count_include_pad=0) or, with
// count_include_pad=1, by the number of taps inside the padded extent
// [-padTop, H+padBottom) x [-padLeft, W+padRight) (PyTorch's rule, which
// matters with ceil_mode). A window with no tap inside the image (possible
// only with pads as large as the window) yields 0 and passes no gradient.
// Planes (image, channel) are split over kernels.ParallelFor workers; each
// plane is written by one worker, so results do not depend on the thread
// count.

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// poolParallelMin is the element count of X above which planes are split
// over workers.
const poolParallelMin = 1 << 14

// forPlanes runs f(lo, hi) over the planes [0, planes) of a tensor of size
// elements, in parallel when it is large.
func forPlanes(planes, size int, f func(lo, hi int)) {
	if size >= poolParallelMin && planes > 1 {
		kernels.ParallelFor(planes, f)
		return
	}
	f(0, planes)
}

// poolKernel is a compiled MaxPool or AveragePool node.
type poolKernel struct {
	node     *graph.Node
	geom     graph.ConvGeom
	max      bool
	countPad bool

	// MaxPool, from the last training-mode Forward: the plane-relative index
	// of each output's maximum (-1 for a window without taps), and X's shape.
	argmax []int32
	xshape []int

	plane *kernels.Plane3x3 // inference 3x3 max pool (isPool3x3): the plane geometry
}

// newPool validates a MaxPool or AveragePool node. It errors on unknown
// attributes, auto_pad SAME_*, a missing or malformed kernel_shape,
// non-positive strides/dilations, negative pads, MaxPool storage_order 1 and
// count_include_pad other than 0/1.
func newPool(n *graph.Node) (Kernel, error) {
	isMax := n.Op == graph.OpMaxPool
	allowed := []string{"kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad"}
	if isMax {
		allowed = append(allowed, "storage_order")
	} else {
		allowed = append(allowed, "count_include_pad")
	}
	if err := rejectUnknownAttrs(n, allowed...); err != nil {
		return nil, err
	}
	if err := checkAutoPad(n); err != nil {
		return nil, err
	}
	if so := n.Attrs.Int("storage_order", 0); so != 0 {
		return nil, attrErrorf(n, "storage_order %d is not supported (only row-major indices)", so)
	}
	cip := n.Attrs.Int("count_include_pad", 0)
	if cip != 0 && cip != 1 {
		return nil, attrErrorf(n, "count_include_pad %d: want 0 or 1", cip)
	}
	if cm := n.Attrs.Int("ceil_mode", 0); cm != 0 && cm != 1 {
		return nil, attrErrorf(n, "ceil_mode %d: want 0 or 1", cm)
	}
	g, err := graph.Geom(n, nil)
	if err != nil {
		return nil, err
	}
	return &poolKernel{node: n, geom: g, max: isMax, countPad: cip == 1}, nil
}

// shape validates X and returns the per-image geometry with C channels.
func (k *poolKernel) shape(in []*tensor.Tensor) (kernels.ConvShape, error) {
	if len(in) < 1 || in[0] == nil {
		return kernels.ConvShape{}, fmt.Errorf("needs input X, got %d inputs", len(in))
	}
	x := in[0].Shape
	if len(x) != 4 {
		return kernels.ConvShape{}, fmt.Errorf("input %v must be 4-D (NCHW)", x)
	}
	s := convShape(k.geom, x[1], x[2], x[3])
	if s.OH < 1 || s.OW < 1 {
		g := k.geom
		return s, fmt.Errorf("input %v with pads %v is smaller than the dilated %dx%d window",
			x, []int{g.PadT, g.PadL, g.PadB, g.PadR}, (g.KH-1)*g.DH+1, (g.KW-1)*g.DW+1)
	}
	return s, nil
}

// Forward pools every plane. It errors on a missing or non-4-D input and an
// input smaller than the dilated window after padding.
func (k *poolKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	s, err := k.shape(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	n := x.Shape[0]
	planes := n * s.C
	hw, ohw := s.H*s.W, s.OH*s.OW
	if k.max && !ctx.Train && (isPool2x2(s) || isPool3x3(s)) {
		// MaxPool2x2 and MaxPool3x3 write every output: no zeroing.
		y := ctx.allocRaw(n, s.C, s.OH, s.OW)
		k.xshape = k.xshape[:0]
		if isPool2x2(s) {
			forPlanes(planes, len(x.Data), func(lo, hi int) {
				for p := lo; p < hi; p++ {
					kernels.MaxPool2x2(x.Data[p*hw:(p+1)*hw], s.H, s.W, y.Data[p*ohw:(p+1)*ohw])
				}
			})
			return []*tensor.Tensor{y}, nil
		}
		if !k.plane.Matches(s.H, s.W, s.SH) {
			k.plane = kernels.NewPlane3x3(s.H, s.W, s.SH)
		}
		forPlanes(planes, len(x.Data), func(lo, hi int) {
			scratch := make([]float32, k.plane.Scratch())
			for p := lo; p < hi; p++ {
				k.plane.MaxPool(x.Data[p*hw:(p+1)*hw], y.Data[p*ohw:(p+1)*ohw], scratch)
			}
		})
		return []*tensor.Tensor{y}, nil
	}
	y := ctx.Alloc(n, s.C, s.OH, s.OW)
	if !k.max {
		forPlanes(planes, len(x.Data), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				k.avgPlane(s, x.Data[p*hw:(p+1)*hw], y.Data[p*ohw:(p+1)*ohw])
			}
		})
		return []*tensor.Tensor{y}, nil
	}
	var arg []int32
	if ctx.Train {
		if cap(k.argmax) < len(y.Data) {
			k.argmax = make([]int32, len(y.Data))
		}
		k.argmax = k.argmax[:len(y.Data)]
		arg = k.argmax
		k.xshape = append(k.xshape[:0], x.Shape...)
	} else {
		k.xshape = k.xshape[:0]
	}
	forPlanes(planes, len(x.Data), func(lo, hi int) {
		var sc maxScratch
		for p := lo; p < hi; p++ {
			var a []int32
			if arg != nil {
				a = arg[p*ohw : (p+1)*ohw]
			}
			maxPlaneSc(s, x.Data[p*hw:(p+1)*hw], y.Data[p*ohw:(p+1)*ohw], a, &sc)
		}
	})
	return []*tensor.Tensor{y}, nil
}

// isPool3x3 reports whether an inference max pool takes kernels.MaxPool3x3:
// a 3x3 window, pad 1, undilated, stride 1 or 2 both ways, and the output
// size of pad 1 on every side (so no ceil-mode extra window and no other
// bottom/right pad). Its results are maxPlane's for inputs without NaN.
func isPool3x3(s kernels.ConvShape) bool {
	return s.KH == 3 && s.KW == 3 && s.DH == 1 && s.DW == 1 && s.PadT == 1 && s.PadL == 1 &&
		s.SH == s.SW && (s.SH == 1 || s.SH == 2) &&
		s.OH == kernels.Depthwise3x3Out(s.H, s.SH) && s.OW == kernels.Depthwise3x3Out(s.W, s.SW)
}

// isPool2x2 reports whether an inference max pool takes kernels.MaxPool2x2:
// a 2x2 window at stride 2, no padding, undilated, and the floor-mode
// output size (VGG's pools). Its results are maxPlane's for inputs
// without NaN (a +0/-0 tie may keep the other zero).
func isPool2x2(s kernels.ConvShape) bool {
	return s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.DH == 1 && s.DW == 1 &&
		s.PadT == 0 && s.PadL == 0 && s.OH == s.H/2 && s.OW == s.W/2
}

// maxPlane writes the window maxima of one plane into y and, when arg is not
// nil, the plane index of each maximum (-1 for an empty window). The first
// maximum in scan order wins (later taps replace it only when greater).
func maxPlane(s kernels.ConvShape, x, y []float32, arg []int32) {
	maxPlaneSc(s, x, y, arg, &maxScratch{})
}

// maxScratch holds a worker's buffers for maxPlane's vector rows: the even
// and odd columns of the three input rows of a stride-2 window row, and
// the argmax of a row when the caller wants none.
type maxScratch struct {
	ev, od [3][]float32
	at     []int32
}

// maxVecMin is the fewest interior outputs of a row that take the vector
// rows (max3x3Vec); a variable so tests can route short rows through them.
var maxVecMin = 8

// maxPlaneSc is maxPlane with the worker's scratch sc.
func maxPlaneSc(s kernels.ConvShape, x, y []float32, arg []int32, sc *maxScratch) {
	for oy := range s.OH {
		y0 := oy*s.SH - s.PadT
		ox0, ox1 := 0, 0 // outputs [ox0, ox1) of a 3x3 window wholly inside
		if s.KH == 3 && s.KW == 3 && s.DH == 1 && s.DW == 1 && y0 >= 0 && y0+2 < s.H {
			ox0 = min(ceilDivInt(s.PadL, s.SW), s.OW)
			if hi := s.W - 3 + s.PadL; hi >= 0 { // x0 = ox*SW-PadL <= W-3
				ox1 = max(ox0, min(s.OW, hi/s.SW+1))
			}
		}
		for ox := range s.OW {
			if ox == ox0 && ox1 > ox0 {
				if ox1-ox0 >= maxVecMin && (s.SW == 1 || s.SW == 2) {
					max3x3Vec(s, x, y, arg, oy, ox0, ox1, sc)
				} else {
					max3x3Interior(s, x, y, arg, oy, ox0, ox1)
				}
				continue
			}
			if ox > ox0 && ox < ox1 {
				continue
			}
			maxWindow(s, x, y, arg, oy, ox)
		}
	}
}

// ceilDivInt is ceil(a/b) for a >= 0, b > 0.
func ceilDivInt(a, b int) int { return (a + b - 1) / b }

// max3x3Interior is maxPlane for outputs [ox0, ox1) of row oy, whose
// undilated 3x3 windows lie wholly inside the plane.
func max3x3Interior(s kernels.ConvShape, x, y []float32, arg []int32, oy, ox0, ox1 int) {
	iy := oy*s.SH - s.PadT
	w := s.W
	r0, r1, r2 := x[iy*w:(iy+1)*w], x[(iy+1)*w:(iy+2)*w], x[(iy+2)*w:(iy+3)*w]
	for ox := ox0; ox < ox1; ox++ {
		ix := ox*s.SW - s.PadL
		a, b, c := r0[ix:ix+3:ix+3], r1[ix:ix+3:ix+3], r2[ix:ix+3:ix+3]
		best, at := a[0], ix
		if a[1] > best {
			best, at = a[1], ix+1
		}
		if a[2] > best {
			best, at = a[2], ix+2
		}
		if b[0] > best {
			best, at = b[0], w+ix
		}
		if b[1] > best {
			best, at = b[1], w+ix+1
		}
		if b[2] > best {
			best, at = b[2], w+ix+2
		}
		if c[0] > best {
			best, at = c[0], 2*w+ix
		}
		if c[1] > best {
			best, at = c[1], 2*w+ix+1
		}
		if c[2] > best {
			best, at = c[2], 2*w+ix+2
		}
		o := oy*s.OW + ox
		y[o] = best
		if arg != nil {
			arg[o] = int32(iy*s.W + at)
		}
	}
}

// max3x3Vec is max3x3Interior for a stride of 1 or 2 along the row: the
// nine taps of the row's windows as nine arrays (shifted views of the
// input rows, or of their even and odd columns at stride 2), reduced by
// max9 eight outputs at a time, with the same order and tie and NaN rules.
func max3x3Vec(s kernels.ConvShape, x, y []float32, arg []int32, oy, ox0, ox1 int, sc *maxScratch) {
	n := ox1 - ox0
	iy := oy*s.SH - s.PadT
	base := ox0*s.SW - s.PadL
	var taps [9][]float32
	for r := range 3 {
		row := x[(iy+r)*s.W : (iy+r+1)*s.W]
		if s.SW == 1 {
			taps[3*r], taps[3*r+1], taps[3*r+2] = row[base:base+n], row[base+1:base+1+n], row[base+2:base+2+n]
			continue
		}
		ev, od := growBuf(sc.ev[r], n+1), growBuf(sc.od[r], n)
		kernels.Deinterleave2(ev[:n], od, row[base:base+2*n])
		ev[n] = row[base+2*n]
		taps[3*r], taps[3*r+1], taps[3*r+2] = ev[:n], od, ev[1:n+1]
		sc.ev[r], sc.od[r] = ev, od
	}
	o := oy*s.OW + ox0
	at := arg
	if at == nil {
		if cap(sc.at) < n {
			sc.at = make([]int32, n)
		}
		at, o = sc.at[:n], 0
	}
	w := int32(s.W)
	offs := [9]int32{0, 1, 2, w, w + 1, w + 2, 2 * w, 2*w + 1, 2*w + 2}
	max9(&taps, y[oy*s.OW+ox0:oy*s.OW+ox0+n], at[o:o+n], int32(iy*s.W+base), int32(s.SW), &offs)
}

// maxWindow is maxPlane for output (oy, ox) of any window.
func maxWindow(s kernels.ConvShape, x, y []float32, arg []int32, oy, ox int) {
	y0, x0 := oy*s.SH-s.PadT, ox*s.SW-s.PadL
	best, at := float32(math.Inf(-1)), -1
	for ky := range s.KH {
		iy := y0 + ky*s.DH
		if iy < 0 || iy >= s.H {
			continue
		}
		row := x[iy*s.W : (iy+1)*s.W]
		for kx := range s.KW {
			ix := x0 + kx*s.DW
			if ix < 0 || ix >= s.W {
				continue
			}
			if v := row[ix]; at < 0 || v > best {
				best, at = v, iy*s.W+ix
			}
		}
	}
	o := oy*s.OW + ox
	if at < 0 {
		best = 0
	}
	y[o] = best
	if arg != nil {
		arg[o] = int32(at)
	}
}

// avgWindow returns the taps of output (oy, ox) inside the image as row and
// column ranges over kernel indices, and the divisor for the average.
// Kernel tap ky is inside when 0 <= y0+ky*DH < H.
func (k *poolKernel) avgWindow(s kernels.ConvShape, oy, ox int) (ky0, ky1, kx0, kx1 int, div float32) {
	y0, x0 := oy*s.SH-s.PadT, ox*s.SW-s.PadL
	ky0, ky1 = tapRange(y0, s.DH, s.KH, 0, s.H)
	kx0, kx1 = tapRange(x0, s.DW, s.KW, 0, s.W)
	if k.countPad {
		py0, py1 := tapRange(y0, s.DH, s.KH, -s.PadT, s.H+k.geom.PadB)
		px0, px1 := tapRange(x0, s.DW, s.KW, -s.PadL, s.W+k.geom.PadR)
		div = float32((py1 - py0) * (px1 - px0))
	} else {
		div = float32((ky1 - ky0) * (kx1 - kx0))
	}
	return ky0, ky1, kx0, kx1, div
}

// tapRange returns the half-open range [t0, t1) of tap indices t in [0, k)
// with lo <= start + t*d < hi (t0 == t1 when there is none).
func tapRange(start, d, k, lo, hi int) (int, int) {
	t0 := 0
	if start < lo {
		t0 = (lo - start + d - 1) / d
	}
	t1 := k
	if last := start + (k-1)*d; last >= hi {
		t1 = (hi - start + d - 1) / d
	}
	t1 = max(t1, 0)
	if t0 > t1 {
		t0 = t1
	}
	return t0, t1
}

// avgPlane writes the window averages of one plane into y.
func (k *poolKernel) avgPlane(s kernels.ConvShape, x, y []float32) {
	for oy := range s.OH {
		for ox := range s.OW {
			ky0, ky1, kx0, kx1, div := k.avgWindow(s, oy, ox)
			var sum float32
			for ky := ky0; ky < ky1; ky++ {
				row := x[(oy*s.SH-s.PadT+ky*s.DH)*s.W:]
				for kx := kx0; kx < kx1; kx++ {
					sum += row[ox*s.SW-s.PadL+kx*s.DW]
				}
			}
			if ky1 > ky0 && kx1 > kx0 {
				y[oy*s.OW+ox] = sum / div
			}
		}
	}
}

// Backward returns dX when need[0]: MaxPool routes each output gradient to
// the recorded maximum; AveragePool spreads it evenly (divided by the
// divisor) over the window's taps inside the image. MaxPool errors if the
// last Forward was not in training mode on an input of this shape.
func (k *poolKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	s, err := k.shape(in)
	if err != nil {
		return nil, err
	}
	if len(need) < 1 || !need[0] || len(gout) < 1 || gout[0] == nil {
		return gin, nil
	}
	x, dy := in[0], gout[0]
	n := x.Shape[0]
	if want := []int{n, s.C, s.OH, s.OW}; !tensor.SameShape(dy.Shape, want) {
		return nil, fmt.Errorf("output gradient %v, want %v", dy.Shape, want)
	}
	if k.max && !tensor.SameShape(k.xshape, x.Shape) {
		return nil, fmt.Errorf("backward needs a training-mode forward pass on input %v first", x.Shape)
	}
	dx := ctx.Alloc(x.Shape...)
	hw, ohw := s.H*s.W, s.OH*s.OW
	forPlanes(n*s.C, len(x.Data), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dxs, dys := dx.Data[p*hw:(p+1)*hw], dy.Data[p*ohw:(p+1)*ohw]
			if k.max {
				for o, at := range k.argmax[p*ohw : (p+1)*ohw] {
					if at >= 0 {
						dxs[at] += dys[o]
					}
				}
				continue
			}
			for oy := range s.OH {
				for ox := range s.OW {
					ky0, ky1, kx0, kx1, div := k.avgWindow(s, oy, ox)
					g := dys[oy*s.OW+ox] / div
					for ky := ky0; ky < ky1; ky++ {
						row := dxs[(oy*s.SH-s.PadT+ky*s.DH)*s.W:]
						for kx := kx0; kx < kx1; kx++ {
							row[ox*s.SW-s.PadL+kx*s.DW] += g
						}
					}
				}
			}
		}
	})
	gin[0] = dx
	return gin, nil
}

// globalAvgKernel is a compiled GlobalAveragePool node; it keeps no state.
type globalAvgKernel struct{}

// newGlobalAvg accepts a GlobalAveragePool node without attributes.
func newGlobalAvg(n *graph.Node) (Kernel, error) {
	if err := rejectUnknownAttrs(n); err != nil {
		return nil, err
	}
	return globalAvgKernel{}, nil
}

func globalAvgCheck(in []*tensor.Tensor) error {
	if len(in) < 1 || in[0] == nil {
		return fmt.Errorf("needs input X, got %d inputs", len(in))
	}
	if x := in[0].Shape; len(x) != 4 || x[2]*x[3] == 0 {
		return fmt.Errorf("input %v must be 4-D (NCHW) with a non-empty plane", x)
	}
	return nil
}

// Forward averages every H x W plane into Y[N,C,1,1] (float64 sums). It
// errors on a missing, non-4-D or empty-plane input.
func (globalAvgKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := globalAvgCheck(in); err != nil {
		return nil, err
	}
	x := in[0]
	hw := x.Shape[2] * x.Shape[3]
	y := ctx.Alloc(x.Shape[0], x.Shape[1], 1, 1)
	forPlanes(len(y.Data), len(x.Data), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			y.Data[p] = float32(sum64(x.Data[p*hw:(p+1)*hw]) / float64(hw))
		}
	})
	return []*tensor.Tensor{y}, nil
}

// Backward spreads dY[n,c]/(H*W) over plane (n, c) when need[0].
func (globalAvgKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	if err := globalAvgCheck(in); err != nil {
		return nil, err
	}
	if len(need) < 1 || !need[0] || len(gout) < 1 || gout[0] == nil {
		return gin, nil
	}
	x, dy := in[0], gout[0]
	if want := []int{x.Shape[0], x.Shape[1], 1, 1}; !tensor.SameShape(dy.Shape, want) {
		return nil, fmt.Errorf("output gradient %v, want %v", dy.Shape, want)
	}
	hw := x.Shape[2] * x.Shape[3]
	dx := ctx.Alloc(x.Shape...)
	for p, g := range dy.Data {
		v := g / float32(hw)
		row := dx.Data[p*hw : (p+1)*hw]
		for i := range row {
			row[i] = v
		}
	}
	gin[0] = dx
	return gin, nil
}

func init() {
	Register(graph.OpMaxPool, newPool)
	Register(graph.OpAveragePool, newPool)
	Register(graph.OpGlobalAvg, newGlobalAvg)
}

// sum64Go returns the float64 sum of v: partial sums a[j] of the
// elements i%16 == j over whole blocks of 16, combined as b[l] =
// (a[l]+a[l+4]) + (a[l+8]+a[l+12]) and (b[0]+b[2]) + (b[1]+b[3]), then
// the last len(v)%16 elements in order: sixteen independent chains of
// additions, in the order of the assembly (sum64AVX) that sum64 runs
// where it can, so both give the same bits. GlobalAveragePool's planes
// (576 of 7x7 in a MobileNetV3 block) took 15 us one float at a time.
func sum64Go(v []float32) float64 {
	var a [16]float64
	n := len(v) &^ 15
	for i := 0; i < n; i += 16 {
		for j := range 16 {
			a[j] += float64(v[i+j])
		}
	}
	var b [4]float64
	for l := range 4 {
		b[l] = (a[l] + a[l+4]) + (a[l+8] + a[l+12])
	}
	s := (b[0] + b[2]) + (b[1] + b[3])
	for _, x := range v[n:] {
		s += float64(x)
	}
	return s
}
