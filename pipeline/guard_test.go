package pipeline

import (
	"context"
	"errors"
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/tensor"
)

// TestChoose: the bisection over the refinement path returns the first
// step within the tolerance of a monotone loss, 0 when the coarsest
// already is, the finest with fallback when none is, and stays within
// 2 + ceil(log2 n) evaluations.
func TestChoose(t *testing.T) {
	for _, c := range []struct {
		name     string
		n        int
		loss     func(int) float64
		max      float64
		want     int
		fallback bool
	}{
		{"first within", 60, func(i int) float64 { return 30 - float64(i) }, 0.5, 30, false},
		{"coarsest within", 60, func(i int) float64 { return 0.2 }, 0.5, 0, false},
		{"none within", 60, func(i int) float64 { return 1 }, 0.5, 60, true},
		{"P = 0 exact", 7, func(i int) float64 { return math.Max(0, float64(5-i)) }, 0, 5, false},
		{"one step", 1, func(i int) float64 { return float64(1 - i) }, 0.5, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			got, fb, err := choose(c.n, c.max, func(i int) (float64, error) {
				if i < 0 || i > c.n {
					t.Fatalf("loss asked for step %d of %d", i, c.n)
				}
				calls++
				return c.loss(i), nil
			})
			if err != nil || got != c.want || fb != c.fallback {
				t.Fatalf("choose = %d, fallback %v, err %v; want %d, %v", got, fb, err, c.want, c.fallback)
			}
			if limit := 2 + int(math.Ceil(math.Log2(float64(c.n)))); calls > limit {
				t.Errorf("%d loss evaluations, want <= %d", calls, limit)
			}
		})
	}
	boom := errors.New("boom")
	if _, _, err := choose(4, 0.5, func(int) (float64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("error not passed on: %v", err)
	}
}

// TestLevelOptions: the guard's levels scale a derived threshold, an
// absolute one, or a fixed K, and the finest level is the cluster cap.
func TestLevelOptions(t *testing.T) {
	if o := levelOptions(cluster.Options{}, 0.5); o.ThresholdScale != cluster.DefaultThresholdScale/2 || o.FixedK != 0 {
		t.Errorf("derived x0.5: %+v", o)
	}
	if o := levelOptions(cluster.Options{Threshold: 0.01, ThresholdScale: 0.3}, 4); o.Threshold != 0.04 || o.ThresholdScale != 0.3 {
		t.Errorf("absolute x4: %+v", o)
	}
	if o := levelOptions(cluster.Options{FixedK: 16, Method: "kmeans"}, 0.25); o.FixedK != 64 {
		t.Errorf("fixed K x0.25: %+v", o)
	}
	if o := levelOptions(cluster.Options{FixedK: 200}, 0.125); o.FixedK != cluster.MaxK {
		t.Errorf("fixed K past the cap: %+v", o)
	}
	if o := levelOptions(cluster.Options{MaxClusters: 64, Method: "kmeans", FixedK: 8}, 0); o.FixedK != 64 || o.Method != "birch-kmeans" {
		t.Errorf("finest: %+v", o)
	}
}

// guardTestScale is TestGuardHolds' clustering threshold scale: four
// times the default, so the unguarded clustering surely loses more than
// the tolerance (at the default the result hung on the trained fixture:
// after session 17's weight-gradient kernels changed its rounding, the
// default clustering gained 0.3 points and the test had nothing to check;
// at four times it loses 27 points, and the guarded model none).
const guardTestScale = 4 * cluster.DefaultThresholdScale

// TestGuardHolds: on a resnet8 trained one epoch on 3,000 images (an
// under-trained model, where clustering hurts most), quantize with a
// coarse clustering (guardTestScale) and no guard loses more than P = 0.5 points on the
// guard's validation split, so the check below means something; with
// --max-loss 0.5 the model restored from the written .slimpack loses at
// most 0.5. Both losses are recomputed here from the files, on the split
// the documented seed rule gives, not taken from the summaries. With at
// most 2 clusters a layer no setting meets P: the guard keeps the finest
// and reports the fallback with a warning.
func TestGuardHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a resnet8; skipped with -short")
	}
	dir := t.TempDir()
	e := NewEnv(context.Background(), io.Discard)
	d := DataOptions{Spec: "sample", TrainLimit: 3000, TestLimit: 200}
	model := filepath.Join(dir, "r8.onnx")
	if _, err := Train(e, &TrainOptions{Arch: "resnet8", Data: d, Epochs: 1, Batch: 128, LR: 0.1, Momentum: 0.9,
		Optimizer: "sgd", Schedule: "onecycle", Out: model, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	const P, valSize = 0.5, 1000
	q := func(name string, guard *GuardOptions, maxK int, epochs ...int) (string, map[string]any) {
		out := filepath.Join(dir, name+".onnx")
		tune := TuneOptions{Batch: 128, LR: 1e-4}
		if len(epochs) > 0 {
			tune.Epochs, tune.LR = epochs[0], 1e-3
		}
		o := &QuantizeOptions{Model: model, Data: d, Scale: guardTestScale, MaxClusters: maxK, Method: "birch-kmeans",
			Float16: true, Tune: tune, Out: out, Packed: filepath.Join(dir, name+".slimpack"), Seed: 1, Guard: guard}
		s, err := Quantize(e, o)
		if err != nil {
			t.Fatal(err)
		}
		return o.Packed, s
	}
	plainPack, plain := q("plain", nil, 256)
	guardPack, guarded := q("guarded", &GuardOptions{MaxLoss: P, ValSize: valSize}, 256)
	// With centroid fine-tuning the guard may settle coarser (fewer steps
	// of its path), never finer, and still within P.
	tunedPack, tuned := q("tuned", &GuardOptions{MaxLoss: P, ValSize: valSize}, 256, 1)
	// With at most 2 clusters a layer even the finest setting loses far
	// more than P: the guard keeps it and says so.
	_, capped := q("capped", &GuardOptions{MaxLoss: P, ValSize: valSize}, 2)
	if fig, _ := capped["guard"].(map[string]any); fig == nil || fig["fallback"] != true || fig["within"] != false || fig["warning"] == nil || fig["val_loss"].(float64) <= P {
		t.Errorf("2 clusters a layer: guard figures %v, want a fallback with a warning", capped["guard"])
	}

	g, err := loadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := d.load(e, g)
	if err != nil {
		t.Fatal(err)
	}
	_, val, err := tr.Split(valSize, tensor.NewRNG(1^guardSeedMix))
	if err != nil {
		t.Fatal(err)
	}
	loss := func(packed string) float64 {
		m, err := loadModel(packed)
		if err != nil {
			t.Fatal(err)
		}
		a0, err := accuracy(g, val, evalBatch)
		if err != nil {
			t.Fatal(err)
		}
		a, err := accuracy(m, val, evalBatch)
		if err != nil {
			t.Fatal(err)
		}
		return a0 - a
	}
	lp, lg, lt := loss(plainPack), loss(guardPack), loss(tunedPack)
	gf, tf := guarded["guard"].(map[string]any), tuned["guard"].(map[string]any)
	t.Logf("with 1 epoch of centroid fine-tuning: step %v (without: %v), %v bytes, validation loss %.2f; tries %v", tf["step"], gf["step"], tuned["bytes"], lt, tf["coarser_tries"])
	if lt > P || tf["within"] != true || tf["step"].(int) > gf["step"].(int) {
		t.Errorf("fine-tuned guard: step %v (untuned %v), loss %.2f, figures %v", tf["step"], gf["step"], lt, tf)
	}
	for _, try := range tf["coarser_tries"].([]map[string]any) {
		if try["kept"] == true && try["val_loss"].(float64) > P || try["step"].(int) >= gf["step"].(int) {
			t.Errorf("coarser try %v: kept over the tolerance, or not coarser than step %v", try, gf["step"])
		}
	}
	t.Logf("validation loss: unguarded clustering %.2f points (%v bytes), guarded %.2f (%v bytes); test accuracy %.2f -> %.2f / %.2f",
		lp, plain["bytes"], lg, guarded["bytes"], plain["accuracy_before"], plain["accuracy"], guarded["accuracy"])
	if lp <= P {
		t.Fatalf("the unguarded clustering loses only %.2f <= %.2f points: this model does not exercise the guard", lp, P)
	}
	if lg > P {
		t.Errorf("guarded model loses %.2f > %.2f points on the validation split", lg, P)
	}
	fig, _ := guarded["guard"].(map[string]any)
	if fig == nil || fig["within"] != true || fig["fallback"] != false || math.Abs(fig["val_loss"].(float64)-lg) > 1e-9 {
		t.Errorf("guard figures %v disagree with the measured loss %.2f", fig, lg)
	}
	layers, _ := guarded["layers"].([]map[string]any)
	if len(layers) == 0 {
		t.Fatalf("no per-layer figures: %v", guarded["layers"])
	}
	for _, l := range layers {
		if _, ok := l["level"].(float64); !ok || l["bits"].(float64) <= 0 || l["clusters"].(int) < 1 {
			t.Errorf("layer figures %v", l)
		}
	}
}
