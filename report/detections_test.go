package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/detect"
)

// uniform is a w x h grey image of one level.
func uniform(w, h int, level uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = level
	}
	return g
}

// testPicture: two rows (a model that finds one box, one that finds
// none) over a 20 x 16 grey image with one true box, and a 64 x 64 image.
func testPicture() *DetectionPicture {
	return &DetectionPicture{
		Title:   "test",
		Models:  []DetectionModel{{Name: "input model", Detail: "x"}, {Name: "delivered model"}},
		Classes: []string{"a", "b"},
		Images: []DetectionImage{
			{Name: "one.png", Image: uniform(20, 16, 40),
				Truth: []detect.GroundTruth{{Box: detect.Box{X1: 2, Y1: 2, X2: 10, Y2: 8}, Class: 1}},
				Dets:  [][]detect.Detection{{{Box: detect.Box{X1: 4, Y1: 6, X2: 16, Y2: 14}, Class: 0, Score: 0.9}}, nil}},
			{Name: "two.png", Image: uniform(64, 64, 200), Dets: [][]detect.Detection{nil, nil}},
		},
	}
}

// TestDrawDetectionsPixels decodes the PNG and checks the colours at the
// boxes' edges, computed here from the boxes, the scale (192/20 = 9) and
// the layout: the prediction's 2-pixel outline in class 0's colour in the
// first row only, the image's grey inside it and in the second row, the
// true box's dashes in class 1's colour in both rows with the image
// showing in the gaps.
func TestDrawDetectionsPixels(t *testing.T) {
	pic := testPicture()
	var buf bytes.Buffer
	if err := DrawDetections(&buf, pic); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	_, small, _ := detFonts()
	l := pic.layout(small)
	if f := l.scale[0]; f != 9 || l.w[0] != 180 || l.h[0] != 144 || l.scale[1] != 3 || l.w[1] != 192 {
		t.Fatalf("scales %v, sizes %v x %v", l.scale, l.w, l.h)
	}
	if b := img.Bounds(); b.Dx() != l.width || b.Dy() != l.height {
		t.Fatalf("%v, layout %d x %d", b, l.width, l.height)
	}
	rgb := func(x, y int) color.NRGBA { return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) }
	grey := color.NRGBA{40, 40, 40, 255}
	pred, truth := ClassColor(0), ClassColor(1)
	x0 := l.x[0]
	for r, y0 := range l.rowY {
		predCol := pred
		if r == 1 {
			predCol = grey
		}
		for _, c := range []struct {
			what string
			x, y int
			want color.NRGBA
		}{
			// prediction (4,6)-(16,14): pixels 36..143 x 54..125
			{"prediction right edge", x0 + 143, y0 + 90, predCol},
			{"prediction right edge, inner pixel", x0 + 142, y0 + 90, predCol},
			{"inside the prediction", x0 + 141, y0 + 90, grey},
			{"prediction bottom edge", x0 + 100, y0 + 125, predCol},
			{"prediction left edge", x0 + 36, y0 + 110, predCol},
			{"outside the prediction", x0 + 144, y0 + 90, grey},
			{"below the prediction", x0 + 100, y0 + 126, grey},
			// truth (2,2)-(10,8): pixels 18..89 x 18..71, dashes of 3
			{"truth top edge, dash", x0 + 18, y0 + 18, truth},
			{"truth top edge, gap", x0 + 21, y0 + 18, grey},
			{"truth top edge, next dash", x0 + 24, y0 + 18, truth},
			{"truth right edge, dash", x0 + 89, y0 + 18, truth},
			{"inside the truth", x0 + 25, y0 + 25, grey},
		} {
			if got := rgb(c.x, c.y); got != c.want {
				t.Errorf("row %d: %s at (%d, %d): %v, want %v", r, c.what, c.x, c.y, got, c.want)
			}
		}
	}
	// The label band of the prediction above its top edge (left column,
	// before the text starts) is in its class's colour.
	if got := rgb(x0+36, l.rowY[0]+53); got != pred {
		t.Errorf("label band: %v, want %v", got, pred)
	}
	// The second image: nearest-neighbour grey 200, 3x.
	if got := rgb(l.x[1]+100, l.rowY[1]+100); got != (color.NRGBA{200, 200, 200, 255}) {
		t.Errorf("second image: %v", got)
	}
}

// Bad input is an error, never a panic.
func TestDrawDetectionsErrors(t *testing.T) {
	for name, pic := range map[string]*DetectionPicture{
		"nil":       nil,
		"no images": {Models: []DetectionModel{{Name: "m"}}},
		"no models": {Images: []DetectionImage{{Name: "a", Image: uniform(4, 4, 0)}}},
		"no pixels": {Models: []DetectionModel{{Name: "m"}}, Images: []DetectionImage{{Name: "a", Dets: [][]detect.Detection{nil}}}},
		"empty":     {Models: []DetectionModel{{Name: "m"}}, Images: []DetectionImage{{Name: "a", Image: image.NewGray(image.Rect(0, 0, 0, 3)), Dets: [][]detect.Detection{nil}}}},
		"dets":      {Models: []DetectionModel{{Name: "m"}, {Name: "n"}}, Images: []DetectionImage{{Name: "a", Image: uniform(4, 4, 0), Dets: [][]detect.Detection{nil}}}},
	} {
		var buf bytes.Buffer
		err := DrawDetections(&buf, pic)
		if err == nil || !strings.HasPrefix(err.Error(), "report: detection picture: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Boxes outside the image, classes without a name or colour, negative
// scores and odd sizes are drawn without error.
func TestDrawDetectionsOdd(t *testing.T) {
	pic := &DetectionPicture{Models: []DetectionModel{{Name: "m"}}, Images: []DetectionImage{
		{Name: "wide", Image: uniform(1000, 3, 9), Dets: [][]detect.Detection{{{Box: detect.Box{X1: -50, Y1: -5, X2: 2000, Y2: 9}, Class: 37, Score: -1}}}},
		{Name: "1px", Image: uniform(1, 1, 9), Truth: []detect.GroundTruth{{Box: detect.Box{X1: 5, Y1: 5, X2: 4, Y2: 4}, Class: -1}}, Dets: [][]detect.Detection{nil}},
	}}
	var buf bytes.Buffer
	if err := DrawDetections(&buf, pic); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&buf); err != nil {
		t.Fatal(err)
	}
	if f := DetectionScale(1000, 3); f != 0.48 {
		t.Errorf("scale of a 1000 px side: %v", f)
	}
	if f := DetectionScale(1, 1); f != 192 {
		t.Errorf("scale of a 1 px image: %v", f)
	}
}

// A detector's report draws detections.png and embeds it with its
// caption and table; a classifier's report has no such section; a
// detector's without a picture says it was skipped and leaves no stale file.
func TestWriteDetections(t *testing.T) {
	dir := t.TempDir()
	s := &Summary{Model: "det.onnx", Data: "d", Task: TaskDetect, Stages: []Stage{{Name: "original", Accuracy: 50, Params: 10, MACs: 100}}}
	s.Detections = testPicture()
	s.Detections.Caption = "the caption"
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PlotDetections)); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	for _, w := range []string{"## Predicted boxes", "](" + PlotDetections + ")", "the caption",
		"| image | true boxes | input model: drawn (correct) | delivered model: drawn (correct) |",
		"| one.png | 1 | 1 (0) | 0 (0) |"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	s.Detections = nil
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PlotDetections)); !os.IsNotExist(err) {
		t.Errorf("stale %s: %v", PlotDetections, err)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, ReportFile)); !strings.Contains(string(md), "Skipped: no picture of predicted boxes") {
		t.Errorf("a detector's report without a picture does not say so")
	}
	s.Task, s.Detections = "", testPicture()
	if _, err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	if md, _ := os.ReadFile(filepath.Join(dir, ReportFile)); strings.Contains(string(md), "Predicted boxes") {
		t.Errorf("a classifier's report has the detection section")
	}
}

// correct matches by class and IoU >= 0.5, each true box once.
func TestDetectionsCorrect(t *testing.T) {
	truth := []detect.GroundTruth{{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 1}}
	dets := []detect.Detection{
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 1, Score: 0.5},   // match
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 1, Score: 0.4},   // duplicate
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 0, Score: 0.9},   // wrong class
		{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 19.9}, Class: 1, Score: 0.3}, // IoU just above 0.5 but box taken
	}
	if n := correct(truth, dets); n != 1 {
		t.Errorf("correct = %d, want 1", n)
	}
	if n := correct(truth, []detect.Detection{{Box: detect.Box{X1: 0, Y1: 0, X2: 10, Y2: 20.1}, Class: 1}}); n != 0 {
		t.Errorf("IoU below 0.5 counted")
	}
}
