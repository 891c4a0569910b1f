package data

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Resize rules of Preprocess.Resize.
const (
	// ResizeBilinear stretches the whole image to the model's H x W
	// (torchvision's Resize((H, W))), antialiased when shrinking as PIL's
	// bilinear filter is. An image already at H x W is used as it is.
	ResizeBilinear = "bilinear"
	// ResizeCenterCrop scales the shorter side to Preprocess.Shorter
	// (keeping the aspect ratio) and cuts the central H x W
	// (torchvision's Resize(S) followed by CenterCrop((H, W))).
	ResizeCenterCrop = "center-crop"
)

// Channel orders of Preprocess.Order.
const (
	OrderRGB  = "RGB"
	OrderBGR  = "BGR"
	OrderGray = "gray"
)

// Metadata keys (ONNX metadata_props) under which a model carries its
// preprocessing; docs/cli.md documents them.
const (
	MetaMean    = "slimgo.mean"           // "0.485,0.456,0.406": per channel (or one), pixels in [0, 1]
	MetaStd     = "slimgo.std"            // same form as MetaMean
	MetaSize    = "slimgo.input_size"     // "H,W" of the input images
	MetaResize  = "slimgo.resize"         // ResizeBilinear or ResizeCenterCrop
	MetaShorter = "slimgo.resize_shorter" // S of ResizeCenterCrop
	MetaOrder   = "slimgo.channel_order"  // OrderRGB, OrderBGR or OrderGray
)

// ImageNet's statistics, as torchvision's pretrained models use them.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Preprocess says how an 8-bit image becomes a model input: converted to
// the model's channels in Order, resized to H x W by Resize, scaled to
// [0, 1] (p/255, as torchvision's ToTensor) and normalised per channel as
// (p/255 - Mean[c]) / Std[c].
type Preprocess struct {
	Mean, Std []float32 // one entry per channel, or one for all; nil: not known
	H, W      int       // input size; 0: not known
	Resize    string    // "" means ResizeBilinear
	Shorter   int       // ResizeCenterCrop's shorter side; 0: round(H * 8 / 7) (256 for 224)
	Order     string    // "" means OrderRGB for 3 channels, OrderGray for 1
}

// HasStats reports whether p carries a normalisation.
func (p Preprocess) HasStats() bool { return len(p.Mean) > 0 }

// ShorterSide returns the shorter side ResizeCenterCrop scales to.
func (p Preprocess) ShorterSide() int {
	if p.Shorter > 0 {
		return p.Shorter
	}
	return int(math.Round(float64(min(p.H, p.W)) * 8 / 7))
}

// String describes p in one line, e.g.
// "mean 0.485,0.456,0.406 std 0.229,0.224,0.225, RGB, bilinear to 224x224".
func (p Preprocess) String() string {
	var parts []string
	if p.HasStats() {
		parts = append(parts, "mean "+FormatStats(p.Mean)+" std "+FormatStats(p.Std))
	}
	if p.Order != "" {
		parts = append(parts, p.Order)
	}
	if p.H > 0 {
		switch p.Resize {
		case ResizeCenterCrop:
			parts = append(parts, fmt.Sprintf("shorter side to %d, centre crop %dx%d", p.ShorterSide(), p.H, p.W))
		default:
			parts = append(parts, fmt.Sprintf("bilinear to %dx%d", p.H, p.W))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary returns p as a JSON-ready map (the "preprocessing" key of
// summaries).
func (p Preprocess) Summary() map[string]any {
	m := map[string]any{"mean": p.Mean, "std": p.Std, "resize": p.resize(), "channel_order": p.Order}
	if p.H > 0 {
		m["input_size"] = []int{p.H, p.W}
	}
	if p.resize() == ResizeCenterCrop {
		m["resize_shorter"] = p.ShorterSide()
	}
	return m
}

func (p Preprocess) resize() string {
	if p.Resize == "" {
		return ResizeBilinear
	}
	return p.Resize
}

// Equal reports whether p and q normalise alike (same statistics after
// expanding a single value to c channels, within 1e-6) and resize alike.
func (p Preprocess) Equal(q Preprocess, c int) bool {
	pm, ps, err1 := expandStats(p.Mean, p.Std, c)
	qm, qs, err2 := expandStats(q.Mean, q.Std, c)
	if (err1 == nil) != (err2 == nil) {
		return false
	}
	near := func(a, b []float32) bool {
		return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Abs(float64(x-y)) <= 1e-6 })
	}
	return near(pm, qm) && near(ps, qs) && p.resize() == q.resize() &&
		(p.resize() != ResizeCenterCrop || p.ShorterSide() == q.ShorterSide())
}

// Check validates p for a c-channel input: statistics of the right length
// with positive finite stds, a known resize rule and channel order.
func (p Preprocess) Check(c int) error {
	if len(p.Mean) != len(p.Std) {
		return fmt.Errorf("preprocessing: %d means but %d stds", len(p.Mean), len(p.Std))
	}
	if p.HasStats() {
		if _, _, err := expandStats(p.Mean, p.Std, c); err != nil {
			return fmt.Errorf("preprocessing: %w", err)
		}
	}
	switch p.Resize {
	case "", ResizeBilinear, ResizeCenterCrop:
	default:
		return fmt.Errorf("preprocessing: unknown resize rule %q (want %s or %s)", p.Resize, ResizeBilinear, ResizeCenterCrop)
	}
	if p.Shorter < 0 || p.Shorter > maxIDXSide {
		return fmt.Errorf("preprocessing: resize shorter side %d out of range", p.Shorter)
	}
	switch {
	case p.Order == "":
	case c == 3 && (p.Order == OrderRGB || p.Order == OrderBGR):
	case c == 1 && p.Order == OrderGray:
	default:
		return fmt.Errorf("preprocessing: channel order %q does not fit a %d-channel input", p.Order, c)
	}
	return nil
}

// SetMeta stores p in a model's metadata (the Meta* keys); keys of unknown
// parts are removed so a model never carries a stale normalisation.
func (p Preprocess) SetMeta(meta map[string]string) {
	set := func(k, v string) {
		if v == "" {
			delete(meta, k)
		} else {
			meta[k] = v
		}
	}
	set(MetaMean, FormatStats(p.Mean))
	set(MetaStd, FormatStats(p.Std))
	size := ""
	if p.H > 0 {
		size = fmt.Sprintf("%d,%d", p.H, p.W)
	}
	set(MetaSize, size)
	set(MetaResize, p.resize())
	shorter := ""
	if p.resize() == ResizeCenterCrop {
		shorter = strconv.Itoa(p.ShorterSide())
	}
	set(MetaShorter, shorter)
	set(MetaOrder, p.Order)
}

// PreprocessFromMeta reads the preprocessing a model's metadata carries.
// ok is false when the metadata holds no statistics (MetaMean absent).
// Errors name the malformed key.
func PreprocessFromMeta(meta map[string]string) (p Preprocess, ok bool, err error) {
	if meta[MetaMean] == "" && meta[MetaStd] == "" {
		return Preprocess{}, false, nil
	}
	if p.Mean, err = parseFloats(meta[MetaMean]); err != nil {
		return p, false, fmt.Errorf("model metadata %s: %w", MetaMean, err)
	}
	if p.Std, err = parseFloats(meta[MetaStd]); err != nil {
		return p, false, fmt.Errorf("model metadata %s: %w", MetaStd, err)
	}
	if s := meta[MetaSize]; s != "" {
		hw, err := parseInts(s)
		if err != nil || len(hw) != 2 || hw[0] <= 0 || hw[1] <= 0 {
			return p, false, fmt.Errorf("model metadata %s: want \"H,W\", got %q", MetaSize, s)
		}
		p.H, p.W = hw[0], hw[1]
	}
	p.Resize = meta[MetaResize]
	if s := meta[MetaShorter]; s != "" {
		if p.Shorter, err = strconv.Atoi(s); err != nil || p.Shorter <= 0 {
			return p, false, fmt.Errorf("model metadata %s: want a positive integer, got %q", MetaShorter, s)
		}
	}
	p.Order = meta[MetaOrder]
	if len(p.Mean) != len(p.Std) {
		return p, false, fmt.Errorf("model metadata: %d means (%s) but %d stds (%s)", len(p.Mean), MetaMean, len(p.Std), MetaStd)
	}
	return p, true, nil
}

// ParseStats reads a --mean or --std flag: "imagenet" (ImageNet's
// statistics; which says "mean" or "std"), or one or more comma-separated
// numbers (one value is used for every channel). "" gives nil.
func ParseStats(s, which string) ([]float32, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "imagenet":
		if which == "std" {
			return slices.Clone(ImageNetStd), nil
		}
		return slices.Clone(ImageNetMean), nil
	}
	v, err := parseFloats(s)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %w (want numbers like 0.485,0.456,0.406, or imagenet)", which, s, err)
	}
	if len(v) != 1 && len(v) != 3 {
		return nil, fmt.Errorf("--%s %q: want one value or three (one per channel), got %d", which, s, len(v))
	}
	for _, x := range v {
		if which == "std" && !(x > 0) {
			return nil, fmt.Errorf("--std %q: every value must be positive", s)
		}
	}
	return v, nil
}

// FormatStats prints statistics as ParseStats reads them ("" for nil).
func FormatStats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return strings.Join(parts, ",")
}

func parseFloats(s string) ([]float32, error) {
	var out []float32
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a finite number", strings.TrimSpace(f))
		}
		out = append(out, float32(x))
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}
