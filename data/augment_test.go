package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// testImage returns a C x H x W image whose values are all distinct and
// positive, so any shift or mirror is recognisable.
func testImage(c, h, w int) []float32 {
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = float32(i + 1)
	}
	return img
}

// shifted returns img shifted so that out(y, x) = img(y+dy, x+dx), with
// fill[ch] outside; a naive reference for the random crop.
func shifted(img []float32, c, h, w, dy, dx int, fill []float32) []float32 {
	out := make([]float32, len(img))
	for ch := range c {
		for y := range h {
			for x := range w {
				v := fill[ch]
				if sy, sx := y+dy, x+dx; sy >= 0 && sy < h && sx >= 0 && sx < w {
					v = img[(ch*h+sy)*w+sx]
				}
				out[(ch*h+y)*w+x] = v
			}
		}
	}
	return out
}

func TestAugmentCropShiftsContent(t *testing.T) {
	const c, h, w, pad = 2, 5, 6, 2
	fill := []float32{-1, -2}
	a := &Augment{CropPad: pad, FillC: fill}
	orig := testImage(c, h, w)
	seen := map[[2]int]bool{}
	for seed := range uint64(60) {
		img := slices.Clone(orig)
		a.Apply(img, c, h, w, rand.New(rand.NewPCG(seed, 7)))
		// The result must be exactly one shift within the padding.
		var match [][2]int
		for dy := -pad; dy <= pad; dy++ {
			for dx := -pad; dx <= pad; dx++ {
				if slices.Equal(img, shifted(orig, c, h, w, dy, dx, fill)) {
					match = append(match, [2]int{dy, dx})
				}
			}
		}
		if len(match) != 1 {
			t.Fatalf("seed %d: output matches %d shifts: %v", seed, len(match), match)
		}
		seen[match[0]] = true
		// Same seed, same result.
		again := slices.Clone(orig)
		a.Apply(again, c, h, w, rand.New(rand.NewPCG(seed, 7)))
		if !slices.Equal(img, again) {
			t.Fatalf("seed %d: not reproducible", seed)
		}
	}
	// 60 draws from 25 equally likely shifts: almost surely more than 10 distinct.
	if len(seen) < 10 {
		t.Fatalf("only %d distinct shifts in 60 seeds: %v", len(seen), seen)
	}
}

func TestAugmentFlip(t *testing.T) {
	const c, h, w = 3, 2, 5
	orig := testImage(c, h, w)
	mirror := slices.Clone(orig)
	FlipImageH(mirror, c, h, w)
	for ch := range c {
		for y := range h {
			for x := range w {
				if mirror[(ch*h+y)*w+x] != orig[(ch*h+y)*w+w-1-x] {
					t.Fatalf("FlipImageH wrong at (%d,%d,%d)", ch, y, x)
				}
			}
		}
	}
	twice := slices.Clone(mirror)
	FlipImageH(twice, c, h, w)
	if !slices.Equal(twice, orig) {
		t.Fatal("flipping twice is not the identity")
	}
	a := &Augment{FlipH: true}
	flips := 0
	for seed := range uint64(40) {
		img := slices.Clone(orig)
		a.Apply(img, c, h, w, rand.New(rand.NewPCG(seed, 1)))
		switch {
		case slices.Equal(img, mirror):
			flips++
		case !slices.Equal(img, orig):
			t.Fatalf("seed %d: output is neither the image nor its mirror", seed)
		}
	}
	if flips == 0 || flips == 40 {
		t.Fatalf("%d flips in 40 seeds; want both outcomes", flips)
	}
}

func TestBatchAugmentReproducible(t *testing.T) {
	r := &Raw{N: 4, C: 1, H: 6, W: 6, Labels: []int32{3, 1, 2, 0}, Pix: make([]uint8, 4*36)}
	for i := range r.Pix {
		r.Pix[i] = uint8(i * 5)
	}
	d, err := r.Normalize([]float32{0.5}, []float32{0.25})
	if err != nil {
		t.Fatal(err)
	}
	aug := &Augment{CropPad: 2, FlipH: true, FillC: d.BlackLevel()}
	if got := d.BlackLevel()[0]; got != -2 {
		t.Fatalf("black level %g, want (0-0.5)/0.25 = -2", got)
	}
	x1, l1 := d.Batch([]int{2, 0, 3}, nil, aug, rand.New(rand.NewPCG(9, 9)))
	x2, l2 := d.Batch([]int{2, 0, 3}, nil, aug, rand.New(rand.NewPCG(9, 9)))
	if !slices.Equal(x1.Data, x2.Data) || !slices.Equal(l1, l2) {
		t.Fatal("same seed gave different batches")
	}
	if want := []int32{2, 3, 0}; !slices.Equal(l1, want) {
		t.Fatalf("labels %v, want %v", l1, want)
	}
	plain, _ := d.Batch([]int{2, 0, 3}, nil, nil, nil)
	if !slices.Equal(plain.Data[:36], d.X[2*36:3*36]) {
		t.Fatal("batch without augmentation is not a copy")
	}
	if slices.Equal(x1.Data, plain.Data) {
		t.Fatal("augmentation changed nothing in three images")
	}
}

func TestAugmentChanges(t *testing.T) {
	for _, c := range []struct {
		a    *Augment
		want bool
	}{{nil, false}, {&Augment{}, false}, {&Augment{Fill: -1}, false}, {&Augment{CropPad: 2}, true}, {&Augment{FlipH: true}, true}} {
		if got := c.a.Changes(); got != c.want {
			t.Errorf("%+v.Changes() = %v, want %v", c.a, got, c.want)
		}
	}
}
