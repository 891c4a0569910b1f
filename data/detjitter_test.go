package data

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/slimgo/slimgo/detect"
)

// brightBox returns the tight box of the pixels above 0.5 of an h x w
// plane (pixel (x, y) covers [x, x+1) x [y, y+1)).
func brightBox(p []float32, h, w int) (detect.Box, bool) {
	b := detect.Box{X1: math.Inf(1), Y1: math.Inf(1), X2: math.Inf(-1), Y2: math.Inf(-1)}
	for y := range h {
		for x := range w {
			if p[y*w+x] > 0.5 {
				b.X1, b.Y1 = min(b.X1, float64(x)), min(b.Y1, float64(y))
				b.X2, b.Y2 = max(b.X2, float64(x+1)), max(b.Y2, float64(y+1))
			}
		}
	}
	return b, b.X2 > b.X1
}

// TestDetJitter: an image that is one bright rectangle exactly on its
// box (value 1, background 0), jittered with 200 seeds: the bright
// pixels' tight box follows the returned box within a pixel (half a
// pixel of bilinear edge on each side), the box stays inside the image,
// its size changes by the scale (within the jitter's range), shifts come
// out whole when the scale is 1, and both kept and moved images occur.
// The input boxes are not modified.
func TestDetJitter(t *testing.T) {
	const h, w = 48, 64
	j := DetJitter{Scale: 0.3, Shift: 0.25}
	in := []detect.GroundTruth{{Box: detect.Box{X1: 10, Y1: 12, X2: 30, Y2: 26}, Class: 3}}
	var scaled, shifted int
	for seed := range uint64(200) {
		img := make([]float32, h*w)
		for y := 12; y < 26; y++ {
			for x := 10; x < 30; x++ {
				img[y*w+x] = 1
			}
		}
		out := j.Apply(img, nil, 1, h, w, in, rand.New(rand.NewPCG(seed, 7)))
		if in[0].X1 != 10 || in[0].Y2 != 26 {
			t.Fatal("Apply modified its boxes")
		}
		o := out[0]
		if o.Class != 3 || o.X1 < 0 || o.Y1 < 0 || o.X2 > w || o.Y2 > h {
			t.Fatalf("seed %d: box %+v outside the image or lost its class", seed, o)
		}
		s := o.W() / 20
		if s < 0.7-1e-9 || s > 1.3+1e-9 || math.Abs(o.H()/14-s) > 1e-9 {
			t.Fatalf("seed %d: box %+v is not the box scaled by one factor in [0.7, 1.3]", seed, o)
		}
		bb, ok := brightBox(img, h, w)
		if !ok {
			t.Fatalf("seed %d: the object vanished", seed)
		}
		if math.Abs(bb.X1-o.X1) > 1 || math.Abs(bb.X2-o.X2) > 1 || math.Abs(bb.Y1-o.Y1) > 1 || math.Abs(bb.Y2-o.Y2) > 1 {
			t.Fatalf("seed %d: bright pixels span %+v, box %+v", seed, bb, o.Box)
		}
		if s == 1 {
			if o.X1 != math.Round(o.X1) || o.Y1 != math.Round(o.Y1) || bb != o.Box {
				t.Fatalf("seed %d: unscaled box %+v, bright pixels %+v: not a whole shift", seed, o.Box, bb)
			}
		} else {
			scaled++
		}
		if o.X1 != 10 || o.Y1 != 12 {
			shifted++
		}
	}
	if scaled < 50 || scaled > 150 || shifted < 150 {
		t.Errorf("%d of 200 scaled, %d moved: the draws do not vary", scaled, shifted)
	}
}

// TestDetJitterFits: boxes spanning nearly the whole image cannot move
// or grow out of it; an image without boxes may shift freely; the zero
// value is disabled.
func TestDetJitterFits(t *testing.T) {
	const h, w = 32, 32
	j := DetJitter{Scale: 0.5, Shift: 0.5}
	in := []detect.GroundTruth{{Box: detect.Box{X1: 1, Y1: 2, X2: 10, Y2: 9}}, {Box: detect.Box{X1: 20, Y1: 22, X2: 31, Y2: 30}}}
	for seed := range uint64(100) {
		img := make([]float32, h*w)
		out := j.Apply(img, nil, 1, h, w, in, rand.New(rand.NewPCG(seed, 1)))
		for _, o := range out {
			if o.X1 < 0 || o.Y1 < 0 || o.X2 > w || o.Y2 > h || o.W() <= 0 {
				t.Fatalf("seed %d: box %+v leaves the image", seed, o)
			}
		}
	}
	if (DetJitter{}).Enabled() || !j.Enabled() {
		t.Error("Enabled is wrong")
	}
}
