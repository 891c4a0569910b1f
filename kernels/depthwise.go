package kernels

import "fmt"

// dwOperand is one slice argument of a depthwise primitive: its name, the
// slice, the required length and whether nil is allowed.
type dwOperand struct {
	what string
	s    []float32
	want int
	opt  bool
}

// checkDepthwise validates slice lengths for the depthwise primitives; name
// is the calling function for the error message. Slices passed as nil are
// skipped (optional operands).
func checkDepthwise(name string, s ConvShape, operands ...dwOperand) error {
	if s.C < 0 || s.H < 0 || s.W < 0 || s.KH < 1 || s.KW < 1 || s.SH < 1 || s.SW < 1 || s.DH < 1 || s.DW < 1 || s.OH < 0 || s.OW < 0 || s.PadT < 0 || s.PadL < 0 {
		return fmt.Errorf("kernels.%s: invalid geometry %+v (kernel, stride, dilation must be >= 1; sizes and pads >= 0)", name, s)
	}
	for _, o := range operands {
		if o.opt && o.s == nil {
			continue
		}
		if len(o.s) != o.want {
			return fmt.Errorf("kernels.%s: %s has %d elements, want %d for shape %+v", name, o.what, len(o.s), o.want, s)
		}
	}
	return nil
}

// DepthwiseConv2D is the forward pass of a depthwise (group == C, one
// filter per channel) convolution over one image:
//
//	y[c,oy,ox] = bias[c] + sum_{i<KH, j<KW} w[c,i,j] * x[c, oy*SH-PadT+i*DH, ox*SW-PadL+j*DW]
//
// with out-of-image positions contributing 0. x has C*H*W elements, w
// C*KH*KW, bias C (or nil for none), y C*OH*OW (overwritten). It returns an
// error naming the operand when a length or the geometry is inconsistent.
//
// It works tap by tap: for each (i, j) it adds w[c,i,j] times a shifted row
// of x into the valid output columns (computed once per tap), so there are
// no per-element bounds tests.
func DepthwiseConv2D(x []float32, s ConvShape, w, bias, y []float32) error {
	hw, plane, kk := s.OH*s.OW, s.H*s.W, s.KH*s.KW
	if err := checkDepthwise("DepthwiseConv2D", s,
		dwOperand{"x", x, s.C * plane, false}, dwOperand{"w", w, s.C * kk, false},
		dwOperand{"bias", bias, s.C, true}, dwOperand{"y", y, s.C * hw, false}); err != nil {
		return err
	}
	for c := range s.C {
		yc := y[c*hw : (c+1)*hw]
		b := float32(0)
		if bias != nil {
			b = bias[c]
		}
		for t := range yc {
			yc[t] = b
		}
		xc := x[c*plane : (c+1)*plane]
		for i := range s.KH {
			for j := range s.KW {
				wv := w[(c*s.KH+i)*s.KW+j]
				off := j*s.DW - s.PadL
				lo, hi := validCols(off, s.SW, s.W, s.OW)
				if lo == hi {
					continue
				}
				for oy := range s.OH {
					iy := oy*s.SH - s.PadT + i*s.DH
					if iy < 0 || iy >= s.H {
						continue
					}
					dst := yc[oy*s.OW+lo : oy*s.OW+hi]
					src := xc[iy*s.W : (iy+1)*s.W]
					if s.SW == 1 {
						axpy(wv, src[lo+off:hi+off], dst)
						continue
					}
					p := lo*s.SW + off
					for t := range dst {
						dst[t] += wv * src[p]
						p += s.SW
					}
				}
			}
		}
	}
	return nil
}

// DepthwiseConv2DBackward accumulates the gradients of DepthwiseConv2D for
// one image given dy (C*OH*OW): dx (C*H*W) += the transposed convolution
// of dy with w, dw (C*KH*KW) += the correlation of dy with x, and dbias (C)
// += the per-channel sum of dy. Any of dx, dw, dbias may be nil to skip it;
// all are accumulated into, not overwritten. It returns an error naming the
// operand when a length or the geometry is inconsistent.
func DepthwiseConv2DBackward(x []float32, s ConvShape, w, dy, dx, dw, dbias []float32) error {
	hw, plane, kk := s.OH*s.OW, s.H*s.W, s.KH*s.KW
	if err := checkDepthwise("DepthwiseConv2DBackward", s,
		dwOperand{"x", x, s.C * plane, dw == nil}, dwOperand{"w", w, s.C * kk, dx == nil},
		dwOperand{"dy", dy, s.C * hw, false}, dwOperand{"dx", dx, s.C * plane, true},
		dwOperand{"dw", dw, s.C * kk, true}, dwOperand{"dbias", dbias, s.C, true}); err != nil {
		return err
	}
	for c := range s.C {
		dyc := dy[c*hw : (c+1)*hw]
		if dbias != nil {
			var sum float32
			for _, v := range dyc {
				sum += v
			}
			dbias[c] += sum
		}
		if dx == nil && dw == nil {
			continue
		}
		var xc, dxc []float32
		if dw != nil {
			xc = x[c*plane : (c+1)*plane]
		}
		if dx != nil {
			dxc = dx[c*plane : (c+1)*plane]
		}
		for i := range s.KH {
			for j := range s.KW {
				widx := (c*s.KH+i)*s.KW + j
				var wv float32
				if dx != nil {
					wv = w[widx]
				}
				off := j*s.DW - s.PadL
				lo, hi := validCols(off, s.SW, s.W, s.OW)
				if lo == hi {
					continue
				}
				var gw float32
				for oy := range s.OH {
					iy := oy*s.SH - s.PadT + i*s.DH
					if iy < 0 || iy >= s.H {
						continue
					}
					g := dyc[oy*s.OW+lo : oy*s.OW+hi]
					p0 := iy*s.W + lo*s.SW + off
					if s.SW == 1 {
						if dw != nil {
							xs := xc[p0 : p0+len(g)]
							for t, v := range g {
								gw += v * xs[t]
							}
						}
						if dx != nil {
							axpy(wv, g, dxc[p0:p0+len(g)])
						}
						continue
					}
					if dw != nil {
						p := p0
						for _, v := range g {
							gw += v * xc[p]
							p += s.SW
						}
					}
					if dx != nil {
						p := p0
						for _, v := range g {
							dxc[p] += wv * v
							p += s.SW
						}
					}
				}
				if dw != nil {
					dw[widx] += gw
				}
			}
		}
	}
	return nil
}
