package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder for image.Decode
	_ "image/png"  // register the PNG decoder for image.Decode
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxImagePixels is the largest image (width*height) the folder reader
// decodes; larger headers are rejected before any pixel memory is allocated.
const MaxImagePixels = 1 << 25

// imageExts are the file extensions (lower case) read from class folders.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

// DecodeImage decodes a PNG or JPEG file's bytes (name is used in errors
// only). The header is checked first: a zero-size image, one larger than
// MaxImagePixels, or a PNG whose pixel data could not fit in the file's
// bytes at deflate's best ratio is rejected without decoding.
func DecodeImage(b []byte, name string) (image.Image, error) {
	return decodeImageLimit(b, name, MaxImagePixels)
}

func decodeImageLimit(b []byte, name string, maxPixels int64) (img image.Image, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable PNG/JPEG image: %w", name, err)
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%s: zero-size image (%d x %d)", name, w, h)
	}
	if w*h > maxPixels {
		return nil, fmt.Errorf("%s: image of %d x %d pixels exceeds the %d pixel limit", name, w, h, maxPixels)
	}
	if format == "png" {
		// Deflate expands at most ~1032:1; the filtered data needs at least
		// one byte per row plus one bit per pixel (1-bit images).
		if need := h * (1 + (w+7)/8); need > int64(len(b))*1100 {
			return nil, fmt.Errorf("%s: corrupt PNG: %d x %d pixels cannot fit in %d bytes", name, w, h, len(b))
		}
	}
	// The standard decoders return errors for bad data; recover guards
	// against a decoder bug turning a corrupt file into a crash.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%s: corrupt %s image (decoder panicked: %v)", name, format, p)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s image: %w", name, format, err)
	}
	if r := img.Bounds(); r.Dx() <= 0 || r.Dy() <= 0 {
		return nil, fmt.Errorf("%s: zero-size image", name)
	}
	return img, nil
}

// imageRGB converts img to three 8-bit planes (R, G, B; h*w each, packed
// into one slice of 3*h*w) and reports whether it is effectively gray
// (a gray colour model, or every pixel with |R-G|, |G-B| <= 2, which
// tolerates JPEG rounding). Alpha is dropped (non-premultiplied colour kept).
func imageRGB(img image.Image) (pix []uint8, h, w int, gray bool) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	n := w * h
	pix = make([]uint8, 3*n)
	R, G, B := pix[:n], pix[n:2*n], pix[2*n:]
	switch m := img.(type) {
	case *image.Gray:
		for y := range h {
			copy(R[y*w:(y+1)*w], m.Pix[y*m.Stride:y*m.Stride+w])
		}
		copy(G, R)
		copy(B, R)
		return pix, h, w, true
	case *image.NRGBA:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := range w {
				R[y*w+x], G[y*w+x], B[y*w+x] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		model := img.ColorModel()
		gray = model == color.GrayModel || model == color.Gray16Model
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				R[y*w+x], G[y*w+x], B[y*w+x] = c.R, c.G, c.B
			}
		}
		if gray {
			return pix, h, w, true
		}
	}
	gray = true
	for i := range n {
		if absDiff(R[i], G[i]) > 2 || absDiff(G[i], B[i]) > 2 {
			gray = false
			break
		}
	}
	return pix, h, w, gray
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// folderFile is one image of an image folder.
type folderFile struct {
	path  string
	label int32
}

// scanSplit lists dir's class folders (sorted by name; hidden entries
// skipped) and their image files, in round-robin order across classes (the
// first file of every class, then the second, ...) so that the first N
// examples cover all classes.
// Errors: unreadable dir, no class folders, a class folder without images.
func scanSplit(dir string) (classes []string, files []folderFile, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("image folder: %w", err)
	}
	var perClass [][]string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			continue
		}
		imgs, err := os.ReadDir(p)
		if err != nil {
			return nil, nil, fmt.Errorf("image folder: %w", err)
		}
		var list []string
		for _, f := range imgs {
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !imageExts[strings.ToLower(filepath.Ext(f.Name()))] {
				continue
			}
			list = append(list, filepath.Join(p, f.Name()))
		}
		if len(list) == 0 {
			return nil, nil, fmt.Errorf("image folder: class folder %s holds no .png/.jpg/.jpeg images", p)
		}
		classes = append(classes, e.Name())
		perClass = append(perClass, list)
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("image folder: %s has no class folders (expected %s/<class>/*.png)", dir, dir)
	}
	for i := 0; ; i++ {
		added := false
		for c, list := range perClass {
			if i < len(list) {
				files = append(files, folderFile{list[i], int32(c)})
				added = true
			}
		}
		if !added {
			break
		}
	}
	return classes, files, nil
}

// decodedSplit is one split after decoding: RGB planes at the target size.
type decodedSplit struct {
	rgb    []uint8 // N * 3 * H * W
	labels []int32
	gray   int // how many images were gray
}

// decodeFiles decodes files (at most limit when limit > 0), converting each
// to RGB and resizing it to h x w; h = w = 0 means the first image's size.
func decodeFiles(files []folderFile, limit, h, w int, rule string, shorter int) (*decodedSplit, int, int, error) {
	if limit > 0 && limit < len(files) {
		files = files[:limit]
	}
	ds := &decodedSplit{}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("image folder: %w", err)
		}
		img, err := DecodeImage(b, f.path)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("image folder: %w", err)
		}
		pix, ih, iw, gray := imageRGB(img)
		if h == 0 {
			h, w = ih, iw
		}
		if ds.rgb == nil {
			ds.rgb = make([]uint8, 0, len(files)*3*h*w)
		}
		if rule == ResizeCenterCrop && shorter == 0 {
			shorter = Preprocess{H: h, W: w}.ShorterSide()
		}
		ds.rgb = append(ds.rgb, preprocessImage(pix, 3, ih, iw, rule, shorter, h, w)...)
		ds.labels = append(ds.labels, f.label)
		if gray {
			ds.gray++
		}
	}
	return ds, h, w, nil
}

// LoadImageFolder reads dir/train/<class>/*.{png,jpg,jpeg} and
// dir/test/<class>/... (dir/val/ when there is no test/). Images may be of
// any size and colour mode (gray, RGB, RGBA, palette; alpha is dropped).
// Class indices
// follow the sorted class folder names, as torchvision's ImageFolder.
// Examples come round-robin across classes (see Load's limits).
// Images are converted to opt.C channels (1: gray by ITU-R 601 luma, 3:
// RGB; 0: 1 when most training images are gray, else 3) and resized by
// opt.Resize (default ResizeBilinear: stretched to opt.H x opt.W,
// antialiased as PIL; ResizeCenterCrop: shorter side to opt.Shorter, then
// the centre cut out) to opt.H x opt.W (0: the first training image's
// size, every image stretched to it). opt.Order OrderBGR swaps R and B. Normalisation uses opt.Mean/opt.Std when given, else per-channel
// statistics of the loaded training images.
//
// Errors name the folder or file: no class folders, a class without images,
// test classes differing from train classes, a corrupt or zero-size image,
// an invalid option.
func LoadImageFolder(dir string, opt LoadOptions) (train, test *Dataset, err error) {
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	classes, trainFiles, err := scanSplit(filepath.Join(dir, "train"))
	if err != nil {
		return nil, nil, err
	}
	testDir := filepath.Join(dir, "test")
	if _, err := os.Stat(testDir); errors.Is(err, os.ErrNotExist) {
		st, err := os.Stat(filepath.Join(dir, "val"))
		if err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("image folder: %s has no test/ (or val/) split", dir)
		}
		testDir = filepath.Join(dir, "val")
	}
	testClasses, testFiles, err := scanSplit(testDir)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(classes, testClasses) {
		return nil, nil, fmt.Errorf("image folder: test classes %q do not match train classes %q", testClasses, classes)
	}
	if opt.TestOnly && len(opt.Mean) > 0 && opt.H > 0 && opt.C > 0 {
		trainFiles = nil
	}
	tr, h, w, err := decodeFiles(trainFiles, opt.TrainLimit, opt.H, opt.W, opt.Resize, opt.Shorter)
	if err != nil {
		return nil, nil, err
	}
	te, _, _, err := decodeFiles(testFiles, opt.TestLimit, h, w, opt.Resize, opt.Shorter)
	if err != nil {
		return nil, nil, err
	}
	c := opt.C
	if c == 0 {
		c = 3
		if 2*tr.gray >= len(tr.labels) {
			c = 1
		}
	}
	rawTr := &Raw{Pix: tr.rgb, Labels: tr.labels, N: len(tr.labels), C: 3, H: h, W: w}
	rawTe := &Raw{Pix: te.rgb, Labels: te.labels, N: len(te.labels), C: 3, H: h, W: w}
	if rawTr, err = rawTr.ToChannels(c); err != nil {
		return nil, nil, err
	}
	if rawTe, err = rawTe.ToChannels(c); err != nil {
		return nil, nil, err
	}
	abs, _ := filepath.Abs(dir)
	if abs == "" {
		abs = dir
	}
	return finish(rawTr, rawTe, filepath.Base(abs), classes, nil, nil, opt, abs)
}
