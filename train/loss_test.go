package train

import (
	"math"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// naiveCE is -sum_k q_k log(exp(z_k)/sum_j exp(z_j)) averaged over rows,
// written directly from the definition (no shift) for moderate logits.
func naiveCE(z []float64, n, k int, labels []int32, eps float64) float64 {
	tot := 0.0
	for i := range n {
		s := 0.0
		for j := range k {
			s += math.Exp(z[i*k+j])
		}
		for j := range k {
			q := eps / float64(k)
			if j == int(labels[i]) {
				q += 1 - eps
			}
			tot -= q * math.Log(math.Exp(z[i*k+j])/s)
		}
	}
	return tot / float64(n)
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, k   int
		scale  float64
		smooth float64
	}{
		{"2x3", 2, 3, 1, 0},
		{"5x10", 5, 10, 3, 0},
		{"1x2", 1, 2, 0.5, 0},
		{"4x7 smoothed", 4, 7, 2, 0.1},
		{"3x4 heavy smoothing", 3, 4, 1, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := tensor.NewRNG(uint64(tc.n*100 + tc.k))
			z := randTensor(rng, tc.scale, tc.n, tc.k)
			labels := make([]int32, tc.n)
			for i := range labels {
				labels[i] = int32(rng.IntN(tc.k))
			}
			grad := tensor.New(tc.n, tc.k)
			grad.Fill(123) // must be overwritten
			loss, _, err := SoftmaxCrossEntropySmoothed(z, labels, tc.smooth, grad)
			if err != nil {
				t.Fatal(err)
			}
			z64 := make([]float64, z.Len())
			for i, v := range z.Data {
				z64[i] = float64(v)
			}
			if want := naiveCE(z64, tc.n, tc.k, labels, tc.smooth); math.Abs(loss-want) > 1e-9*math.Max(1, want) {
				t.Errorf("loss %.12g, naive %.12g", loss, want)
			}
			checkCentral(t, z64, grad.Data, func() float64 { return naiveCE(z64, tc.n, tc.k, labels, tc.smooth) })
		})
	}
}

// checkCentral compares grad with central differences of loss, a float64
// function of z (perturbed in place and restored), element by element.
func checkCentral(t *testing.T, z []float64, grad []float32, loss func() float64) {
	t.Helper()
	const h = 1e-5
	for i := range z {
		old := z[i]
		z[i] = old + h
		lp := loss()
		z[i] = old - h
		lm := loss()
		z[i] = old
		num := (lp - lm) / (2 * h)
		if d := math.Abs(float64(grad[i]) - num); d > 1e-6 {
			t.Errorf("grad[%d] = %.9g, central difference %.9g", i, grad[i], num)
		}
	}
}

func TestSoftmaxCrossEntropyStable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logits []float32
		label  int32
		want   float64 // exact: lse - z_label
		ok     bool    // argmax equals label
	}{
		{"right and confident", []float32{1e4, 0}, 0, 0, true},
		{"wrong and confident", []float32{1e4, 0}, 1, 1e4, false},
		{"huge negative", []float32{-1e4, -1e4 + 2}, 0, 2 + math.Log1p(math.Exp(-2)), false},
		{"both huge equal", []float32{1e4, 1e4}, 1, math.Ln2, false}, // tie: first maximum wins
		{"three way", []float32{-1e4, 1e4, 1e4 - 1}, 2, 1 + math.Log1p(math.Exp(-1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := tensor.From(append([]float32(nil), tc.logits...), 1, len(tc.logits))
			grad := tensor.New(z.Shape...)
			loss, correct, err := SoftmaxCrossEntropy(z, []int32{tc.label}, grad)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(loss-tc.want) > 1e-9*math.Max(1, tc.want) {
				t.Errorf("loss %.12g, want %.12g", loss, tc.want)
			}
			if (correct == 1) != tc.ok {
				t.Errorf("correct %d, want argmax==label %v", correct, tc.ok)
			}
			if grad.HasNaN() {
				t.Errorf("gradient not finite: %v", grad)
			}
			sum := 0.0
			for _, v := range grad.Data {
				sum += float64(v)
			}
			if math.Abs(sum) > 1e-6 {
				t.Errorf("gradient row sums to %g, want 0", sum)
			}
		})
	}
}

func TestSoftmaxCrossEntropyCountsCorrect(t *testing.T) {
	z := tensor.From([]float32{2, 1, 0, 0, 5, 1, 3, 3.5, 3.4, -1, -2, -0.5}, 4, 3)
	_, c, err := SoftmaxCrossEntropy(z, []int32{0, 1, 2, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != 3 { // rows 0, 1 and 3 are right; row 2 predicts 1
		t.Errorf("correct = %d, want 3", c)
	}
}

func TestSoftmaxCrossEntropyErrors(t *testing.T) {
	z := tensor.New(2, 3)
	for _, tc := range []struct {
		name   string
		logits *tensor.Tensor
		labels []int32
		grad   *tensor.Tensor
		smooth float64
		want   string
	}{
		{"label too large", z, []int32{0, 3}, nil, 0, "label 3 of example 1"},
		{"negative label", z, []int32{-1, 0}, nil, 0, "label -1 of example 0"},
		{"label count", z, []int32{0}, nil, 0, "1 labels"},
		{"not 2-D", tensor.New(2, 3, 1), []int32{0, 0}, nil, 0, "2-D"},
		{"nil logits", nil, nil, nil, 0, "2-D"},
		{"grad shape", z, []int32{0, 0}, tensor.New(3, 2), 0, "gradient has shape"},
		{"smoothing", z, []int32{0, 0}, nil, 1, "smoothing"},
		{"empty", tensor.New(0, 3), nil, nil, 0, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := SoftmaxCrossEntropySmoothed(tc.logits, tc.labels, tc.smooth, tc.grad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
