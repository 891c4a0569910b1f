// Package data loads labelled image sets (IDX files of the MNIST family,
// folders of PNG/JPEG images), normalises them to float32 NCHW and serves
// shuffled, optionally augmented mini-batches from a seeded random source.
package data

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/slimgo/slimgo/tensor"
)

// Dataset is an in-memory labelled image set, already normalised.
// X holds N*C*H*W values, image i at X[i*C*H*W:]; Labels[i] is in [0, len(Classes)).
// Pixel p (0..255) of channel c is stored as (p/255 - Mean[c]) / Std[c].
type Dataset struct {
	Name    string
	X       []float32
	Labels  []int32
	Classes []string
	C, H, W int
	// Mean and Std hold the per-channel normalisation (len C), so a model's
	// metadata can carry them and new inputs can be normalised alike.
	Mean, Std []float32
	// Source says where the examples came from (a directory, or
	// "bundled sample ..."), for the CLI to print.
	Source string
	// Resize, Shorter and Order record how the images were brought to the
	// model's input (see Preprocess).
	Resize  string
	Shorter int
	Order   string
}

// Preprocess returns the preprocessing that produced d's examples, to be
// stamped into a model trained or evaluated on it.
func (d *Dataset) Preprocess() Preprocess {
	return Preprocess{Mean: slices.Clone(d.Mean), Std: slices.Clone(d.Std), H: d.H, W: d.W,
		Resize: d.Resize, Shorter: d.Shorter, Order: d.Order}
}

// Len returns the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// ImageSize returns C*H*W.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Subset returns the examples at the given indices (copied).
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Name: d.Name, Classes: d.Classes, C: d.C, H: d.H, W: d.W,
		Mean: d.Mean, Std: d.Std, Source: d.Source, Resize: d.Resize, Shorter: d.Shorter, Order: d.Order}
	sz := d.ImageSize()
	s.X = make([]float32, 0, len(idx)*sz)
	for _, i := range idx {
		s.X = append(s.X, d.X[i*sz:(i+1)*sz]...)
		s.Labels = append(s.Labels, d.Labels[i])
	}
	return s
}

// Head returns the first n examples (all when n <= 0 or n >= Len), sharing memory.
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || n >= d.Len() {
		return d
	}
	s := *d
	s.X = d.X[:n*d.ImageSize()]
	s.Labels = d.Labels[:n]
	return &s
}

// Split divides d into a validation part of n examples chosen with rng and
// the rest, both copied; used for the DDPG search's held-out split.
func (d *Dataset) Split(n int, rng *rand.Rand) (rest, val *Dataset, err error) {
	if n <= 0 || n >= d.Len() {
		return nil, nil, fmt.Errorf("data: cannot hold out %d of %d examples", n, d.Len())
	}
	perm := rng.Perm(d.Len())
	return d.Subset(perm[n:]), d.Subset(perm[:n]), nil
}

// Batch copies the examples at idx into x (shape [len(idx), C, H, W],
// allocated when nil or of the wrong size) and returns x and the labels.
// With aug non-nil and rng non-nil, each image is augmented.
func (d *Dataset) Batch(idx []int, x *tensor.Tensor, aug *Augment, rng *rand.Rand) (*tensor.Tensor, []int32) {
	sz := d.ImageSize()
	if x == nil || x.Len() != len(idx)*sz {
		x = tensor.New(len(idx), d.C, d.H, d.W)
	}
	labels := make([]int32, len(idx))
	for b, i := range idx {
		dst := x.Data[b*sz : (b+1)*sz]
		copy(dst, d.X[i*sz:(i+1)*sz])
		if aug != nil && rng != nil {
			aug.Apply(dst, d.C, d.H, d.W, rng)
		}
		labels[b] = d.Labels[i]
	}
	return x, labels
}

// Augment describes training-time augmentation. The zero value does nothing.
type Augment struct {
	CropPad int  // random crop after zero-padding by this many pixels (0: off)
	FlipH   bool // random horizontal flip with probability 1/2
	// Fill is the value padding takes, normally the normalised value of a
	// black pixel so that padding looks like the image border.
	Fill float32
	// FillC, when it has one entry per channel, overrides Fill channel by
	// channel (see Dataset.BlackLevel).
	FillC []float32
}

// Changes reports whether a alters any image (false for nil and for the
// zero value): without it every epoch sees the same images.
func (a *Augment) Changes() bool { return a != nil && (a.CropPad > 0 || a.FlipH) }

// BlackLevel returns the normalised value of a black pixel per channel,
// (0 - Mean[c]) / Std[c], the natural padding for Augment.FillC. Without
// recorded statistics it returns zeros.
func (d *Dataset) BlackLevel() []float32 {
	out := make([]float32, d.C)
	if len(d.Mean) == d.C && len(d.Std) == d.C {
		for c := range out {
			out[c] = -d.Mean[c] / d.Std[c]
		}
	}
	return out
}

// Apply augments one normalised image in place.
func (a *Augment) Apply(img []float32, c, h, w int, rng *rand.Rand) {
	if a.CropPad > 0 {
		dy := rng.IntN(2*a.CropPad+1) - a.CropPad
		dx := rng.IntN(2*a.CropPad+1) - a.CropPad
		if dy != 0 || dx != 0 {
			src := append([]float32(nil), img...)
			for ch := range c {
				fill := a.Fill
				if len(a.FillC) == c {
					fill = a.FillC[ch]
				}
				for y := range h {
					sy := y + dy
					for x := range w {
						sx := x + dx
						v := fill
						if sy >= 0 && sy < h && sx >= 0 && sx < w {
							v = src[(ch*h+sy)*w+sx]
						}
						img[(ch*h+y)*w+x] = v
					}
				}
			}
		}
	}
	if a.FlipH && rng.IntN(2) == 1 {
		FlipImageH(img, c, h, w)
	}
}

// FlipImageH mirrors a C x H x W image left to right in place.
func FlipImageH(img []float32, c, h, w int) {
	for r := range c * h {
		row := img[r*w : (r+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}
