package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
)

// DataOptions say which images a call reads and how they are prepared.
type DataOptions struct {
	// Spec is a data set: fashion-mnist, mnist, sample, a directory of IDX
	// files, or an image folder (see data.Load).
	Spec string
	// TrainLimit and TestLimit keep the first N examples (0: all).
	TrainLimit int
	TestLimit  int
	// Prep overrides the model's preprocessing (--mean, --std, --resize).
	Prep PrepOptions
	// TestOnly: the call reads only the test split (eval), so an image
	// folder's training images are not decoded when the preprocessing is
	// known.
	TestOnly bool
}

// PrepOptions are preprocessing settings given by the caller; zero values
// mean "not given" (the model's metadata, else the data set's statistics,
// decide).
type PrepOptions struct {
	Mean, Std []float32 // per channel or one value, pixels in [0, 1]; given together
	Resize    string    // data.ResizeBilinear or data.ResizeCenterCrop
	Shorter   int       // the centre crop's shorter side (0: default)
}

// given reports whether --mean/--std were given.
func (p *PrepOptions) given() bool { return len(p.Mean) > 0 }

// stats returns the flags' statistics expanded to the same length.
func (p *PrepOptions) stats() (mean, std []float32) {
	mean, std = p.Mean, p.Std
	if len(mean) == 1 && len(std) > 1 {
		mean = slices.Repeat(mean, len(std))
	}
	if len(std) == 1 && len(mean) > 1 {
		std = slices.Repeat(std, len(mean))
	}
	return mean, std
}

// resolve chooses the preprocessing for model g (nil: a model not yet
// built, as train --arch): the flags win over g's metadata (warning when
// they differ); a model slimgo trained before preprocessing was recorded
// falls back to its known data set's statistics; with neither, ok is false:
// the data are loaded with the data set's own statistics and, for a model
// g, load then picks the usual normalisation g scores best with on
// training images (guessNorm). Errors: malformed metadata, statistics that
// do not fit the model's channels.
func (p *PrepOptions) resolve(e *Env, g *graph.Graph, c int) (prep data.Preprocess, ok bool, err error) {
	var meta data.Preprocess
	hasMeta := false
	if g != nil {
		if meta, hasMeta, err = data.PreprocessFromMeta(g.Meta); err != nil {
			return prep, false, BadInput("model %q: %v", g.Name, err)
		}
		if !hasMeta {
			if mean, std, known := data.KnownStats(g.Meta[MetaDataName]); known {
				meta, hasMeta = data.Preprocess{Mean: mean, Std: std}, true
			}
		}
	}
	switch {
	case p.given():
		prep = meta
		prep.Mean, prep.Std = p.stats()
		if hasMeta && meta.HasStats() && c > 0 && !prep.Equal(meta, c) {
			fmt.Fprintf(e.Log, "warning: --mean %s --std %s differ from the model's metadata (mean %s std %s); using the flags\n",
				data.FormatStats(prep.Mean), data.FormatStats(prep.Std), data.FormatStats(meta.Mean), data.FormatStats(meta.Std))
		}
		ok = true
	case hasMeta:
		prep, ok = meta, true
	}
	if p.Resize != "" {
		if hasMeta && meta.Resize != "" && meta.Resize != p.Resize {
			fmt.Fprintf(e.Log, "warning: --resize %s differs from the model's metadata (%s); using the flag\n", p.Resize, meta.Resize)
		}
		prep.Resize, prep.Shorter = p.Resize, p.Shorter
	}
	if c > 0 {
		if err := prep.Check(c); err != nil {
			return prep, false, BadInput("%v", err)
		}
	}
	return prep, ok, nil
}

// MetaDataName is the metadata key naming the data set a model was trained on.
const MetaDataName = "slimgo.data"

// load reads the data set for model g (nil when a new model is to be
// built): images are converted and resized to g's input and normalised as
// resolve decides, and the preprocessing used is stamped into g's
// metadata so every model written from g carries it. A g whose output
// width is not the data set's class count is bad input.
func (d *DataOptions) load(e *Env, g *graph.Graph) (train, test *data.Dataset, err error) {
	if d.Spec == "" {
		return nil, nil, BadInput("--data is required")
	}
	if IsDetectionData(d.Spec) {
		return nil, nil, BadInput("%s is a detection set (YOLO layout); this command reads classification data only", d.Spec)
	}
	var chw []int
	if g != nil {
		if chw, err = inputCHW(g); err != nil {
			return nil, nil, err
		}
	}
	c := 0
	if chw != nil {
		c = chw[0]
	}
	prep, ok, err := d.Prep.resolve(e, g, c)
	if err != nil {
		return nil, nil, err
	}
	opt := data.LoadOptions{TrainLimit: d.TrainLimit, TestLimit: d.TestLimit,
		Resize: prep.Resize, Shorter: prep.Shorter, Order: prep.Order, TestOnly: d.TestOnly}
	if ok {
		opt.Mean, opt.Std = prep.Mean, prep.Std
	}
	if chw != nil {
		opt.C, opt.H, opt.W = chw[0], chw[1], chw[2]
	}
	train, test, err = data.Load(d.Spec, opt)
	if err != nil {
		return nil, nil, AsInput(err)
	}
	if chw != nil && (train.C != chw[0] || train.H != chw[1] || train.W != chw[2]) {
		return nil, nil, BadInput("data %q has images of %dx%dx%d, the model expects %v", d.Spec, train.C, train.H, train.W, chw)
	}
	trained := fmt.Sprintf("%d train", train.Len())
	if d.TestOnly && train.Len() == 0 {
		trained = "training images not read"
	}
	fmt.Fprintf(e.Log, "data: %s (%s, %d test, %d classes, %dx%dx%d)\n", train.Name, trained, test.Len(), len(train.Classes), train.C, train.H, train.W)
	if g != nil {
		set := train
		if d.TestOnly {
			set = test
		}
		if err := checkClasses(g, set); err != nil {
			return nil, nil, err
		}
		if !ok {
			if err := guessNorm(e, g, train, test, 64); err != nil {
				return nil, nil, err
			}
		}
		train.Preprocess().SetMeta(g.Meta)
	}
	return train, test, nil
}

// stamp records the caller's preprocessing, when given, in g's metadata
// (for commands that write a model without reading images).
func (p *PrepOptions) stamp(e *Env, g *graph.Graph) error {
	if !p.given() && p.Resize == "" {
		return nil
	}
	chw, err := inputCHW(g)
	if err != nil {
		return err
	}
	prep, _, err := p.resolve(e, g, chw[0])
	if err != nil {
		return err
	}
	prep.H, prep.W = chw[1], chw[2]
	if prep.Order == "" {
		prep.Order = data.OrderRGB
		if chw[0] == 1 {
			prep.Order = data.OrderGray
		}
	}
	prep.SetMeta(g.Meta)
	return nil
}

// modelPrep returns the preprocessing g's metadata records, for summaries
// (nil when there is none).
func modelPrep(g *graph.Graph) map[string]any {
	p, ok, err := data.PreprocessFromMeta(g.Meta)
	if err != nil || !ok {
		return nil
	}
	return p.Summary()
}

// loadModel reads a model, an ONNX file or a self-contained .slimpack
// (told apart by the file's first bytes, whatever its extension); every
// failure is bad input (exit 2).
func loadModel(path string) (*graph.Graph, error) {
	if path == "" {
		return nil, BadInput("--model is required")
	}
	packed, err := isPackedFile(path)
	if err != nil {
		return nil, AsInput(err)
	}
	if packed {
		g, _, err := cluster.ReadModelFile(path)
		if err != nil {
			return nil, AsInput(err)
		}
		return g, nil
	}
	g, err := onnx.ReadFile(path)
	if err != nil {
		return nil, AsInput(err)
	}
	return g, nil
}

// isPackedFile reports whether the file at path starts with the packed
// file's magic.
func isPackedFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b [8]byte
	n, _ := io.ReadFull(f, b[:])
	return cluster.IsPacked(b[:n]), nil
}

// inputCHW returns the model's single input as [C,H,W].
func inputCHW(g *graph.Graph) ([]int, error) {
	if len(g.Inputs) != 1 || len(g.Inputs[0].Shape) != 4 {
		return nil, BadInput("model %q: need one NCHW image input, has %d inputs", g.Name, len(g.Inputs))
	}
	s := g.Inputs[0].Shape[1:]
	for _, d := range s {
		if d <= 0 {
			return nil, BadInput("model %q: input %q has a dynamic image size %v", g.Name, g.Inputs[0].Name, g.Inputs[0].Shape)
		}
	}
	return []int{s[0], s[1], s[2]}, nil
}

// checkClasses verifies that the model's output width matches the data set.
func checkClasses(g *graph.Graph, d *data.Dataset) error {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return AsInput(err)
	}
	out := shapes[g.Outputs[0].Name]
	if len(out) != 2 || out[1] != len(d.Classes) {
		return BadInput("model output %v does not match the %d classes of %s", out, len(d.Classes), d.Name)
	}
	return nil
}

// stampData records the data set's class names and preprocessing in the model.
func stampData(g *graph.Graph, d *data.Dataset) {
	g.Meta["slimgo.classes"] = strings.Join(d.Classes, ",")
	g.Meta[MetaDataName] = d.Name
	d.Preprocess().SetMeta(g.Meta)
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
func CheckOutput(path string) error {
	dir := filepath.Dir(filepath.Clean(path))
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return BadInput("cannot write %s: %v", path, err)
	case !st.IsDir():
		return BadInput("cannot write %s: %s is not a directory", path, dir)
	}
	return probeDir(path, dir)
}

// checkOutputDir is checkOutput for a directory the command creates (a
// checkpoint or --out directory): its nearest existing ancestor must be a
// writable directory.
func CheckOutputDir(path string) error {
	dir := filepath.Clean(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return BadInput("cannot create %s: %s is not a directory", path, dir)
			}
			return probeDir(path, dir)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return BadInput("cannot create %s: %v", path, err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return BadInput("cannot create %s: no existing parent directory", path)
		}
		dir = up
	}
}

// probeDir creates and removes a temporary file in dir.
func probeDir(path, dir string) error {
	f, err := os.CreateTemp(dir, ".slimgo-probe*")
	if err != nil {
		return BadInput("cannot write %s: %v", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// loadForOutput checks, before any work, that out can be written, then
// reads the model.
func loadForOutput(model, out string) (*graph.Graph, error) {
	if err := CheckOutput(out); err != nil {
		return nil, err
	}
	return loadModel(model)
}
