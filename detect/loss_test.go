package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// lossFixture is a batch of two 32x32 images with 3 classes: maps of
// stride 8 (4x4) and 16 (2x2) with values that are multiples of 2^-8 (so
// a step of 2^-10 is exact in float32), and boxes of several sizes.
func lossFixture(rng *rand.Rand) ([]HeadMap, [][]GroundTruth) {
	const k = 3
	maps := []HeadMap{{N: 2, K: k, H: 4, W: 4, Stride: 8}, {N: 2, K: k, H: 2, W: 2, Stride: 16}}
	for m := range maps {
		maps[m].Data = make([]float32, 2*(5+k)*maps[m].H*maps[m].W)
		for i := range maps[m].Data {
			maps[m].Data[i] = float32(math.Round(rng.NormFloat64()*256)) / 256
		}
	}
	targets := [][]GroundTruth{
		{{Box: Box{X1: 2, Y1: 3, X2: 14, Y2: 20}, Class: 1}, {Box: Box{X1: 10, Y1: 8, X2: 31, Y2: 30}, Class: 2},
			{Box: Box{X1: 0, Y1: 0, X2: 32, Y2: 32}, Class: 0, Crowd: true}},
		{{Box: Box{X1: 20, Y1: 1, X2: 25, Y2: 6}, Class: 0}},
	}
	return maps, targets
}

// TestYOLOXLossGrad compares YOLOXLoss's gradient with central differences
// of its value at every value of both maps. Where a box edge sits within a
// step of the target's (GIoU's min/max kinks) one-sided differences
// disagree; such entries are skipped, and must stay rare.
func TestYOLOXLossGrad(t *testing.T) {
	maps, targets := lossFixture(rand.New(rand.NewPCG(5, 25)))
	total, grads, parts, err := YOLOXLoss(maps, targets, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if parts.Positives == 0 || !near(total, parts.Box+parts.Obj+parts.Cls, 1e-12) || parts.Box <= 0 {
		t.Fatalf("parts %+v total %g", parts, total)
	}
	eval := func() float64 {
		l, _, _, err := YOLOXLoss(maps, targets, LossOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	const h = 1.0 / 1024
	checked, skipped := 0, 0
	for m := range maps {
		for i := range maps[m].Data {
			v := maps[m].Data[i]
			maps[m].Data[i] = v + h
			up := eval()
			maps[m].Data[i] = v - h
			down := eval()
			maps[m].Data[i] = v
			num := (up - down) / (2 * h)
			g := float64(grads[m][i])
			if math.Abs(num-g) <= 1e-4+1e-3*math.Abs(num) {
				checked++
				continue
			}
			if fwd, bwd := (up-total)/h, (total-down)/h; math.Abs(fwd-bwd) > 10*math.Abs(num-g) {
				skipped++
				continue
			}
			t.Fatalf("map %d value %d: gradient %g, central difference %g", m, i, g, num)
		}
	}
	if skipped*20 > checked {
		t.Fatalf("%d of %d values skipped at kinks", skipped, checked+skipped)
	}
	t.Logf("%d values checked, %d skipped at kinks; %d positives", checked, skipped, parts.Positives)
}

// TestYOLOXLossFit treats the maps of one image as free parameters and
// minimises the loss by gradient descent: decoding, NMS and mAP must then
// find exactly the target boxes (mAP@0.5 = 1) and the box term must fall
// near zero. This ties assignment, loss, decoding, NMS and mAP together.
func TestYOLOXLossFit(t *testing.T) {
	maps, targets := lossFixture(rand.New(rand.NewPCG(6, 25)))
	for m := range maps { // keep image 0 only
		maps[m].Data = maps[m].Data[:len(maps[m].Data)/2]
		maps[m].N = 1
	}
	targets = targets[:1]
	first, _, _, err := YOLOXLoss(maps, targets, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Adam (lr 0.05, betas 0.9/0.999): plain gradient descent crawls on the
	// box channels, whose gradients are divided by the positives.
	var parts LossParts
	mom := make([][2][]float64, len(maps))
	for m := range maps {
		mom[m] = [2][]float64{make([]float64, len(maps[m].Data)), make([]float64, len(maps[m].Data))}
	}
	for step := 1; step <= 800; step++ {
		var grads [][]float32
		_, grads, parts, err = YOLOXLoss(maps, targets, LossOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for m := range maps {
			for i, g := range grads[m] {
				mom[m][0][i] = 0.9*mom[m][0][i] + 0.1*float64(g)
				mom[m][1][i] = 0.999*mom[m][1][i] + 0.001*float64(g)*float64(g)
				mh := mom[m][0][i] / (1 - math.Pow(0.9, float64(step)))
				vh := mom[m][1][i] / (1 - math.Pow(0.999, float64(step)))
				maps[m].Data[i] -= float32(0.05 * mh / (math.Sqrt(vh) + 1e-8))
			}
		}
	}
	if parts.Box > 0.05*first || parts.Box > 0.1 {
		t.Errorf("box term %g after fitting (total at start %g)", parts.Box, first)
	}
	dets, err := DecodeYOLOX(maps, 0, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	dets = Suppress(dets, DefaultNMS)
	r, err := Evaluate(targets, [][]Detection{dets}, 3, MAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.MAP50, 1, 1e-12) || r.MAP50_95 < 0.9 {
		t.Errorf("after fitting: mAP@0.5 %g, mAP@0.5:0.95 %g, detections %+v", r.MAP50, r.MAP50_95, dets)
	}
	t.Logf("loss %g -> %+v; mAP@0.5 %g, @0.5:0.95 %g, %d detections", first, parts, r.MAP50, r.MAP50_95, len(dets))
}

func TestYOLOXLossErrors(t *testing.T) {
	maps, targets := lossFixture(rand.New(rand.NewPCG(5, 25)))
	if _, _, _, err := YOLOXLoss(maps, targets[:1], LossOptions{}); err == nil {
		t.Error("one target list for two images accepted")
	}
	bad := [][]GroundTruth{{{Box: Box{X1: 0, Y1: 0, X2: 4, Y2: 4}, Class: 3}}, nil}
	if _, _, _, err := YOLOXLoss(maps, bad, LossOptions{}); err == nil {
		t.Error("class 3 of 3 accepted")
	}
	short := []HeadMap{maps[0], {N: 1, K: 3, H: 2, W: 2, Stride: 16, Data: make([]float32, 32)}}
	if _, _, _, err := YOLOXLoss(short, targets, LossOptions{}); err == nil {
		t.Error("maps of different batch sizes accepted")
	}
}

// TestAssignCells: a 4x4 map of stride 8 (cell centres at 4, 12, 20, 28)
// with a whole-image box B, a box S over the middle and a tiny box T.
// Every centre lies inside B and within 2.5 cells (20 px) of its centre
// (16, 16); the middle four are inside S too, which wins as the smaller;
// T (26,2)-(28,4) holds no cell centre strictly inside, but holds its own
// centre's cell (0, 3). With radius 1 (8 px) only the middle four are
// near enough to (16, 16), and B keeps just the cell holding its centre,
// (2, 2), which S (also centred there) takes as the smaller.
func TestAssignCells(t *testing.T) {
	const S, B, T = 0, 1, 2 // S before B: the later box must not win by order
	targets := [][]GroundTruth{{
		{Box: Box{X1: 8, Y1: 8, X2: 24, Y2: 24}}, {Box: Box{X1: 0, Y1: 0, X2: 32, Y2: 32}}, {Box: Box{X1: 26, Y1: 2, X2: 28, Y2: 4}},
	}}
	hm := HeadMap{N: 1, K: 1, H: 4, W: 4, Stride: 8}
	for _, tc := range []struct {
		radius float64
		want   []int
	}{
		{2.5, []int{
			B, B, B, T,
			B, S, S, B,
			B, S, S, B,
			B, B, B, B}},
		{1, []int{
			-1, -1, -1, T,
			-1, S, S, -1,
			-1, S, S, -1,
			-1, -1, -1, -1}},
	} {
		got := assignCells(hm, targets, tc.radius)
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("radius %g: assignment %v, want %v", tc.radius, got, tc.want)
				break
			}
		}
	}
}

// TestYOLOXLossIoUClassTarget: with IoUClassTarget the gradient differs
// from the one-hot target's only at the true class of positive cells, by
// (1 - IoU(decoded box, target)) / P, the IoU recomputed here from the
// assignment and the cell's raw values; box and objectness terms stay.
func TestYOLOXLossIoUClassTarget(t *testing.T) {
	maps, targets := lossFixture(rand.New(rand.NewPCG(5, 25)))
	_, g1, p1, err := YOLOXLoss(maps, targets, LossOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, g2, p2, err := YOLOXLoss(maps, targets, LossOptions{IoUClassTarget: true})
	if err != nil {
		t.Fatal(err)
	}
	if p1.Box != p2.Box || p1.Obj != p2.Obj || p1.Positives != p2.Positives || p1.Cls == p2.Cls {
		t.Fatalf("parts %+v and %+v", p1, p2)
	}
	norm := 1 / float64(p1.Positives)
	changed := 0
	for m, hm := range maps {
		plane, c := hm.H*hm.W, 5+hm.K
		want := make([]float64, len(hm.Data)) // expected g2 - g1
		for n := range hm.N {
			as := assignCells(hm, targets, 2.5)
			for cell := range plane {
				a := as[n*plane+cell]
				if a < 0 {
					continue
				}
				at := func(ch int) float64 { return float64(hm.Data[n*c*plane+ch*plane+cell]) }
				i, j, s := cell/hm.W, cell%hm.W, hm.Stride
				p := FromCXCYWH((float64(j)+at(0))*s, (float64(i)+at(1))*s, math.Exp(at(2))*s, math.Exp(at(3))*s)
				tg := targets[n][a]
				want[n*c*plane+(5+tg.Class)*plane+cell] = (1 - IoU(p, tg.Box)) * norm
			}
		}
		for i := range want {
			d := float64(g2[m][i]) - float64(g1[m][i])
			if math.Abs(d-want[i]) > 1e-6 {
				t.Fatalf("map %d value %d: gradient moved by %g, want %g", m, i, d, want[i])
			}
			if want[i] > 1e-3 {
				changed++
			}
		}
	}
	if changed < 5 {
		t.Fatalf("only %d class gradients changed", changed)
	}
}
