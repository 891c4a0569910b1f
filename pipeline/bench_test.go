package pipeline

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/ort"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
)

// benchModels writes a resnet8 (1x28x28) as ONNX with a dynamic batch, as
// ONNX with the batch fixed at 1 (torch.onnx.export's default), as a
// .slimpack and as a static int8 QDQ ONNX, and returns the paths.
func benchModels(t *testing.T) (dyn, fixed, packed, qdq string) {
	t.Helper()
	dir := t.TempDir()
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	dyn, fixed = filepath.Join(dir, "dyn.onnx"), filepath.Join(dir, "fixed.onnx")
	packed, qdq = filepath.Join(dir, "m.slimpack"), filepath.Join(dir, "int8.onnx")
	if err := onnx.WriteFile(dyn, g, onnx.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f := g.Clone()
	f.Inputs[0].Shape = []int{1, 1, 28, 28}
	if err := onnx.WriteFile(fixed, f, onnx.WriteOptions{FoldBN: true}); err != nil {
		t.Fatal(err)
	}
	r, err := cluster.QuantizeGraph(g, cluster.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.WriteModelFile(packed, g, r, cluster.PackOptions{}); err != nil {
		t.Fatal(err)
	}
	folded, err := graph.FoldBN(g)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := onnx.QDQValues(folded)
	if err != nil {
		t.Fatal(err)
	}
	ranges := map[string][2]float32{}
	for _, v := range vals {
		ranges[v] = [2]float32{-4, 4}
	}
	if err := onnx.WriteFile(qdq, g, onnx.WriteOptions{Opset: 13, QDQ: &onnx.QDQ{Ranges: ranges}}); err != nil {
		t.Fatal(err)
	}
	return dyn, fixed, packed, qdq
}

// quick are bench options that keep a test short.
func quick(model string, batch, threads int) *BenchOptions {
	return &BenchOptions{Model: model, Batch: batch, Threads: threads, Warmup: 1, Passes: 3}
}

// checkSpeedKeys checks the slimgo keys of a bench summary: positive,
// consistent with each other, the batch and threads as asked.
func checkSpeedKeys(t *testing.T, s map[string]any, batch, threads int) {
	t.Helper()
	ips, _ := s["images_per_s"].(float64)
	ms, _ := s["ms_per_batch"].(float64)
	med, _ := s["median_ms"].(float64)
	if !(ips > 0) || !(ms > 0) || med < ms {
		t.Fatalf("images_per_s %v, ms_per_batch %v, median_ms %v: %v", s["images_per_s"], s["ms_per_batch"], s["median_ms"], s)
	}
	if d := math.Abs(ips - float64(batch)/(ms/1000)); d > 1e-6*ips {
		t.Errorf("images_per_s %g is not batch %d / ms_per_batch %g", ips, batch, ms)
	}
	if s["batch"] != batch || s["threads"] != threads || s["passes"].(int) < 3 {
		t.Errorf("batch %v threads %v passes %v, asked %d, %d, >= 3", s["batch"], s["threads"], s["passes"], batch, threads)
	}
	if p, _ := s["params"].(int); p <= 0 {
		t.Errorf("params %v", s["params"])
	}
	if m, _ := s["macs"].(int64); m <= 0 {
		t.Errorf("macs %v (%T)", s["macs"], s["macs"])
	}
	if in, _ := s["input"].([]int); len(in) != 4 || in[0] != batch || in[1] != 1 || in[2] != 28 || in[3] != 28 {
		t.Errorf("input %v", s["input"])
	}
}

// TestBenchSlimgo: bench times an ONNX file, a batch-fixed export and a
// .slimpack; the engine runs with exactly --threads workers, the process's
// setting comes back afterwards, and all cores is the default.
func TestBenchSlimgo(t *testing.T) {
	dyn, fixed, packed, qdq := benchModels(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3)) // not a count any bench asks for
	for _, c := range []struct {
		model          string
		batch, threads int
	}{{dyn, 1, 1}, {dyn, 4, 2}, {fixed, 2, 1}, {packed, 2, 1}} {
		s, err := Bench(NewEnv(nil, nil), quick(c.model, c.batch, c.threads))
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		checkSpeedKeys(t, s, c.batch, c.threads)
		if _, ok := s["ort_images_per_s"]; ok {
			t.Errorf("ONNX Runtime keys without --ort: %v", s)
		}
		if n := runtime.GOMAXPROCS(0); n != 3 {
			t.Fatalf("bench left GOMAXPROCS at %d, was 3", n)
		}
	}
	s, err := Bench(NewEnv(nil, nil), quick(dyn, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	checkSpeedKeys(t, s, 1, runtime.NumCPU())
	if _, err := Bench(NewEnv(nil, nil), quick(qdq, 1, 1)); !IsInput(err) || !strings.Contains(err.Error(), "--ort") {
		t.Errorf("int8 QDQ model without --ort: %v, want bad input naming --ort", err)
	}
}

// TestTimeSlimgoThreads: the workers the engine's parallel loops used
// during the timed passes are the ones asked for, 0 leaves the process's
// setting as it is.
func TestTimeSlimgoThreads(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, threads := range []int{1, 3, 0} {
		s, err := timeSlimgo(g, speedSettings{batch: 2, threads: threads, passes: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := threads
		if threads == 0 {
			want = 2
		}
		if s.threads != want || runtime.GOMAXPROCS(0) != 2 {
			t.Errorf("threads %d: engine ran %d workers, GOMAXPROCS after %d (want %d, 2)", threads, s.threads, runtime.GOMAXPROCS(0), want)
		}
	}
}

// TestBenchBadInput: bad settings and unreadable or corrupt models are bad
// input (exit 2).
func TestBenchBadInput(t *testing.T) {
	dyn, _, packed, _ := benchModels(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.onnx")
	if err := os.WriteFile(junk, []byte("this is not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(packed)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.slimpack")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*BenchOptions{
		quick(dyn, 0, 1), quick(dyn, 1, -1), {Model: dyn, Batch: 1, Passes: 0}, {Model: dyn, Batch: 1, Passes: 1, Warmup: -1},
		{Batch: 1, Passes: 1}, quick(filepath.Join(dir, "missing.onnx"), 1, 1), quick(junk, 1, 1), quick(cut, 1, 1),
	} {
		if _, err := Bench(NewEnv(nil, nil), o); !IsInput(err) {
			t.Errorf("%+v: %v, want bad input", o, err)
		}
	}
}

// TestBenchORT: with ORT, ONNX Runtime's figure comes beside slimgo's for
// an ONNX file (a batch-fixed one at another batch made dynamic), a
// .slimpack (through slimgo's export) and an int8 QDQ model (ONNX Runtime
// only).
func TestBenchORT(t *testing.T) {
	if err := ort.Installed(); err != nil {
		t.Skipf("ONNX Runtime checks skipped: %v", err)
	}
	dyn, fixed, packed, qdq := benchModels(t)
	for _, c := range []struct {
		model, what string
		batch       int
	}{{dyn, "file", 2}, {fixed, "file", 1}, {fixed, "file with a dynamic batch", 4}, {packed, "slimgo export (BN folded)", 2}} {
		o := quick(c.model, c.batch, 1)
		o.ORT = true
		s, err := Bench(NewEnv(nil, nil), o)
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		checkSpeedKeys(t, s, c.batch, 1)
		oips, _ := s["ort_images_per_s"].(float64)
		oms, _ := s["ort_ms_per_batch"].(float64)
		if !(oips > 0) || math.Abs(oips-float64(c.batch)/(oms/1000)) > 1e-6*oips || s["ort_model"] != c.what {
			t.Errorf("%s batch %d: ort_images_per_s %v, ort_ms_per_batch %v, ort_model %v (want %q)", c.model, c.batch, s["ort_images_per_s"], oms, s["ort_model"], c.what)
		}
		if r, _ := s["ort_ratio"].(float64); math.Abs(r-s["images_per_s"].(float64)/oips) > 1e-9*r {
			t.Errorf("ort_ratio %v is not images_per_s / ort_images_per_s", s["ort_ratio"])
		}
	}
	o := quick(qdq, 2, 1)
	o.ORT = true
	s, err := Bench(NewEnv(nil, nil), o)
	if err != nil {
		t.Fatal(err)
	}
	if ips, _ := s["ort_images_per_s"].(float64); !(ips > 0) || s["images_per_s"] != nil || s["ort_ratio"] != nil {
		t.Errorf("int8 QDQ model: %v, want ONNX Runtime's figure alone", s)
	}
}
