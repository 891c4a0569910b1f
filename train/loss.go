package train

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/tensor"
)

// SoftmaxCrossEntropy returns the mean over the batch of
// -log softmax(logits[i])[labels[i]] and the number of rows whose argmax
// (first maximum on ties) equals the label.
//
// logits is [N, K]; labels has N entries in [0, K). When grad is non-nil it
// must have the shape of logits and receives d loss / d logits
// ((softmax - onehot) / N), overwriting its contents. The softmax is computed
// in float64 with the log-sum-exp shift, so logits of any finite magnitude
// give a finite loss. It errors on a bad shape or an out-of-range label,
// naming the row; non-finite logits give a non-finite loss, not an error.
func SoftmaxCrossEntropy(logits *tensor.Tensor, labels []int32, grad *tensor.Tensor) (loss float64, correct int, err error) {
	return SoftmaxCrossEntropySmoothed(logits, labels, 0, grad)
}

// SoftmaxCrossEntropySmoothed is SoftmaxCrossEntropy against label-smoothed
// targets q = (1-smoothing)*onehot(label) + smoothing/K, as PyTorch's
// CrossEntropyLoss(label_smoothing=...) does: loss = mean_i -sum_k q_ik log p_ik
// and grad = (p - q) / N. smoothing must be in [0, 1).
func SoftmaxCrossEntropySmoothed(logits *tensor.Tensor, labels []int32, smoothing float64, grad *tensor.Tensor) (loss float64, correct int, err error) {
	if logits == nil || len(logits.Shape) != 2 {
		var s []int
		if logits != nil {
			s = logits.Shape
		}
		return 0, 0, fmt.Errorf("train: cross-entropy needs 2-D logits [N, K], got shape %v", s)
	}
	n, k := logits.Shape[0], logits.Shape[1]
	if n == 0 || k == 0 {
		return 0, 0, fmt.Errorf("train: cross-entropy on empty logits %v", logits.Shape)
	}
	if len(labels) != n {
		return 0, 0, fmt.Errorf("train: cross-entropy has %d labels for logits %v", len(labels), logits.Shape)
	}
	if grad != nil && !tensor.SameShape(grad.Shape, logits.Shape) {
		return 0, 0, fmt.Errorf("train: cross-entropy gradient has shape %v, logits %v", grad.Shape, logits.Shape)
	}
	if !(smoothing >= 0 && smoothing < 1) {
		return 0, 0, fmt.Errorf("train: label smoothing %g outside [0, 1)", smoothing)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= k {
			return 0, 0, fmt.Errorf("train: label %d of example %d is outside [0, %d): the model has %d outputs", l, i, k, k)
		}
	}
	off := smoothing / float64(k)
	on := 1 - smoothing + off
	inv := 1 / float64(n)
	total := 0.0
	for i := range n {
		row := logits.Data[i*k : (i+1)*k]
		m := float64(row[0])
		arg := 0
		for j, v := range row {
			if float64(v) > m {
				m, arg = float64(v), j
			}
		}
		if arg == int(labels[i]) {
			correct++
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		// -sum_k q_k (z_k - lse) = lse - sum_k q_k z_k
		qz := 0.0
		if smoothing != 0 {
			for _, v := range row {
				qz += off * float64(v)
			}
			qz += (on - off) * float64(row[labels[i]])
		} else {
			qz = float64(row[labels[i]])
		}
		total += lse - qz
		if grad != nil {
			g := grad.Data[i*k : (i+1)*k]
			for j, v := range row {
				q := off
				if j == int(labels[i]) {
					q = on
				}
				g[j] = float32((math.Exp(float64(v)-lse) - q) * inv)
			}
		}
	}
	return total * inv, correct, nil
}

// SoftmaxDistill is knowledge distillation (Hinton et al., 2015) against a
// teacher's logits of the same batch:
//
//	loss = (1-weight) * CE(logits, labels)
//	     + weight * T^2 * mean_i KL(softmax(teacher_i/T) || softmax(logits_i/T))
//
// with T = temp. The T^2 factor keeps the soft term's gradient,
// weight*T*(softmax(logits/T) - softmax(teacher/T))/N, on the scale of the
// hard term's as T grows. logits and teacher are [N, K]; correct counts the
// student's argmax hits. grad, when non-nil, has the shape of logits and is
// overwritten. It errors as SoftmaxCrossEntropy does, on a teacher of
// another shape, on weight outside [0, 1] or temp <= 0.
func SoftmaxDistill(logits, teacher *tensor.Tensor, labels []int32, weight, temp float64, grad *tensor.Tensor) (loss float64, correct int, err error) {
	if !(weight >= 0 && weight <= 1) || !(temp > 0) {
		return 0, 0, fmt.Errorf("train: distillation weight %g must be in [0, 1] and temperature %g > 0", weight, temp)
	}
	ce, correct, err := SoftmaxCrossEntropy(logits, labels, grad)
	if err != nil {
		return 0, 0, err
	}
	if teacher == nil || !tensor.SameShape(teacher.Shape, logits.Shape) {
		var s []int
		if teacher != nil {
			s = teacher.Shape
		}
		return 0, 0, fmt.Errorf("train: the teacher's logits have shape %v, the student's %v", s, logits.Shape)
	}
	n, k := logits.Shape[0], logits.Shape[1]
	inv := 1 / float64(n)
	p := make([]float64, k) // the student's softened distribution, row by row
	kl := 0.0
	for i := range n {
		s, t := logits.Data[i*k:(i+1)*k], teacher.Data[i*k:(i+1)*k]
		ls := logSumExp(s, temp)
		lt := logSumExp(t, temp)
		for j := range k {
			logP := float64(s[j])/temp - ls
			logQ := float64(t[j])/temp - lt
			q := math.Exp(logQ)
			kl += q * (logQ - logP)
			p[j] = math.Exp(logP) - q
		}
		if grad != nil {
			g := grad.Data[i*k : (i+1)*k]
			for j := range k {
				g[j] = float32((1-weight)*float64(g[j]) + weight*temp*p[j]*inv)
			}
		}
	}
	return (1-weight)*ce + weight*temp*temp*kl*inv, correct, nil
}

// logSumExp returns log sum_j exp(row_j / temp), shifted by the maximum.
func logSumExp(row []float32, temp float64) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v)/temp)
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v)/temp - m)
	}
	return m + math.Log(s)
}

// Batch is one training step's examples: the images X [N, C, H, W], their
// labels, and their positions in the training set (Index), by which a
// cached teacher looks up its logits.
type Batch struct {
	X      *tensor.Tensor
	Labels []int32
	Index  []int
}

// Loss is the training objective on a model's logits. Loss scores logits
// [N, K] of batch b, overwrites grad (the shape of logits) with
// d loss / d logits and returns the mean loss and the number of rows whose
// argmax is the label. A non-finite loss is returned, not an error; errors
// are bad shapes, labels outside [0, K) and a failing teacher.
type Loss interface {
	Loss(logits *tensor.Tensor, b Batch, grad *tensor.Tensor) (loss float64, correct int, err error)
}

// CrossEntropy is softmax cross-entropy against label-smoothed targets
// (SoftmaxCrossEntropySmoothed; Smoothing 0 is plain cross-entropy).
type CrossEntropy struct{ Smoothing float64 }

// Loss implements Loss.
func (l CrossEntropy) Loss(logits *tensor.Tensor, b Batch, grad *tensor.Tensor) (float64, int, error) {
	return SoftmaxCrossEntropySmoothed(logits, b.Labels, l.Smoothing, grad)
}
