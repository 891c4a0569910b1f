package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// naiveDistill is SoftmaxDistill's loss written from its definition, with
// plain softmaxes and the KL divergence as a sum of q*log(q/p).
func naiveDistill(z, t []float64, n, k int, labels []int32, w, temp float64) float64 {
	softmax := func(row []float64, temp float64) []float64 {
		out := make([]float64, len(row))
		s := 0.0
		for j, v := range row {
			out[j] = math.Exp(v / temp)
			s += out[j]
		}
		for j := range out {
			out[j] /= s
		}
		return out
	}
	kl := 0.0
	for i := range n {
		p := softmax(z[i*k:(i+1)*k], temp)
		q := softmax(t[i*k:(i+1)*k], temp)
		for j := range k {
			kl += q[j] * math.Log(q[j]/p[j])
		}
	}
	return (1-w)*naiveCE(z, n, k, labels, 0) + w*temp*temp*kl/float64(n)
}

func TestSoftmaxDistillGradient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, k    int
		w, temp float64
	}{
		{"hard only", 3, 5, 0, 4},
		{"soft only", 3, 5, 1, 4},
		{"mixed T=1", 4, 10, 0.5, 1},
		{"mixed T=4", 4, 10, 0.7, 4},
		{"1x2 T=0.5", 1, 2, 0.3, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := tensor.NewRNG(uint64(tc.n*100 + tc.k))
			z := randTensor(rng, 3, tc.n, tc.k)
			te := randTensor(rng, 3, tc.n, tc.k)
			labels := make([]int32, tc.n)
			for i := range labels {
				labels[i] = int32(rng.IntN(tc.k))
			}
			grad := tensor.New(tc.n, tc.k)
			grad.Fill(123)
			loss, _, err := SoftmaxDistill(z, te, labels, tc.w, tc.temp, grad)
			if err != nil {
				t.Fatal(err)
			}
			z64, t64 := make([]float64, z.Len()), make([]float64, te.Len())
			for i := range z.Data {
				z64[i], t64[i] = float64(z.Data[i]), float64(te.Data[i])
			}
			f := func() float64 { return naiveDistill(z64, t64, tc.n, tc.k, labels, tc.w, tc.temp) }
			if want := f(); math.Abs(loss-want) > 1e-9*math.Max(1, want) {
				t.Errorf("loss %.12g, naive %.12g", loss, want)
			}
			checkCentral(t, z64, grad.Data, f)
		})
	}
}

// A student that already matches its teacher has no soft loss: with
// weight 1 the loss and the gradient are zero.
func TestSoftmaxDistillSelf(t *testing.T) {
	z := randTensor(tensor.NewRNG(5), 4, 6, 10)
	grad := tensor.New(6, 10)
	loss, _, err := SoftmaxDistill(z, z, make([]int32, 6), 1, 3, grad)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss) > 1e-12 {
		t.Errorf("loss %g against itself, want 0", loss)
	}
	for i, g := range grad.Data {
		if math.Abs(float64(g)) > 1e-7 {
			t.Fatalf("grad[%d] = %g against itself, want 0", i, g)
		}
	}
}

func TestSoftmaxDistillErrors(t *testing.T) {
	z := tensor.New(2, 3)
	for _, tc := range []struct {
		name    string
		teacher *tensor.Tensor
		w, temp float64
		want    string
	}{
		{"teacher shape", tensor.New(2, 4), 0.5, 4, "teacher's logits have shape [2 4]"},
		{"no teacher", nil, 0.5, 4, "teacher's logits have shape []"},
		{"weight", tensor.New(2, 3), 1.5, 4, "weight 1.5"},
		{"temperature", tensor.New(2, 3), 0.5, 0, "temperature 0"},
		{"NaN weight", tensor.New(2, 3), math.NaN(), 4, "weight NaN"},
	} {
		_, _, err := SoftmaxDistill(z, tc.teacher, []int32{0, 1}, tc.w, tc.temp, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// Distillation carries the teacher's knowledge where the labels carry none:
// a student trained on randomly labelled examples learns the real task from
// a trained teacher's soft targets alone (weight 1), and not without them.
func TestFitDistillsTeacher(t *testing.T) {
	teacher := mlp(8, 2)
	opt := Options{Optimizer: "sgd", LR: 0.1, Momentum: 0.9, Nesterov: true, Schedule: "onecycle", Epochs: 6, Batch: 16, Seed: 3}
	if _, err := Fit(teacher, separable(128, 1), nil, opt); err != nil {
		t.Fatal(err)
	}
	noise := separable(128, 1)
	rng := tensor.NewRNG(9)
	for i := range noise.Labels {
		noise.Labels[i] = int32(rng.IntN(2))
	}
	test := separable(64, 2)
	accOf := func(o Options) float64 {
		res, err := Fit(mlp(8, 4), noise, test, o)
		if err != nil {
			t.Fatal(err)
		}
		return res.FinalAcc
	}
	if plain := accOf(opt); plain > 0.8 {
		t.Errorf("on random labels without a teacher: test accuracy %.3f, want <= 0.8", plain)
	}
	// Without augmentation the teacher's logits are computed once; with it
	// (a mirror swaps this task's classes, and the teacher sees the mirrored
	// images) the teacher runs on every batch.
	for _, aug := range []*data.Augment{nil, {FlipH: true}} {
		kd := opt
		kd.Teacher, kd.DistillW, kd.DistillTemp, kd.Augment = teacher, 1, 2, aug
		if acc := accOf(kd); acc < 0.95 {
			t.Errorf("on random labels, distilled from a trained teacher (augment %+v): test accuracy %.3f, want >= 0.95", aug, acc)
		}
	}

	// Logits handed in are used as computed here: the same ones give the
	// same model, bit for bit, and negated ones teach the opposite classes.
	soft, err := DatasetLogits(teacher, noise, 0)
	if err != nil {
		t.Fatal(err)
	}
	kd := opt
	kd.Teacher, kd.DistillW, kd.DistillTemp = teacher, 1, 2
	fitParams := func(o Options) *graph.Graph {
		m := mlp(8, 4)
		if _, err := Fit(m, noise, nil, o); err != nil {
			t.Fatal(err)
		}
		return m
	}
	given := kd
	given.TeacherLogits = soft
	a, b := fitParams(kd), fitParams(given)
	for name, w := range a.Params {
		if !slices.Equal(w.Data, b.Params[name].Data) {
			t.Errorf("param %s differs between computed and given teacher logits", name)
		}
	}
	neg := soft.Clone()
	for i := range neg.Data {
		neg.Data[i] = -neg.Data[i]
	}
	given.TeacherLogits = neg
	if acc := accOf(given); acc > 0.05 {
		t.Errorf("distilled from negated teacher logits: test accuracy %.3f, want <= 0.05", acc)
	}
	for _, c := range []struct {
		name string
		o    func(*Options)
		want string
	}{
		{"no teacher", func(o *Options) { o.Teacher = nil }, "need a teacher"},
		{"augmented", func(o *Options) { o.Augment = &data.Augment{FlipH: true} }, "without augmentation"},
		{"short", func(o *Options) { o.TeacherLogits = tensor.New(noise.Len()-1, 2) }, "shape [127 2], not [128, K]"},
	} {
		o := kd
		o.TeacherLogits = soft
		c.o(&o)
		if _, err := Fit(mlp(8, 4), noise, nil, o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("teacher logits, %s: err %v, want %q", c.name, err, c.want)
		}
	}

	bad := opt
	three := mlp(8, 5) // a teacher with three classes
	three.Params["fc2.w"], three.Params["fc2.b"] = tensor.New(3, 8), tensor.New(3)
	three.Outputs[0].Shape = []int{-1, 3}
	bad.Teacher = three
	if _, err := Fit(mlp(8, 4), noise, nil, bad); err == nil || !strings.Contains(err.Error(), "teacher's logits have shape [16 3]") {
		t.Errorf("a teacher with three classes: err %v", err)
	}
	bad.Teacher, bad.LabelSmoothing = teacher, 0.1
	if _, err := Fit(mlp(8, 4), noise, nil, bad); err == nil || !strings.Contains(err.Error(), "label smoothing") {
		t.Errorf("distillation with label smoothing: err %v", err)
	}
}

// TestLossValues: the typed losses give what the functions they wrap give;
// a distillation's cached and online teachers hand it the same logits.
func TestLossValues(t *testing.T) {
	set, teacher := separable(12, 5), mlp(4, 9)
	all, err := DatasetLogits(teacher, set, 0)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{7, 2, 9, 0}
	x, labels := set.Batch(idx, nil, nil, nil)
	b := Batch{X: x, Labels: labels, Index: idx}
	logits, err := Predict(mlp(4, 1), x, 0)
	if err != nil {
		t.Fatal(err)
	}
	tl := gatherRows(all, idx, nil)
	wantD, wantC, _ := SoftmaxDistill(logits, tl, labels, 0.5, 4, nil)
	for name, opt := range map[string]Options{
		"cached": {Teacher: teacher, DistillW: 0.5, DistillTemp: 4},
		"online": {Teacher: teacher, DistillW: 0.5, DistillTemp: 4, Augment: &data.Augment{FlipH: true}},
	} {
		l, err := newLoss(opt, set)
		if err != nil {
			t.Fatal(err)
		}
		grad := tensor.New(logits.Shape...)
		got, c, err := l.Loss(logits, b, grad)
		if err != nil || c != wantC || math.Abs(got-wantD) > 1e-6*math.Abs(wantD) {
			t.Errorf("%s teacher: loss %g, %d correct, %v; want %g, %d", name, got, c, err, wantD, wantC)
		}
	}
	wantCE, _, _ := SoftmaxCrossEntropySmoothed(logits, labels, 0.1, nil)
	l, err := newLoss(Options{LabelSmoothing: 0.1}, set)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := l.Loss(logits, b, tensor.New(logits.Shape...)); err != nil || got != wantCE {
		t.Errorf("cross-entropy: %g, %v; want %g", got, err, wantCE)
	}
}
