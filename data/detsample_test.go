package data

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// treeHash hashes every file's path and bytes under dir.
func treeHash(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Write([]byte(rel))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestGenerateDetSample writes a small set twice with one seed and once
// with another, and reads it back with LoadYOLO: byte-identical for the
// same seed, different for another, boxes and counts as reported, every
// box inside the image and covering bright object pixels.
func TestGenerateDetSample(t *testing.T) {
	opt := DetSampleOptions{Seed: 3, Train: 40, Val: 12, Background: 0.1}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	sum, err := GenerateDetSample(a, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateDetSample(b, opt); err != nil {
		t.Fatal(err)
	}
	opt.Seed = 4
	if _, err := GenerateDetSample(c, opt); err != nil {
		t.Fatal(err)
	}
	if treeHash(t, a) != treeHash(t, b) {
		t.Error("same seed, different files")
	}
	if treeHash(t, a) == treeHash(t, c) {
		t.Error("different seeds, same files")
	}
	if sum.Images != [2]int{40, 12} || len(sum.Classes) != 10 || sum.Classes[9] != "Ankle boot" {
		t.Fatalf("summary %+v", sum)
	}
	tr, va, err := LoadYOLO(a, YOLOOptions{H: 64, W: 64, Mean: []float32{0}, Std: []float32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.C != 1 || !slices.Equal(tr.Classes, sum.Classes) {
		t.Fatalf("loaded C %d classes %q", tr.C, tr.Classes)
	}
	for k, d := range []*DetDataset{tr, va} {
		objs, bg := 0, 0
		for i, o := range d.Objects {
			objs += len(o)
			if len(o) == 0 {
				bg++
			}
			for _, g := range o {
				if g.X1 < 0 || g.Y1 < 0 || g.X2 > 64 || g.Y2 > 64 || g.W() < 2 || g.H() < 2 {
					t.Fatalf("split %d image %d: box %v", k, i, g.Box)
				}
				// The brightest pixel inside the box is object, above any clutter
				// level a background can reach alone by much.
				var peak float32
				for y := int(g.Y1); y < int(g.Y2); y++ {
					for x := int(g.X1); x < int(g.X2); x++ {
						peak = max(peak, d.X[i*64*64+y*64+x])
					}
				}
				if peak < 100.0/255 {
					t.Errorf("split %d image %d: box %v has no bright pixel (peak %g)", k, i, g.Box, peak*255)
				}
			}
		}
		if objs != sum.Objects[k] || bg != sum.Background[k] {
			t.Errorf("split %d: loaded %d objects / %d background, generator said %d / %d", k, objs, bg, sum.Objects[k], sum.Background[k])
		}
	}
	if sum.Background[0] == 0 || sum.Objects[0] < 2*40 {
		t.Errorf("weak scenes: %+v", sum)
	}
	if _, err := GenerateDetSample(t.TempDir(), DetSampleOptions{MinSide: 50, MaxSide: 80}); err == nil {
		t.Error("objects larger than the image accepted")
	}
	if _, err := GenerateDetSample(t.TempDir(), DetSampleOptions{Objects: "nope"}); err == nil {
		t.Error("unknown object source accepted")
	}
}
