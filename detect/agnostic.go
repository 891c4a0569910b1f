package detect

// Agnostic returns copies of gts and dets (one entry per image, as
// Evaluate takes them) with every class set to 0 and each image's
// detections suppressed again across the former classes by nms (its
// ClassAgnostic forced on), so that Evaluate with one class gives the
// class-agnostic mAP: how well objects are found and boxed whatever class
// they are given. Detections of different classes on one object, which
// per-class NMS keeps, become one. gts and dets are not modified.
func Agnostic(gts [][]GroundTruth, dets [][]Detection, nms NMSOptions) ([][]GroundTruth, [][]Detection) {
	nms.ClassAgnostic = true
	g := make([][]GroundTruth, len(gts))
	for i, im := range gts {
		g[i] = make([]GroundTruth, len(im))
		for j, x := range im {
			x.Class = 0
			g[i][j] = x
		}
	}
	d := make([][]Detection, len(dets))
	for i, im := range dets {
		one := make([]Detection, len(im))
		for j, x := range im {
			x.Class = 0
			one[j] = x
		}
		d[i] = Suppress(one, nms)
	}
	return g, d
}
