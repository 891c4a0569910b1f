package data

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseStats(t *testing.T) {
	tests := []struct {
		name, in, which string
		want            []float32
		err             string
	}{
		{"empty", "", "mean", nil, ""},
		{"one", "0.5", "mean", []float32{0.5}, ""},
		{"three", "0.485, 0.456,0.406", "mean", []float32{0.485, 0.456, 0.406}, ""},
		{"imagenet mean", "imagenet", "mean", ImageNetMean, ""},
		{"imagenet std", "imagenet", "std", ImageNetStd, ""},
		{"two values", "0.1,0.2", "mean", nil, "one value or three"},
		{"not a number", "0.5,x,1", "mean", nil, `"x" is not a finite number`},
		{"nan", "NaN", "std", nil, "not a finite number"},
		{"zero std", "0.2,0,0.2", "std", nil, "must be positive"},
		{"negative mean ok", "-0.5", "mean", []float32{-0.5}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStats(tc.in, tc.which)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseStats(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestPreprocessMetaRoundTrip(t *testing.T) {
	for _, p := range []Preprocess{
		{Mean: []float32{0.5}, Std: []float32{0.5}, H: 28, W: 28, Resize: ResizeBilinear, Order: OrderGray},
		{Mean: ImageNetMean, Std: ImageNetStd, H: 224, W: 224, Resize: ResizeCenterCrop, Shorter: 256, Order: OrderBGR},
	} {
		meta := map[string]string{"other": "kept", MetaShorter: "stale"}
		p.SetMeta(meta)
		q, ok, err := PreprocessFromMeta(meta)
		if err != nil || !ok {
			t.Fatalf("%v: ok %v err %v", p, ok, err)
		}
		if fmt.Sprint(q) != fmt.Sprint(p) || meta["other"] != "kept" {
			t.Errorf("round trip %+v -> %v -> %+v", p, meta, q)
		}
		if p.Resize == ResizeBilinear && meta[MetaShorter] != "" {
			t.Errorf("stale %s kept: %v", MetaShorter, meta)
		}
	}
	if _, ok, err := PreprocessFromMeta(map[string]string{"slimgo.data": "x"}); ok || err != nil {
		t.Errorf("no statistics: ok %v err %v, want false, nil", ok, err)
	}
}

func TestPreprocessFromMetaErrors(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		want string
	}{
		{map[string]string{MetaMean: "0.5", MetaStd: "abc"}, MetaStd},
		{map[string]string{MetaMean: "0.5,0.5,0.5", MetaStd: "0.5"}, "3 means"},
		{map[string]string{MetaMean: "0.5", MetaStd: "0.5", MetaSize: "28"}, MetaSize},
		{map[string]string{MetaMean: "0.5", MetaStd: "0.5", MetaShorter: "-3"}, MetaShorter},
	} {
		if _, _, err := PreprocessFromMeta(tc.meta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one naming %q", tc.meta, err, tc.want)
		}
	}
	if err := (Preprocess{Mean: []float32{0.1, 0.2, 0.3}, Std: []float32{1, 1, 1}}).Check(1); err == nil {
		t.Error("three means for one channel accepted")
	}
	if err := (Preprocess{Order: OrderBGR}).Check(1); err == nil {
		t.Error("BGR for a gray input accepted")
	}
	if err := (Preprocess{Resize: "nearest"}).Check(3); err == nil {
		t.Error("unknown resize rule accepted")
	}
}

func TestPreprocessEqual(t *testing.T) {
	a := Preprocess{Mean: []float32{0.5}, Std: []float32{0.5}}
	b := Preprocess{Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}, Resize: ResizeBilinear}
	if !a.Equal(b, 3) {
		t.Error("one value and the same value per channel differ")
	}
	if a.Equal(Preprocess{Mean: ImageNetMean, Std: ImageNetStd}, 3) {
		t.Error("0.5/0.5 equals ImageNet's statistics")
	}
}

// TestLoadFolderPreprocess loads a folder of odd-sized RGB images with both
// resize rules and the BGR order, and checks the recorded preprocessing.
func TestLoadFolderPreprocess(t *testing.T) {
	dir := t.TempDir()
	for _, split := range []string{"train", "val"} {
		for c, cls := range []string{"a", "b"} {
			m := image.NewNRGBA(image.Rect(0, 0, 40, 20)) // wide
			for y := range 20 {
				for x := range 40 {
					m.SetNRGBA(x, y, color.NRGBA{uint8(200 * c), uint8(5 * x), 30, 255})
				}
			}
			writePNG(t, filepath.Join(dir, split, cls, "0.png"), m)
		}
	}
	tr, te, err := LoadImageFolder(dir, LoadOptions{C: 3, H: 10, W: 10, Resize: ResizeCenterCrop, Order: OrderBGR, Mean: []float32{0}, Std: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	p := te.Preprocess()
	if p.Resize != ResizeCenterCrop || p.ShorterSide() != 11 || p.Order != OrderBGR || p.H != 10 || tr.Len() != 2 {
		t.Fatalf("preprocess %+v (shorter %d), %d train", p, p.ShorterSide(), tr.Len())
	}
	// Channel 0 is blue (30) after the swap; channel 2 red (0 or 200).
	plane := 100
	if got := te.X[0] * 255; got < 29.5 || got > 30.5 {
		t.Errorf("BGR: first channel %.1f, want blue 30", got)
	}
	if got := te.X[3*plane+2*plane] * 255; got < 199.5 {
		t.Errorf("BGR: second image's third channel %.1f, want red 200", got)
	}
	// Centre crop of the wide image keeps the middle columns: green rises
	// across the crop but starts well above the left edge's 0.
	if g := te.X[plane] * 255; g < 50 {
		t.Errorf("centre crop: first column's green %.1f, want the middle of the image (> 50)", g)
	}
}

// TestResizeMatchesTorchvision compares the resize rules with PIL and
// torchvision's transforms (Resize((h, w)); Resize(s) + CenterCrop) on
// random images, when /usr/bin/python3 has torchvision. PIL works in fixed
// point, so a byte may differ by one.
func TestResizeMatchesTorchvision(t *testing.T) {
	const py = "/usr/bin/python3"
	if testing.Short() {
		t.Skip("runs PIL; skipped with -short")
	}
	if err := exec.Command(py, "-c", "import torchvision, PIL").Run(); err != nil {
		t.Skip("no torchvision/PIL under /usr/bin/python3")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	type tcase struct {
		ih, iw, h, w int
		crop         bool
		s            int
	}
	cases := []tcase{
		{37, 53, 16, 16, false, 0},  // shrink, antialiased
		{20, 30, 45, 41, false, 0},  // enlarge
		{64, 48, 28, 28, true, 32},  // shrink, then centre crop
		{30, 50, 24, 24, true, 0},   // default shorter side round(24*8/7) = 27
		{24, 24, 32, 32, true, 28},  // crop larger than the resized image: zero padding
		{33, 33, 33, 33, false, 0},  // unchanged
		{50, 20, 20, 50, false, 0},  // shrink one axis, enlarge the other
		{100, 80, 7, 9, false, 0},   // strong shrink
		{120, 90, 56, 56, true, 64}, // tall image
	}
	var script strings.Builder
	script.WriteString("import json, sys\nfrom PIL import Image\nimport torchvision.transforms as T\nout = []\n")
	pixels := make([][]uint8, len(cases))
	for i, c := range cases {
		pix := make([]uint8, c.ih*c.iw)
		for j := range pix {
			pix[j] = uint8(rng.IntN(256))
		}
		pixels[i] = pix
		img := image.NewGray(image.Rect(0, 0, c.iw, c.ih))
		copy(img.Pix, pix)
		f := filepath.Join(dir, fmt.Sprintf("%d.png", i))
		writePNG(t, f, img)
		s := c.s
		if c.crop && s == 0 {
			s = Preprocess{H: c.h, W: c.w}.ShorterSide()
		}
		tf := fmt.Sprintf("T.Resize((%d, %d))", c.h, c.w)
		if c.crop {
			tf = fmt.Sprintf("T.Compose([T.Resize(%d), T.CenterCrop((%d, %d))])", s, c.h, c.w)
		}
		fmt.Fprintf(&script, "out.append(list(%s(Image.open(%q)).getdata()))\n", tf, f)
	}
	script.WriteString("json.dump(out, sys.stdout)\n")
	outb, err := exec.Command(py, "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var want [][]int
	if err := json.Unmarshal(outb, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		rule, s := ResizeBilinear, 0
		if c.crop {
			rule, s = ResizeCenterCrop, c.s
			if s == 0 {
				s = Preprocess{H: c.h, W: c.w}.ShorterSide()
			}
		}
		got := preprocessImage(pixels[i], 1, c.ih, c.iw, rule, s, c.h, c.w)
		if len(got) != len(want[i]) {
			t.Fatalf("case %+v: %d pixels, PIL %d", c, len(got), len(want[i]))
		}
		maxd, off := 0, 0
		for j := range got {
			d := int(got[j]) - want[i][j]
			if d < 0 {
				d = -d
			}
			if d > 0 {
				off++
			}
			maxd = max(maxd, d)
		}
		if maxd > 1 || off > len(got)/20 {
			t.Errorf("case %+v: max difference %d from PIL, %d of %d pixels differ", c, maxd, off, len(got))
		}
	}
	_ = os.Remove(dir)
}
