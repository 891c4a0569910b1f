package detect

// GIoUGrad returns GIoU(p, t) (see GIoU) and its gradient with respect to
// p's corners (d.X1 = dGIoU/dp.X1, ...), for the box loss 1 - GIoU. p and
// t must have positive width and height. Where a min or max ties (p's edge
// exactly on t's), the derivative of one side is taken, as autograd does.
func GIoUGrad(p, t Box) (giou float64, d Box) {
	iw := min(p.X2, t.X2) - max(p.X1, t.X1)
	ih := min(p.Y2, t.Y2) - max(p.Y1, t.Y1)
	overlap := iw > 0 && ih > 0
	inter := 0.0
	if overlap {
		inter = iw * ih
	}
	pw, ph := p.X2-p.X1, p.Y2-p.Y1
	ap := pw * ph
	u := ap + t.Area() - inter
	cw := max(p.X2, t.X2) - min(p.X1, t.X1)
	ch := max(p.Y2, t.Y2) - min(p.Y1, t.Y1)
	c := cw * ch
	if u <= 0 || c <= 0 {
		return 0, Box{}
	}
	giou = inter/u - (c-u)/c
	// GIoU = I/U - 1 + U/C with U = Ap + At - I.
	dI := 1/u + inter/(u*u) - 1/c
	dAp := -inter/(u*u) + 1/c
	dC := -u / (c * c)
	// Intersection.
	if overlap {
		if p.X1 > t.X1 {
			d.X1 -= dI * ih
		}
		if p.X2 < t.X2 {
			d.X2 += dI * ih
		}
		if p.Y1 > t.Y1 {
			d.Y1 -= dI * iw
		}
		if p.Y2 < t.Y2 {
			d.Y2 += dI * iw
		}
	}
	// Prediction area.
	d.X1 -= dAp * ph
	d.X2 += dAp * ph
	d.Y1 -= dAp * pw
	d.Y2 += dAp * pw
	// Enclosing box.
	if p.X1 < t.X1 {
		d.X1 -= dC * ch
	}
	if p.X2 > t.X2 {
		d.X2 += dC * ch
	}
	if p.Y1 < t.Y1 {
		d.Y1 -= dC * cw
	}
	if p.Y2 > t.Y2 {
		d.Y2 += dC * cw
	}
	return giou, d
}
