package tests

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/onnx/pb"
	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

// sampleIDX is the bundled Fashion-MNIST sample (gzip IDX files).
const sampleIDX = "../data/sample/fashion-mnist"

// fixtures writes every bad (and the few good) input files the table uses
// into dir. Everything is generated from fixed seeds, so the table is the
// same on every machine.
func fixtures(t *testing.T, dir string) {
	t.Helper()
	write := func(name string, b []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	model := func(name string, in []int, classes int) []byte {
		t.Helper()
		g, err := nn.Build("resnet8", in, classes, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Marshal(g, onnx.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
		return b
	}

	// ONNX models.
	good := model("good.onnx", []int{1, 28, 28}, 10)
	model("two-channel.onnx", []int{2, 28, 28}, 10)
	model("five.onnx", []int{1, 28, 28}, 5)
	write("trunc.onnx", good[:len(good)/2])
	write("garbage.onnx", garbage(4096))
	write("empty.onnx", nil)
	write("unsupported.onnx", onnxModel(t, "FancyOp", nil))
	write("huge.onnx", onnxModel(t, "Conv", &pb.TensorProto{Name: ptr("w"), DataType: ptr(int32(pb.TensorProto_FLOAT)),
		Dims: []int64{1 << 20, 1 << 20, 3, 3}, RawData: make([]byte, 16)}))

	// IDX directories: truncated images, wrong magic.
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		raw := gunzip(t, filepath.Join(sampleIDX, name+".gz"))
		tr, wm := raw, raw
		if name == "train-images-idx3-ubyte" {
			tr = raw[:len(raw)/3]
			wm = append([]byte{0xde, 0xad, 0xbe, 0xef}, raw[4:]...)
		}
		write(filepath.Join("idx-trunc", name), tr)
		write(filepath.Join("idx-magic", name), wm)
	}

	imageFixtures(t, dir, write)
	npyFixtures(t, write, garbage)

	// compress config files.
	write("unknown-key.yaml", []byte("seed: 3\nchannel:\n  method: ddpg\n  episodez: 4\n"))
	write("bad.yaml", []byte("seed: [1, 2\nchannel: {method: \n"))
	write("wrong-type.yaml", []byte("batch: lots\n"))
	write("bad-value.yaml", []byte("channel:\n  method: magic\n"))

	// Training checkpoints: a corrupt one (and its .prev) for --resume.
	write("ckpt-bad/train.ckpt", garbage(300))
	write("ckpt-bad/train.ckpt.prev", append([]byte("SLIMGOCK"), garbage(100)...))
	// A file where a directory is expected.
	write("plainfile", []byte("x"))
}

// imageFixtures writes image folders: no classes; one corrupt PNG; one
// corrupt JPEG.
func imageFixtures(t *testing.T, dir string, write func(string, []byte)) {
	t.Helper()
	for _, d := range []string{"img-empty/train", "img-empty/test"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pngOf := func(v uint8) []byte {
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		for i := range img.Pix {
			img.Pix[i] = v + uint8(i%7)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var jb bytes.Buffer
	jimg := image.NewRGBA(image.Rect(0, 0, 28, 28))
	jimg.Set(3, 3, color.RGBA{200, 10, 10, 255})
	if err := jpeg.Encode(&jb, jimg, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"img-png", "img-jpg"} {
		for _, split := range []string{"train", "test"} {
			for c, class := range []string{"cat", "dog"} {
				for i := range 3 {
					write(filepath.Join(f, split, class, string(rune('0'+i))+".png"), pngOf(uint8(40*c+10*i)))
				}
			}
		}
	}
	write("img-png/train/dog/bad.png", pngOf(9)[:60])
	write("img-jpg/train/cat/bad.jpg", jb.Bytes()[:len(jb.Bytes())/2])

}

// npyFixtures writes .npy inputs for predict: wrong shape, garbage, a
// header promising more than the file holds, a NaN.
func npyFixtures(t *testing.T, write func(string, []byte), garbage func(int) []byte) {
	t.Helper()
	var nb bytes.Buffer
	if err := npy.Write(&nb, tensor.New(2, 3)); err != nil {
		t.Fatal(err)
	}
	write("wrong-shape.npy", nb.Bytes())
	write("garbage.npy", garbage(1000))
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 1, 28, 28), }"
	hdr += strings.Repeat(" ", 63-(10+len(hdr))%64) + "\n"
	huge := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
	write("huge.npy", append(append(huge, hdr...), make([]byte, 64)...))
	nb.Reset()
	nan := tensor.New(1, 1, 28, 28)
	nan.Data[5] = float32(mathNaN())
	if err := npy.Write(&nb, nan); err != nil {
		t.Fatal(err)
	}
	write("nan.npy", nb.Bytes())

}

func mathNaN() float64 {
	var z float64
	return z / z
}

func ptr[T any](v T) *T { return &v }

// onnxModel returns a one-node ONNX model x -> op -> y; init, when set, is
// the node's second input as an initializer.
func onnxModel(t *testing.T, op string, init *pb.TensorProto) []byte {
	t.Helper()
	vi := func(name string, dims ...int64) *pb.ValueInfoProto {
		var ds []*pb.TensorShapeProto_Dimension
		for _, d := range dims {
			ds = append(ds, &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &pb.ValueInfoProto{Name: ptr(name), Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: ptr(int32(pb.TensorProto_FLOAT)), Shape: &pb.TensorShapeProto{Dim: ds}}}}}
	}
	in := []string{"x"}
	var inits []*pb.TensorProto
	if init != nil {
		in = append(in, init.GetName())
		inits = append(inits, init)
	}
	m := &pb.ModelProto{
		IrVersion:   ptr(int64(8)),
		OpsetImport: []*pb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(13))}},
		Graph: &pb.GraphProto{Name: ptr("bad"), Node: []*pb.NodeProto{{Name: ptr("n"), OpType: ptr(op), Input: in, Output: []string{"y"}}},
			Initializer: inits, Input: []*pb.ValueInfoProto{vi("x", 1, 1, 28, 28)}, Output: []*pb.ValueInfoProto{vi("y")}},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 16 || binary.BigEndian.Uint32(b) == 0 {
		t.Fatalf("%s: not an IDX file", path)
	}
	return b
}

// badCase is one row of the bad-input table: a command line that must fail
// with exit 2 and exactly one "slimgo: " line on stderr, the last one,
// containing want (case-insensitive), with no panic trace anywhere. Other
// stderr lines may only be progress ("data: ...") or a "warning: ".
type badCase struct {
	name  string
	class string
	args  []string
	want  string
}

// badCases is the table. Arguments are relative to the fixture directory.
// Data-reading cases use tiny limits so that none gets as far as training.
func badCases() []badCase {
	d := []string{"--train-limit", "64", "--test-limit", "32"}
	tr := func(extra ...string) []string {
		return append(append([]string{"train", "--arch", "resnet8", "--out", "out.onnx", "--epochs", "1"}, d...), extra...)
	}
	cmp := func(extra ...string) []string {
		return append(append([]string{"compress", "--model", "good.onnx", "--data", "sample", "--out", "cdir", "--no-ort"}, d...), extra...)
	}
	return []badCase{
		// ONNX files.
		{"onnx truncated", "onnx", []string{"info", "--model", "trunc.onnx"}, "trunc.onnx"},
		{"onnx garbage", "onnx", []string{"info", "--model", "garbage.onnx"}, "garbage.onnx"},
		{"onnx empty", "onnx", []string{"info", "--model", "empty.onnx"}, "empty.onnx"},
		{"onnx missing file", "onnx", []string{"info", "--model", "nope.onnx"}, "nope.onnx"},
		{"onnx unsupported op", "onnx", []string{"info", "--model", "unsupported.onnx"}, "FancyOp"},
		{"onnx huge tensor", "onnx", []string{"info", "--model", "huge.onnx"}, "huge.onnx"},
		{"onnx garbage eval", "onnx", []string{"eval", "--model", "garbage.onnx", "--data", "sample"}, "garbage.onnx"},
		{"onnx truncated convert", "onnx", []string{"convert", "--model", "trunc.onnx", "--out", "c.onnx"}, "trunc.onnx"},
		{"onnx truncated prune", "onnx", []string{"prune", "--model", "trunc.onnx", "--method", "slim", "--ratio", "0.3", "--out", "p.onnx"}, "trunc.onnx"},
		{"onnx huge quantize", "onnx", []string{"quantize", "--model", "huge.onnx", "--out", "q.onnx"}, "huge.onnx"},
		{"onnx unsupported compress", "onnx", []string{"compress", "--model", "unsupported.onnx", "--data", "sample", "--out", "cdir"}, "FancyOp"},
		{"onnx garbage train", "onnx", append([]string{"train", "--model", "garbage.onnx", "--data", "sample", "--out", "o.onnx"}, d...), "garbage.onnx"},
		{"onnx directory as model", "onnx", []string{"info", "--model", "idx-trunc"}, "idx-trunc"},

		// IDX data.
		{"idx truncated", "idx", tr("--data", "idx-trunc"), "idx-trunc"},
		{"idx wrong magic", "idx", tr("--data", "idx-magic"), "magic"},
		{"idx truncated eval", "idx", []string{"eval", "--model", "good.onnx", "--data", "idx-trunc"}, "idx-trunc"},

		// Image folders.
		{"images no classes", "images", tr("--data", "img-empty"), "img-empty"},
		{"images corrupt png", "images", tr("--data", "img-png"), "bad.png"},
		{"images corrupt jpeg", "images", tr("--data", "img-jpg"), "bad.jpg"},

		// Data sets that are not there or do not fit the model.
		{"data nothing", "data", tr("--data", "no/such/dir"), "no/such/dir"},
		{"data plain file", "data", tr("--data", "plainfile"), "plainfile"},
		{"data missing flag", "data", []string{"train", "--arch", "resnet8", "--out", "o.onnx"}, "--data"},
		{"data channel mismatch", "data", append([]string{"eval", "--model", "two-channel.onnx", "--data", "sample"}, d...), "channels"},
		{"data class mismatch", "data", append([]string{"train", "--model", "five.onnx", "--data", "sample", "--out", "o.onnx"}, d...), "classes"},
		{"data negative limit", "data", []string{"eval", "--model", "good.onnx", "--data", "sample", "--test-limit", "-3"}, "limit"},

		// Flags.
		{"flag unknown arch", "flags", tr("--data", "sample", "--arch", "resnet9000"), "resnet9000"},
		{"flag batch 0", "flags", tr("--data", "sample", "--batch", "0"), "--batch"},
		{"flag negative epochs", "flags", tr("--data", "sample", "--epochs", "-2"), "--epochs"},
		{"flag negative nan retries", "flags", tr("--data", "sample", "--nan-retries", "-1"), "--nan-retries"},
		{"flag bad number", "flags", tr("--data", "sample", "--lr", "fast"), "fast"},
		{"flag unknown", "flags", []string{"train", "--bogus"}, "bogus"},
		{"flag stray argument", "flags", []string{"info", "--model", "good.onnx", "extra"}, "extra"},
		{"flag missing model", "flags", []string{"info"}, "--model"},
		{"flag missing out", "flags", []string{"train", "--arch", "resnet8", "--data", "sample"}, "--out"},
		{"flag arch and model", "flags", []string{"train", "--arch", "resnet8", "--model", "good.onnx", "--data", "sample", "--out", "o.onnx"}, "--arch"},
		{"flag unknown method", "flags", []string{"prune", "--model", "good.onnx", "--method", "magic", "--out", "p.onnx"}, "magic"},
		{"flag prune distill weight", "flags", []string{"prune", "--model", "good.onnx", "--method", "slim", "--ratio", "0.3", "--distill", "2", "--out", "p.onnx"}, "--distill"},
		{"flag compress distill weight", "flags", cmp("--distill", "-0.5"), "distill"},
		{"flag predict batch 0", "flags", []string{"predict", "--model", "good.onnx", "--input", "wrong-shape.npy", "--out", "y.npy", "--batch", "0"}, "--batch"},
		{"command unknown", "flags", []string{"frobnicate"}, "frobnicate"},
		{"command none", "flags", nil, "usage"},

		// Output locations.
		{"out in /proc", "output", tr("--data", "sample", "--out", "/proc/x.onnx"), "/proc/x.onnx"},
		{"out missing dir", "output", tr("--data", "sample", "--out", "no/such/dir/m.onnx"), "no/such/dir"},
		{"out under a file", "output", []string{"convert", "--model", "good.onnx", "--out", "plainfile/c.onnx"}, "plainfile"},
		{"out compress dir under a file", "output", cmp("--out", "plainfile/run"), "plainfile"},
		{"out predict in /proc", "output", []string{"predict", "--model", "good.onnx", "--input", "nan.npy", "--out", "/proc/y.npy"}, "/proc/y.npy"},

		// .npy inputs.
		{"npy wrong shape", "npy", []string{"predict", "--model", "good.onnx", "--input", "wrong-shape.npy", "--out", "y.npy"}, "shape"},
		{"npy garbage", "npy", []string{"predict", "--model", "good.onnx", "--input", "garbage.npy", "--out", "y.npy"}, "garbage.npy"},
		{"npy huge claim", "npy", []string{"predict", "--model", "good.onnx", "--input", "huge.npy", "--out", "y.npy"}, "huge.npy"},
		{"npy NaN values", "npy", []string{"predict", "--model", "good.onnx", "--input", "nan.npy", "--out", "y.npy"}, "NaN"},
		{"npy missing", "npy", []string{"predict", "--model", "good.onnx", "--input", "nope.npy", "--out", "y.npy"}, "nope.npy"},

		// compress config files.
		{"config unknown key", "config", cmp("--config", "unknown-key.yaml"), "episodez"},
		{"config bad yaml", "config", cmp("--config", "bad.yaml"), "bad.yaml"},
		{"config wrong type", "config", cmp("--config", "wrong-type.yaml"), "wrong-type.yaml"},
		{"config bad value", "config", cmp("--config", "bad-value.yaml"), "magic"},
		{"config missing", "config", cmp("--config", "nope.yaml"), "nope.yaml"},

		// Checkpoints.
		{"checkpoint corrupt", "checkpoint", tr("--data", "sample", "--resume", "--checkpoint-dir", "ckpt-bad"), "corrupt"},
	}
}

// TestBadInputs runs the table: every case exits 2 with exactly one line on
// stderr, that line starts with "slimgo: " and names the culprit, and no
// output file is left behind.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	fixtures(t, dir)
	classes := map[string]int{}
	for _, c := range badCases() {
		classes[c.class]++
		t.Run(c.name, func(t *testing.T) {
			r := run(t, dir, c.args...)
			noPanic(t, "stderr", r.stderr)
			noPanic(t, "stdout", r.stdout)
			if r.code != 2 {
				t.Errorf("exit %d, want 2\nstderr:\n%s", r.code, tail(r.stderr))
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if c.args == nil { // no command: the usage text, exit 2
				if !strings.Contains(strings.ToLower(r.stderr), c.want) {
					t.Errorf("stderr does not mention %q:\n%s", c.want, r.stderr)
				}
				return
			}
			var msgs []string
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "slimgo: "):
					msgs = append(msgs, l)
				case strings.HasPrefix(l, "data: "), strings.HasPrefix(l, "warning: "):
				default:
					t.Errorf("stray stderr line %q", l)
				}
			}
			if len(msgs) != 1 || msgs[0] != lines[len(lines)-1] {
				t.Fatalf("want exactly one stderr line starting with \"slimgo: \", the last, got:\n%s", tail(r.stderr))
			}
			if !strings.Contains(strings.ToLower(msgs[0]), strings.ToLower(c.want)) {
				t.Errorf("message does not mention %q: %s", c.want, msgs[0])
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			for _, out := range []string{"out.onnx", "o.onnx", "c.onnx", "p.onnx", "q.onnx", "y.npy"} {
				if _, err := os.Stat(filepath.Join(dir, out)); err == nil {
					t.Errorf("a failed run left %s behind", out)
				}
			}
		})
	}
	t.Logf("%d bad-input cases in %d classes: %v", len(badCases()), len(classes), classes)
}

// TestCorruptCheckpointFallsBack checks that a damaged newest training
// checkpoint is reported and skipped for the previous good one, and that
// the resumed run still ends with the model an uninterrupted run writes.
func TestCorruptCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	args := []string{"train", "--arch", "resnet8", "--data", "sample", "--train-limit", "256", "--test-limit", "64",
		"--epochs", "3", "--batch", "64", "--seed", "5"}
	mustRun(t, dir, append(args, "--out", "ref.onnx")...)
	// ref.onnx.ckpt now holds train.ckpt (after epoch 3) and train.ckpt.prev
	// (after epoch 2). Damage the newest: the resume must fall back to
	// epoch 2, redo epoch 3 and write the same model.
	ck := filepath.Join(dir, "ref.onnx.ckpt", train.CheckpointFile)
	b, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(ck, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, dir, append(args, "--out", "again.onnx", "--checkpoint-dir", "ref.onnx.ckpt", "--resume")...)
	if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "corrupt checkpoint") {
		t.Errorf("the damaged checkpoint was not reported:\n%s", tail(r.stderr))
	}
	if !strings.Contains(r.stderr, "resuming from") || !strings.Contains(r.stderr, ".prev") {
		t.Errorf("the run did not resume from the previous checkpoint:\n%s", tail(r.stderr))
	}
	sameFile(t, filepath.Join(dir, "ref.onnx"), filepath.Join(dir, "again.onnx"))
}
