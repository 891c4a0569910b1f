package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDistillLossGrad compares DistillLoss's gradient with central
// differences of its value at every student value (the loss is smooth:
// nothing is skipped), and checks that a student equal to its teacher
// has zero loss and zero gradient.
func TestDistillLossGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 77))
	student, _ := lossFixture(rng)
	teacher, _ := lossFixture(rng)
	const norm = 0.25
	total, grads, err := DistillLoss(student, teacher, norm)
	if err != nil {
		t.Fatal(err)
	}
	if !(total > 0) {
		t.Fatalf("loss %g between different maps", total)
	}
	eval := func() float64 {
		l, _, err := DistillLoss(student, teacher, norm)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	const h = 1.0 / 1024
	n := 0
	for m := range student {
		for i := range student[m].Data {
			v := student[m].Data[i]
			student[m].Data[i] = v + h
			up := eval()
			student[m].Data[i] = v - h
			down := eval()
			student[m].Data[i] = v
			num, g := (up-down)/(2*h), float64(grads[m][i])
			if math.Abs(num-g) > 1e-4+1e-3*math.Abs(num) {
				t.Fatalf("map %d value %d: gradient %g, central difference %g", m, i, g, num)
			}
			n++
		}
	}
	self, sg, err := DistillLoss(teacher, teacher, norm)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(self) > 1e-9 {
		t.Fatalf("teacher against itself: loss %g", self)
	}
	for m := range sg {
		for i, g := range sg[m] {
			if math.Abs(float64(g)) > 1e-6 {
				t.Fatalf("teacher against itself: gradient %g at map %d value %d", g, m, i)
			}
		}
	}
	t.Logf("%d values checked", n)
}

// TestDistillLossErrors: mismatched maps are errors, not panics.
func TestDistillLossErrors(t *testing.T) {
	maps, _ := lossFixture(rand.New(rand.NewPCG(1, 2)))
	if _, _, err := DistillLoss(maps, maps[:1], 1); err == nil {
		t.Fatal("one teacher map for two student maps: no error")
	}
	other := []HeadMap{maps[1], maps[0]}
	if _, _, err := DistillLoss(maps, other, 1); err == nil {
		t.Fatal("maps of different sizes: no error")
	}
	if _, _, err := DistillLoss(nil, nil, 1); err == nil {
		t.Fatal("no maps: no error")
	}
}
