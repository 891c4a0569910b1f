package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writePNG writes img as PNG at dir/rel, creating folders.
func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// grayImg is an h x w gray image of constant value v.
func grayImg(h, w int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

// rgbImg is an h x w NRGBA image of constant colour.
func rgbImg(h, w int, r, g, b uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{r, g, b, 255})
		}
	}
	return m
}

// makeFolder writes train/{cat,ant,bee} (sorted: ant, bee, cat) with 3, 2, 1
// gray images and test/ with one image per class. Image value encodes the
// class (ant 10, bee 20, cat 30) plus 1 per file index.
func makeFolder(t testing.TB) string {
	dir := t.TempDir()
	vals := map[string]uint8{"ant": 10, "bee": 20, "cat": 30}
	counts := map[string]int{"cat": 1, "ant": 3, "bee": 2}
	for cls, n := range counts {
		for i := range n {
			writePNG(t, filepath.Join(dir, "train", cls, string(rune('a'+i))+".png"), grayImg(4, 6, vals[cls]+uint8(i)))
		}
		writePNG(t, filepath.Join(dir, "test", cls, "x.PNG"), grayImg(4, 6, vals[cls]))
	}
	// Ignored: a text file, a hidden file, a loose file in train/.
	for _, p := range []string{"train/ant/notes.txt", "train/ant/.hidden.png", "train/README"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestImageFolder(t *testing.T) {
	dir := makeFolder(t)
	train, test, err := LoadImageFolder(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ant", "bee", "cat"}; !slices.Equal(train.Classes, want) || !slices.Equal(test.Classes, want) {
		t.Fatalf("classes %v / %v, want %v", train.Classes, test.Classes, want)
	}
	if train.C != 1 || train.H != 4 || train.W != 6 || train.Len() != 6 || test.Len() != 3 {
		t.Fatalf("train %dx%dx%d n=%d, test n=%d", train.C, train.H, train.W, train.Len(), test.Len())
	}
	// Round-robin order: ant a, bee a, cat a, ant b, bee b, ant c.
	wantLabels := []int32{0, 1, 2, 0, 1, 0}
	wantVals := []float64{10, 20, 30, 11, 21, 12}
	if !slices.Equal(train.Labels, wantLabels) {
		t.Fatalf("labels %v, want %v", train.Labels, wantLabels)
	}
	// Normalisation from the training set: recover pixel values.
	var m, v float64
	for _, p := range wantVals {
		m += p / 255
		v += (p / 255) * (p / 255)
	}
	m /= 6
	sd := math.Sqrt(v/6 - m*m)
	if math.Abs(float64(train.Mean[0])-m) > 1e-6 || math.Abs(float64(train.Std[0])-sd) > 1e-6 {
		t.Fatalf("stats %v %v, want %g %g", train.Mean, train.Std, m, sd)
	}
	for i, p := range wantVals {
		got := float64(train.X[i*24])*sd + m
		if math.Abs(got*255-p) > 1e-3 {
			t.Fatalf("image %d pixel decodes to %g, want %g", i, got*255, p)
		}
	}
	if train.Name != filepath.Base(dir) || train.Source == "" {
		t.Fatalf("name %q source %q", train.Name, train.Source)
	}

	// Limits take the first N (round-robin), options force size and channels.
	tr2, te2, err := LoadImageFolder(dir, LoadOptions{TrainLimit: 3, TestLimit: 2, C: 3, H: 8, W: 12})
	if err != nil {
		t.Fatal(err)
	}
	if tr2.Len() != 3 || te2.Len() != 2 || tr2.C != 3 || tr2.H != 8 || tr2.W != 12 || len(tr2.Mean) != 3 {
		t.Fatalf("limited: n=%d/%d %dx%dx%d", tr2.Len(), te2.Len(), tr2.C, tr2.H, tr2.W)
	}
	if !slices.Equal(tr2.Labels, []int32{0, 1, 2}) {
		t.Fatalf("limited labels %v", tr2.Labels)
	}
}

func TestImageFolderColourMajority(t *testing.T) {
	dir := t.TempDir()
	// Two colour images and one gray one (saved as RGB with R=G=B): C = 3.
	writePNG(t, filepath.Join(dir, "train", "a", "1.png"), rgbImg(3, 3, 200, 10, 10))
	writePNG(t, filepath.Join(dir, "train", "a", "2.png"), rgbImg(3, 3, 90, 90, 90))
	writePNG(t, filepath.Join(dir, "train", "b", "1.png"), rgbImg(3, 3, 10, 10, 200))
	writePNG(t, filepath.Join(dir, "test", "a", "1.png"), rgbImg(3, 3, 200, 10, 10))
	writePNG(t, filepath.Join(dir, "test", "b", "1.png"), grayImg(3, 3, 7))
	// A JPEG too (colour), read through the same path.
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, rgbImg(3, 3, 10, 200, 10), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "train", "b", "2.jpg"), jb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, te, err := LoadImageFolder(dir, LoadOptions{Mean: []float32{0}, Std: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.C != 3 || te.C != 3 || tr.Len() != 4 {
		t.Fatalf("C = %d/%d, n = %d", tr.C, te.C, tr.Len())
	}
	// With mean 0 / std 1, X is p/255. Example 0 is a/1.png: red.
	if got := []float32{tr.X[0], tr.X[9], tr.X[18]}; math.Abs(float64(got[0])-200.0/255) > 1e-6 || math.Abs(float64(got[2])-10.0/255) > 1e-6 {
		t.Fatalf("red image planes %v", got)
	}
	// The gray test image is replicated to three equal planes.
	g := te.X[27:54]
	if g[0] != g[9] || g[9] != g[18] || math.Abs(float64(g[0])-7.0/255) > 1e-6 {
		t.Fatalf("gray test image planes %v %v %v", g[0], g[9], g[18])
	}
	// Forcing one channel uses luma: 0.299*200 + 0.587*10 + 0.114*10 = 66.81.
	tr1, _, err := LoadImageFolder(dir, LoadOptions{C: 1, Mean: []float32{0}, Std: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr1.C != 1 || math.Abs(float64(tr1.X[0])*255-67) > 1e-3 {
		t.Fatalf("C=%d, red as gray = %g", tr1.C, tr1.X[0]*255)
	}
}

func TestImageFolderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"no class folders", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "train"), 0o755)
			os.MkdirAll(filepath.Join(dir, "test"), 0o755)
		}, "has no class folders"},
		{"class without images", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			os.MkdirAll(filepath.Join(dir, "train", "b"), 0o755)
			os.WriteFile(filepath.Join(dir, "train", "b", "x.txt"), []byte("x"), 0o644)
		}, "train/b holds no .png/.jpg/.jpeg images"},
		{"test classes differ", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			writePNG(t, filepath.Join(dir, "train", "b", "1.png"), grayImg(2, 2, 1))
			writePNG(t, filepath.Join(dir, "test", "a", "1.png"), grayImg(2, 2, 1))
			writePNG(t, filepath.Join(dir, "test", "c", "1.png"), grayImg(2, 2, 1))
		}, `test classes ["a" "c"] do not match train classes ["a" "b"]`},
		{"no test split", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
		}, "has no test/ (or val/) split"},
		{"corrupt png", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			writePNG(t, filepath.Join(dir, "test", "a", "1.png"), grayImg(2, 2, 1))
			var b bytes.Buffer
			png.Encode(&b, grayImg(8, 8, 3))
			os.WriteFile(filepath.Join(dir, "train", "a", "2.png"), b.Bytes()[:b.Len()-20], 0o644)
		}, "train/a/2.png: corrupt png image"},
		{"not an image", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			os.MkdirAll(filepath.Join(dir, "test", "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "test", "a", "bad.jpg"), []byte("GIF89a not really"), 0o644)
		}, "test/a/bad.jpg: not a readable PNG/JPEG image"},
		{"zero-size png", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			os.MkdirAll(filepath.Join(dir, "test", "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "test", "a", "empty.png"), pngHeaderOnly(0, 5), 0o644)
		}, "test/a/empty.png: "},
		{"huge declared png", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			os.MkdirAll(filepath.Join(dir, "test", "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "test", "a", "big.png"), pngHeaderOnly(30000, 30000), 0o644)
		}, "test/a/big.png: image of 30000 x 30000 pixels exceeds"},
		{"png bigger than its bytes allow", func(dir string) {
			writePNG(t, filepath.Join(dir, "train", "a", "1.png"), grayImg(2, 2, 1))
			os.MkdirAll(filepath.Join(dir, "test", "a"), 0o755)
			os.WriteFile(filepath.Join(dir, "test", "a", "big.png"), pngHeaderOnly(5000, 5000), 0o644)
		}, "cannot fit in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			_, _, err := LoadImageFolder(dir, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// pngHeaderOnly returns a PNG signature and an IHDR chunk declaring w x h
// 8-bit gray, with a correct CRC, and nothing else.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := []byte("IHDR")
	for _, v := range []uint32{w, h} {
		chunk = append(chunk, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	chunk = append(chunk, 8, 0, 0, 0, 0) // depth 8, gray, deflate, filter 0, no interlace
	b.Write([]byte{0, 0, 0, 13})
	b.Write(chunk)
	crc := crc32IEEE(chunk)
	b.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return b.Bytes()
}

func crc32IEEE(p []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range p {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xedb88320
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestOptionErrors(t *testing.T) {
	dir := makeFolder(t)
	for _, tc := range []struct {
		name string
		opt  LoadOptions
		want string
	}{
		{"two channels", LoadOptions{C: 2}, "channels must be 1 or 3"},
		{"height only", LoadOptions{H: 8}, "give both height and width"},
		{"negative limit", LoadOptions{TrainLimit: -1}, "negative example limit"},
		{"stats length", LoadOptions{Mean: []float32{0}}, "1 means but 0 stds"},
		{"stats for wrong channels", LoadOptions{C: 3, Mean: []float32{0, 0}, Std: []float32{1, 1}}, "2 means and 2 stds for 3 channels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := LoadImageFolder(dir, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
