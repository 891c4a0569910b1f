package detect

import (
	"fmt"
	"math"
)

// HeadMap is one raw output map of an anchor-free (YOLOX-style) head:
// Data holds N x (5+K) x H x W values (NCHW) and Stride is the input
// pixels per cell. Per cell (i, j) the channels are tx, ty, tw, th, obj
// and K class logits.
type HeadMap struct {
	Data       []float32
	N, K, H, W int
	Stride     float64
}

// maxLogSize caps tw and th before exp: e^10 cells is far beyond any
// input, and the cap keeps an untrained head's boxes finite.
const maxLogSize = 10

// DecodeYOLOX turns image n's cells of every map into detections in input
// pixels: centre ((j + tx) s, (i + ty) s), size (exp(tw) s, exp(th) s),
// class the best class logit's, score sigmoid(obj) * sigmoid(best class
// logit) (one detection per cell). Cells scoring below minScore are
// dropped; follow with Suppress. The order is map by map, row-major.
// Errors: a map whose Data length does not match its shape, n out of
// range, a non-positive stride.
func DecodeYOLOX(maps []HeadMap, n int, minScore float64) ([]Detection, error) {
	return decodeYOLOX(maps, n, minScore, false)
}

// DecodeYOLOXMultiLabel is DecodeYOLOX keeping every class of a cell
// whose score sigmoid(obj) * sigmoid(class logit) reaches minScore, each
// as its own detection with the cell's box (in class order within a
// cell), as ultralytics' validation decodes (multi_label): a cell unsure
// between two classes then offers both to the per-class NMS and mAP.
func DecodeYOLOXMultiLabel(maps []HeadMap, n int, minScore float64) ([]Detection, error) {
	return decodeYOLOX(maps, n, minScore, true)
}

func decodeYOLOX(maps []HeadMap, n int, minScore float64, multi bool) ([]Detection, error) {
	var out []Detection
	for m, hm := range maps {
		c := 5 + hm.K
		plane := hm.H * hm.W
		if hm.K < 1 || hm.H < 1 || hm.W < 1 || len(hm.Data) != hm.N*c*plane || !(hm.Stride > 0) {
			return nil, fmt.Errorf("detect: head map %d: %d values for N=%d, %d channels, %d x %d, stride %g", m, len(hm.Data), hm.N, c, hm.H, hm.W, hm.Stride)
		}
		if n < 0 || n >= hm.N {
			return nil, fmt.Errorf("detect: image %d outside the head map's batch of %d", n, hm.N)
		}
		img := hm.Data[n*c*plane : (n+1)*c*plane]
		at := func(ch, cell int) float64 { return float64(img[ch*plane+cell]) }
		box := func(i, j, cell int) Box {
			s := hm.Stride
			cx, cy := (float64(j)+at(0, cell))*s, (float64(i)+at(1, cell))*s
			w, h := math.Exp(min(at(2, cell), maxLogSize))*s, math.Exp(min(at(3, cell), maxLogSize))*s
			return FromCXCYWH(cx, cy, w, h)
		}
		for i := range hm.H {
			for j := range hm.W {
				cell := i*hm.W + j
				obj := sigmoid(at(4, cell))
				if multi {
					for k := range hm.K {
						if score := obj * sigmoid(at(5+k, cell)); score >= minScore {
							out = append(out, Detection{Box: box(i, j, cell), Class: k, Score: score})
						}
					}
					continue
				}
				best, cls := math.Inf(-1), 0
				for k := range hm.K {
					if v := at(5+k, cell); v > best {
						best, cls = v, k
					}
				}
				if score := obj * sigmoid(best); score >= minScore {
					out = append(out, Detection{Box: box(i, j, cell), Class: cls, Score: score})
				}
			}
		}
	}
	return out, nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
