package data

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/slimgo/slimgo/detect"
	"github.com/slimgo/slimgo/internal/atomicfile"
)

// DetSampleOptions tunes GenerateDetSample. Zero fields take the defaults
// in brackets.
type DetSampleOptions struct {
	// Seed makes the set: the same seed and options give byte-identical
	// files.
	Seed uint64
	// Train and Val are the numbers of images [2000, 500].
	Train, Val int
	// Size is the side of the square grey images [64].
	Size int
	// MinObjects and MaxObjects bound the objects per image [1, 4];
	// Background is the share of images with none [0.05].
	MinObjects, MaxObjects int
	Background             float64
	// MinSide and MaxSide bound the side, in pixels, an object's 28x28
	// source image is scaled to [16, 40].
	MinSide, MaxSide int
	// Objects names the source of the objects: "fashion-mnist-sample"
	// (the default: the Fashion-MNIST subset embedded in slimgo, so the
	// set is the same on every machine), "mnist-sample", "fashion-mnist"
	// or "mnist" (the full set where Load would find it), or a directory
	// of IDX files. Training scenes use its training split, validation
	// scenes its test split, so no object instance is in both.
	Objects string
}

func (o *DetSampleOptions) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Train, 2000)
	def(&o.Val, 500)
	def(&o.Size, 64)
	def(&o.MinObjects, 1)
	def(&o.MaxObjects, 4)
	def(&o.MinSide, 16)
	def(&o.MaxSide, 40)
	if o.Background == 0 {
		o.Background = 0.05
	}
	if o.Objects == "" {
		o.Objects = "fashion-mnist-sample"
	}
}

func (o *DetSampleOptions) check() error {
	switch {
	case o.Train < 0 || o.Val < 0 || o.Train+o.Val == 0:
		return fmt.Errorf("detection sample: %d train and %d val images", o.Train, o.Val)
	case o.Size < 16 || o.Size > 4096:
		return fmt.Errorf("detection sample: image side %d outside 16..4096", o.Size)
	case o.MinObjects < 0 || o.MaxObjects < max(o.MinObjects, 1) || o.MaxObjects > 64:
		return fmt.Errorf("detection sample: objects per image %d..%d (want 0 <= min <= max, 1 <= max <= 64)", o.MinObjects, o.MaxObjects)
	case o.MinSide < 4 || o.MaxSide < o.MinSide || o.MaxSide > o.Size:
		return fmt.Errorf("detection sample: object sides %d..%d (want 4 <= min <= max <= image side %d)", o.MinSide, o.MaxSide, o.Size)
	case !(o.Background >= 0 && o.Background < 1):
		return fmt.Errorf("detection sample: background share %g outside [0, 1)", o.Background)
	}
	return nil
}

// DetSampleSummary says what GenerateDetSample wrote.
type DetSampleSummary struct {
	Classes []string
	// Images, Objects and Background count each split's images, boxes and
	// images without boxes; PerClass the boxes of each class (both splits).
	Images, Objects, Background [2]int
	PerClass                    []int
}

// DetSampleMark begins the first line of the data.yaml GenerateDetSample
// writes, so a program can tell a sample it may regenerate from other data.
const DetSampleMark = "Synthetic detection sample written by slimgo"

// GenerateDetSample writes a synthetic detection set in the YOLO layout
// (LoadYOLO reads it): dir/images/{train,val}/NNNNN.png (grey, Size x
// Size), dir/labels/{train,val}/NNNNN.txt (none for background images)
// and dir/data.yaml naming the 10 classes. Each scene is a cluttered
// background (a level, a gradient, noise, faint lines and faint fragments
// of other objects cut from the same split) with MinObjects..MaxObjects
// objects of the source set pasted at random sides in MinSide..MaxSide
// and random positions fully inside the image, covering at most a quarter
// of an earlier object's box or letting one cover a quarter of theirs; each label is the tight box of the object's visible
// pixels. Everything follows from Seed (docs/detection.md).
//
// Errors: bad options, an unreadable object source, a write failure.
func GenerateDetSample(dir string, opt DetSampleOptions) (*DetSampleSummary, error) {
	opt.defaults()
	if err := opt.check(); err != nil {
		return nil, err
	}
	tr, te, classes, err := readObjectSource(opt.Objects)
	if err != nil {
		return nil, err
	}
	sum := &DetSampleSummary{Classes: classes, PerClass: make([]int, len(classes))}
	for k, s := range []struct {
		name string
		n    int
		src  *Raw
	}{{"train", opt.Train, tr}, {"val", opt.Val, te}} {
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(k+1)))
		for i := range s.n {
			img, boxes := scene(rng, s.src, &opt)
			base := fmt.Sprintf("%05d", i)
			if err := writeScene(dir, s.name, base, img, boxes, opt.Size); err != nil {
				return nil, err
			}
			sum.Images[k]++
			sum.Objects[k] += len(boxes)
			if len(boxes) == 0 {
				sum.Background[k]++
			}
			for _, b := range boxes {
				sum.PerClass[b.Class]++
			}
		}
	}
	var y strings.Builder
	y.WriteString("# " + DetSampleMark + " (data.GenerateDetSample); see docs/detection.md.\n")
	fmt.Fprintf(&y, "# seed %d, %d x %d grey images, objects from %s\n", opt.Seed, opt.Size, opt.Size, opt.Objects)
	fmt.Fprintf(&y, "train: images/train\nval: images/val\nnc: %d\nnames:\n", len(classes))
	for _, c := range classes {
		fmt.Fprintf(&y, "  - '%s'\n", strings.ReplaceAll(c, "'", "''"))
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "data.yaml"), []byte(y.String())); err != nil {
		return nil, fmt.Errorf("detection sample: %w", err)
	}
	return sum, nil
}

// readObjectSource returns the training and test images (grey, 8-bit) and
// the class names of an object source (see DetSampleOptions.Objects).
func readObjectSource(spec string) (tr, te *Raw, classes []string, err error) {
	var fsys fs.FS
	dir, where := ".", spec
	name := spec
	if n, ok := sampleAliases[spec]; ok {
		name = n
		fsys, dir, where = sampleFS, known[n].sample, "bundled "+known[n].sample
	} else if _, ok := known[spec]; ok {
		fsys, dir, where = sampleFS, known[spec].sample, "bundled "+known[spec].sample
		var dirs []string
		if env := os.Getenv("SLIMGO_DATA"); env != "" {
			dirs = append(dirs, filepath.Join(env, spec))
		}
		for _, d := range append(dirs, filepath.Join(SystemDataDir, spec)) {
			if hasIDX(d) {
				fsys, dir, where = os.DirFS(d), ".", d
				break
			}
		}
	} else if hasIDX(spec) {
		fsys = os.DirFS(spec)
	} else {
		return nil, nil, nil, fmt.Errorf("detection sample: object source %q is neither a known set (fashion-mnist[-sample], mnist[-sample]) nor a directory of IDX files", spec)
	}
	var raws [2]*Raw
	for k := range raws {
		img, lab := findIDX(fsys, dir, idxNames[2*k]), findIDX(fsys, dir, idxNames[2*k+1])
		if img == "" || lab == "" {
			return nil, nil, nil, fmt.Errorf("detection sample: %s lacks %s or %s", where, idxNames[2*k], idxNames[2*k+1])
		}
		fi, err := fsys.Open(path.Join(dir, img))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("detection sample: %w", err)
		}
		fl, err := fsys.Open(path.Join(dir, lab))
		if err != nil {
			fi.Close()
			return nil, nil, nil, fmt.Errorf("detection sample: %w", err)
		}
		raws[k], err = ReadIDX(fi, fl, 0)
		fi.Close()
		fl.Close()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("detection sample: %s: %w", where, err)
		}
	}
	k := 0
	for _, r := range raws {
		for _, l := range r.Labels {
			k = max(k, int(l)+1)
		}
	}
	if ks, ok := known[name]; ok && k <= len(ks.classes) {
		classes = ks.classes
	} else {
		for i := range k {
			classes = append(classes, fmt.Sprint(i))
		}
	}
	return raws[0], raws[1], classes, nil
}

// placed is one object of a scene, in pixels.
type placed struct {
	detect.Box
	Class int
}

// scene draws one image (size*size grey bytes) and its objects.
func scene(rng *rand.Rand, src *Raw, o *DetSampleOptions) ([]uint8, []placed) {
	n := o.Size
	img := background(rng, src, n)
	count := 0
	if rng.Float64() >= o.Background {
		count = o.MinObjects + rng.IntN(o.MaxObjects-o.MinObjects+1)
		count = max(count, 1)
	}
	var objs []placed
	for range count {
		idx := rng.IntN(src.N)
		side := o.MinSide + rng.IntN(o.MaxSide-o.MinSide+1)
		obj := resamplePlane(src.Pix[idx*src.H*src.W:(idx+1)*src.H*src.W], src.H, src.W, side, side)
		x0, y0, x1, y1, ok := tightBox(obj, side)
		if !ok {
			continue
		}
		gain := 0.75 + 0.25*rng.Float64()
		for try := 0; try < 20; try++ {
			// The tight box must lie inside the image; the rest of the
			// pasted square may leave it (it is clipped).
			ox := rng.IntN(n-(x1-x0)+1) - x0
			oy := rng.IntN(n-(y1-y0)+1) - y0
			b := detect.Box{X1: float64(ox + x0), Y1: float64(oy + y0), X2: float64(ox + x1), Y2: float64(oy + y1)}
			if overlapsAny(b, objs, maxOverlap) {
				continue
			}
			paste(img, n, obj, side, ox, oy, gain)
			objs = append(objs, placed{b, int(src.Labels[idx])})
			break
		}
	}
	return img, objs
}

// maxOverlap is the largest share of an object's box another may cover.
const maxOverlap = 0.25

// objectThreshold is the level above which an object pixel counts as
// visible (its tight box) and starts to cover the background.
const objectThreshold = 24

// tightBox returns the bounds [x0, x1) x [y0, y1) of obj's pixels above
// objectThreshold; ok is false when there are none.
func tightBox(obj []uint8, side int) (x0, y0, x1, y1 int, ok bool) {
	x0, y0, x1, y1 = side, side, 0, 0
	for y := range side {
		for x := range side {
			if obj[y*side+x] > objectThreshold {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
			}
		}
	}
	return x0, y0, x1, y1, x1 > x0 && y1 > y0
}

// overlapsAny reports whether b covers more than limit of any earlier
// object's box or an earlier box covers more than limit of b (the
// intersection over the smaller area: IoU alone would let a small object
// vanish under a large one).
func overlapsAny(b detect.Box, objs []placed, limit float64) bool {
	for _, p := range objs {
		if detect.Intersection(b, p.Box) > limit*min(b.Area(), p.Area()) {
			return true
		}
	}
	return false
}

// paste draws obj (side x side) at (ox, oy) over img (n x n): a pixel of
// level p covers the background with opacity min(1, p/(2*threshold)), so
// the object's dark surroundings stay transparent; levels are scaled by gain.
func paste(img []uint8, n int, obj []uint8, side, ox, oy int, gain float64) {
	for y := range side {
		iy := oy + y
		if iy < 0 || iy >= n {
			continue
		}
		for x := range side {
			ix := ox + x
			if ix < 0 || ix >= n {
				continue
			}
			p := float64(obj[y*side+x])
			a := min(1, p/(2*objectThreshold))
			bg := float64(img[iy*n+ix])
			img[iy*n+ix] = clampByte(bg*(1-a) + p*gain*a)
		}
	}
}

// background draws the clutter of one n x n scene.
func background(rng *rand.Rand, src *Raw, n int) []uint8 {
	level := 10 + 40*rng.Float64()
	gx, gy := (rng.Float64()*2-1)*40/float64(n), (rng.Float64()*2-1)*40/float64(n)
	f := make([]float64, n*n)
	for y := range n {
		for x := range n {
			f[y*n+x] = level + gx*float64(x-n/2) + gy*float64(y-n/2) + (rng.Float64()-0.5)*24
		}
	}
	for range 1 + rng.IntN(3) { // faint straight lines
		x, y := rng.Float64()*float64(n), rng.Float64()*float64(n)
		ang := rng.Float64() * math.Pi
		dx, dy := math.Cos(ang), math.Sin(ang)
		v := 40 + 60*rng.Float64()
		for t := -n; t < n; t++ {
			px, py := int(x+float64(t)*dx), int(y+float64(t)*dy)
			if px >= 0 && px < n && py >= 0 && py < n {
				f[py*n+px] = max(f[py*n+px], v)
			}
		}
	}
	for range 3 + rng.IntN(6) { // faint fragments of other objects
		idx := rng.IntN(src.N)
		cs := 6 + rng.IntN(7)
		cx, cy := rng.IntN(src.W-cs+1), rng.IntN(src.H-cs+1)
		px, py := rng.IntN(n-cs+1), rng.IntN(n-cs+1)
		gain := 0.3 + 0.3*rng.Float64()
		for y := range cs {
			for x := range cs {
				p := float64(src.Pix[idx*src.H*src.W+(cy+y)*src.W+cx+x]) * gain
				f[(py+y)*n+px+x] = max(f[(py+y)*n+px+x], p)
			}
		}
	}
	img := make([]uint8, n*n)
	for i, v := range f {
		img[i] = clampByte(v)
	}
	return img
}

// writeScene writes one image and, when it has objects, its label file.
func writeScene(dir, split, base string, img []uint8, objs []placed, n int) error {
	g := &image.Gray{Pix: img, Stride: n, Rect: image.Rect(0, 0, n, n)}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		return fmt.Errorf("detection sample: %w", err)
	}
	imgPath := filepath.Join(dir, "images", split, base+".png")
	if err := os.MkdirAll(filepath.Dir(imgPath), 0o755); err != nil {
		return fmt.Errorf("detection sample: %w", err)
	}
	if err := os.WriteFile(imgPath, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("detection sample: %w", err)
	}
	if len(objs) == 0 {
		return nil
	}
	var lab strings.Builder
	for _, o := range objs {
		cx, cy, w, h := o.CXCYWH()
		s := float64(n)
		fmt.Fprintf(&lab, "%d %.6f %.6f %.6f %.6f\n", o.Class, cx/s, cy/s, w/s, h/s)
	}
	labPath := filepath.Join(dir, "labels", split, base+".txt")
	if err := os.MkdirAll(filepath.Dir(labPath), 0o755); err != nil {
		return fmt.Errorf("detection sample: %w", err)
	}
	if err := os.WriteFile(labPath, []byte(lab.String()), 0o644); err != nil {
		return fmt.Errorf("detection sample: %w", err)
	}
	return nil
}
