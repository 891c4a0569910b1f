package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/tensor"
)

// LetterboxFill is the grey level of the letterbox padding (ultralytics'
// 114, in every channel).
const LetterboxFill = 114

// DetDataset is an in-memory detection set: letterboxed, normalised images
// and their labelled boxes.
type DetDataset struct {
	Name string
	// X holds N*C*H*W values, image i at X[i*C*H*W:], normalised as
	// Dataset.X ((p/255 - Mean[c]) / Std[c]).
	X []float32
	// Objects[i] are image i's boxes in input pixels (after the
	// letterbox: x in [0, W], y in [0, H]) with class indices into
	// Classes; none for a background image.
	Objects [][]detect.GroundTruth
	// Letterbox[i] maps image i's original pixels to input pixels (its
	// Inverse takes predictions back to the original image).
	Letterbox []detect.Letterbox
	// Files[i] is image i's path.
	Files   []string
	Classes []string
	C, H, W int
	// Mean and Std are the per-channel normalisation (len C).
	Mean, Std []float32
	// Source is the directory the set came from.
	Source string
}

// Len returns the number of images.
func (d *DetDataset) Len() int { return len(d.Objects) }

// ImageSize returns C*H*W.
func (d *DetDataset) ImageSize() int { return d.C * d.H * d.W }

// Subset returns the images at the given indices (pixels copied, boxes
// shared).
func (d *DetDataset) Subset(idx []int) *DetDataset {
	s := &DetDataset{Name: d.Name, Classes: d.Classes, C: d.C, H: d.H, W: d.W,
		Mean: d.Mean, Std: d.Std, Source: d.Source}
	sz := d.ImageSize()
	s.X = make([]float32, 0, len(idx)*sz)
	for _, i := range idx {
		s.X = append(s.X, d.X[i*sz:(i+1)*sz]...)
		s.Objects = append(s.Objects, d.Objects[i])
		s.Letterbox = append(s.Letterbox, d.Letterbox[i])
		s.Files = append(s.Files, d.Files[i])
	}
	return s
}

// Split divides d into a validation part of n images chosen with rng and
// the rest (the validation split that stages use is carved from train/).
// Errors: n outside 1..Len-1.
func (d *DetDataset) Split(n int, rng *rand.Rand) (rest, val *DetDataset, err error) {
	if n <= 0 || n >= d.Len() {
		return nil, nil, fmt.Errorf("data: cannot hold out %d of %d images", n, d.Len())
	}
	perm := rng.Perm(d.Len())
	return d.Subset(perm[n:]), d.Subset(perm[:n]), nil
}

// Batch copies the images at idx into x (shape [len(idx), C, H, W],
// allocated when nil or of the wrong size) and returns x and their boxes.
func (d *DetDataset) Batch(idx []int, x *tensor.Tensor) (*tensor.Tensor, [][]detect.GroundTruth) {
	sz := d.ImageSize()
	if x == nil || x.Len() != len(idx)*sz {
		x = tensor.New(len(idx), d.C, d.H, d.W)
	}
	objs := make([][]detect.GroundTruth, len(idx))
	for b, i := range idx {
		copy(x.Data[b*sz:(b+1)*sz], d.X[i*sz:(i+1)*sz])
		objs[b] = d.Objects[i]
	}
	return x, objs
}

// YOLOOptions tunes LoadYOLO.
type YOLOOptions struct {
	// H and W are the model's input size (required): every image is
	// letterboxed to it.
	H, W int
	// C is the model's channels, 1 (ITU-R 601 luma) or 3 (RGB); 0 picks 1
	// when most training images are grey, else 3.
	C int
	// Mean and Std, when set (one entry per channel or one for all),
	// replace the statistics of the loaded training images.
	Mean, Std []float32
	// TrainLimit and ValLimit keep the first N images (sorted by file
	// name) of each split (0: all).
	TrainLimit, ValLimit int
}

// yoloSplit is one split's image files and the folder of its labels.
type yoloSplit struct {
	images []string
	labels string
}

// LoadYOLO reads a detection set in the ultralytics layout:
// DIR/images/{train,val}/*.png|jpg|jpeg with DIR/labels/{train,val}/<same
// name>.txt (ParseYOLOLabels); class names from DIR/data.yaml
// (ParseDataYAML; its path, train and val keys, when given, locate the
// splits: path relative to DIR, train and val relative to path, falling
// back to DIR when path does not exist here) or else DIR/classes.txt. The
// label folder of an image folder is found as ultralytics finds it: the
// last "images" element of its path replaced by "labels". An image
// without a label file is a background image. Images are converted to
// opt.C channels and letterboxed to opt.W x opt.H (detect.NewLetterbox;
// resampled as data's other images, padding LetterboxFill); boxes follow
// into input pixels.
//
// Errors name the file (and line): no class names, a missing split, a
// split without images, a training split without a label folder (a
// validation split without one is all background images), a corrupt image, a bad label line (see
// ParseYOLOLabels), a bad option.
func LoadYOLO(dir string, opt YOLOOptions) (train, val *DetDataset, err error) {
	if opt.H <= 0 || opt.W <= 0 || opt.H > maxIDXSide || opt.W > maxIDXSide {
		return nil, nil, fmt.Errorf("data: YOLO input size %d x %d must be positive (the model's input)", opt.H, opt.W)
	}
	if opt.C != 0 && opt.C != 1 && opt.C != 3 || opt.TrainLimit < 0 || opt.ValLimit < 0 || len(opt.Mean) != len(opt.Std) {
		return nil, nil, fmt.Errorf("data: bad YOLO options (channels %d, limits %d/%d, %d means, %d stds)",
			opt.C, opt.TrainLimit, opt.ValLimit, len(opt.Mean), len(opt.Std))
	}
	classes, trDir, vaDir, err := yoloLayout(dir)
	if err != nil {
		return nil, nil, err
	}
	trs, err := scanYOLOSplit(trDir, opt.TrainLimit)
	if err != nil {
		return nil, nil, err
	}
	vas, err := scanYOLOSplit(vaDir, opt.ValLimit)
	if err != nil {
		return nil, nil, err
	}
	if err := checkLabelDir(trs, trDir); err != nil {
		return nil, nil, err
	}
	trRaw, trObj, trLB, trGray, err := decodeYOLO(trs, classes, opt.H, opt.W)
	if err != nil {
		return nil, nil, err
	}
	vaRaw, vaObj, vaLB, _, err := decodeYOLO(vas, classes, opt.H, opt.W)
	if err != nil {
		return nil, nil, err
	}
	c := opt.C
	if c == 0 {
		c = 3
		if 2*trGray >= trRaw.N {
			c = 1
		}
	}
	mean, std := opt.Mean, opt.Std
	abs, _ := filepath.Abs(dir)
	out := make([]*DetDataset, 2)
	for k, s := range []struct {
		raw   *Raw
		objs  [][]detect.GroundTruth
		lb    []detect.Letterbox
		files []string
	}{{trRaw, trObj, trLB, trs.images}, {vaRaw, vaObj, vaLB, vas.images}} {
		r, err := s.raw.ToChannels(c)
		if err != nil {
			return nil, nil, err
		}
		if mean == nil {
			mean, std = r.Stats()
		}
		ds, err := r.Normalize(mean, std)
		if err != nil {
			return nil, nil, fmt.Errorf("data: %s: %w", dir, err)
		}
		out[k] = &DetDataset{Name: filepath.Base(abs), X: ds.X, Objects: s.objs, Letterbox: s.lb, Files: s.files,
			Classes: classes, C: c, H: opt.H, W: opt.W, Mean: ds.Mean, Std: ds.Std, Source: abs}
	}
	return out[0], out[1], nil
}

// yoloLayout finds the class names and the two splits' image folders.
func yoloLayout(dir string) (classes []string, train, val string, err error) {
	root, train, val := dir, "images/train", "images/val"
	if b, err := os.ReadFile(filepath.Join(dir, "data.yaml")); err == nil {
		y, err := ParseDataYAML(b, filepath.Join(dir, "data.yaml"))
		if err != nil {
			return nil, "", "", fmt.Errorf("data: %w", err)
		}
		classes = y.Names
		if y.Path != "" {
			p := y.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				root = p
			}
		}
		if y.Train != "" {
			train = y.Train
		}
		if y.Val != "" {
			val = y.Val
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", "", fmt.Errorf("data: %w", err)
	} else if b, err := os.ReadFile(filepath.Join(dir, "classes.txt")); err == nil {
		if classes, err = ParseClassesTxt(b, filepath.Join(dir, "classes.txt")); err != nil {
			return nil, "", "", fmt.Errorf("data: %w", err)
		}
	} else {
		return nil, "", "", fmt.Errorf("data: %s has neither data.yaml nor classes.txt to name the classes", dir)
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	return classes, abs(train), abs(val), nil
}

// labelDir returns the label folder of an image folder: its last path
// element named "images" replaced by "labels" (the folder itself when no
// element is so named: labels next to the images).
func labelDir(imgDir string) string {
	parts := strings.Split(filepath.ToSlash(filepath.Clean(imgDir)), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] == "images" {
			parts[i] = "labels"
			return filepath.FromSlash(strings.Join(parts, "/"))
		}
	}
	return imgDir
}

// scanYOLOSplit lists a split's images (sorted by name, at most limit when
// limit > 0). Errors: a missing folder, no images.
func scanYOLOSplit(imgDir string, limit int) (yoloSplit, error) {
	entries, err := os.ReadDir(imgDir)
	if err != nil {
		return yoloSplit{}, fmt.Errorf("data: YOLO split: %w", err)
	}
	s := yoloSplit{labels: labelDir(imgDir)}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || !imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			continue
		}
		s.images = append(s.images, filepath.Join(imgDir, e.Name()))
	}
	slices.Sort(s.images)
	if len(s.images) == 0 {
		return yoloSplit{}, fmt.Errorf("data: YOLO split %s holds no .png/.jpg/.jpeg images", imgDir)
	}
	if limit > 0 && limit < len(s.images) {
		s.images = s.images[:limit]
	}
	return s, nil
}

// decodeYOLO decodes a split's images, letterboxes them to h x w (3
// planes) and reads their labels into input pixels; gray counts the
// effectively grey images.
func decodeYOLO(s yoloSplit, classes []string, h, w int) (raw *Raw, objs [][]detect.GroundTruth, lbs []detect.Letterbox, gray int, err error) {
	raw = &Raw{N: len(s.images), C: 3, H: h, W: w, Labels: make([]int32, len(s.images)), Pix: make([]uint8, 0, len(s.images)*3*h*w)}
	for _, path := range s.images {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("data: %w", err)
		}
		img, err := DecodeImage(b, path)
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("data: %w", err)
		}
		pix, ih, iw, g := imageRGB(img)
		if g {
			gray++
		}
		lb, err := detect.NewLetterbox(iw, ih, w, h)
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("data: %s: %w", path, err)
		}
		raw.Pix = append(raw.Pix, letterboxPlanes(pix, 3, ih, iw, lb)...)
		lbs = append(lbs, lb)
		name := filepath.Join(s.labels, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".txt")
		lab, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			objs = append(objs, nil) // background image
			continue
		}
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("data: %w", err)
		}
		boxes, err := ParseYOLOLabels(lab, name, len(classes))
		if err != nil {
			return nil, nil, nil, 0, fmt.Errorf("data: %w", err)
		}
		o := make([]detect.GroundTruth, len(boxes))
		for i, yb := range boxes {
			src := detect.FromCXCYWH(yb.CX, yb.CY, yb.W, yb.H).Scale(float64(iw), float64(ih))
			o[i] = detect.GroundTruth{Box: lb.Forward(src), Class: yb.Class}
		}
		objs = append(objs, o)
	}
	return raw, objs, lbs, gray, nil
}

// letterboxPlanes resizes c planes of ih x iw bytes to lb.NewH x lb.NewW
// (data's PIL-style bilinear resampling) and places them on a canvas of
// lb.DstH x lb.DstW filled with LetterboxFill.
func letterboxPlanes(pix []uint8, c, ih, iw int, lb detect.Letterbox) []uint8 {
	h, w := lb.DstH, lb.DstW
	out := make([]uint8, c*h*w)
	for i := range out {
		out[i] = LetterboxFill
	}
	for p := range c {
		plane := resamplePlane(pix[p*ih*iw:(p+1)*ih*iw], ih, iw, lb.NewH, lb.NewW)
		for y := range lb.NewH {
			copy(out[(p*h+y+lb.PadTop)*w+lb.PadLeft:], plane[y*lb.NewW:(y+1)*lb.NewW])
		}
	}
	return out
}
