package detect_test

import (
	"fmt"

	"github.com/slimgo/slimgo/detect"
)

// One image, two objects; the detector finds the first twice (the
// duplicate is suppressed by NMS) and misses the second.
func ExampleEvaluate() {
	gts := [][]detect.GroundTruth{{
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 0},
		{Box: detect.Box{X1: 20, Y1: 20, X2: 30, Y2: 30}, Class: 1},
	}}
	dets := detect.Suppress([]detect.Detection{
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 0, Score: 0.9},
		{Box: detect.Box{X1: 1, Y1: 0, X2: 11, Y2: 10}, Class: 0, Score: 0.8},
	}, detect.DefaultNMS)
	r, err := detect.Evaluate(gts, [][]detect.Detection{dets}, 2, detect.MAPOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d detections after NMS; mAP@0.5 %.2f (class 0: %.2f, class 1: %.2f)\n",
		len(dets), r.MAP50, r.PerClass[0].AP50, r.PerClass[1].AP50)
	// Output: 1 detections after NMS; mAP@0.5 0.50 (class 0: 1.00, class 1: 0.00)
}

// A 640x480 photo letterboxed into a 64x64 input: a prediction in input
// pixels maps back to the photo.
func ExampleLetterbox() {
	lb, err := detect.NewLetterbox(640, 480, 64, 64)
	if err != nil {
		panic(err)
	}
	fmt.Printf("scaled to %dx%d, %d rows of padding above\n", lb.NewW, lb.NewH, lb.PadTop)
	fmt.Println(lb.Inverse(detect.Box{X1: 16, Y1: 16, X2: 32, Y2: 40}))
	// Output:
	// scaled to 64x48, 8 rows of padding above
	// {160 80 320 320}
}
