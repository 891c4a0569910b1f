package tensor

import (
	"math"
	"testing"
)

func TestReshapeSharesAndInfers(t *testing.T) {
	x := New(2, 3, 4)
	y := x.Reshape(6, -1)
	if y.Shape[0] != 6 || y.Shape[1] != 4 {
		t.Fatalf("inferred shape %v, want [6 4]", y.Shape)
	}
	y.Data[5] = 7
	if x.Data[5] != 7 {
		t.Fatal("Reshape copied the data")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("reshape to a wrong size did not panic")
		}
	}()
	x.Reshape(5, 5)
}

func TestCloneIsDeep(t *testing.T) {
	x := From([]float32{1, 2, 3}, 3)
	c := x.Clone()
	c.Data[0], c.Shape[0] = 9, 1
	if x.Data[0] != 1 || x.Shape[0] != 3 {
		t.Fatal("Clone shares memory")
	}
}

func TestNaNAndDiff(t *testing.T) {
	a := From([]float32{1, 2, 3}, 3)
	b := From([]float32{1, 2.5, 3}, 3)
	if d := MaxAbsDiff(a, b); d != 0.5 {
		t.Fatalf("MaxAbsDiff %g, want 0.5", d)
	}
	if a.HasNaN() {
		t.Fatal("finite tensor reported NaN")
	}
	b.Data[1] = float32(math.Inf(1))
	if !b.HasNaN() {
		t.Fatal("Inf not reported")
	}
	if !SameShape([]int{2, 3}, []int{2, 3}) || SameShape([]int{2, 3}, []int{3, 2}) {
		t.Fatal("SameShape")
	}
}

// TestInitStatistics: He initialisations have the documented spread and are
// reproducible from the seed.
func TestInitStatistics(t *testing.T) {
	x := New(200, 100)
	x.KaimingNormal(NewRNG(1), 100, math.Sqrt2)
	var s, ss float64
	for _, v := range x.Data {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	n := float64(x.Len())
	std := math.Sqrt(ss/n - (s/n)*(s/n))
	if want := math.Sqrt(2.0 / 100); math.Abs(std-want) > 0.02*want {
		t.Fatalf("Kaiming normal std %g, want %g", std, want)
	}
	u := New(1000)
	u.KaimingUniform(NewRNG(1), 10, 1)
	bound := float32(math.Sqrt(3.0 / 10))
	for _, v := range u.Data {
		if v < -bound || v >= bound {
			t.Fatalf("Kaiming uniform value %g outside ±%g", v, bound)
		}
	}
	y := New(200, 100)
	y.KaimingNormal(NewRNG(1), 100, math.Sqrt2)
	if MaxAbsDiff(x, y) != 0 {
		t.Fatal("same seed, different values")
	}
}
