package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
)

// dataFlags are the data-set flags shared by train, eval, prune, quantize and compress.
type dataFlags struct {
	Spec       string
	TrainLimit int
	TestLimit  int
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.Spec, "data", "", "data set: fashion-mnist, mnist, sample, a directory of IDX files, or an image folder (DIR/train/<class>/...)")
	fs.IntVar(&d.TrainLimit, "train-limit", 0, "use only the first N training examples (0: all)")
	fs.IntVar(&d.TestLimit, "test-limit", 0, "use only the first N test examples (0: all)")
}

func (d *dataFlags) validate() error {
	if d.TrainLimit < 0 || d.TestLimit < 0 {
		return badInput("--train-limit and --test-limit must be >= 0")
	}
	return nil
}

// load reads the data set. chw, when non-nil, is the model's [C,H,W]: image
// folders are resized to it and IDX data must match it.
func (d *dataFlags) load(e *env, chw []int) (train, test *data.Dataset, err error) {
	if d.Spec == "" {
		return nil, nil, badInput("--data is required")
	}
	opt := data.LoadOptions{TrainLimit: d.TrainLimit, TestLimit: d.TestLimit}
	if chw != nil {
		opt.C, opt.H, opt.W = chw[0], chw[1], chw[2]
	}
	train, test, err = data.Load(d.Spec, opt)
	if err != nil {
		return nil, nil, asInput(err)
	}
	if chw != nil && (train.C != chw[0] || train.H != chw[1] || train.W != chw[2]) {
		return nil, nil, badInput("data %q has images of %dx%dx%d, the model expects %v", d.Spec, train.C, train.H, train.W, chw)
	}
	fmt.Fprintf(e.stderr, "data: %s (%d train, %d test, %d classes, %dx%dx%d)\n", train.Name, train.Len(), test.Len(), len(train.Classes), train.C, train.H, train.W)
	return train, test, nil
}

// loadModel reads an ONNX model; every failure is bad input (exit 2).
func loadModel(path string) (*graph.Graph, error) {
	if path == "" {
		return nil, badInput("--model is required")
	}
	g, err := onnx.ReadFile(path)
	if err != nil {
		return nil, asInput(err)
	}
	return g, nil
}

// inputCHW returns the model's single input as [C,H,W].
func inputCHW(g *graph.Graph) ([]int, error) {
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) != 4 {
		return nil, badInput("model %q: need one NCHW image input, has %d inputs", g.Name, len(g.Inputs))
	}
	s := g.Inputs[0].Shape[1:]
	for _, d := range s {
		if d <= 0 {
			return nil, badInput("model %q: input %q has a dynamic image size %v", g.Name, g.Inputs[0].Name, g.Inputs[0].Shape)
		}
	}
	return []int{s[0], s[1], s[2]}, nil
}

// checkClasses verifies that the model's output width matches the data set.
func checkClasses(g *graph.Graph, d *data.Dataset) error {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return asInput(err)
	}
	out := shapes[g.Outputs[0].Name]
	if len(out) != 2 || out[1] != len(d.Classes) {
		return badInput("model output %v does not match the %d classes of %s", out, len(d.Classes), d.Name)
	}
	return nil
}

// stampData records the data set's class names and normalisation in the model.
func stampData(g *graph.Graph, d *data.Dataset) {
	g.Meta["slimgo.classes"] = strings.Join(d.Classes, ",")
	g.Meta["slimgo.data"] = d.Name
}

// fileSize returns a file's size in bytes (0 if it cannot be read).
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// checkOutput verifies, before any work is done, that the output file path
// can be created: its directory must exist (outputs are written atomically
// into it and directories are not created for them, so a mistyped path
// fails) and accept a new file (probed with a temporary file removed at
// once). A failure is bad input (exit 2), so a long run never ends by losing
// its result to an unwritable --out.
func checkOutput(path string) error {
	dir := filepath.Dir(filepath.Clean(path))
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return badInput("cannot write %s: %v", path, err)
	case !st.IsDir():
		return badInput("cannot write %s: %s is not a directory", path, dir)
	}
	return probeDir(path, dir)
}

// checkOutputDir is checkOutput for a directory the command creates (a
// checkpoint or --out directory): its nearest existing ancestor must be a
// writable directory.
func checkOutputDir(path string) error {
	dir := filepath.Clean(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return badInput("cannot create %s: %s is not a directory", path, dir)
			}
			return probeDir(path, dir)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return badInput("cannot create %s: %v", path, err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return badInput("cannot create %s: no existing parent directory", path)
		}
		dir = up
	}
}

// probeDir creates and removes a temporary file in dir.
func probeDir(path, dir string) error {
	f, err := os.CreateTemp(dir, ".slimgo-probe*")
	if err != nil {
		return badInput("cannot write %s: %v", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
