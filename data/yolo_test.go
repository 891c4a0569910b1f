package data

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/detect"
)

func TestParseYOLOLabels(t *testing.T) {
	src := "\xef\xbb\xbf0 0.5 0.5 0.2 0.4\r\n\n  3.0\t0.1 0.2 0.2 0.2  \n" +
		"2 0.995 0.5 0.02 0.1\n" // right edge 1.005: inside the tolerance, clipped to 1
	got, err := ParseYOLOLabels([]byte(src), "a.txt", 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []YOLOBox{{0, 0.5, 0.5, 0.2, 0.4}, {3, 0.1, 0.2, 0.2, 0.2}, {2, 0.9925, 0.5, 0.015, 0.1}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Class != w.Class || math.Abs(g.CX-w.CX)+math.Abs(g.CY-w.CY)+math.Abs(g.W-w.W)+math.Abs(g.H-w.H) > 1e-12 {
			t.Errorf("box %d = %+v, want %+v", i, g, w)
		}
	}
	if b, err := ParseYOLOLabels(nil, "empty.txt", 4); err != nil || len(b) != 0 {
		t.Errorf("empty file: %v, %v", b, err)
	}
	for _, tc := range []struct{ name, line, msg string }{
		{"fields", "0 0.5 0.5 0.2", "4 fields, want 5"},
		{"segment", "0 0.1 0.1 0.2 0.1 0.2 0.2", "7 fields"},
		{"text", "0 0.5 zero 0.2 0.2", `field 3 "zero"`},
		{"nan", "0 0.5 NaN 0.2 0.2", "not a finite number"},
		{"class range", "4 0.5 0.5 0.2 0.2", "class 4 outside 0..3"},
		{"negative class", "-1 0.5 0.5 0.2 0.2", "class -1 outside"},
		{"fractional class", "1.5 0.5 0.5 0.2 0.2", "class 1.5 outside"},
		{"outside", "1 0.95 0.5 0.2 0.2", "reaches outside the image"},
		{"pixels", "1 320 240 64 48", "reaches outside the image"},
		{"zero size", "1 0.5 0.5 0 0.2", "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseYOLOLabels([]byte("0 0.5 0.5 0.1 0.1\n"+tc.line+"\n"), "lab/x.txt", 4)
			if err == nil || !strings.HasPrefix(err.Error(), "lab/x.txt:2: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want lab/x.txt:2: ...%s...", err, tc.msg)
			}
		})
	}
}

func TestParseDataYAML(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"block list", "path: .\ntrain: images/train\nval: images/val\nnames:\n  - cat\n  - dog\n  - 'bird: small'\n"},
		{"flow list", "names: [cat, dog, 'bird: small']\nnc: 3\n"},
		{"mapping", "names:\n  2: 'bird: small'\n  0: cat\n  1: dog\ntest: images/test\ndownload: https://example.com/x.zip\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDataYAML([]byte(tc.src), "data.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"cat", "dog", "bird: small"}; !slices.Equal(d.Names, want) {
				t.Fatalf("names %q, want %q", d.Names, want)
			}
		})
	}
	d, err := ParseDataYAML([]byte("nc: 3\ntrain: a/images/tr\n"), "data.yaml")
	if err != nil || !slices.Equal(d.Names, []string{"0", "1", "2"}) || d.Train != "a/images/tr" {
		t.Fatalf("nc only: %+v, %v", d, err)
	}
	for _, tc := range []struct{ name, src, msg string }{
		{"no names", "train: x\n", "no class names"},
		{"nc mismatch", "nc: 2\nnames: [a, b, c]\n", "nc is 2 but names lists 3"},
		{"gap", "names:\n  0: a\n  2: c\n", "not a class index in 0..1"},
		{"twice", "names:\n  0: a\n  '0': b\n", "class 0 named twice"},
		{"nested", "names: [a, [b]]\n", "names entry 1 is not a plain name"},
		{"scalar names", "names: abc\n", "names must be a list"},
		{"train list", "names: [a]\ntrain: [x, y]\n", "train must be one folder"},
		{"not a mapping", "- a\n- b\n", "data.yaml"},
		{"bad nc", "nc: many\nnames: [a]\n", `nc "many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDataYAML([]byte(tc.src), "data.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ...%s...", err, tc.msg)
			}
		})
	}
	if n, err := ParseClassesTxt([]byte("a\r\nb c\n\n"), "classes.txt"); err != nil || !slices.Equal(n, []string{"a", "b c"}) {
		t.Errorf("classes.txt: %q, %v", n, err)
	}
	if _, err := ParseClassesTxt([]byte("a\n\nb\n"), "classes.txt"); err == nil || !strings.Contains(err.Error(), "classes.txt:2") {
		t.Errorf("blank line inside classes.txt: %v", err)
	}
}

// writeTestPNG writes a w x h image: grey level v everywhere (gray), or
// with colour (R=v, G=0, B=255-v).
func writeTestPNG(t *testing.T, path string, w, h int, v uint8, gray bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = v
		}
		img = g
	} else {
		c := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				c.SetNRGBA(x, y, color.NRGBA{v, 0, 255 - v, 255})
			}
		}
		img = c
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// yoloFixture writes a small YOLO folder: train has a 40x20 grey image with
// one box, a 20x20 grey background image (no label file) and a 30x30
// colour image with an empty label file; val one 20x40 grey image.
func yoloFixture(t *testing.T) string {
	dir := t.TempDir()
	writeTestPNG(t, filepath.Join(dir, "images/train/a.png"), 40, 20, 200, true)
	writeFile(t, filepath.Join(dir, "labels/train/a.txt"), "1 0.25 0.5 0.5 0.5\n")
	writeTestPNG(t, filepath.Join(dir, "images/train/b.png"), 20, 20, 50, true)
	writeTestPNG(t, filepath.Join(dir, "images/train/c.png"), 30, 30, 90, false)
	writeFile(t, filepath.Join(dir, "labels/train/c.txt"), "")
	writeTestPNG(t, filepath.Join(dir, "images/val/d.png"), 20, 40, 100, true)
	writeFile(t, filepath.Join(dir, "labels/val/d.txt"), "0 0.5 0.5 1 1\n")
	writeFile(t, filepath.Join(dir, "data.yaml"), "names: {0: ring, 1: cross}\n")
	return dir
}

func TestLoadYOLO(t *testing.T) {
	dir := yoloFixture(t)
	tr, va, err := LoadYOLO(dir, YOLOOptions{H: 16, W: 16})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 3 || va.Len() != 1 || tr.C != 1 || !slices.Equal(tr.Classes, []string{"ring", "cross"}) {
		t.Fatalf("train %d images, val %d, C %d, classes %q", tr.Len(), va.Len(), tr.C, tr.Classes)
	}
	// a.png, 40x20 into 16x16: factor 0.4, 16x8 placed 4 rows down. Its
	// box, centre (10, 10) size 20x10 in pixels, becomes centre (4, 4+4)
	// size 8x4: (0, 6)-(8, 10).
	want := detect.GroundTruth{Box: detect.Box{X1: 0, Y1: 6, X2: 8, Y2: 10}, Class: 1}
	if len(tr.Objects[0]) != 1 || tr.Objects[0][0] != want {
		t.Errorf("a.png objects %+v, want %+v", tr.Objects[0], want)
	}
	if tr.Objects[1] != nil || len(tr.Objects[2]) != 0 {
		t.Errorf("background images got objects %v, %v", tr.Objects[1], tr.Objects[2])
	}
	// d.png, 20x40 into 16x16: 8x16 placed 4 columns right; the whole-image box.
	if got := va.Objects[0][0].Box; got != (detect.Box{X1: 4, Y1: 0, X2: 12, Y2: 16}) {
		t.Errorf("d.png box %v", got)
	}
	// Pixels: row 0 of a.png is padding (114), row 8 image (200); the
	// normalisation is the training images' own.
	norm := func(p float32) float32 { return (p/255 - tr.Mean[0]) / tr.Std[0] }
	if x := tr.X[0]; math.Abs(float64(x-norm(LetterboxFill))) > 1e-5 {
		t.Errorf("padding pixel %g, want %g", x, norm(LetterboxFill))
	}
	if x := tr.X[8*16+3]; math.Abs(float64(x-norm(200))) > 1e-5 {
		t.Errorf("image pixel %g, want %g", x, norm(200))
	}
	if got := tr.Letterbox[0].Inverse(tr.Objects[0][0].Box); got != (detect.Box{X1: 0, Y1: 5, X2: 20, Y2: 15}) {
		t.Errorf("inverse letterbox %v", got)
	}
	x, objs := tr.Batch([]int{2, 0}, nil)
	if x.Shape[0] != 2 || x.Shape[1] != 1 || len(objs[1]) != 1 {
		t.Errorf("batch shape %v, objects %v", x.Shape, objs)
	}
	tr3, _, err := LoadYOLO(dir, YOLOOptions{H: 16, W: 16, C: 3, Mean: []float32{0.5}, Std: []float32{0.25}})
	if err != nil || tr3.C != 3 || len(tr3.Mean) != 3 || tr3.Mean[2] != 0.5 {
		t.Fatalf("C=3 load: %v, %+v", err, tr3)
	}
}

func TestLoadYOLOErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(dir string)
		msg   string
		input int
	}{
		{"class range", func(d string) { writeFile(t, filepath.Join(d, "labels/train/b.txt"), "0 .5 .5 .1 .1\n2 .5 .5 .1 .1\n") },
			"labels/train/b.txt:2: class 2 outside 0..1", 16},
		{"outside", func(d string) { writeFile(t, filepath.Join(d, "labels/val/d.txt"), "0 0.9 0.5 0.5 0.5\n") },
			"labels/val/d.txt:1: box", 16},
		{"corrupt label", func(d string) { writeFile(t, filepath.Join(d, "labels/train/a.txt"), "\x00\x01garbage\n") },
			"labels/train/a.txt:1: 1 fields", 16},
		{"no names", func(d string) { os.Remove(filepath.Join(d, "data.yaml")) }, "neither data.yaml nor classes.txt", 16},
		{"bad yaml", func(d string) { writeFile(t, filepath.Join(d, "data.yaml"), "names: [a\n") }, "data.yaml", 16},
		{"no val", func(d string) { os.RemoveAll(filepath.Join(d, "images/val")) }, "images/val", 16},
		{"corrupt image", func(d string) { writeFile(t, filepath.Join(d, "images/train/b.png"), "not a png") }, "b.png", 16},
		{"no size", func(string) {}, "input size", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := yoloFixture(t)
			tc.edit(dir)
			_, _, err := LoadYOLO(dir, YOLOOptions{H: tc.input, W: tc.input})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ...%s...", err, tc.msg)
			}
		})
	}
}

// TestLoadYOLOLayoutKeys: data.yaml's path/train/val keys move the splits;
// classes.txt names the classes when there is no data.yaml; labels are
// found by replacing the last "images" element.
func TestLoadYOLOLayoutKeys(t *testing.T) {
	dir := t.TempDir()
	writeTestPNG(t, filepath.Join(dir, "set/images/tr/x.png"), 8, 8, 10, true)
	writeFile(t, filepath.Join(dir, "set/labels/tr/x.txt"), "0 0.5 0.5 0.5 0.5\n")
	writeTestPNG(t, filepath.Join(dir, "set/images/va/y.png"), 8, 8, 10, true)
	writeFile(t, filepath.Join(dir, "data.yaml"), "path: set\ntrain: images/tr\nval: images/va\nnames: [only]\n")
	tr, va, err := LoadYOLO(dir, YOLOOptions{H: 8, W: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Objects[0]) != 1 || va.Objects[0] != nil {
		t.Fatalf("objects %v / %v", tr.Objects, va.Objects)
	}
	if got := labelDir("/a/images/b/images/c"); got != "/a/images/b/labels/c" {
		t.Errorf("labelDir = %s", got)
	}
	dir2 := yoloFixture(t)
	os.Remove(filepath.Join(dir2, "data.yaml"))
	writeFile(t, filepath.Join(dir2, "classes.txt"), "ring\ncross\n")
	if tr, _, err := LoadYOLO(dir2, YOLOOptions{H: 16, W: 16, TrainLimit: 2}); err != nil || tr.Len() != 2 || tr.Classes[1] != "cross" {
		t.Fatalf("classes.txt: %v", err)
	}
}

// TestYOLOProbe: IsYOLODir tells a YOLO set from an image folder and
// other paths; YOLOImageSize reads the first training image's header; a
// training split without a label folder is an error naming it.
func TestYOLOProbe(t *testing.T) {
	dir := yoloFixture(t)
	if !IsYOLODir(dir) {
		t.Error("IsYOLODir(fixture) = false")
	}
	folder := t.TempDir()
	writeTestPNG(t, filepath.Join(folder, "train/a/x.png"), 8, 8, 10, true)
	for _, p := range []string{folder, filepath.Join(dir, "data.yaml"), filepath.Join(dir, "nothing"), "fashion-mnist"} {
		if IsYOLODir(p) {
			t.Errorf("IsYOLODir(%s) = true", p)
		}
	}
	if w, h, err := YOLOImageSize(dir); err != nil || w <= 0 || h <= 0 {
		t.Errorf("YOLOImageSize = %d, %d, %v", w, h, err)
	}
	if _, _, err := YOLOImageSize(folder); err == nil {
		t.Error("YOLOImageSize of an image folder: no error")
	}
	if err := os.RemoveAll(filepath.Join(dir, "labels/train")); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadYOLO(dir, YOLOOptions{H: 16, W: 16})
	if err == nil || !strings.Contains(err.Error(), "no label folder") || !strings.Contains(err.Error(), filepath.Join("labels", "train")) {
		t.Errorf("missing labels/train: error %v", err)
	}
}
