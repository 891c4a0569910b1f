package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

func sampleCheckpoint(epoch int) *Checkpoint {
	o := &SGD{LR: 0.1, Momentum: 0.9}
	p := map[string]*tensor.Tensor{"w": tensor.From([]float32{1, 2, 3, 4}, 2, 2), "b": tensor.From([]float32{-1}, 1)}
	o.Step(p, map[string]*tensor.Tensor{"w": tensor.From([]float32{1, 1, 1, 1}, 2, 2)})
	return &Checkpoint{Epoch: epoch, Step: 3, Global: 7, LRScale: 0.5, Params: p, Opt: o.State(), Seed: 9, Epochs: 5, Batch: 4, Train: 100,
		Result:   Result{Epochs: []EpochStats{{Epoch: 1, TrainLoss: 0.7, TestAcc: 0.5, Gamma: GammaStats{Count: 3, Histogram: []int{1, 2}}}}},
		PartLoss: 1.25, PartCorrect: 3}
}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", CheckpointFile)
	c := sampleCheckpoint(2)
	if err := WriteCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	r, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Epoch != 2 || r.Step != 3 || r.Global != 7 || r.LRScale != 0.5 || r.Seed != 9 || r.Train != 100 || r.PartLoss != 1.25 || r.PartCorrect != 3 {
		t.Errorf("scalars: %+v", r)
	}
	for k, p := range c.Params {
		if rp := r.Params[k]; rp == nil || !tensor.SameShape(rp.Shape, p.Shape) || tensor.MaxAbsDiff(rp, p) != 0 {
			t.Errorf("param %s: %v vs %v", k, rp, p)
		}
	}
	if got := r.Opt.Slots["momentum"]["w"]; len(got) != 4 || got[0] != 1 || r.Opt.Kind != "sgd" || r.Opt.Steps["w"] != 1 {
		t.Errorf("optimizer state %+v", r.Opt)
	}
	if len(r.Result.Epochs) != 1 || r.Result.Epochs[0].TrainLoss != 0.7 || r.Result.Epochs[0].Gamma.Histogram[1] != 2 {
		t.Errorf("result %+v", r.Result)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*tmp*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestCheckpointCorruption(t *testing.T) {
	good := func(t *testing.T) (string, []byte) {
		path := filepath.Join(t.TempDir(), CheckpointFile)
		if err := WriteCheckpoint(path, sampleCheckpoint(1)); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		return path, b
	}
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
		want   string
	}{
		{"flipped payload byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, "checksum"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, "truncated"},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }, "bad header"},
		{"future version", func(b []byte) []byte { b[8] = 99; return b }, "version 99"},
		{"empty", func(b []byte) []byte { return nil }, "bad header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, b := good(t)
			os.WriteFile(path, tc.damage(b), 0o644)
			_, err := ReadCheckpoint(path)
			if !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want ErrCorruptCheckpoint naming the file and %q", err, tc.want)
			}
		})
	}
}

func TestLoadLatestFallsBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointFile)
	if _, _, _, err := LoadLatestCheckpoint(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
	if err := WriteCheckpoint(path, sampleCheckpoint(1)); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(path, sampleCheckpoint(2)); err != nil {
		t.Fatal(err)
	}
	c, used, warns, err := LoadLatestCheckpoint(dir)
	if err != nil || c.Epoch != 2 || used != path || len(warns) != 0 {
		t.Fatalf("latest: %v epoch %v from %s, warnings %v", err, c, used, warns)
	}
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o644)
	c, used, warns, err = LoadLatestCheckpoint(dir)
	if err != nil || c.Epoch != 1 || used != path+".prev" || len(warns) != 1 || !errors.Is(warns[0], ErrCorruptCheckpoint) {
		t.Fatalf("fallback: %v, epoch %+v from %s, warnings %v", err, c, used, warns)
	}
	os.WriteFile(path+".prev", []byte("junk"), 0o644)
	if _, _, warns, err := LoadLatestCheckpoint(dir); err == nil || len(warns) != 2 {
		t.Errorf("both corrupt: %v, %v", err, warns)
	}
}

// Fit resumes from train.ckpt.prev when train.ckpt is corrupt, warning on
// the progress writer, and still finishes with the uninterrupted weights.
func TestFitResumesFromPrevious(t *testing.T) {
	fixProcs(t)
	set := separable(24, 1)
	base := Options{Epochs: 3, Batch: 8, LR: 0.05, Momentum: 0.9, Seed: 5}
	ref := mlp(4, 1)
	if _, err := Fit(ref, set, nil, base); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opt := base
	opt.CheckpointDir, opt.StopAfterSteps = dir, 6 // checkpoints after epochs 1, 2 and at the stop
	if _, err := Fit(mlp(4, 1), set, nil, opt); !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CheckpointFile)
	os.WriteFile(path, []byte("SLIMGOCK garbage"), 0o644)
	var log strings.Builder
	opt.StopAfterSteps, opt.Resume, opt.Progress, opt.ProgressMode = 0, true, &log, "lines"
	g := mlp(4, 1)
	res, err := Fit(g, set, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != path+".prev" || !strings.Contains(log.String(), "warning") || !strings.Contains(log.String(), "corrupt checkpoint") {
		t.Errorf("resumed from %q, log:\n%s", res.ResumedFrom, log.String())
	}
	sameBits(t, "resume from .prev", flatParams(g), flatParams(ref))
}
