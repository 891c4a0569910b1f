package detect

import (
	"math/rand/v2"
	"testing"
)

func TestLetterboxHand(t *testing.T) {
	for _, tc := range []struct {
		name              string
		sw, sh, dw, dh    int
		nw, nh, left, top int
		in, want          Box
	}{
		// 100x50 into 64x64: factor 0.64, 64x32 image, (64-32)/2 = 16
		// rows above. The box (10,10)-(20,30) becomes (6.4, 16+6.4)-(12.8, 16+19.2).
		{"wide", 100, 50, 64, 64, 64, 32, 0, 16, Box{10, 10, 20, 30}, Box{6.4, 22.4, 12.8, 35.2}},
		// 30x40 into 96x96: enlarged by 2.4 to 72x96, 12 columns left.
		{"tall-up", 30, 40, 96, 96, 72, 96, 12, 0, Box{0, 0, 30, 40}, Box{12, 0, 84, 96}},
		// 28x28 into 64x48: factor 48/28, 48x48, 8 columns left.
		{"square", 28, 28, 64, 48, 48, 48, 8, 0, Box{14, 14, 14, 14}, Box{32, 24, 32, 24}},
		// 7x3 into 8x8: 8x3.43 -> 8x3, 5 rows to pad: round(2.5-0.1) = 2 on top, 3 below.
		{"odd", 7, 3, 8, 8, 8, 3, 0, 2, Box{0, 0, 7, 3}, Box{0, 2, 8, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLetterbox(tc.sw, tc.sh, tc.dw, tc.dh)
			if err != nil {
				t.Fatal(err)
			}
			if l.NewW != tc.nw || l.NewH != tc.nh || l.PadLeft != tc.left || l.PadTop != tc.top {
				t.Fatalf("got %+v", l)
			}
			got := l.Forward(tc.in)
			for k, v := range [4]float64{got.X1 - tc.want.X1, got.Y1 - tc.want.Y1, got.X2 - tc.want.X2, got.Y2 - tc.want.Y2} {
				if !near(v, 0, 1e-9) {
					t.Fatalf("Forward(%v) = %v, want %v (coordinate %d)", tc.in, got, tc.want, k)
				}
			}
		})
	}
	if _, err := NewLetterbox(0, 5, 8, 8); err == nil {
		t.Fatal("zero-width image accepted")
	}
}

// TestLetterboxInverse checks Inverse(Forward(b)) = b for random sizes and
// boxes inside the image, and that Inverse clips boxes reaching into the
// padding.
func TestLetterboxInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 25))
	for range 500 {
		sw, sh := 1+rng.IntN(640), 1+rng.IntN(640)
		dw, dh := 8+rng.IntN(120), 8+rng.IntN(120)
		l, err := NewLetterbox(sw, sh, dw, dh)
		if err != nil {
			t.Fatal(err)
		}
		if l.NewW > dw || l.NewH > dh || l.PadLeft < 0 || l.PadTop < 0 || l.PadLeft+l.NewW > dw || l.PadTop+l.NewH > dh {
			t.Fatalf("%dx%d into %dx%d: %+v leaves the input", sw, sh, dw, dh, l)
		}
		x1, y1 := rng.Float64()*float64(sw), rng.Float64()*float64(sh)
		b := Box{x1, y1, x1 + rng.Float64()*(float64(sw)-x1), y1 + rng.Float64()*(float64(sh)-y1)}
		back := l.Inverse(l.Forward(b))
		for _, d := range [4]float64{back.X1 - b.X1, back.Y1 - b.Y1, back.X2 - b.X2, back.Y2 - b.Y2} {
			if !near(d, 0, 1e-9*float64(max(sw, sh))) {
				t.Fatalf("%dx%d into %dx%d: %v came back as %v", sw, sh, dw, dh, b, back)
			}
		}
	}
	l, _ := NewLetterbox(100, 50, 64, 64)
	if got := l.Inverse(Box{-5, 0, 70, 64}); got != (Box{0, 0, 100, 50}) {
		t.Fatalf("Inverse of a box over the padding = %v", got)
	}
}
