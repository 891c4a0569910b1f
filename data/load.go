package data

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// LoadOptions tunes Load, LoadIDXDir and LoadImageFolder.
type LoadOptions struct {
	// TrainLimit and TestLimit keep the first N examples of each split
	// (0: all). IDX files keep their own order; image folders are ordered
	// round-robin across classes so any head covers every class.
	TrainLimit, TestLimit int
	// C (1 or 3), H and W give the image shape; 0 keeps the native one
	// (for image folders: C by majority of the training images, H x W of
	// the first one). H and W are given together or not at all. Resizing
	// is bilinear.
	C, H, W int
	// Mean and Std, when set (one entry per channel, or one for all),
	// replace the data set's normalisation: use the statistics stored in a
	// model's metadata to feed it new data exactly as it was trained.
	Mean, Std []float32
	// Resize is the rule image folders are resized by (ResizeBilinear when
	// empty, or ResizeCenterCrop with shorter side Shorter, 0: H*8/7); IDX
	// files are always stretched. Order OrderBGR feeds 3-channel images
	// blue first.
	Resize  string
	Shorter int
	Order   string
	// TestOnly, with Mean/Std and H/W given, skips decoding an image
	// folder's training images (the training split comes back empty but
	// for its class names): what eval needs, without the wait.
	TestOnly bool
}

func (o LoadOptions) check() error {
	switch {
	case o.C != 0 && o.C != 1 && o.C != 3:
		return fmt.Errorf("data: channels must be 1 or 3, got %d", o.C)
	case o.H < 0 || o.W < 0 || (o.H == 0) != (o.W == 0):
		return fmt.Errorf("data: image size %d x %d: give both height and width (positive) or neither", o.H, o.W)
	case o.H > maxIDXSide || o.W > maxIDXSide:
		return fmt.Errorf("data: image size %d x %d exceeds %d per side", o.H, o.W, maxIDXSide)
	case o.TrainLimit < 0 || o.TestLimit < 0:
		return fmt.Errorf("data: negative example limit (%d train, %d test)", o.TrainLimit, o.TestLimit)
	case len(o.Mean) != len(o.Std):
		return fmt.Errorf("data: %d means but %d stds", len(o.Mean), len(o.Std))
	case o.Resize != "" && o.Resize != ResizeBilinear && o.Resize != ResizeCenterCrop:
		return fmt.Errorf("data: unknown resize rule %q (want %s or %s)", o.Resize, ResizeBilinear, ResizeCenterCrop)
	case o.Shorter < 0 || o.Shorter > maxIDXSide:
		return fmt.Errorf("data: resize shorter side %d out of range", o.Shorter)
	case o.Order != "" && o.Order != OrderRGB && o.Order != OrderBGR && o.Order != OrderGray:
		return fmt.Errorf("data: unknown channel order %q (want RGB, BGR or gray)", o.Order)
	}
	return nil
}

// KnownStats returns the normalisation Load uses for a known data set name
// ("fashion-mnist", "mnist", or a sample alias); ok is false for others.
func KnownStats(name string) (mean, std []float32, ok bool) {
	if n, alias := sampleAliases[name]; alias {
		name = n
	}
	ks, ok := known[name]
	if !ok {
		return nil, nil, false
	}
	return []float32{ks.mean}, []float32{ks.std}, true
}

// knownSet describes a data set that Load resolves by name.
type knownSet struct {
	classes   []string
	mean, std float32 // of the full training set, pixels in [0, 1]
	sample    string  // directory of the bundled sample inside sampleFS
	full      string  // what the full set is called in messages
}

var known = map[string]knownSet{
	"fashion-mnist": {
		classes: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
		mean: 0.2860, std: 0.3530, sample: "sample/fashion-mnist", full: "Fashion-MNIST",
	},
	"mnist": {
		classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		mean:    0.1307, std: 0.3081, sample: "sample/mnist", full: "MNIST",
	},
}

// sampleAliases name the bundled samples explicitly.
var sampleAliases = map[string]string{
	"sample":               "fashion-mnist",
	"fashion-mnist-sample": "fashion-mnist",
	"mnist-sample":         "mnist",
}

// Bundled samples: class-balanced subsets of the real data sets as gzip
// IDX files (see sample/README.md and internal/mksample).
//
//go:embed sample/fashion-mnist/*.gz sample/mnist/*.gz
var sampleFS embed.FS

// SystemDataDir is where Debian's dataset packages install (e.g.
// dataset-fashion-mnist puts its files in /usr/share/datasets/fashion-mnist).
const SystemDataDir = "/usr/share/datasets"

// idxNames are the four files of an IDX directory, without ".gz".
var idxNames = [4]string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// findIDX returns the name of base or base.gz in fsys, or "".
func findIDX(fsys fs.FS, dir, base string) string {
	for _, n := range []string{base, base + ".gz"} {
		if st, err := fs.Stat(fsys, path.Join(dir, n)); err == nil && st.Mode().IsRegular() {
			return n
		}
	}
	return ""
}

// hasIDX reports whether dir holds train-images-idx3-ubyte[.gz].
func hasIDX(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir() && findIDX(os.DirFS(dir), ".", idxNames[0]) != ""
}

// Load resolves spec and returns the normalised training and test sets.
// spec is one of:
//   - "fashion-mnist" or "mnist": the IDX files from $SLIMGO_DATA/<name>,
//     else SystemDataDir/<name>, else the small sample bundled in the
//     binary (the first directory holding train-images-idx3-ubyte[.gz] wins);
//   - "sample" / "fashion-mnist-sample", "mnist-sample": the bundled sample;
//   - a directory of IDX files (train-images-idx3-ubyte[.gz],
//     train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
//     t10k-labels-idx1-ubyte[.gz]);
//   - an image folder DIR/train/<class>/*.png|*.jpg and DIR/test/<class>/...
//
// Fashion-MNIST and MNIST (from any of their sources) use their class names
// and the usual normalisation (0.2860/0.3530, 0.1307/0.3081); other sets
// compute per-channel statistics from the loaded training examples.
// Dataset.Name is the set's name, Dataset.Source the directory used or
// "bundled sample ...". Errors name the file or directory at fault.
func Load(spec string, opt LoadOptions) (train, test *Dataset, err error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	if name, ok := sampleAliases[spec]; ok {
		return loadSample(name, opt)
	}
	if ks, ok := known[spec]; ok {
		var dirs []string
		if env := os.Getenv("SLIMGO_DATA"); env != "" {
			dirs = append(dirs, filepath.Join(env, spec))
		}
		dirs = append(dirs, filepath.Join(SystemDataDir, spec))
		for _, dir := range dirs {
			if hasIDX(dir) {
				return loadIDX(os.DirFS(dir), ".", dir, spec, &ks, opt, dir)
			}
		}
		return loadSample(spec, opt)
	}
	st, err := os.Stat(spec)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("data: %q is neither a known data set (fashion-mnist, mnist, sample, mnist-sample) nor an existing directory", spec)
		}
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("data: %s is a file; want a directory of IDX files or an image folder", spec)
	}
	if hasIDX(spec) {
		return LoadIDXDir(spec, opt)
	}
	if st, err := os.Stat(filepath.Join(spec, "train")); err == nil && st.IsDir() {
		return LoadImageFolder(spec, opt)
	}
	return nil, nil, fmt.Errorf("data: %s holds neither IDX files (train-images-idx3-ubyte[.gz], ...) nor an image folder (train/<class>/...)", spec)
}

// LoadIDXDir reads the four IDX files of dir (each raw or .gz) as a
// generic set: classes "0".."K-1" with K = 1 + the largest label of either
// split, normalisation from the loaded training examples (or opt.Mean/Std).
func LoadIDXDir(dir string, opt LoadOptions) (train, test *Dataset, err error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	abs, _ := filepath.Abs(dir)
	if abs == "" {
		abs = dir
	}
	return loadIDX(os.DirFS(dir), ".", dir, filepath.Base(abs), nil, opt, abs)
}

// loadSample reads the bundled sample of the known set name.
func loadSample(name string, opt LoadOptions) (train, test *Dataset, err error) {
	ks := known[name]
	src := fmt.Sprintf("bundled sample (%s subset, class-balanced; see data/sample/README.md)", ks.full)
	return loadIDX(sampleFS, ks.sample, "bundled "+ks.sample, name, &ks, opt, src)
}

// loadIDX reads the IDX files under dir of fsys; where names files in
// errors. ks, when non-nil, fixes classes and statistics.
func loadIDX(fsys fs.FS, dir, where, name string, ks *knownSet, opt LoadOptions, source string) (train, test *Dataset, err error) {
	var files [4]string
	for i, base := range idxNames {
		f := findIDX(fsys, dir, base)
		if f == "" {
			return nil, nil, fmt.Errorf("data: %s: missing %s[.gz]", where, base)
		}
		files[i] = f
	}
	read := func(img, lab string, limit int) (*Raw, error) {
		fi, err := fsys.Open(path.Join(dir, img))
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		defer fi.Close()
		fl, err := fsys.Open(path.Join(dir, lab))
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		defer fl.Close()
		r, err := ReadIDX(fi, fl, limit)
		if err != nil {
			// Say which file: errors of ReadIDX start with "images:" or "labels:".
			f := img
			if strings.HasPrefix(err.Error(), "labels") {
				f = lab
			}
			return nil, fmt.Errorf("data: %s: %w", filepath.Join(where, f), err)
		}
		return r, nil
	}
	tr, err := read(files[0], files[1], opt.TrainLimit)
	if err != nil {
		return nil, nil, err
	}
	te, err := read(files[2], files[3], opt.TestLimit)
	if err != nil {
		return nil, nil, err
	}
	if tr.H != te.H || tr.W != te.W {
		return nil, nil, fmt.Errorf("data: %s: training images are %d x %d but test images %d x %d", where, tr.H, tr.W, te.H, te.W)
	}
	var classes []string
	var mean, std []float32
	if ks != nil {
		classes = ks.classes
		mean, std = []float32{ks.mean}, []float32{ks.std}
		for _, r := range []*Raw{tr, te} {
			for i, l := range r.Labels {
				if int(l) >= len(classes) {
					return nil, nil, fmt.Errorf("data: %s: label %d of example %d is not below %d classes", where, l, i, len(classes))
				}
			}
		}
	} else {
		k := int32(0)
		for _, r := range []*Raw{tr, te} {
			for _, l := range r.Labels {
				k = max(k, l+1)
			}
		}
		for i := range k {
			classes = append(classes, strconv.Itoa(int(i)))
		}
	}
	if opt.C != 0 {
		if tr, err = tr.ToChannels(opt.C); err != nil {
			return nil, nil, err
		}
		if te, err = te.ToChannels(opt.C); err != nil {
			return nil, nil, err
		}
	}
	if opt.H != 0 {
		tr, te = tr.Resize(opt.H, opt.W), te.Resize(opt.H, opt.W)
	}
	return finish(tr, te, name, classes, mean, std, opt, source)
}

// finish normalises both splits with opt's statistics, else the given ones,
// else the training split's, and fills in the Dataset descriptions.
func finish(tr, te *Raw, name string, classes []string, mean, std []float32, opt LoadOptions, source string) (train, test *Dataset, err error) {
	order := opt.Order
	switch {
	case tr.C == 1:
		order = OrderGray
	case order == "" || order == OrderGray:
		order = OrderRGB
	case order == OrderBGR:
		tr, te = tr.swapRB(), te.swapRB()
	}
	switch {
	case len(opt.Mean) > 0:
		mean, std = opt.Mean, opt.Std
	case mean == nil:
		mean, std = tr.Stats()
	}
	if train, err = tr.Normalize(mean, std); err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if test, err = te.Normalize(mean, std); err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", name, err)
	}
	rule := opt.Resize
	if rule == "" {
		rule = ResizeBilinear
	}
	shorter := 0
	if rule == ResizeCenterCrop {
		shorter = Preprocess{H: tr.H, W: tr.W, Shorter: opt.Shorter}.ShorterSide()
	}
	for _, d := range []*Dataset{train, test} {
		d.Name, d.Classes, d.Source = name, classes, source
		d.Resize, d.Shorter, d.Order = rule, shorter, order
	}
	return train, test, nil
}
