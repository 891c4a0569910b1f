package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sq is the 10x10 box with top-left corner (x, y).
func sq(x, y float64) Box { return Box{x, y, x + 10, y + 10} }

func gt(b Box, c int) GroundTruth           { return GroundTruth{Box: b, Class: c} }
func det(b Box, c int, s float64) Detection { return Detection{Box: b, Class: c, Score: s} }

// TestMAPHand checks Evaluate on cases computed by hand; the arithmetic is
// in each case's comment. "Levels" are COCO's 101 recall levels 0, 0.01,
// ..., 1; AP is the mean over them of the interpolated precision.
func TestMAPHand(t *testing.T) {
	for _, tc := range []struct {
		name         string
		gts          [][]GroundTruth
		dets         [][]Detection
		k            int
		map50, map95 float64
	}{
		{
			// Ranks: TP (0.9), FP (0.8), TP (0.7). Recall 0.5, 0.5, 1;
			// precision 1, 1/2, 2/3, envelope 1, 2/3, 2/3. Levels 0..0.50
			// (51 of them) first reach recall at rank 1: precision 1; levels
			// 0.51..1 (50) at rank 3: 2/3. AP = (51 + 50*2/3)/101 = 0.834983...
			// Perfect boxes: the same at every IoU threshold.
			name: "tp-fp-tp",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0), gt(sq(50, 50), 0)}},
			dets: [][]Detection{{det(sq(0, 0), 0, 0.9), det(sq(25, 25), 0, 0.8), det(sq(50, 50), 0, 0.7)}},
			k:    1, map50: (51 + 50*2.0/3) / 101, map95: (51 + 50*2.0/3) / 101,
		},
		{
			// The box (0,0)-(10,7.2) has IoU 72/100 = 0.72 with its target:
			// a true positive at thresholds 0.50, 0.55, 0.60, 0.65, 0.70 (AP 1)
			// and a false positive at 0.75..0.95 (recall never reached, AP 0).
			// mAP@0.5 = 1, mAP@0.5:0.95 = 5/10.
			name: "localisation",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0)}},
			dets: [][]Detection{{det(Box{0, 0, 10, 7.2}, 0, 0.5)}},
			k:    1, map50: 1, map95: 0.5,
		},
		{
			// Class 0 found perfectly (AP 1); class 1 has ground truth and no
			// detection (AP 0); class 2 has a detection but no ground truth
			// (no AP, left out). mAP = (1 + 0)/2.
			name: "classes",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0)}, {gt(sq(0, 0), 1)}},
			dets: [][]Detection{{det(sq(0, 0), 0, 0.9)}, {det(sq(40, 40), 2, 0.99)}},
			k:    3, map50: 0.5, map95: 0.5,
		},
		{
			// Two detections of one box: the second (0.8) is a false
			// positive, as each ground truth is matched once. Recall 1, 1;
			// precision 1, 1/2: every level is reached at rank 1, AP = 1.
			// The other image's box is never found: recall 1/2 at rank 1,
			// precision 1, so levels 0..0.5 (51) give 1: AP = 51/101.
			name: "duplicate",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0)}, {gt(sq(0, 0), 0)}},
			dets: [][]Detection{{det(sq(0, 0), 0, 0.9), det(sq(0, 0), 0, 0.8)}, nil},
			k:    1, map50: 51.0 / 101, map95: 51.0 / 101,
		},
		{
			// The 0.9 detection lies inside a crowd region (intersection
			// over its own area = 1): ignored, not a false positive. The 0.8
			// one finds the only regular box: AP = 1.
			name: "crowd",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0), {Box: Box{20, 20, 60, 60}, Class: 0, Crowd: true}}},
			dets: [][]Detection{{det(sq(25, 25), 0, 0.9), det(sq(0, 0), 0, 0.8)}},
			k:    1, map50: 1, map95: 1,
		},
		{
			// The same without the crowd flag: the 0.9 detection is a false
			// positive (IoU 100/1600 with the big box) and the big box is
			// never found. Ranks FP, TP: recall 0, 1/2, precision 0, 1/2,
			// envelope 1/2, 1/2; levels 0..0.5 (51) reach recall 1/2 at
			// rank 2 (level 0 at rank 1, precision 1/2 after the envelope):
			// AP = 51 * 0.5 / 101.
			name: "no-crowd",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0), gt(Box{20, 20, 60, 60}, 0)}},
			dets: [][]Detection{{det(sq(25, 25), 0, 0.9), det(sq(0, 0), 0, 0.8)}},
			k:    1, map50: 51 * 0.5 / 101, map95: 51 * 0.5 / 101,
		},
		{
			// Equal IoU: the 0.9 detection (1,0)-(11,10) overlaps A =
			// (0,0)-(10,10) and B = (2,0)-(12,10) by 90/110 = 0.818 each;
			// COCO's loop lets the later box, B, take it. The 0.8 detection
			// equals A: IoU 1. Thresholds 0.50..0.80 (7): TP, TP, AP 1.
			// Thresholds 0.85..0.95 (3): the first is a false positive,
			// the second finds A: recall 0, 1/2, precision 0, 1/2, envelope
			// 1/2: AP = 51 * 0.5 / 101. mAP@0.5:0.95 = (7 + 3*25.5/101)/10.
			// (Had A taken the first, the second would match B at 0.667 only.)
			name: "tie",
			gts:  [][]GroundTruth{{gt(sq(0, 0), 0), gt(sq(2, 0), 0)}},
			dets: [][]Detection{{det(sq(1, 0), 0, 0.9), det(sq(0, 0), 0, 0.8)}},
			k:    1, map50: 1, map95: (7 + 3*25.5/101) / 10,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Evaluate(tc.gts, tc.dets, tc.k, MAPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.MAP50, tc.map50, 1e-12) || !near(r.MAP50_95, tc.map95, 1e-12) {
				t.Fatalf("mAP@0.5 %.15g, mAP@0.5:0.95 %.15g; want %.15g, %.15g (per class %+v)",
					r.MAP50, r.MAP50_95, tc.map50, tc.map95, r.PerClass)
			}
		})
	}
}

// TestMAPAreaRange checks COCO's area ranges by hand on one image: a
// small box S (10x10, area 100) and a big one B (40x40, 1600), four
// detections: a false positive the size of S (0.95), B exactly (0.9), S
// exactly (0.8), a false positive the size of B (0.6).
//
//   - all areas: FP, TP, TP, FP; recall 0, 1/2, 1, 1; precision 0, 1/2,
//     2/3, 1/2, envelope 2/3 up to rank 3: every level reached by rank 3,
//     AP = 2/3.
//   - area <= 400 (S counted, B ignored): the small FP counts (its area is
//     in range), B's detection matches an ignored box (ignored), S's is a
//     TP, the big FP is unmatched and out of range (ignored): FP, TP;
//     precision 1/2 at recall 1: AP = 1/2.
//   - area >= 400 (B counted): the small FP is out of range (ignored), B's
//     detection is a TP, S's matches the ignored S (ignored), the big FP
//     counts: TP, FP: AP = 1.
func TestMAPAreaRange(t *testing.T) {
	gts := [][]GroundTruth{{gt(sq(0, 0), 0), gt(Box{20, 20, 60, 60}, 0)}}
	dets := [][]Detection{{det(sq(80, 80), 0, 0.95), det(Box{20, 20, 60, 60}, 0, 0.9), det(sq(0, 0), 0, 0.8), det(Box{100, 100, 140, 140}, 0, 0.6)}}
	for _, tc := range []struct {
		lo, hi, want float64
		ngt          int
	}{{0, 0, 2.0 / 3, 2}, {0, 400, 0.5, 1}, {400, 0, 1, 1}} {
		r, err := Evaluate(gts, dets, 1, MAPOptions{MinArea: tc.lo, MaxArea: tc.hi})
		if err != nil {
			t.Fatal(err)
		}
		if !near(r.MAP50, tc.want, 1e-12) || !near(r.MAP50_95, tc.want, 1e-12) || r.PerClass[0].GT != tc.ngt {
			t.Errorf("area %g..%g: mAP %.15g / %.15g, %d boxes; want %.15g, %d", tc.lo, tc.hi, r.MAP50, r.MAP50_95, r.PerClass[0].GT, tc.want, tc.ngt)
		}
	}
}

// TestMAPRecallLevels: 100 boxes of which 35 are found exactly, with no
// false positive. Recall climbs to 0.35; COCO's levels are
// numpy.linspace(0, 1, 101), whose 36th value 35*0.01 is
// 0.35000000000000003 > 0.35, so only the levels 0..0.34 are reached:
// AP = 35/101, not 36/101.
func TestMAPRecallLevels(t *testing.T) {
	var g []GroundTruth
	var d []Detection
	for i := range 100 {
		b := sq(float64(i%10)*20, float64(i/10)*20)
		g = append(g, gt(b, 0))
		if i < 35 {
			d = append(d, det(b, 0, 1-float64(i)/100))
		}
	}
	r, err := Evaluate([][]GroundTruth{g}, [][]Detection{d}, 1, MAPOptions{MaxDets: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.MAP50, 35.0/101, 1e-12) {
		t.Fatalf("AP = %.15g (x101 = %.6g), want 35/101", r.MAP50, r.MAP50*101)
	}
}

func TestMAPErrors(t *testing.T) {
	ok := [][]GroundTruth{{gt(sq(0, 0), 0)}}
	for name, tc := range map[string]struct {
		g [][]GroundTruth
		d [][]Detection
	}{
		"images":    {ok, nil},
		"gt class":  {[][]GroundTruth{{gt(sq(0, 0), 2)}}, [][]Detection{nil}},
		"det class": {ok, [][]Detection{{det(sq(0, 0), -1, 0.5)}}},
		"nan score": {ok, [][]Detection{{det(sq(0, 0), 0, math.NaN())}}},
		"inf box":   {ok, [][]Detection{{det(Box{0, 0, math.Inf(1), 1}, 0, 0.5)}}},
	} {
		if _, err := Evaluate(tc.g, tc.d, 2, MAPOptions{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	r, err := Evaluate([][]GroundTruth{nil}, [][]Detection{{det(sq(0, 0), 0, 0.5)}}, 2, MAPOptions{})
	if err != nil || !math.IsNaN(r.MAP50) || len(r.PerClass) != 0 {
		t.Errorf("no ground truth: %+v, %v; want NaN and no classes", r, err)
	}
}

// mapCase is one request to testdata/detect/map_ref.py.
type mapCase struct {
	NumClasses int           `json:"num_classes"`
	MaxDets    int           `json:"max_dets"`
	AreaRng    [2]float64    `json:"area_rng"`
	Images     []mapRefImage `json:"images"`
}

type mapRefImage struct {
	GT [][6]float64 `json:"gt"`
	DT [][6]float64 `json:"dt"`
}

// randomScene draws a detection problem: per image a few objects of k-1
// classes (the last class never has ground truth), detections that are
// jittered copies (some with the wrong class), duplicates and clutter,
// scores rounded to 0.05 so that ties (broken by image and rank order)
// occur, and some crowd regions.
func randomScene(rng *rand.Rand, images, k int) ([][]GroundTruth, [][]Detection) {
	gts := make([][]GroundTruth, images)
	dets := make([][]Detection, images)
	score := func() float64 { return math.Round(rng.Float64()*20) / 20 }
	for i := range images {
		for range rng.IntN(6) {
			b := FromCXCYWH(rng.Float64()*100, rng.Float64()*100, 5+rng.Float64()*30, 5+rng.Float64()*30)
			c := rng.IntN(k - 1)
			g := GroundTruth{Box: b, Class: c, Crowd: rng.IntN(12) == 0}
			gts[i] = append(gts[i], g)
			for range rng.IntN(3) {
				cx, cy, w, h := b.CXCYWH()
				j := FromCXCYWH(cx+rng.NormFloat64()*w*0.15, cy+rng.NormFloat64()*h*0.15,
					w*math.Exp(rng.NormFloat64()*0.2), h*math.Exp(rng.NormFloat64()*0.2))
				dc := c
				if rng.IntN(8) == 0 {
					dc = rng.IntN(k)
				}
				dets[i] = append(dets[i], Detection{Box: j, Class: dc, Score: score()})
			}
		}
		for range rng.IntN(4) {
			b := FromCXCYWH(rng.Float64()*100, rng.Float64()*100, 5+rng.Float64()*30, 5+rng.Float64()*30)
			dets[i] = append(dets[i], Detection{Box: b, Class: rng.IntN(k), Score: score()})
		}
	}
	return gts, dets
}

// TestMAPReference compares Evaluate with the numpy reference written from
// the COCO definition (testdata/detect/map_ref.py) on 12 seeded random
// problems, some with a small per-image cap on detections. Both compute in
// float64 from the same numbers; the sums run in different orders, hence
// 1e-12 and not equality.
func TestMAPReference(t *testing.T) {
	var cases []mapCase
	var want []MAPResult
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 2525))
		k := 2 + rng.IntN(4)
		gts, dets := randomScene(rng, 5+rng.IntN(40), k)
		maxDets := []int{0, 3, -1}[seed%3]
		rng2 := [][2]float64{{0, 0}, {0, 300}, {300, 700}, {700, 0}}[seed%4]
		r, err := Evaluate(gts, dets, k, MAPOptions{MaxDets: maxDets, MinArea: rng2[0], MaxArea: rng2[1]})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
		c := mapCase{NumClasses: k, MaxDets: maxDets, AreaRng: rng2}
		for i := range gts {
			var im mapRefImage
			for _, g := range gts[i] {
				crowd := 0.0
				if g.Crowd {
					crowd = 1
				}
				im.GT = append(im.GT, [6]float64{g.X1, g.Y1, g.X2, g.Y2, float64(g.Class), crowd})
			}
			for _, d := range dets[i] {
				im.DT = append(im.DT, [6]float64{d.X1, d.Y1, d.X2, d.Y2, float64(d.Class), d.Score})
			}
			c.Images = append(c.Images, im)
		}
		cases = append(cases, c)
	}
	var refs []struct {
		MAP50    *float64    `json:"map50"`
		MAP5095  *float64    `json:"map5095"`
		PerClass [][]float64 `json:"per_class"`
	}
	runPython(t, "map_ref.py", "numpy", cases, &refs)
	if len(refs) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(refs), len(cases))
	}
	spread := map[float64]bool{}
	for i, ref := range refs {
		got := want[i]
		if ref.MAP50 == nil || ref.MAP5095 == nil {
			t.Errorf("case %d: reference has no mAP", i)
			continue
		}
		if !near(got.MAP50, *ref.MAP50, 1e-12) || !near(got.MAP50_95, *ref.MAP5095, 1e-12) {
			t.Errorf("case %d: mAP %.15g / %.15g, reference %.15g / %.15g", i, got.MAP50, got.MAP50_95, *ref.MAP50, *ref.MAP5095)
			continue
		}
		if len(ref.PerClass) != len(got.PerClass) {
			t.Errorf("case %d: %d classes with AP, reference %d", i, len(got.PerClass), len(ref.PerClass))
			continue
		}
		for j, pc := range ref.PerClass {
			g := got.PerClass[j]
			if float64(g.Class) != pc[0] || float64(g.GT) != pc[1] || !near(g.AP50, pc[2], 1e-12) || !near(g.AP50_95, pc[3], 1e-12) {
				t.Errorf("case %d: class %+v, reference %v", i, g, pc)
			}
		}
		spread[math.Round(got.MAP50*100)] = true
	}
	if len(spread) < 4 {
		t.Errorf("weak test: mAP@0.5 took only %d distinct values over %d cases", len(spread), len(refs))
	}
}

// TestAgnostic: one object of class 1 found twice, as class 0 (0.9, a
// slightly shifted box, IoU 0.82) and as class 1 (0.6, exact). Per class,
// class 1 has AP 1 and class 0 has no ground truth: mAP 1 at 0.5, but the
// class-1 detection is what scores. Class-agnostic, the two become one
// class and NMS at IoU 0.6 keeps the 0.9 box only. A second image holds
// one object of class 2 found exactly but as class 0 (0.5): per class a
// miss, agnostic a hit. Agnostic ranking: the 0.9 box (TP at thresholds
// 0.50..0.80, 7 of 10), then the 0.5 one (TP everywhere): AP 1 there; at
// 0.85..0.95 FP, TP: recall 1/2 at precision 1/2, AP 51 * 0.5 / 101. So
// mAP@0.5 1, mAP@0.5:0.95 (7 + 3 * 25.5/101) / 10. Per class: class 1
// AP 1, class 2 AP 0: mAP@0.5 1/2. The inputs stay as they were.
func TestAgnostic(t *testing.T) {
	gts := [][]GroundTruth{{gt(sq(0, 0), 1)}, {gt(sq(50, 50), 2)}}
	dets := [][]Detection{{det(sq(1, 0), 0, 0.9), det(sq(0, 0), 1, 0.6)}, {det(sq(50, 50), 0, 0.5)}}
	g, d := Agnostic(gts, dets, DefaultNMS)
	if gts[0][0].Class != 1 || dets[0][1].Class != 1 || len(dets[0]) != 2 {
		t.Fatal("Agnostic modified its input")
	}
	if len(d[0]) != 1 || d[0][0].Score != 0.9 || d[0][0].Class != 0 || g[1][0].Class != 0 {
		t.Fatalf("agnostic detections %+v, ground truth %+v", d, g)
	}
	r, err := Evaluate(g, d, 1, MAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (7 + 3*25.5/101) / 10; !near(r.MAP50, 1, 1e-12) || !near(r.MAP50_95, want, 1e-12) {
		t.Errorf("agnostic mAP %.15g / %.15g, want 1 / %.15g", r.MAP50, r.MAP50_95, want)
	}
	r, err = Evaluate(gts, dets, 3, MAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.MAP50, 0.5, 1e-12) {
		t.Errorf("per-class mAP@0.5 %.15g, want 0.5 (class 1 found, class 2 missed)", r.MAP50)
	}
}
