package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeIDXDir writes a synthetic IDX set (idxBytes) to dir: training files
// gzip-compressed, test files raw, to exercise both.
func writeIDXDir(t testing.TB, dir string, nTrain, nTest, h, w int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ti, tl := idxBytes(nTrain, h, w)
	ei, el := idxBytes(nTest, h, w)
	for name, b := range map[string][]byte{
		"train-images-idx3-ubyte.gz": gz(t, ti), "train-labels-idx1-ubyte.gz": gz(t, tl),
		"t10k-images-idx3-ubyte": ei, "t10k-labels-idx1-ubyte": el,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadResolution(t *testing.T) {
	root := t.TempDir()
	t.Setenv("SLIMGO_DATA", root)
	writeIDXDir(t, filepath.Join(root, "fashion-mnist"), 12, 5, 4, 4)

	// 1. $SLIMGO_DATA/<name> wins, with the known classes and statistics.
	tr, te, err := Load("fashion-mnist", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Source != filepath.Join(root, "fashion-mnist") || tr.Len() != 12 || te.Len() != 5 || tr.H != 4 {
		t.Fatalf("source %q, n=%d/%d, H=%d", tr.Source, tr.Len(), te.Len(), tr.H)
	}
	if tr.Name != "fashion-mnist" || tr.Classes[0] != "T-shirt/top" || tr.Classes[9] != "Ankle boot" || tr.Mean[0] != 0.2860 || tr.Std[0] != 0.3530 {
		t.Fatalf("name %q classes %v stats %v %v", tr.Name, tr.Classes, tr.Mean, tr.Std)
	}
	// Pixel 0 of image 1 is 7: (7/255 - 0.286)/0.353.
	if want := (7.0/255 - 0.2860) / 0.3530; math.Abs(float64(tr.X[16])-want) > 1e-5 {
		t.Fatalf("normalised pixel %g, want %g", tr.X[16], want)
	}

	// 2. A directory there without IDX files is skipped: next is the system
	// directory if it has the files, else the bundled sample.
	if err := os.MkdirAll(filepath.Join(root, "mnist"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr, _, err = Load("mnist", LoadOptions{TrainLimit: 10, TestLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	sys := filepath.Join(SystemDataDir, "mnist")
	if hasIDX(sys) {
		if tr.Source != sys {
			t.Fatalf("mnist from %q, want %q", tr.Source, sys)
		}
	} else if !strings.HasPrefix(tr.Source, "bundled sample") {
		t.Fatalf("mnist from %q, want the bundled sample", tr.Source)
	}
	if tr.Name != "mnist" || tr.Len() != 10 || tr.Mean[0] != 0.1307 {
		t.Fatalf("mnist: name %q n=%d mean %v", tr.Name, tr.Len(), tr.Mean)
	}

	// 3. Without SLIMGO_DATA, fashion-mnist comes from the system dir when
	// installed (Debian's dataset-fashion-mnist), else the bundled sample.
	t.Setenv("SLIMGO_DATA", "")
	tr, _, err = Load("fashion-mnist", LoadOptions{TrainLimit: 5, TestLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	sys = filepath.Join(SystemDataDir, "fashion-mnist")
	if want := sys; !hasIDX(sys) {
		if !strings.HasPrefix(tr.Source, "bundled sample") {
			t.Fatalf("fashion-mnist from %q, want the bundled sample", tr.Source)
		}
	} else if tr.Source != want {
		t.Fatalf("fashion-mnist from %q, want %q", tr.Source, want)
	}

	// 4. A path: an IDX directory is a generic set with computed statistics.
	generic := filepath.Join(root, "digits")
	writeIDXDir(t, generic, 30, 7, 3, 3)
	tr, te, err = Load(generic, LoadOptions{TrainLimit: 20, C: 3, H: 5, W: 6})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Name != "digits" || tr.Len() != 20 || te.Len() != 7 || tr.C != 3 || tr.H != 5 || tr.W != 6 {
		t.Fatalf("generic: %q n=%d/%d %dx%dx%d", tr.Name, tr.Len(), te.Len(), tr.C, tr.H, tr.W)
	}
	if len(tr.Classes) != 10 || tr.Classes[3] != "3" || len(tr.Mean) != 3 || tr.Mean[0] == 0.2860 {
		t.Fatalf("generic classes %v stats %v", tr.Classes, tr.Mean)
	}

	// 5. A path: an image folder.
	folder := makeFolder(t)
	tr, _, err = Load(folder, LoadOptions{})
	if err != nil || !slices.Equal(tr.Classes, []string{"ant", "bee", "cat"}) {
		t.Fatalf("image folder via Load: %v, classes %v", err, tr.Classes)
	}
}

func TestLoadErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	partial := filepath.Join(root, "partial")
	writeIDXDir(t, partial, 4, 4, 2, 2)
	os.Remove(filepath.Join(partial, "t10k-labels-idx1-ubyte"))
	badLabel := filepath.Join(root, "badlabel")
	writeIDXDir(t, filepath.Join(badLabel, "fashion-mnist"), 12, 4, 2, 2)
	// 12 images of labels i mod 10 fit; rewrite test labels as 0..3 + 200.
	lab := []byte{0, 0, 8, 1, 0, 0, 0, 4, 200, 201, 202, 203}
	os.WriteFile(filepath.Join(badLabel, "fashion-mnist", "t10k-labels-idx1-ubyte"), lab, 0o644)
	sizes := filepath.Join(root, "sizes")
	writeIDXDir(t, sizes, 4, 4, 2, 2)
	ei, _ := idxBytes(4, 3, 3)
	os.WriteFile(filepath.Join(sizes, "t10k-images-idx3-ubyte"), ei, 0o644)
	for _, tc := range []struct {
		name, spec, env, want string
	}{
		{"unknown name", "cifar-99", "", `"cifar-99" is neither a known data set`},
		{"a file", file, "", "is a file"},
		{"empty dir", root, "", "holds neither IDX files"},
		{"missing label file", partial, "", "missing t10k-labels-idx1-ubyte[.gz]"},
		{"label beyond classes", "fashion-mnist", badLabel, "label 200 of example 0 is not below 10 classes"},
		{"train/test sizes differ", sizes, "", "training images are 2 x 2 but test images 3 x 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SLIMGO_DATA", tc.env)
			if _, _, err := Load(tc.spec, LoadOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBundledSamples(t *testing.T) {
	for _, tc := range []struct {
		spec            string
		name            string
		nTrain, nTest   int
		firstClass      string
		wantTrainMean   float64 // approximate mean pixel of the real data
		wantTrainMeanTo float64
	}{
		{"sample", "fashion-mnist", 6000, 1000, "T-shirt/top", 0.2860, 0.02},
		{"fashion-mnist-sample", "fashion-mnist", 6000, 1000, "T-shirt/top", 0.2860, 0.02},
		{"mnist-sample", "mnist", 2000, 500, "0", 0.1307, 0.02},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			tr, te, err := Load(tc.spec, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Len() != tc.nTrain || te.Len() != tc.nTest || tr.C != 1 || tr.H != 28 || tr.W != 28 {
				t.Fatalf("n=%d/%d shape %dx%dx%d", tr.Len(), te.Len(), tr.C, tr.H, tr.W)
			}
			if tr.Name != tc.name || tr.Classes[0] != tc.firstClass || len(tr.Classes) != 10 || !strings.HasPrefix(tr.Source, "bundled sample") {
				t.Fatalf("name %q classes %v source %q", tr.Name, tr.Classes, tr.Source)
			}
			for _, d := range []*Dataset{tr, te} {
				count := make([]int, 10)
				for _, l := range d.Labels {
					count[l]++
				}
				for c, n := range count {
					if n != d.Len()/10 {
						t.Fatalf("class %d has %d of %d examples; want exact balance", c, n, d.Len())
					}
				}
			}
			// Undo the normalisation: the mean pixel is close to the full
			// set's published mean, so these are real images, not noise.
			var s float64
			for _, v := range tr.X {
				s += float64(v)*float64(tr.Std[0]) + float64(tr.Mean[0])
			}
			if m := s / float64(len(tr.X)); math.Abs(m-tc.wantTrainMean) > tc.wantTrainMeanTo {
				t.Fatalf("mean pixel %g, want %g +- %g", m, tc.wantTrainMean, tc.wantTrainMeanTo)
			}
		})
	}
}
