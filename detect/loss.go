package detect

import (
	"fmt"
	"math"
)

// LossOptions tunes YOLOXLoss; zero fields take the defaults in brackets.
type LossOptions struct {
	// BoxWeight multiplies the box term [5, as YOLOX].
	BoxWeight float64
	// Radius is the centre-sampling radius in cells [2.5, as YOLOX]: a
	// cell is a candidate for a box when its centre lies inside the box
	// and within Radius cells of the box's centre on both axes.
	Radius float64
	// IoUClassTarget makes the true class's target of a positive cell the
	// IoU of the cell's decoded box with its target box (as YOLOX; a
	// constant of the step, no gradient through it) instead of 1, so a
	// cell's score sigmoid(obj) sigmoid(class) learns to rank boxes by
	// how well they fit.
	IoUClassTarget bool
}

// LossParts are the terms of one YOLOXLoss evaluation, each already
// divided by the number of positive cells.
type LossParts struct {
	Box, Obj, Cls float64
	// Positives counts the cells assigned to a box, over the batch and
	// the maps.
	Positives int
}

// YOLOXLoss is the training loss of an anchor-free head decoded as
// DecodeYOLOX, for one batch: maps are the raw outputs (all of batch N),
// targets[n] image n's boxes in input pixels (Crowd boxes are skipped).
//
// Assignment (fixed, from the boxes and the grid only; centre sampling as
// FCOS/YOLOX, without YOLOX's prediction-dependent SimOTA): on every map,
// a cell is a candidate for a box when its centre is inside the box and
// within Radius cells of the box centre, and the cell holding the box
// centre always is; a cell claimed by several boxes takes the smallest.
// Each box thus gets positives at every stride.
//
// Terms, divided by the number of positive cells P (at least 1):
//   - box: sum over positives of 1 - GIoU(decoded box, its target), times
//     BoxWeight;
//   - obj: binary cross-entropy of every cell's objectness logit against 1
//     (positive) or 0 (any other cell);
//   - cls: binary cross-entropy of a positive cell's class logits against
//     its target's one-hot class.
//
// It returns box + obj + cls, the gradient of that total with respect to
// every value of every map (same layout as the maps' Data), and the terms.
// Errors: maps of different batch sizes or classes, a malformed map, a
// target class out of range, len(targets) != N.
func YOLOXLoss(maps []HeadMap, targets [][]GroundTruth, opt LossOptions) (float64, [][]float32, LossParts, error) {
	if opt.BoxWeight == 0 {
		opt.BoxWeight = 5
	}
	if opt.Radius == 0 {
		opt.Radius = 2.5
	}
	if err := checkLossInput(maps, targets); err != nil {
		return 0, nil, LossParts{}, err
	}
	assign := make([][]int, len(maps)) // per map: N*H*W target index (into targets[n]) or -1
	var parts LossParts
	for m, hm := range maps {
		assign[m] = assignCells(hm, targets, opt.Radius)
		for _, a := range assign[m] {
			if a >= 0 {
				parts.Positives++
			}
		}
	}
	norm := 1 / float64(max(parts.Positives, 1))
	grads := make([][]float32, len(maps))
	for m, hm := range maps {
		grads[m] = make([]float32, len(hm.Data))
		lossMap(hm, assign[m], targets, opt, norm, grads[m], &parts)
	}
	return parts.Box + parts.Obj + parts.Cls, grads, parts, nil
}

func checkLossInput(maps []HeadMap, targets [][]GroundTruth) error {
	if len(maps) == 0 {
		return fmt.Errorf("detect: loss of no head maps")
	}
	for m, hm := range maps {
		if hm.K < 1 || hm.H < 1 || hm.W < 1 || hm.N != maps[0].N || hm.K != maps[0].K ||
			len(hm.Data) != hm.N*(5+hm.K)*hm.H*hm.W || !(hm.Stride > 0) {
			return fmt.Errorf("detect: head map %d (N=%d, K=%d, %d x %d, stride %g, %d values) does not match its shape or map 0",
				m, hm.N, hm.K, hm.H, hm.W, hm.Stride, len(hm.Data))
		}
	}
	if len(targets) != maps[0].N {
		return fmt.Errorf("detect: targets for %d images, head maps of %d", len(targets), maps[0].N)
	}
	for n, ts := range targets {
		for i, g := range ts {
			if g.Class < 0 || g.Class >= maps[0].K || !g.Finite() || g.W() <= 0 || g.H() <= 0 {
				return fmt.Errorf("detect: image %d, target %d: class %d (of %d) box %v", n, i, g.Class, maps[0].K, g.Box)
			}
		}
	}
	return nil
}

// assignCells returns, for every cell of hm (N*H*W, row-major per image),
// the index of its target in targets[n], or -1.
func assignCells(hm HeadMap, targets [][]GroundTruth, radius float64) []int {
	plane := hm.H * hm.W
	out := make([]int, hm.N*plane)
	for i := range out {
		out[i] = -1
	}
	s := hm.Stride
	for n, ts := range targets {
		for i := range hm.H {
			for j := range hm.W {
				cx, cy := (float64(j)+0.5)*s, (float64(i)+0.5)*s
				best, area := -1, math.Inf(1)
				for k, g := range ts {
					if g.Crowd {
						continue
					}
					gx, gy, _, _ := g.CXCYWH()
					holds := int(math.Floor(gx/s)) == j && int(math.Floor(gy/s)) == i
					inside := cx > g.X1 && cx < g.X2 && cy > g.Y1 && cy < g.Y2 &&
						math.Abs(cx-gx) < radius*s && math.Abs(cy-gy) < radius*s
					if (holds || inside) && g.Area() < area {
						best, area = k, g.Area()
					}
				}
				out[n*plane+i*hm.W+j] = best
			}
		}
	}
	return out
}

// lossMap adds one map's terms (divided by norm's inverse) to parts and
// writes their gradient into grad.
func lossMap(hm HeadMap, assign []int, targets [][]GroundTruth, opt LossOptions, norm float64, grad []float32, parts *LossParts) {
	boxWeight := opt.BoxWeight
	plane := hm.H * hm.W
	c := 5 + hm.K
	s := hm.Stride
	for n := range hm.N {
		img := hm.Data[n*c*plane : (n+1)*c*plane]
		gimg := grad[n*c*plane : (n+1)*c*plane]
		for cell := range plane {
			a := assign[n*plane+cell]
			at := func(ch int) float64 { return float64(img[ch*plane+cell]) }
			set := func(ch int, v float64) { gimg[ch*plane+cell] = float32(v) }
			obj := 0.0
			if a >= 0 {
				obj = 1
			}
			l, g := bceLogit(at(4), obj)
			parts.Obj += l * norm
			set(4, g*norm)
			if a < 0 {
				continue
			}
			t := targets[n][a]
			i, j := cell/hm.W, cell%hm.W
			tw, th := at(2), at(3)
			w, h := math.Exp(min(tw, maxLogSize))*s, math.Exp(min(th, maxLogSize))*s
			p := FromCXCYWH((float64(j)+at(0))*s, (float64(i)+at(1))*s, w, h)
			for k := range hm.K {
				y := 0.0
				if k == t.Class {
					y = 1
					if opt.IoUClassTarget {
						y = IoU(p, t.Box)
					}
				}
				l, g := bceLogit(at(5+k), y)
				parts.Cls += l * norm
				set(5+k, g*norm)
			}
			giou, d := GIoUGrad(p, t.Box)
			parts.Box += boxWeight * (1 - giou) * norm
			f := -boxWeight * norm // d loss / d GIoU
			dcx, dcy := f*(d.X1+d.X2), f*(d.Y1+d.Y2)
			dw, dh := f*(d.X2-d.X1)/2, f*(d.Y2-d.Y1)/2
			set(0, dcx*s)
			set(1, dcy*s)
			if tw < maxLogSize {
				set(2, dw*w)
			}
			if th < maxLogSize {
				set(3, dh*h)
			}
		}
	}
}

// bceLogit returns the binary cross-entropy of logit x against target y,
// softplus(x) - y x (stable for large |x|), and its derivative sigmoid(x) - y.
func bceLogit(x, y float64) (loss, grad float64) {
	return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) - y*x, sigmoid(x) - y
}
