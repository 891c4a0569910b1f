package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// GroundTruth is one labelled object. A Crowd box (COCO's iscrowd, or any
// region to ignore) is neither to be found nor a false positive: a
// detection matched to it is ignored, and several detections may match it.
type GroundTruth struct {
	Box
	Class int
	Crowd bool
}

// MAPOptions tunes Evaluate. The zero value is COCO's setting.
type MAPOptions struct {
	// MaxDets keeps at most this many detections per image and class, the
	// best scoring (COCO's maxDets; 0: 100, negative: no limit).
	MaxDets int
	// MinArea and MaxArea restrict the evaluation to objects of that box
	// area (pixels squared) as COCO's areaRng does: a ground-truth box
	// with area < MinArea or > MaxArea is ignored (a detection matched to
	// it is ignored, and it is not counted), and so is an unmatched
	// detection whose own area lies outside the range. MaxArea 0: no
	// upper limit; both 0: all areas (COCO's "all").
	MinArea, MaxArea float64
}

// outside tells whether area a lies outside the options' area range.
func (o MAPOptions) outside(a float64) bool {
	return a < o.MinArea || (o.MaxArea > 0 && a > o.MaxArea)
}

// ClassAP is the average precision of one class.
type ClassAP struct {
	Class int
	// GT counts the class's ground-truth boxes that are not crowd.
	GT int
	// AP50 is the AP at IoU 0.5 and AP50_95 the mean over IoU 0.50, 0.55,
	// ..., 0.95, fractions in [0, 1].
	AP50, AP50_95 float64
}

// MAPResult holds the mean average precisions and the per-class figures.
type MAPResult struct {
	// MAP50 and MAP50_95 are fractions in [0, 1]: the mean over the
	// classes that have non-crowd ground truth (others have no AP and are
	// left out, as COCO leaves them out). NaN when no class has any.
	MAP50, MAP50_95 float64
	// PerClass lists the classes with ground truth, by class index.
	PerClass []ClassAP
}

// IoUThresholds are COCO's ten matching thresholds, 0.50 to 0.95 by 0.05,
// computed as numpy.linspace does (start + i*step) so that values that
// fall exactly on a threshold decide the same way as pycocotools.
var IoUThresholds = func() []float64 {
	t := make([]float64, 10)
	start, stop := 0.5, 0.95 // variables: float64 arithmetic, not exact constants
	step := (stop - start) / 9
	for i := range t {
		t[i] = float64(i)*step + start
	}
	t[9] = stop
	return t
}()

// recallLevels are the 101 recall levels of COCO's interpolation, 0,
// 0.01, ..., 1, computed as numpy.linspace(0, 1, 101) does (i * 0.01, the
// last exactly 1): 3*0.01 is slightly above 0.03, which decides whether 3
// found boxes out of 100 reach the level.
var recallLevels = func() []float64 {
	r := make([]float64, 101)
	step := 1.0 / 100
	for i := range r {
		r[i] = float64(i) * step
	}
	r[100] = 1
	return r
}()

// eps is numpy.spacing(1), the term pycocotools adds to precision's
// denominator.
const precisionEps = 0x1p-52

// Evaluate computes mAP@0.5 and mAP@0.5:0.95 of dets against gts (one
// entry per image in each; classes in [0, numClasses)) as the COCO
// evaluation (pycocotools' COCOeval, bbox, area "all") defines them:
//
//   - per image and class, detections are sorted by score (stable) and
//     the first MaxDets kept; ground truth is visited non-crowd first;
//   - at each IoU threshold t, each detection in turn takes the unmatched
//     non-crowd box of highest IoU >= t (ties: the later box); failing
//     that, a crowd box with IoU >= t, where a crowd box's IoU is the
//     intersection over the detection's own area; a detection matched to
//     a crowd box is ignored, an unmatched one is a false positive;
//   - per class, detections of all images are ranked by score (stable, in
//     image order), precision and recall are accumulated, precision is
//     made non-increasing from the right, and sampled at the 101 recall
//     levels r = 0, 0.01, ..., 1 (the precision at the first rank reaching
//     recall >= r, 0 when r is never reached); AP is their mean;
//   - classes without non-crowd ground truth have no AP and are excluded
//     from the means (their detections cost nothing); a class with ground
//     truth but no detections has AP 0.
//
// Errors: len(gts) != len(dets), a class out of range, a non-finite
// coordinate or score.
func Evaluate(gts [][]GroundTruth, dets [][]Detection, numClasses int, opt MAPOptions) (MAPResult, error) {
	if err := checkEval(gts, dets, numClasses); err != nil {
		return MAPResult{}, err
	}
	maxDets := opt.MaxDets
	if maxDets == 0 {
		maxDets = 100
	}
	res := MAPResult{MAP50: math.NaN(), MAP50_95: math.NaN()}
	var s50, s5095 float64
	for c := range numClasses {
		ap, ngt := classAP(gts, dets, c, maxDets, opt)
		if ngt == 0 {
			continue
		}
		ca := ClassAP{Class: c, GT: ngt, AP50: ap[0]}
		for _, a := range ap {
			ca.AP50_95 += a / float64(len(ap))
		}
		res.PerClass = append(res.PerClass, ca)
		s50 += ca.AP50
		s5095 += ca.AP50_95
	}
	if n := float64(len(res.PerClass)); n > 0 {
		res.MAP50, res.MAP50_95 = s50/n, s5095/n
	}
	return res, nil
}

func checkEval(gts [][]GroundTruth, dets [][]Detection, numClasses int) error {
	if len(gts) != len(dets) {
		return fmt.Errorf("mAP: ground truth for %d images but detections for %d", len(gts), len(dets))
	}
	for i := range gts {
		for j, g := range gts[i] {
			if g.Class < 0 || g.Class >= numClasses {
				return fmt.Errorf("mAP: image %d, ground truth %d: class %d outside [0, %d)", i, j, g.Class, numClasses)
			}
			if !g.Finite() {
				return fmt.Errorf("mAP: image %d, ground truth %d: non-finite box %v", i, j, g.Box)
			}
		}
		for j, d := range dets[i] {
			if d.Class < 0 || d.Class >= numClasses {
				return fmt.Errorf("mAP: image %d, detection %d: class %d outside [0, %d)", i, j, d.Class, numClasses)
			}
			if !d.Finite() || math.IsNaN(d.Score) || math.IsInf(d.Score, 0) {
				return fmt.Errorf("mAP: image %d, detection %d: non-finite box %v or score %g", i, j, d.Box, d.Score)
			}
		}
	}
	return nil
}

// rankedDet is one detection of a class after matching: its score and,
// per IoU threshold, whether it is a true positive or ignored.
type rankedDet struct {
	score   float64
	tp, ign [10]bool
}

// classAP returns class c's AP at each of the IoU thresholds and its
// number of counted ground-truth boxes (not crowd, inside the area range).
func classAP(gts [][]GroundTruth, dets [][]Detection, c, maxDets int, opt MAPOptions) ([]float64, int) {
	var ranked []rankedDet
	ngt := 0
	for i := range gts {
		var g []GroundTruth
		var ign []bool
		for _, pass := range []bool{false, true} { // counted boxes first, ignored ones after
			for _, x := range gts[i] {
				if x.Class == c && (x.Crowd || opt.outside(x.Area())) == pass {
					g, ign = append(g, x), append(ign, pass)
				}
			}
			if !pass {
				ngt += len(g)
			}
		}
		var d []Detection
		for _, x := range dets[i] {
			if x.Class == c {
				d = append(d, x)
			}
		}
		slices.SortStableFunc(d, func(a, b Detection) int { return cmp.Compare(b.Score, a.Score) })
		if maxDets > 0 && len(d) > maxDets {
			d = d[:maxDets]
		}
		ranked = append(ranked, matchImage(g, ign, d, opt)...)
	}
	ap := make([]float64, len(IoUThresholds))
	if ngt == 0 {
		return ap, 0
	}
	slices.SortStableFunc(ranked, func(a, b rankedDet) int { return cmp.Compare(b.score, a.score) })
	for t := range ap {
		ap[t] = interpolatedAP(ranked, t, ngt)
	}
	return ap, ngt
}

// matchImage matches one image's detections d (sorted by score) to its
// ground truth g (counted boxes first, then those ign marks: crowd or
// outside the area range) at every IoU threshold, greedily.
func matchImage(g []GroundTruth, ign []bool, d []Detection, opt MAPOptions) []rankedDet {
	out := make([]rankedDet, len(d))
	iou := make([][]float64, len(d))
	for i, x := range d {
		iou[i] = make([]float64, len(g))
		for j, y := range g {
			if y.Crowd {
				if a := x.Area(); a > 0 {
					iou[i][j] = Intersection(x.Box, y.Box) / a
				}
			} else {
				iou[i][j] = IoU(x.Box, y.Box)
			}
		}
	}
	for t, thr := range IoUThresholds {
		taken := make([]bool, len(g))
		for i := range d {
			out[i].score = d[i].Score
			best, m := min(thr, 1-1e-10), -1
			for j := range g {
				if taken[j] && !g[j].Crowd {
					continue
				}
				if m >= 0 && !ign[m] && ign[j] {
					break
				}
				if iou[i][j] < best {
					continue
				}
				best, m = iou[i][j], j
			}
			switch {
			case m < 0:
				out[i].ign[t] = opt.outside(d[i].Area())
			case ign[m]:
				taken[m] = true
				out[i].ign[t] = true
			default:
				taken[m] = true
				out[i].tp[t] = true
			}
		}
	}
	return out
}

// interpolatedAP is COCO's 101-point AP at threshold index t over the
// ranked detections of one class with ngt > 0 ground-truth boxes.
func interpolatedAP(ranked []rankedDet, t, ngt int) float64 {
	var prec, rec []float64
	tp, fp := 0.0, 0.0
	for _, r := range ranked {
		switch {
		case r.ign[t]:
			continue
		case r.tp[t]:
			tp++
		default:
			fp++
		}
		rec = append(rec, tp/float64(ngt))
		prec = append(prec, tp/(tp+fp+precisionEps))
	}
	for i := len(prec) - 1; i > 0; i-- {
		prec[i-1] = max(prec[i-1], prec[i])
	}
	sum := 0.0
	k := 0
	for _, level := range recallLevels {
		for k < len(rec) && rec[k] < level {
			k++
		}
		if k == len(rec) {
			break
		}
		sum += prec[k]
	}
	return sum / float64(len(recallLevels))
}
