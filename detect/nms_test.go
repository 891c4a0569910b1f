package detect

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNMSHand(t *testing.T) {
	boxes := []Box{
		{0, 0, 10, 10},   // 0: best of the cluster
		{1, 0, 11, 10},   // 1: IoU 90/110 = 0.818 with 0: suppressed
		{5, 0, 15, 10},   // 2: IoU 1/3 with 0: kept at threshold 0.5
		{50, 50, 60, 60}, // 3: alone
		{0, 0, 10, 10},   // 4: duplicate of 0, other class
	}
	scores := []float64{0.9, 0.95 - 0.1, 0.7, 0.3, 0.8}
	if got := NMS(boxes, scores, 0.5); !slices.Equal(got, []int{0, 2, 3}) {
		t.Errorf("NMS = %v, want [0 2 3]", got)
	}
	classes := []int{0, 0, 0, 0, 1}
	if got := BatchedNMS(boxes, scores, classes, 0.5); !slices.Equal(got, []int{0, 4, 2, 3}) {
		t.Errorf("BatchedNMS = %v, want [0 4 2 3]", got)
	}
	dets := make([]Detection, len(boxes))
	for i := range boxes {
		dets[i] = Detection{boxes[i], classes[i], scores[i]}
	}
	got := Suppress(dets, NMSOptions{ScoreThreshold: 0.5, IoUThreshold: 0.5, MaxDetections: 2})
	if len(got) != 2 || got[0] != dets[0] || got[1] != dets[4] {
		t.Errorf("Suppress = %v", got)
	}
	got = Suppress(dets, NMSOptions{IoUThreshold: 0.5, ClassAgnostic: true})
	if len(got) != 3 || got[0] != dets[0] || got[1] != dets[2] || got[2] != dets[3] {
		t.Errorf("class-agnostic Suppress = %v", got)
	}
}

// randomBoxes draws n boxes in clusters (so that NMS has work to do) with
// distinct random scores and classes in [0, k).
func randomBoxes(rng *rand.Rand, n, k int) ([]Box, []float64, []int) {
	boxes := make([]Box, n)
	scores := make([]float64, n)
	classes := make([]int, n)
	var cx, cy float64
	for i := range n {
		if i%8 == 0 {
			cx, cy = rng.Float64()*200, rng.Float64()*200
		}
		w, h := 5+rng.Float64()*40, 5+rng.Float64()*40
		boxes[i] = FromCXCYWH(cx+rng.NormFloat64()*6, cy+rng.NormFloat64()*6, w, h)
		scores[i] = rng.Float64()
		classes[i] = rng.IntN(k)
	}
	return boxes, scores, classes
}

// TestNMSTorchvision compares NMS, BatchedNMS, IoU, GIoU and CIoU with
// torchvision.ops (float64) on random clustered boxes, three seeds and
// three thresholds.
func TestNMSTorchvision(t *testing.T) {
	type nmsCase struct {
		Boxes   [][4]float64 `json:"boxes"`
		Scores  []float64    `json:"scores"`
		Classes []int        `json:"classes"`
		IoU     float64      `json:"iou"`
	}
	var cases []nmsCase
	for seed := uint64(1); seed <= 3; seed++ {
		for _, thr := range []float64{0.3, 0.5, 0.7} {
			rng := rand.New(rand.NewPCG(seed, 25))
			boxes, scores, classes := randomBoxes(rng, 160, 3)
			c := nmsCase{Scores: scores, Classes: classes, IoU: thr}
			for _, b := range boxes {
				c.Boxes = append(c.Boxes, [4]float64{b.X1, b.Y1, b.X2, b.Y2})
			}
			cases = append(cases, c)
		}
	}
	var refs []struct {
		NMS, Batched    []int
		IoU, GIoU, CIoU [][]float64
	}
	runPython(t, "nms_ref.py", "torch, torchvision", cases, &refs)
	if len(refs) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(refs), len(cases))
	}
	for k, c := range cases {
		ref := refs[k]
		seed, thr, scores, classes := k/3+1, c.IoU, c.Scores, c.Classes
		boxes := make([]Box, len(c.Boxes))
		for i, b := range c.Boxes {
			boxes[i] = Box{b[0], b[1], b[2], b[3]}
		}
		if got := NMS(boxes, scores, thr); !slices.Equal(got, ref.NMS) {
			t.Errorf("seed %d thr %g: NMS kept %v\ntorchvision kept %v", seed, thr, got, ref.NMS)
		}
		if got := BatchedNMS(boxes, scores, classes, thr); !slices.Equal(got, ref.Batched) {
			t.Errorf("seed %d thr %g: BatchedNMS kept %v\ntorchvision kept %v", seed, thr, got, ref.Batched)
		}
		if len(ref.NMS) == len(boxes) || len(ref.NMS) < 10 {
			t.Errorf("seed %d thr %g: weak case, %d of %d kept", seed, thr, len(ref.NMS), len(boxes))
		}
		if thr != 0.5 {
			continue
		}
		for i := range boxes {
			for j := range boxes {
				a, b := boxes[i], boxes[j]
				// CIoU's eps sits in slightly different places than
				// torchvision's (atan of w/(h+eps) here): 1e-7 is loose enough.
				if !near(IoU(a, b), ref.IoU[i][j], 1e-12) || !near(GIoU(a, b), ref.GIoU[i][j], 1e-12) || !near(CIoU(a, b), ref.CIoU[i][j], 1e-7) {
					t.Fatalf("boxes %d, %d: IoU %g GIoU %g CIoU %g, torchvision %g %g %g", i, j,
						IoU(a, b), GIoU(a, b), CIoU(a, b), ref.IoU[i][j], ref.GIoU[i][j], ref.CIoU[i][j])
				}
			}
		}
	}
}
