package detect

import (
	"math"
	"testing"
)

func TestDecodeYOLOX(t *testing.T) {
	// One image, 2 classes, a 2x3 map of stride 8 and a 1x1 map of stride 16.
	const k = 2
	m8 := HeadMap{N: 1, K: k, H: 2, W: 3, Stride: 8, Data: make([]float32, (5+k)*6)}
	for cell := range 6 {
		m8.Data[4*6+cell] = -10 // objectness ~0 everywhere ...
	}
	// ... but at cell (1, 2): tx 0.5, ty 0.25, tw ln 2, th 0, obj 2,
	// classes (-1, 3). Centre ((2+0.5)*8, (1+0.25)*8) = (20, 10), size
	// (2*8, 1*8) = 16 x 8: box (12, 6)-(28, 14); class 1; score
	// sigmoid(2)*sigmoid(3) = 0.880797 * 0.952574 = 0.839024.
	cell := 1*3 + 2
	for ch, v := range []float32{0.5, 0.25, float32(math.Ln2), 0, 2, -1, 3} {
		m8.Data[ch*6+cell] = v
	}
	m16 := HeadMap{N: 1, K: k, H: 1, W: 1, Stride: 16, Data: []float32{0, 0, 100, 0, 0, 5, 0}}
	got, err := DecodeYOLOX([]HeadMap{m8, m16}, 0, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d detections: %+v", len(got), got)
	}
	d := got[0]
	want := Box{12, 6, 28, 14}
	if math.Abs(d.X1-want.X1)+math.Abs(d.Y1-want.Y1)+math.Abs(d.X2-want.X2)+math.Abs(d.Y2-want.Y2) > 1e-5 || d.Class != 1 ||
		math.Abs(d.Score-1/(1+math.Exp(-2))/(1+math.Exp(-3))) > 1e-12 {
		t.Errorf("cell (1,2): %+v, want %v class 1 score 0.839024", d, want)
	}
	// The 16-stride cell: tw 100 is capped at 10 (finite box), class 0
	// (logit 5), score sigmoid(0)*sigmoid(5) = 0.5 * 0.993307.
	if e := got[1]; math.IsInf(e.W(), 0) || e.W() != math.Exp(10)*16 || e.Class != 0 || math.Abs(e.Score-0.5/(1+math.Exp(-5))) > 1e-12 {
		t.Errorf("stride-16 cell: %+v", e)
	}
	if _, err := DecodeYOLOX([]HeadMap{{N: 1, K: 2, H: 2, W: 2, Stride: 8, Data: make([]float32, 5)}}, 0, 0); err == nil {
		t.Error("short map accepted")
	}
	if _, err := DecodeYOLOX([]HeadMap{m16}, 1, 0); err == nil {
		t.Error("image outside the batch accepted")
	}
}

// TestDecodeYOLOXMultiLabel: one cell with objectness logit 2 and class
// logits (1, 0.5, -8): single-label decoding gives class 0 only;
// multi-label gives class 0 (sigmoid(2) sigmoid(1) = 0.6439) and class 1
// (sigmoid(2) sigmoid(0.5) = 0.5491), the same box, and drops class 2
// (sigmoid(2) sigmoid(-8) = 2.95e-4) below 0.001.
func TestDecodeYOLOXMultiLabel(t *testing.T) {
	m := HeadMap{N: 1, K: 3, H: 1, W: 1, Stride: 8, Data: []float32{0.5, 0.5, 0, 0, 2, 1, 0.5, -8}}
	one, err := DecodeYOLOX([]HeadMap{m}, 0, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	multi, err := DecodeYOLOXMultiLabel([]HeadMap{m}, 0, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	so := 1 / (1 + math.Exp(-2))
	if len(one) != 1 || one[0].Class != 0 {
		t.Fatalf("single-label: %+v", one)
	}
	if len(multi) != 2 || multi[0] != one[0] || multi[1].Class != 1 || multi[1].Box != one[0].Box ||
		math.Abs(multi[1].Score-so/(1+math.Exp(-0.5))) > 1e-12 {
		t.Fatalf("multi-label: %+v, want %+v and class 1 at %.6f", multi, one[0], so/(1+math.Exp(-0.5)))
	}
	if _, err := DecodeYOLOXMultiLabel([]HeadMap{m}, 1, 0); err == nil {
		t.Error("image outside the batch accepted")
	}
}
