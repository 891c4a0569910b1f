package data

import (
	"math"
	"math/rand/v2"

	"github.com/slimgo/slimgo/detect"
)

// DetJitter is the scale and translation augmentation of detection
// training: each image is scaled about its centre by a factor drawn
// uniformly from [1-Scale, 1+Scale] (with probability 1/2, else kept at
// 1), then shifted by a whole number of pixels drawn uniformly from
// [-Shift, Shift] times its side on each axis, both limited so that every
// box stays inside the image (the generated sample's objects are always
// whole). Uncovered pixels take the mean of the image's border pixels.
// The zero value does nothing.
type DetJitter struct {
	Scale, Shift float64
}

// DefaultDetJitter is the jitter of `train --augment jitter` and of the
// detection demo: scale by 0.75-1.25, shift by up to a quarter of the
// side (docs/detection.md, *Training*).
var DefaultDetJitter = DetJitter{Scale: 0.25, Shift: 0.25}

// Enabled tells whether j changes anything.
func (j DetJitter) Enabled() bool { return j.Scale > 0 || j.Shift > 0 }

// Apply jitters one image (img: C x H x W, row-major per channel) in
// place, using scratch (at least C*H*W values; nil allocates), and
// returns its boxes (input pixels) moved along; boxes is not modified.
// The draws come from rng, so a seeded stream repeats the same jitter.
func (j DetJitter) Apply(img, scratch []float32, c, h, w int, boxes []detect.GroundTruth, rng *rand.Rand) []detect.GroundTruth {
	s := 1.0
	if rng.IntN(2) == 1 {
		s = 1 + j.Scale*(2*rng.Float64()-1)
	}
	cx, cy := float64(w)/2, float64(h)/2
	// The union of the boxes must fit after scaling.
	ux1, uy1, ux2, uy2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, b := range boxes {
		ux1, uy1, ux2, uy2 = min(ux1, b.X1), min(uy1, b.Y1), max(ux2, b.X2), max(uy2, b.Y2)
	}
	if len(boxes) > 0 {
		s = min(s, float64(w)/(ux2-ux1), float64(h)/(uy2-uy1))
	}
	tx := shiftIn(rng, j.Shift*float64(w), (ux1-cx)*s+cx, (ux2-cx)*s+cx, float64(w), len(boxes) > 0)
	ty := shiftIn(rng, j.Shift*float64(h), (uy1-cy)*s+cy, (uy2-cy)*s+cy, float64(h), len(boxes) > 0)
	if s == 1 && tx == 0 && ty == 0 {
		return boxes
	}
	if len(scratch) < c*h*w {
		scratch = make([]float32, c*h*w)
	}
	copy(scratch, img[:c*h*w])
	for ch := range c {
		src := scratch[ch*h*w : (ch+1)*h*w]
		dst := img[ch*h*w : (ch+1)*h*w]
		fill := borderMean(src, h, w)
		for y := range h {
			sy := (float64(y)+0.5-cy-ty)/s + cy - 0.5
			for x := range w {
				sx := (float64(x)+0.5-cx-tx)/s + cx - 0.5
				dst[y*w+x] = bilinearAt(src, h, w, sx, sy, fill)
			}
		}
	}
	out := make([]detect.GroundTruth, len(boxes))
	for i, b := range boxes {
		out[i] = b
		out[i].X1 = min(max((b.X1-cx)*s+cx+tx, 0), float64(w))
		out[i].X2 = min(max((b.X2-cx)*s+cx+tx, 0), float64(w))
		out[i].Y1 = min(max((b.Y1-cy)*s+cy+ty, 0), float64(h))
		out[i].Y2 = min(max((b.Y2-cy)*s+cy+ty, 0), float64(h))
	}
	return out
}

// shiftIn draws a whole shift in [-limit, limit] that keeps [lo, hi]
// inside [0, side] (when boxed; the interval's own bounds win over limit).
func shiftIn(rng *rand.Rand, limit, lo, hi, side float64, boxed bool) float64 {
	a, b := -limit, limit
	if boxed {
		a, b = max(a, -lo), min(b, side-hi)
		if a > b { // the limit cannot hold: the smallest shift that fits
			a = min(max(0, -lo), side-hi)
			b = a
		}
	}
	a, b = math.Ceil(a), math.Floor(b)
	if a >= b {
		return a
	}
	return a + float64(rng.IntN(int(b-a)+1))
}

// borderMean is the mean of the outermost pixels of an h x w plane.
func borderMean(p []float32, h, w int) float32 {
	var sum float64
	n := 0
	for x := range w {
		sum += float64(p[x]) + float64(p[(h-1)*w+x])
		n += 2
	}
	for y := 1; y < h-1; y++ {
		sum += float64(p[y*w]) + float64(p[y*w+w-1])
		n += 2
	}
	return float32(sum / float64(n))
}

// bilinearAt samples plane p (h x w) at pixel coordinates (x, y) (pixel
// centres at integers), fill outside.
func bilinearAt(p []float32, h, w int, x, y float64, fill float32) float32 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := float32(x-x0), float32(y-y0)
	ix, iy := int(x0), int(y0)
	at := func(yy, xx int) float32 {
		if xx < 0 || yy < 0 || xx >= w || yy >= h {
			return fill
		}
		return p[yy*w+xx]
	}
	if fx == 0 && fy == 0 {
		return at(iy, ix)
	}
	top := at(iy, ix)*(1-fx) + at(iy, ix+1)*fx
	bot := at(iy+1, ix)*(1-fx) + at(iy+1, ix+1)*fx
	return top*(1-fy) + bot*fy
}
