package detect

import (
	"fmt"
	"math"
)

// Letterbox is the geometry of fitting a SrcW x SrcH image into a
// DstW x DstH input without distortion: the image is resized by the
// largest factor that fits (so it may be enlarged), to NewW x NewH pixels
// (the scaled size rounded to the nearest pixel), and placed with PadLeft
// columns and PadTop rows of padding before it; the rest of the input is
// padding too. Where the padding does not split evenly the odd pixel goes
// right and bottom, as ultralytics' LetterBox (round(d-0.1), round(d+0.1)).
//
// Because NewW and NewH are rounded, the exact scale differs slightly per
// axis: ScaleX = NewW/SrcW, ScaleY = NewH/SrcH, which is how the pixels
// are resampled, so Forward and Inverse use them (not one common factor).
type Letterbox struct {
	SrcW, SrcH, DstW, DstH int
	NewW, NewH             int
	PadLeft, PadTop        int
	ScaleX, ScaleY         float64
}

// NewLetterbox returns the letterbox of a srcW x srcH image into a
// dstW x dstH input. Errors: a size that is not positive.
func NewLetterbox(srcW, srcH, dstW, dstH int) (Letterbox, error) {
	if srcW <= 0 || srcH <= 0 || dstW <= 0 || dstH <= 0 {
		return Letterbox{}, fmt.Errorf("letterbox: sizes must be positive (image %d x %d, input %d x %d)", srcW, srcH, dstW, dstH)
	}
	r := min(float64(dstW)/float64(srcW), float64(dstH)/float64(srcH))
	nw := min(max(int(math.Round(float64(srcW)*r)), 1), dstW)
	nh := min(max(int(math.Round(float64(srcH)*r)), 1), dstH)
	return Letterbox{
		SrcW: srcW, SrcH: srcH, DstW: dstW, DstH: dstH, NewW: nw, NewH: nh,
		PadLeft: int(math.Round(float64(dstW-nw)/2 - 0.1)),
		PadTop:  int(math.Round(float64(dstH-nh)/2 - 0.1)),
		ScaleX:  float64(nw) / float64(srcW), ScaleY: float64(nh) / float64(srcH),
	}, nil
}

// Forward maps a box in source-image pixels to input pixels.
func (l Letterbox) Forward(b Box) Box {
	px, py := float64(l.PadLeft), float64(l.PadTop)
	return Box{b.X1*l.ScaleX + px, b.Y1*l.ScaleY + py, b.X2*l.ScaleX + px, b.Y2*l.ScaleY + py}
}

// Inverse maps a box in input pixels (a prediction) back to source-image
// pixels, clipped to the source image: the inverse of Forward for boxes
// inside the image.
func (l Letterbox) Inverse(b Box) Box {
	px, py := float64(l.PadLeft), float64(l.PadTop)
	o := Box{(b.X1 - px) / l.ScaleX, (b.Y1 - py) / l.ScaleY, (b.X2 - px) / l.ScaleX, (b.Y2 - py) / l.ScaleY}
	return o.Clip(float64(l.SrcW), float64(l.SrcH))
}
