package report

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/slimgo/slimgo/detect"
)

// DetectionImage is one image of a DetectionPicture: its pixels as read
// from its file and, in those pixels (x to the right and y down from the
// image's top-left corner, as train.PredictDetector returns detections),
// its ground-truth boxes and each model's detections.
type DetectionImage struct {
	Name  string // shown under the image (e.g. its file name)
	Image image.Image
	Truth []detect.GroundTruth
	// Dets[m] are the detections of DetectionPicture.Models[m].
	Dets [][]detect.Detection
}

// DetectionPicture is the picture of predicted boxes that Write draws as
// PlotDetections: one row per model, one column per image, each image in
// its own pixels enlarged by a whole factor (nearest neighbour; a 64 x 64
// image 3x), ground truth dashed and predictions solid in their class's
// colour with the class name and score, a legend of the class colours
// below. It is not part of summary.json.
type DetectionPicture struct {
	Title   string           // the heading above the rows
	Models  []DetectionModel // one per row
	Classes []string         // class names by index; a missing name shows the index
	Images  []DetectionImage
	// Caption is the line under the picture in report.md.
	Caption string
}

// DetectionModel names a row of the picture: the row's title is
// "Name: Detail" (Name alone when Detail is empty); report.md's table
// heads its column with Name.
type DetectionModel struct {
	Name   string // e.g. "input model"
	Detail string // e.g. "original stage, mAP@0.5 52.60 % on val/"
}

func (m DetectionModel) title() string {
	if m.Detail == "" {
		return m.Name
	}
	return m.Name + ": " + m.Detail
}

// Layout of the picture, in pixels.
const (
	detCell     = 192 // an image's longer side is enlarged by a whole factor up to this
	detMaxSide  = 480 // and a longer one is shrunk to this
	detMargin   = 10
	detGap      = 10 // between columns and rows
	detTitleH   = 20 // the heading's band
	detRowH     = 16 // a row title's band
	detNameH    = 14 // the image names' band
	detLegendH  = 16 // one line of the legend
	detLabelH   = 12 // a detection's label band
	detBoxWidth = 2  // a prediction's outline
	detDash     = 3  // a ground-truth outline's dashes and gaps
)

// DetectionScale is the factor an image of w x h pixels is drawn at in
// the detection picture: a whole factor that brings its longer side up to
// at most 192 pixels (64 x 64: 3x), 1 up to 480 pixels, and below 1 to
// shrink a longer side to 480.
func DetectionScale(w, h int) float64 {
	m := max(w, h, 1)
	switch {
	case m <= detCell:
		return float64(max(1, detCell/m))
	case m <= detMaxSide:
		return 1
	}
	return float64(detMaxSide) / float64(m)
}

// tab10 are the class colours (matplotlib's tab10 with gold in place of
// its grey, which grey images would hide); classes past ten get colours
// spread around the hue circle.
var tab10 = []color.NRGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {255, 215, 0, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// ClassColor is the colour of class c in the detection picture (black
// for a negative index).
func ClassColor(c int) color.NRGBA {
	if c < 0 {
		return color.NRGBA{0, 0, 0, 255}
	}
	if c < len(tab10) {
		return tab10[c]
	}
	h := math.Mod(float64(c)*0.618033988749895, 1) * 6 // golden-ratio hues
	i, f := int(h), h-math.Floor(h)
	v, lo := 220.0, 60.0
	up, down := lo+(v-lo)*f, v-(v-lo)*f
	rgb := [6][3]float64{{v, up, lo}, {down, v, lo}, {lo, v, up}, {lo, down, v}, {up, lo, v}, {v, lo, down}}[i%6]
	return color.NRGBA{uint8(rgb[0]), uint8(rgb[1]), uint8(rgb[2]), 255}
}

// check reports what makes pic undrawable.
func (pic *DetectionPicture) check() error {
	if pic == nil || len(pic.Images) == 0 {
		return errors.New("report: detection picture: no images")
	}
	if len(pic.Models) == 0 {
		return errors.New("report: detection picture: no models")
	}
	for i, im := range pic.Images {
		if im.Image == nil || im.Image.Bounds().Empty() {
			return fmt.Errorf("report: detection picture: image %d (%q) has no pixels", i, im.Name)
		}
		if len(im.Dets) != len(pic.Models) {
			return fmt.Errorf("report: detection picture: image %d (%q) has detections of %d models, want %d", i, im.Name, len(im.Dets), len(pic.Models))
		}
	}
	return nil
}

// detLayout places the picture's parts: column i holds image i (left edge
// x[i], scaled size w[i] x h[i]); row r's images start at y = rowY[r].
type detLayout struct {
	scale         []float64
	x, w, h       []int
	rowY          []int
	nameY         int
	legendY       int
	legend        [][2]int // per class: x, y of its swatch
	width, height int
}

func (pic *DetectionPicture) layout(small font.Face) detLayout {
	var l detLayout
	cellH, x := 0, detMargin
	for _, im := range pic.Images {
		b := im.Image.Bounds()
		f := DetectionScale(b.Dx(), b.Dy())
		w, h := max(1, int(math.Round(float64(b.Dx())*f))), max(1, int(math.Round(float64(b.Dy())*f)))
		l.scale, l.x, l.w, l.h = append(l.scale, f), append(l.x, x), append(l.w, w), append(l.h, h)
		x += w + detGap
		cellH = max(cellH, h)
	}
	l.width = max(x-detGap+detMargin, 480)
	y := detMargin + detTitleH
	for range pic.Models {
		l.rowY = append(l.rowY, y+detRowH)
		y += detRowH + cellH + detGap
	}
	l.nameY = y - detGap + 2
	l.legendY = l.nameY + detNameH + 6
	// The legend: the line on outlines, then one swatch per class, wrapped.
	lx, ly := detMargin, l.legendY+detLegendH
	for c := range pic.classCount() {
		wd := 14 + int(small.Width(pic.className(c)).Points()) + 14
		if lx+wd > l.width-detMargin && lx > detMargin {
			lx, ly = detMargin, ly+detLegendH
		}
		l.legend = append(l.legend, [2]int{lx, ly})
		lx += wd
	}
	l.height = ly + detLegendH + detMargin
	return l
}

// classCount is the number of classes to list: the names, or more when a
// box has a larger index.
func (pic *DetectionPicture) classCount() int {
	n := len(pic.Classes)
	for _, im := range pic.Images {
		for _, g := range im.Truth {
			n = max(n, g.Class+1)
		}
		for _, ds := range im.Dets {
			for _, d := range ds {
				n = max(n, d.Class+1)
			}
		}
	}
	return n
}

func (pic *DetectionPicture) className(c int) string {
	if c >= 0 && c < len(pic.Classes) && pic.Classes[c] != "" {
		return shortName(pic.Classes[c], 14)
	}
	return fmt.Sprint(c)
}

// detCanvas draws pixels straight into the canvas's image and text
// through gonum's font rendering (72 dpi: one point is one pixel).
type detCanvas struct {
	c   *vgimg.Canvas
	img *image.RGBA
}

func (d detCanvas) text(f font.Face, x, top int, col color.Color, s string) {
	d.c.SetColor(col)
	base := float64(top) + f.Extents().Ascent.Points()
	d.c.FillString(f, vg.Point{X: vg.Length(x), Y: vg.Length(float64(d.img.Bounds().Dy()) - base)}, s)
}

func (d detCanvas) fill(r image.Rectangle, col color.Color) {
	r = r.Intersect(d.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			d.img.Set(x, y, col)
		}
	}
}

// outline draws the border of r (pixels r.Min to r.Max-1) t pixels wide,
// inward; dash > 0 draws dashes of that many pixels with equal gaps.
func (d detCanvas) outline(r image.Rectangle, t, dash int, col color.Color) {
	on := func(k int) bool { return dash <= 0 || (k/dash)%2 == 0 }
	for k, x := 0, r.Min.X; x < r.Max.X; k, x = k+1, x+1 {
		if on(k) {
			d.fill(image.Rect(x, r.Min.Y, x+1, r.Min.Y+t), col)
			d.fill(image.Rect(x, r.Max.Y-t, x+1, r.Max.Y), col)
		}
	}
	for k, y := 0, r.Min.Y; y < r.Max.Y; k, y = k+1, y+1 {
		if on(k) {
			d.fill(image.Rect(r.Min.X, y, r.Min.X+t, y+1), col)
			d.fill(image.Rect(r.Max.X-t, y, r.Max.X, y+1), col)
		}
	}
}

// boxRect is box b of an image drawn at scale f with its top-left corner
// at (x0, y0): the pixels it covers, at least one, inside the w x h cell.
func boxRect(b detect.Box, f float64, x0, y0, w, h int) image.Rectangle {
	x1 := min(max(int(math.Floor(b.X1*f)), 0), w-1)
	y1 := min(max(int(math.Floor(b.Y1*f)), 0), h-1)
	x2 := min(max(int(math.Ceil(b.X2*f)), x1+1), w)
	y2 := min(max(int(math.Ceil(b.Y2*f)), y1+1), h)
	return image.Rect(x0+x1, y0+y1, x0+x2, y0+y2)
}

// image draws im at scale f with its top-left corner at (x0, y0), w x h
// pixels (nearest neighbour).
func (d detCanvas) image(im image.Image, f float64, x0, y0, w, h int) {
	b := im.Bounds()
	for y := range h {
		sy := b.Min.Y + min(int((float64(y)+0.5)/f), b.Dy()-1)
		for x := range w {
			sx := b.Min.X + min(int((float64(x)+0.5)/f), b.Dx()-1)
			d.img.Set(x0+x, y0+y, im.At(sx, sy))
		}
	}
}

// textColor is black or white, whichever reads better on bg.
func textColor(bg color.NRGBA) color.Color {
	if 0.299*float64(bg.R)+0.587*float64(bg.G)+0.114*float64(bg.B) > 150 {
		return color.Black
	}
	return color.White
}

// detFonts are the picture's faces: the heading's, the row titles' and
// legend's, the labels' (Liberation Sans, gonum's built-in fonts).
func detFonts() (big, small, label font.Face) {
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	return font.DefaultCache.Lookup(sans, 12), font.DefaultCache.Lookup(sans, 10), font.DefaultCache.Lookup(sans, 9)
}

// DrawDetections draws pic as a PNG into w (see DetectionPicture).
// Errors: no images, no models, an image without pixels or without one
// detection list per model, a failed write.
func DrawDetections(w io.Writer, pic *DetectionPicture) error {
	if err := pic.check(); err != nil {
		return err
	}
	big, small, label := detFonts()
	l := pic.layout(small)
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(l.width), vg.Length(l.height)), vgimg.UseDPI(72))
	img, ok := c.Image().(*image.RGBA)
	if !ok {
		return fmt.Errorf("report: detection picture: canvas image is %T, want *image.RGBA", c.Image())
	}
	d := detCanvas{c, img}
	d.text(big, detMargin, detMargin, color.Black, pic.Title)
	grey := color.NRGBA{90, 90, 90, 255}
	for r, m := range pic.Models {
		d.text(small, detMargin, l.rowY[r]-detRowH+2, color.Black, m.title())
		for i, im := range pic.Images {
			d.drawCell(pic, im, r, l.scale[i], l.x[i], l.rowY[r], l.w[i], l.h[i], label)
		}
	}
	for i, im := range pic.Images {
		d.text(label, l.x[i], l.nameY, grey, shortName(im.Name, max(4, l.w[i]/6)))
	}
	d.text(small, detMargin, l.legendY, grey, "solid: prediction (class, score)   dashed: ground truth   colour: class")
	for cl, at := range l.legend {
		d.fill(image.Rect(at[0], at[1]+1, at[0]+10, at[1]+11), ClassColor(cl))
		d.text(small, at[0]+14, at[1], color.Black, pic.className(cl))
	}
	return png.Encode(w, img)
}

// drawCell draws image im in row r (model r's detections) at (x0, y0).
func (d detCanvas) drawCell(pic *DetectionPicture, im DetectionImage, r int, f float64, x0, y0, w, h int, label font.Face) {
	d.image(im.Image, f, x0, y0, w, h)
	for _, g := range im.Truth {
		d.outline(boxRect(g.Box, f, x0, y0, w, h), 1, detDash, ClassColor(g.Class))
	}
	dets := slices.Clone(im.Dets[r])
	slices.SortStableFunc(dets, func(a, b detect.Detection) int { return cmp.Compare(a.Score, b.Score) })
	for _, dt := range dets { // best drawn last, on top
		d.outline(boxRect(dt.Box, f, x0, y0, w, h), detBoxWidth, 0, ClassColor(dt.Class))
	}
	for _, dt := range dets {
		br := boxRect(dt.Box, f, x0, y0, w, h)
		s := pic.className(dt.Class) + " " + strings.TrimPrefix(fmt.Sprintf("%.2f", dt.Score), "0")
		tw := int(math.Ceil(label.Width(s).Points())) + 4
		lx := max(x0, min(br.Min.X, x0+w-tw))
		ly := br.Min.Y - detLabelH
		if ly < y0 {
			ly = br.Min.Y // no room above: inside the box's top
		}
		col := ClassColor(dt.Class)
		d.fill(image.Rect(lx, ly, min(lx+tw, x0+w), ly+detLabelH), col)
		d.text(label, lx+2, ly+1, textColor(col), s)
	}
}

// DetectionMatchIoU is the overlap at which the report's table counts a
// drawn detection as correct.
const DetectionMatchIoU = 0.5

// correct counts the detections of dets that match a ground-truth box of
// their class at IoU >= DetectionMatchIoU, greedily by decreasing score,
// each box matched once.
func correct(truth []detect.GroundTruth, dets []detect.Detection) int {
	order := slices.Clone(dets)
	slices.SortStableFunc(order, func(a, b detect.Detection) int { return cmp.Compare(b.Score, a.Score) })
	used := make([]bool, len(truth))
	n := 0
	for _, d := range order {
		best, bi := DetectionMatchIoU, -1
		for i, g := range truth {
			if !used[i] && g.Class == d.Class {
				if iou := detect.IoU(g.Box, d.Box); iou >= best {
					best, bi = iou, i
				}
			}
		}
		if bi >= 0 {
			used[bi] = true
			n++
		}
	}
	return n
}

// markdown is the caption and a table of what the picture shows: per
// image its ground-truth boxes and, per model, the boxes drawn and how
// many of them are correct (correct).
func (pic *DetectionPicture) markdown() string {
	var b strings.Builder
	if pic.Caption != "" {
		fmt.Fprintf(&b, "%s\n\n", pic.Caption)
	}
	b.WriteString("| image | true boxes |")
	for _, m := range pic.Models {
		fmt.Fprintf(&b, " %s: drawn (correct) |", m.Name)
	}
	b.WriteString("\n|---|---:|")
	b.WriteString(strings.Repeat("---:|", len(pic.Models)))
	b.WriteString("\n")
	for _, im := range pic.Images {
		fmt.Fprintf(&b, "| %s | %d |", im.Name, len(im.Truth))
		for m := range pic.Models {
			if m < len(im.Dets) {
				fmt.Fprintf(&b, " %d (%d) |", len(im.Dets[m]), correct(im.Truth, im.Dets[m]))
			} else {
				b.WriteString(" - |")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nCorrect: the class of a true box and IoU >= %g with it, each true box counted once.\n", DetectionMatchIoU)
	return b.String()
}
