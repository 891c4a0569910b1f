package detect

import "math"

// Box is an axis-aligned box in corner form: left X1, top Y1, right X2,
// bottom Y2 (y grows downwards, as in images). The box covers
// [X1, X2] x [Y1, Y2]; its width is X2-X1 (no "+1" pixel convention, as
// torchvision and pycocotools).
type Box struct{ X1, Y1, X2, Y2 float64 }

// FromCXCYWH returns the box with centre (cx, cy), width w and height h.
func FromCXCYWH(cx, cy, w, h float64) Box {
	return Box{cx - w/2, cy - h/2, cx + w/2, cy + h/2}
}

// CXCYWH returns b's centre, width and height.
func (b Box) CXCYWH() (cx, cy, w, h float64) {
	return (b.X1 + b.X2) / 2, (b.Y1 + b.Y2) / 2, b.X2 - b.X1, b.Y2 - b.Y1
}

// FromXYWH returns the box with top-left corner (x, y), width w and height
// h (COCO's annotation form).
func FromXYWH(x, y, w, h float64) Box { return Box{x, y, x + w, y + h} }

// W returns the width, 0 for a degenerate box.
func (b Box) W() float64 { return max(b.X2-b.X1, 0) }

// H returns the height, 0 for a degenerate box.
func (b Box) H() float64 { return max(b.Y2-b.Y1, 0) }

// Area returns the area, 0 for a degenerate box.
func (b Box) Area() float64 { return b.W() * b.H() }

// Scale returns b with x coordinates multiplied by sx and y by sy (for
// example to turn normalised coordinates into pixels).
func (b Box) Scale(sx, sy float64) Box { return Box{b.X1 * sx, b.Y1 * sy, b.X2 * sx, b.Y2 * sy} }

// Clip returns b limited to [0, w] x [0, h].
func (b Box) Clip(w, h float64) Box {
	return Box{min(max(b.X1, 0), w), min(max(b.Y1, 0), h), min(max(b.X2, 0), w), min(max(b.Y2, 0), h)}
}

// Finite reports whether every coordinate is a finite number.
func (b Box) Finite() bool {
	for _, v := range [4]float64{b.X1, b.Y1, b.X2, b.Y2} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Intersection returns the area of a ∩ b (0 when they do not overlap).
func Intersection(a, b Box) float64 {
	w := min(a.X2, b.X2) - max(a.X1, b.X1)
	h := min(a.Y2, b.Y2) - max(a.Y1, b.Y1)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// IoU returns |a ∩ b| / |a ∪ b|, in [0, 1]; 0 when the union is empty.
func IoU(a, b Box) float64 {
	in := Intersection(a, b)
	u := a.Area() + b.Area() - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// enclosing returns the smallest box holding a and b.
func enclosing(a, b Box) Box {
	return Box{min(a.X1, b.X1), min(a.Y1, b.Y1), max(a.X2, b.X2), max(a.Y2, b.Y2)}
}

// GIoU returns the generalised IoU, IoU - |C \ (a ∪ b)| / |C| with C the
// smallest box enclosing both (Rezatofighi et al. 2019), in [-1, 1]; it
// still ranks boxes that do not overlap by how far apart they are. An
// empty enclosing box gives 0.
func GIoU(a, b Box) float64 {
	in := Intersection(a, b)
	u := a.Area() + b.Area() - in
	c := enclosing(a, b).Area()
	if u <= 0 || c <= 0 {
		return 0
	}
	return in/u - (c-u)/c
}

// CIoU returns the complete IoU of a prediction p against a target t
// (Zheng et al. 2020): IoU - ρ²/c² - αv, where ρ is the distance of the
// centres, c the diagonal of the enclosing box,
// v = 4/π² (atan(wt/ht) - atan(wp/hp))² the aspect-ratio mismatch and
// α = v / (1 - IoU + v). The small eps (1e-7, as torchvision) keeps
// degenerate boxes finite. In [-1.5, 1] (1 for identical boxes).
func CIoU(p, t Box) float64 {
	const eps = 1e-7
	iou := IoU(p, t)
	e := enclosing(p, t)
	c2 := (e.X2-e.X1)*(e.X2-e.X1) + (e.Y2-e.Y1)*(e.Y2-e.Y1) + eps
	pcx, pcy, pw, ph := p.CXCYWH()
	tcx, tcy, tw, th := t.CXCYWH()
	rho2 := (pcx-tcx)*(pcx-tcx) + (pcy-tcy)*(pcy-tcy)
	d := math.Atan(tw/(th+eps)) - math.Atan(pw/(ph+eps))
	v := 4 / (math.Pi * math.Pi) * d * d
	alpha := v / (1 - iou + v + eps)
	return iou - rho2/c2 - alpha*v
}
