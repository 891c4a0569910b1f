package detect

import (
	"fmt"
	"math"
)

// DistillLoss is knowledge distillation between two detectors with the
// same head layout (a pruned student and its unpruned teacher): it pulls
// every cell of the student's raw maps toward the teacher's, so the
// student learns from the teacher's dense, soft predictions as well as
// from the few positive cells of the ground truth (YOLOXLoss). Per cell,
// with q = sigmoid(teacher's objectness logit):
//
//   - obj: binary cross-entropy of the student's objectness logit against
//     q, less q's own entropy (0 when the logits agree);
//   - cls: the same for each class logit against the teacher's class
//     probability, weighted by q (cells the teacher sees an object in);
//   - box: half the squared difference of the four box values (tx, ty,
//     tw, th, as DecodeYOLOX reads them), weighted by q.
//
// The sum over cells is multiplied by norm (YOLOXLoss's 1/P, so both
// terms have the same scale). It returns the loss and its gradient with
// respect to every student value (the maps' layout).
// Errors: a different number of maps, or maps whose N, K, H or W differ.
func DistillLoss(student, teacher []HeadMap, norm float64) (float64, [][]float32, error) {
	if len(student) != len(teacher) || len(student) == 0 {
		return 0, nil, fmt.Errorf("detect: distillation of %d student maps against %d teacher maps", len(student), len(teacher))
	}
	total := 0.0
	grads := make([][]float32, len(student))
	for m, s := range student {
		t := teacher[m]
		if s.N != t.N || s.K != t.K || s.H != t.H || s.W != t.W || len(s.Data) != len(t.Data) ||
			len(s.Data) != s.N*(5+s.K)*s.H*s.W {
			return 0, nil, fmt.Errorf("detect: distillation map %d: student N=%d K=%d %dx%d, teacher N=%d K=%d %dx%d",
				m, s.N, s.K, s.H, s.W, t.N, t.K, t.H, t.W)
		}
		grads[m] = make([]float32, len(s.Data))
		total += distillMap(s, t, norm, grads[m])
	}
	return total, grads, nil
}

// distillMap adds one map's DistillLoss terms to grad and returns them.
func distillMap(s, t HeadMap, norm float64, grad []float32) float64 {
	plane := s.H * s.W
	c := 5 + s.K
	loss := 0.0
	for n := range s.N {
		off := n * c * plane
		for cell := range plane {
			at := func(d []float32, ch int) float64 { return float64(d[off+ch*plane+cell]) }
			add := func(ch int, g float64) { grad[off+ch*plane+cell] = float32(g * norm) }
			q := sigmoid(at(t.Data, 4))
			l, g := softBCE(at(s.Data, 4), q)
			loss += l
			add(4, g)
			for k := range s.K {
				l, g := softBCE(at(s.Data, 5+k), sigmoid(at(t.Data, 5+k)))
				loss += q * l
				add(5+k, q*g)
			}
			for ch := range 4 {
				d := at(s.Data, ch) - at(t.Data, ch)
				loss += q * d * d / 2
				add(ch, q*d)
			}
		}
	}
	return loss * norm
}

// softBCE is the binary cross-entropy of logit x against a soft target y
// in [0, 1], less y's entropy (so 0 at sigmoid(x) = y), and its derivative
// sigmoid(x) - y.
func softBCE(x, y float64) (loss, grad float64) {
	l, g := bceLogit(x, y)
	h := 0.0
	if y > 0 && y < 1 {
		h = -y*math.Log(y) - (1-y)*math.Log1p(-y)
	}
	return l - h, g
}
