package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPool2x2 checks MaxPool2x2 against a naive running maximum in tap
// order, bit for bit, with ties of +0 and -0 and NaNs among the taps, odd
// plane sizes and rows with and without a vector part.
func TestMaxPool2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	nan := float32(math.NaN())
	special := []float32{0, float32(math.Copysign(0, -1)), nan, 1, -1}
	for _, sz := range [][2]int{{2, 2}, {3, 5}, {4, 32}, {6, 33}, {9, 70}, {4, 52}, {5, 29}, {224, 224}} {
		h, w := sz[0], sz[1]
		x := make([]float32, h*w)
		for i := range x {
			if r.IntN(4) == 0 {
				x[i] = special[r.IntN(len(special))]
			} else {
				x[i] = float32(r.IntN(7) - 3)
			}
		}
		y := make([]float32, (h/2)*(w/2))
		MaxPool2x2(x, h, w, y)
		for oy := range h / 2 {
			for ox := range w / 2 {
				acc := x[2*oy*w+2*ox]
				for _, tv := range []float32{x[2*oy*w+2*ox+1], x[(2*oy+1)*w+2*ox], x[(2*oy+1)*w+2*ox+1]} {
					if !(acc > tv) {
						acc = tv
					}
				}
				got := y[oy*(w/2)+ox]
				if math.Float32bits(got) != math.Float32bits(acc) && !(got != got && acc != acc) {
					t.Fatalf("%dx%d: y[%d][%d] = %v, want %v", h, w, oy, ox, got, acc)
				}
			}
		}
	}
}

func BenchmarkMaxPool2x2(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := randSlice(r, 224*224), make([]float32, 112*112)
	for b.Loop() {
		MaxPool2x2(x, 224, 224, y)
	}
}
