package data

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// YOLOBox is one line of a YOLO label file: a class index and a box in
// centre form, normalised by the image's width (CX, W) and height (CY, H).
type YOLOBox struct {
	Class        int
	CX, CY, W, H float64
}

// LabelTolerance is how far (as a fraction of the image side) a box edge
// may lie outside [0, 1] before ParseYOLOLabels calls it an error; edges
// within it are clipped. Converters round coordinates, so a box touching
// the border often ends at 1.0000001 or a little beyond.
const LabelTolerance = 0.01

// MaxLabelBytes is the largest label file ParseYOLOLabels reads (a COCO
// image has at most a few hundred boxes, some 40 bytes each).
const MaxLabelBytes = 4 << 20

// ParseYOLOLabels parses a YOLO label file (name is used in errors): one
// "class cx cy w h" line per box, fields separated by spaces or tabs,
// coordinates normalised to [0, 1]; empty lines are skipped; an empty file
// is a background image. The class is an integer (an integral float such
// as "3.0", as numpy.savetxt writes, is accepted) in [0, numClasses).
// Boxes reaching beyond the image by at most LabelTolerance are clipped to
// it; the result's boxes lie in [0, 1] and have positive width and height.
//
// Errors, as "name:line: ...": not 5 fields (ultralytics' segment lines
// included), a non-numeric or non-finite field, a class out of range, a
// zero or negative size, a box outside the image beyond the tolerance; a
// file over MaxLabelBytes.
func ParseYOLOLabels(b []byte, name string, numClasses int) ([]YOLOBox, error) {
	if len(b) > MaxLabelBytes {
		return nil, fmt.Errorf("%s: label file of %d bytes exceeds %d", name, len(b), MaxLabelBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	var out []YOLOBox
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		box, err := parseLabelLine(f, numClasses)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		out = append(out, box)
	}
	return out, nil
}

// parseLabelLine parses the fields of one label line.
func parseLabelLine(f []string, numClasses int) (YOLOBox, error) {
	if len(f) != 5 {
		return YOLOBox{}, fmt.Errorf("%d fields, want 5 (class cx cy w h; polygon/segment labels are not supported)", len(f))
	}
	var v [5]float64
	for k, s := range f {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return YOLOBox{}, fmt.Errorf("field %d %q is not a finite number", k+1, s)
		}
		v[k] = x
	}
	if v[0] != math.Trunc(v[0]) || v[0] < 0 || v[0] >= float64(numClasses) {
		return YOLOBox{}, fmt.Errorf("class %s outside 0..%d (%d classes)", f[0], numClasses-1, numClasses)
	}
	cx, cy, w, h := v[1], v[2], v[3], v[4]
	if w <= 0 || h <= 0 {
		return YOLOBox{}, fmt.Errorf("box size %g x %g is not positive", w, h)
	}
	x1, y1, x2, y2 := cx-w/2, cy-h/2, cx+w/2, cy+h/2
	const tol = LabelTolerance
	if x1 < -tol || y1 < -tol || x2 > 1+tol || y2 > 1+tol {
		return YOLOBox{}, fmt.Errorf("box (cx %g, cy %g, w %g, h %g) reaches outside the image (normalised coordinates must lie in [0, 1])", cx, cy, w, h)
	}
	x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, 1), min(y2, 1)
	if x2 <= x1 || y2 <= y1 {
		return YOLOBox{}, fmt.Errorf("box (cx %g, cy %g, w %g, h %g) is empty inside the image", cx, cy, w, h)
	}
	return YOLOBox{Class: int(v[0]), CX: (x1 + x2) / 2, CY: (y1 + y2) / 2, W: x2 - x1, H: y2 - y1}, nil
}
