package detect

import (
	"cmp"
	"slices"
)

// Detection is one predicted box with its class index and confidence.
type Detection struct {
	Box
	Class int
	Score float64
}

// NMS performs class-agnostic non-maximum suppression as
// torchvision.ops.nms does: boxes are visited by decreasing score, and a
// box is dropped when its IoU with an already kept box is greater than
// iouThreshold (strictly). It returns the indices of the kept boxes, by
// decreasing score; equal scores keep their input order. boxes and scores
// must have the same length (a programmer error otherwise: it panics).
func NMS(boxes []Box, scores []float64, iouThreshold float64) []int {
	if len(boxes) != len(scores) {
		panic("detect.NMS: boxes and scores differ in length")
	}
	order := make([]int, len(boxes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	removed := make([]bool, len(boxes))
	var keep []int
	for k, i := range order {
		if removed[i] {
			continue
		}
		keep = append(keep, i)
		for _, j := range order[k+1:] {
			if !removed[j] && IoU(boxes[i], boxes[j]) > iouThreshold {
				removed[j] = true
			}
		}
	}
	return keep
}

// BatchedNMS is NMS run separately within each class (boxes of different
// classes never suppress each other), as torchvision.ops.batched_nms.
// It returns the kept indices by decreasing score over all classes.
func BatchedNMS(boxes []Box, scores []float64, classes []int, iouThreshold float64) []int {
	if len(boxes) != len(scores) || len(boxes) != len(classes) {
		panic("detect.BatchedNMS: boxes, scores and classes differ in length")
	}
	byClass := map[int][]int{}
	for i, c := range classes {
		byClass[c] = append(byClass[c], i)
	}
	var keep []int
	for _, idx := range byClass {
		b := make([]Box, len(idx))
		s := make([]float64, len(idx))
		for k, i := range idx {
			b[k], s[k] = boxes[i], scores[i]
		}
		for _, k := range NMS(b, s, iouThreshold) {
			keep = append(keep, idx[k])
		}
	}
	slices.SortStableFunc(keep, func(a, b int) int {
		if c := cmp.Compare(scores[b], scores[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keep
}

// NMSOptions are the post-processing settings of a detector's output.
type NMSOptions struct {
	// ScoreThreshold drops detections scoring below it before suppression.
	ScoreThreshold float64
	// IoUThreshold is the overlap above which the lower-scoring box of a
	// pair is suppressed.
	IoUThreshold float64
	// MaxDetections keeps at most this many detections, the best scoring
	// (0: no limit).
	MaxDetections int
	// ClassAgnostic suppresses across classes; by default only boxes of
	// the same class suppress each other.
	ClassAgnostic bool
	// MultiLabel tells the decoding before suppression to keep every class
	// of a cell scoring at least ScoreThreshold (DecodeYOLOXMultiLabel),
	// not only its best; Suppress itself does not read it.
	MultiLabel bool
}

// DefaultNMS is the usual evaluation setting of YOLO detectors
// (ultralytics' validation): decode every class of a cell scoring above
// 0.001 (MultiLabel), suppress above IoU 0.6 within a class, at most 100
// detections per image (COCO's own cap).
var DefaultNMS = NMSOptions{ScoreThreshold: 0.001, IoUThreshold: 0.6, MaxDetections: 100, MultiLabel: true}

// Suppress filters one image's detections by opt: score threshold, then
// (per-class or class-agnostic) NMS, then the cap. The result is a new
// slice ordered by decreasing score; dets is not modified. Detections
// with a NaN score are dropped.
func Suppress(dets []Detection, opt NMSOptions) []Detection {
	var cand []Detection
	for _, d := range dets {
		if d.Score >= opt.ScoreThreshold { // false for NaN
			cand = append(cand, d)
		}
	}
	boxes := make([]Box, len(cand))
	scores := make([]float64, len(cand))
	classes := make([]int, len(cand))
	for i, d := range cand {
		boxes[i], scores[i], classes[i] = d.Box, d.Score, d.Class
		if opt.ClassAgnostic {
			classes[i] = 0
		}
	}
	keep := BatchedNMS(boxes, scores, classes, opt.IoUThreshold)
	if opt.MaxDetections > 0 && len(keep) > opt.MaxDetections {
		keep = keep[:opt.MaxDetections]
	}
	out := make([]Detection, len(keep))
	for i, k := range keep {
		out[i] = cand[k]
	}
	return out
}
