package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	prepFlags
	// testOnly: the command reads only the test split (eval), so an image
	// folder's training images are not decoded when the preprocessing is
	// known.
	testOnly bool
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.Spec, "data", "", "data set: fashion-mnist, mnist, sample, a directory of IDX files, or an image folder (DIR/train/<class>/..., DIR/test/ or DIR/val/)")
	fs.IntVar(&d.TrainLimit, "train-limit", 0, "use only the first N training examples (0: all)")
	fs.IntVar(&d.TestLimit, "test-limit", 0, "use only the first N test examples (0: all)")
	d.prepFlags.register(fs)
}

func (d *dataFlags) validate() error {
	if d.TrainLimit < 0 || d.TestLimit < 0 {
		return badInput("--train-limit and --test-limit must be >= 0")
	}
	return d.prepFlags.validate()
}

// prepFlags are the preprocessing flags (--mean, --std, --resize) of every
// command that reads images or writes a model.
type prepFlags struct {
	Mean, Std string
	Resize    string
	mean, std []float32 // parsed by validate
	rule      string
	shorter   int
}

func (p *prepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.Mean, "mean", "", "per-channel mean of pixels scaled to [0,1] that the model expects (one value or one per channel, or imagenet); default: the model's metadata, else the data set's statistics")
	fs.StringVar(&p.Std, "std", "", "per-channel std, as --mean (e.g. 0.229,0.224,0.225 or imagenet)")
	fs.StringVar(&p.Resize, "resize", "", "how images of another size reach the model's input: bilinear (stretch to H x W, the default) or center-crop[:S] (shorter side to S, default H*8/7, then the centre, as torchvision's Resize(S)+CenterCrop); default: the model's metadata")
}

// validate parses the flags; --mean and --std go together.
func (p *prepFlags) validate() error {
	var err error
	if p.mean, err = data.ParseStats(p.Mean, "mean"); err != nil {
		return badInput("%v", err)
	}
	if p.std, err = data.ParseStats(p.Std, "std"); err != nil {
		return badInput("%v", err)
	}
	if (p.mean == nil) != (p.std == nil) {
		return badInput("give --mean and --std together")
	}
	if p.mean != nil && len(p.mean) != len(p.std) && len(p.mean) != 1 && len(p.std) != 1 {
		return badInput("--mean has %d values but --std %d", len(p.mean), len(p.std))
	}
	p.rule, p.shorter = "", 0
	switch r := p.Resize; {
	case r == "":
	case r == data.ResizeBilinear:
		p.rule = r
	case r == data.ResizeCenterCrop:
		p.rule = r
	case strings.HasPrefix(r, data.ResizeCenterCrop+":"):
		n, err := strconv.Atoi(strings.TrimPrefix(r, data.ResizeCenterCrop+":"))
		if err != nil || n <= 0 {
			return badInput("--resize %q: want center-crop:S with a positive S", r)
		}
		p.rule, p.shorter = data.ResizeCenterCrop, n
	default:
		return badInput("--resize %q: want bilinear, center-crop or center-crop:S", r)
	}
	return nil
}

// given reports whether --mean/--std were given.
func (p *prepFlags) given() bool { return p.mean != nil }

// stats returns the flags' statistics expanded to the same length.
func (p *prepFlags) stats() (mean, std []float32) {
	mean, std = p.mean, p.std
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
// falls back to its known data set's statistics; with neither, ok is false
// and the data set's own statistics will be used (with a warning on stderr
// when g is non-nil). Errors: malformed metadata, statistics that do not
// fit the model's channels.
func (p *prepFlags) resolve(e *env, g *graph.Graph, c int) (prep data.Preprocess, ok bool, err error) {
	var meta data.Preprocess
	hasMeta := false
	if g != nil {
		if meta, hasMeta, err = data.PreprocessFromMeta(g.Meta); err != nil {
			return prep, false, badInput("model %q: %v", g.Name, err)
		}
		if !hasMeta {
			if mean, std, known := data.KnownStats(g.Meta[metaDataName]); known {
				meta, hasMeta = data.Preprocess{Mean: mean, Std: std}, true
			}
		}
	}
	switch {
	case p.given():
		prep = meta
		prep.Mean, prep.Std = p.stats()
		if hasMeta && meta.HasStats() && c > 0 && !prep.Equal(meta, c) {
			fmt.Fprintf(e.stderr, "warning: --mean %s --std %s differ from the model's metadata (mean %s std %s); using the flags\n",
				data.FormatStats(prep.Mean), data.FormatStats(prep.Std), data.FormatStats(meta.Mean), data.FormatStats(meta.Std))
		}
		ok = true
	case hasMeta:
		prep, ok = meta, true
	}
	if p.rule != "" {
		if hasMeta && meta.Resize != "" && meta.Resize != p.rule {
			fmt.Fprintf(e.stderr, "warning: --resize %s differs from the model's metadata (%s); using the flag\n", p.Resize, meta.Resize)
		}
		prep.Resize, prep.Shorter = p.rule, p.shorter
	}
	if c > 0 {
		if err := prep.Check(c); err != nil {
			return prep, false, badInput("%v", err)
		}
	}
	return prep, ok, nil
}

// metaDataName is the metadata key naming the data set a model was trained on.
const metaDataName = "slimgo.data"

// load reads the data set for model g (nil when a new model is to be
// built): images are converted and resized to g's input and normalised as
// resolve decides, and the preprocessing used is stamped into g's
// metadata so every model written from g carries it.
func (d *dataFlags) load(e *env, g *graph.Graph) (train, test *data.Dataset, err error) {
	if d.Spec == "" {
		return nil, nil, badInput("--data is required")
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
	prep, ok, err := d.resolve(e, g, c)
	if err != nil {
		return nil, nil, err
	}
	opt := data.LoadOptions{TrainLimit: d.TrainLimit, TestLimit: d.TestLimit,
		Resize: prep.Resize, Shorter: prep.Shorter, Order: prep.Order, TestOnly: d.testOnly}
	if ok {
		opt.Mean, opt.Std = prep.Mean, prep.Std
	}
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
	trained := fmt.Sprintf("%d train", train.Len())
	if d.testOnly && train.Len() == 0 {
		trained = "training images not read"
	}
	fmt.Fprintf(e.stderr, "data: %s (%s, %d test, %d classes, %dx%dx%d)\n", train.Name, trained, test.Len(), len(train.Classes), train.C, train.H, train.W)
	if g != nil && !ok {
		fmt.Fprintf(e.stderr, "warning: the model carries no preprocessing and no --mean/--std was given: normalising with the data set's own statistics (mean %s, std %s); pass the values the model was trained with (e.g. --mean 0.5 --std 0.5, or --mean imagenet --std imagenet)\n",
			data.FormatStats(train.Mean), data.FormatStats(train.Std))
	}
	if g != nil {
		train.Preprocess().SetMeta(g.Meta)
	}
	return train, test, nil
}

// stampPrep records --mean/--std/--resize, when given, in g's metadata
// (for commands that write a model without reading images).
func (p *prepFlags) stamp(e *env, g *graph.Graph) error {
	if !p.given() && p.rule == "" {
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

// stampData records the data set's class names and preprocessing in the model.
func stampData(g *graph.Graph, d *data.Dataset) {
	g.Meta["slimgo.classes"] = strings.Join(d.Classes, ",")
	g.Meta[metaDataName] = d.Name
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
