package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/engine"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/tensor"
)

// squares is an in-memory detection set of n 32x32 grey images, each with
// one or two bright rectangles (sides 8-16 px, class 0 for wide ones and 1
// for tall ones) on a noisy dark background.
func squares(n int, seed uint64) *data.DetDataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	d := &data.DetDataset{Name: "squares", Classes: []string{"wide", "tall"}, C: 1, H: 32, W: 32, Mean: []float32{0}, Std: []float32{1}}
	lb, _ := detect.NewLetterbox(32, 32, 32, 32)
	for range n {
		img := make([]float32, 32*32)
		for k := range img {
			img[k] = float32(rng.Float64() * 0.3)
		}
		var objs []detect.GroundTruth
		for range 1 + rng.IntN(2) {
			long, short := 12+rng.IntN(5), 6+rng.IntN(3)
			w, h, c := long, short, 0
			if rng.IntN(2) == 1 {
				w, h, c = short, long, 1
			}
			x0, y0 := rng.IntN(32-w+1), rng.IntN(32-h+1)
			b := detect.Box{X1: float64(x0), Y1: float64(y0), X2: float64(x0 + w), Y2: float64(y0 + h)}
			if len(objs) > 0 && detect.Intersection(b, objs[0].Box) > 0 {
				continue
			}
			for y := y0; y < y0+h; y++ {
				for x := x0; x < x0+w; x++ {
					img[y*32+x] = 1
				}
			}
			objs = append(objs, detect.GroundTruth{Box: b, Class: c})
		}
		d.X = append(d.X, img...)
		d.Objects = append(d.Objects, objs)
		d.Letterbox = append(d.Letterbox, lb)
		d.Files = append(d.Files, "")
	}
	return d
}

// TestFitDetector trains yolo-s for a few epochs on a toy set (wide vs
// tall rectangles): the loss must fall by half and the validation
// mAP@0.5 must pass 50 % (the untrained model's is near 0).
func TestFitDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a detector; skipped with -short")
	}
	tr, va := squares(256, 1), squares(64, 2)
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := EvaluateDetector(g, va, detect.DefaultNMS)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	hist, err := FitDetector(g, tr, DetectOptions{Epochs: 8, Batch: 16, LR: 4e-3, FlipH: true, Seed: 1, Val: va, EvalEvery: 8, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + log.String())
	first, last := hist[0], hist[len(hist)-1]
	if !(last.Loss < 0.5*first.Loss) {
		t.Errorf("loss %g -> %g: did not halve", first.Loss, last.Loss)
	}
	if math.IsNaN(last.MAP50) || !(last.MAP50 > 0.5) || !(before.MAP50 < 0.1) {
		t.Errorf("mAP@0.5 %g before, %g after training", before.MAP50, last.MAP50)
	}
}

func TestHeadStrides(t *testing.T) {
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := HeadStrides(g)
	if err != nil || len(s) != 2 || s[0] != 8 || s[1] != 16 {
		t.Fatalf("strides %v, %v", s, err)
	}
	g.Meta["slimgo.strides"] = "8"
	if _, err := HeadStrides(g); err == nil {
		t.Error("one stride for two outputs accepted")
	}
}

// TestFitDetectorStops: a cancelled context stops FitDetector before its
// first step with ErrStopped.
func TestFitDetectorStops(t *testing.T) {
	g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hist, err := FitDetector(g, squares(16, 1), DetectOptions{Epochs: 2, Batch: 8, Context: ctx})
	if !errors.Is(err, ErrStopped) || len(hist) != 0 {
		t.Fatalf("history %v, error %v; want ErrStopped before any epoch", hist, err)
	}
}

// distillGap is detect.DistillLoss between student's and teacher's maps
// on the first 32 images of set (inference mode).
func distillGap(t *testing.T, student, teacher *graph.Graph, set *data.DetDataset) float64 {
	t.Helper()
	idx := make([]int, min(32, set.Len()))
	for i := range idx {
		idx[i] = i
	}
	x, _ := set.Batch(idx, nil)
	var maps [2][]detect.HeadMap
	for k, g := range []*graph.Graph{student, teacher} {
		exec, err := engine.New(g)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Run(map[string]*tensor.Tensor{g.Inputs[0].Name: x}, false)
		if err != nil {
			t.Fatal(err)
		}
		strides, _ := HeadStrides(g)
		if maps[k], err = headMaps(g, out, strides); err != nil {
			t.Fatal(err)
		}
	}
	l, _, err := detect.DistillLoss(maps[0], maps[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFitDetectorDistill: with DistillWeight 1 the student learns the
// teacher's maps (the gap falls by more than half in a few epochs of a
// toy set), and a weight without a teacher or out of (0, 1] is an error.
func TestFitDetectorDistill(t *testing.T) {
	teacher, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	student, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	set := squares(64, 3)
	if _, err := FitDetector(teacher, set, DetectOptions{Epochs: 2, Batch: 16, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	before := distillGap(t, student, teacher, set)
	if _, err := FitDetector(student, set, DetectOptions{Epochs: 6, Batch: 16, LR: 4e-3, Seed: 1, Teacher: teacher, DistillWeight: 1}); err != nil {
		t.Fatal(err)
	}
	after := distillGap(t, student, teacher, set)
	t.Logf("distillation gap %.4f -> %.4f", before, after)
	if !(after < 0.5*before) {
		t.Errorf("distillation gap %g -> %g: did not halve", before, after)
	}
	for _, o := range []DetectOptions{{DistillWeight: 0.5}, {Teacher: teacher, DistillWeight: 1.5}, {Teacher: teacher, DistillWeight: -1}} {
		o.Epochs, o.Batch = 1, 16
		if _, err := FitDetector(student, set, o); err == nil || !strings.Contains(err.Error(), "distillation weight") {
			t.Errorf("weight %g, teacher %v: error %v", o.DistillWeight, o.Teacher != nil, err)
		}
	}
}

// cancelAfter is a Log writer that cancels its context once it has seen
// n epoch lines.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(b []byte) (int, error) {
	if strings.HasPrefix(string(b), "epoch ") {
		if c.n--; c.n == 0 {
			c.cancel()
		}
	}
	return len(b), nil
}

// TestFitDetectorResume: a run stopped after its second epoch and resumed
// from its checkpoint ends with exactly the weights and figures of an
// uninterrupted run (flips and jitter draw from the checkpointed stream);
// a checkpoint of another run is refused.
func TestFitDetectorResume(t *testing.T) {
	set := squares(48, 5)
	build := func() *graph.Graph {
		g, err := nn.BuildDetector("yolo-s", []int{1, 32, 32}, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	opts := DetectOptions{Epochs: 4, Batch: 16, LR: 4e-3, FlipH: true, Jitter: data.DefaultDetJitter, Seed: 3, Regularizers: []Regularizer{BNShrink{Lambda: 0.5}}}
	whole := build()
	want, err := FitDetector(whole, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g := build()
	ctx, cancel := context.WithCancel(context.Background())
	o := opts
	o.CheckpointDir, o.Resume, o.Context, o.Log = dir, true, ctx, &cancelAfter{n: 2, cancel: cancel}
	if _, err := FitDetector(g, set, o); !errors.Is(err, ErrStopped) {
		t.Fatalf("first part: %v, want ErrStopped", err)
	}
	var log strings.Builder
	o.Context, o.Log = context.Background(), &log
	got, err := FitDetector(build(), set, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "after epoch 2") {
		t.Errorf("resume log:\n%s", log.String())
	}
	if len(got) != len(want) || got[3].Loss != want[3].Loss || got[0].Loss != want[0].Loss {
		t.Errorf("figures %+v, want %+v", got, want)
	}
	// The resumed run wrote its weights into its own graph: read them back
	// from the final checkpoint.
	ck, err := ReadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range whole.Params {
		for i, v := range p.Data {
			if ck.Params[name].Data[i] != v {
				t.Fatalf("%s[%d] = %g after the resume, %g uninterrupted", name, i, ck.Params[name].Data[i], v)
			}
		}
	}
	o.Seed = 4
	if _, err := FitDetector(build(), set, o); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("checkpoint of another run: %v", err)
	}
}

// TestJitterBatch: each image of a batch is jittered with its own boxes:
// over 8 images of one bright square, every returned box still holds the
// square's bright pixels (within a pixel), most images move, the boxes
// the batch was given are not modified.
func TestJitterBatch(t *testing.T) {
	const n, h, w = 8, 32, 32
	x := tensor.New(n, 1, h, w)
	in := detect.GroundTruth{Box: detect.Box{X1: 8, Y1: 10, X2: 20, Y2: 18}, Class: 1}
	objs := make([][]detect.GroundTruth, n)
	given := make([][]detect.GroundTruth, n)
	for b := range n {
		for y := 10; y < 18; y++ {
			for xx := 8; xx < 20; xx++ {
				x.Data[b*h*w+y*w+xx] = 1
			}
		}
		objs[b] = []detect.GroundTruth{in}
		given[b] = objs[b]
	}
	jitterBatch(x, objs, data.DefaultDetJitter, nil, rand.New(rand.NewPCG(4, 4)))
	moved := 0
	for b := range n {
		if given[b][0] != in {
			t.Fatal("jitterBatch modified the given boxes")
		}
		o := objs[b][0]
		if o.Box != in.Box {
			moved++
		}
		lo := detect.Box{X1: w, Y1: h}
		for y := range h {
			for xx := range w {
				if x.Data[b*h*w+y*w+xx] > 0.5 {
					lo.X1, lo.Y1 = min(lo.X1, float64(xx)), min(lo.Y1, float64(y))
					lo.X2, lo.Y2 = max(lo.X2, float64(xx+1)), max(lo.Y2, float64(y+1))
				}
			}
		}
		if math.Abs(lo.X1-o.X1) > 1 || math.Abs(lo.X2-o.X2) > 1 || math.Abs(lo.Y1-o.Y1) > 1 || math.Abs(lo.Y2-o.Y2) > 1 {
			t.Errorf("image %d: bright pixels %+v, box %+v", b, lo, o.Box)
		}
	}
	if moved < n/2 {
		t.Errorf("only %d of %d images moved", moved, n)
	}
}
