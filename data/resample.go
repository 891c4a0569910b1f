package data

import "math"

// resampleTaps are the source positions and weights of one output pixel
// along one axis.
type resampleTaps struct {
	first int
	w     []float64
}

// triangleTaps computes PIL's bilinear ("triangle") resampling taps from in
// to out pixels: the filter's support grows with the shrink factor, so a
// reduction averages every source pixel it covers (antialiasing), while an
// enlargement is ordinary half-pixel-centre bilinear interpolation.
// Weights are normalised over the source pixels that exist.
func triangleTaps(in, out int) []resampleTaps {
	scale := float64(in) / float64(out)
	fs := max(scale, 1)
	support := fs // the triangle's support is 1, scaled
	taps := make([]resampleTaps, out)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		w := make([]float64, 0, hi-lo)
		sum := 0.0
		for x := lo; x < hi; x++ {
			v := 1 - math.Abs((float64(x)-center+0.5)/fs)
			if v < 0 {
				v = 0
			}
			w = append(w, v)
			sum += v
		}
		if sum > 0 {
			for i := range w {
				w[i] /= sum
			}
		}
		taps[o] = resampleTaps{lo, w}
	}
	return taps
}

// clampByte rounds v to the nearest byte.
func clampByte(v float64) uint8 {
	return uint8(min(max(math.Floor(v+0.5), 0), 255))
}

// resamplePlane resizes one 8-bit plane (inH x inW) to outH x outW the way
// PIL's Image.resize(BILINEAR) does: a horizontal pass rounded to bytes,
// then a vertical pass.
func resamplePlane(src []uint8, inH, inW, outH, outW int) []uint8 {
	tmp := src
	if inW != outW {
		tx := triangleTaps(inW, outW)
		tmp = make([]uint8, inH*outW)
		for y := range inH {
			row := src[y*inW : (y+1)*inW]
			for x, t := range tx {
				s := 0.0
				for k, w := range t.w {
					s += w * float64(row[t.first+k])
				}
				tmp[y*outW+x] = clampByte(s)
			}
		}
	}
	if inH == outH {
		return tmp
	}
	ty := triangleTaps(inH, outH)
	dst := make([]uint8, outH*outW)
	for y, t := range ty {
		for x := range outW {
			s := 0.0
			for k, w := range t.w {
				s += w * float64(tmp[(t.first+k)*outW+x])
			}
			dst[y*outW+x] = clampByte(s)
		}
	}
	return dst
}

// preprocessImage resizes an image of c planes (c*ih*iw bytes) to h x w by
// rule (ResizeBilinear or ResizeCenterCrop with shorter side s), returning
// c*h*w bytes. ResizeCenterCrop follows torchvision: the shorter side
// becomes s and the longer int(s*long/short); the crop's top-left corner is
// rounded half to even; a crop larger than the image is padded with zeros.
func preprocessImage(pix []uint8, c, ih, iw int, rule string, s, h, w int) []uint8 {
	if rule != ResizeCenterCrop {
		if ih == h && iw == w {
			return pix
		}
		out := make([]uint8, 0, c*h*w)
		for p := range c {
			out = append(out, resamplePlane(pix[p*ih*iw:(p+1)*ih*iw], ih, iw, h, w)...)
		}
		return out
	}
	nh, nw := s, s
	if ih < iw {
		nw = int(float64(s) * float64(iw) / float64(ih))
	} else if iw < ih {
		nh = int(float64(s) * float64(ih) / float64(iw))
	}
	top := int(math.RoundToEven(float64(nh-h) / 2))
	left := int(math.RoundToEven(float64(nw-w) / 2))
	out := make([]uint8, c*h*w)
	for p := range c {
		plane := pix[p*ih*iw : (p+1)*ih*iw]
		if nh != ih || nw != iw {
			plane = resamplePlane(plane, ih, iw, nh, nw)
		}
		for y := range h {
			sy := y + top
			if sy < 0 || sy >= nh {
				continue
			}
			for x := range w {
				if sx := x + left; sx >= 0 && sx < nw {
					out[(p*h+y)*w+x] = plane[sy*nw+sx]
				}
			}
		}
	}
	return out
}
