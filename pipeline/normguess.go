package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/train"
)

// A model exported by torch.onnx.export carries no record of the
// normalisation its training used, and a user may forget --mean/--std.
// Normalising with the data set's own statistics then can halve a good
// model's accuracy, and compress's fine-tuning quietly re-learns the
// wrong input. Instead, the usual normalisations are tried on a few
// training images (never the test split) and the one the model scores
// best on is used, with every score printed.

// normGuessImages is how many training images score each candidate: the
// differences sought are tens of points (a wrong normalisation), so a
// small paired sample decides them.
const normGuessImages = 256

// normGuessMargin is how many points a candidate must beat the data
// set's own statistics by to replace them.
const normGuessMargin = 2.0

// normCandidate is one normalisation to try.
type normCandidate struct {
	Mean, Std []float32
	label     string
}

// normCandidates lists the data set's statistics first, then [0,1]
// pixels, [-1,1] pixels and, for three channels, ImageNet's statistics.
func normCandidates(c int, mean, std []float32) []normCandidate {
	out := []normCandidate{{Mean: mean, Std: std, label: "the data set's statistics"}}
	add := func(m, s []float32, label string) {
		for _, o := range out {
			if statsClose(o.Mean, m, c) && statsClose(o.Std, s, c) {
				return
			}
		}
		out = append(out, normCandidate{Mean: m, Std: s, label: label})
	}
	add([]float32{0}, []float32{1}, "pixels in [0,1]")
	add([]float32{0.5}, []float32{0.5}, "pixels in [-1,1]")
	if c == 3 {
		add(slices.Clone(data.ImageNetMean), slices.Clone(data.ImageNetStd), "ImageNet's statistics")
	}
	return out
}

// statsClose reports whether per-channel (or single) statistics a and b
// agree to 1e-3 on every one of c channels.
func statsClose(a, b []float32, c int) bool {
	at := func(v []float32, i int) float32 {
		if len(v) == 1 {
			return v[0]
		}
		return v[i]
	}
	for i := range c {
		if d := at(a, i) - at(b, i); d > 1e-3 || d < -1e-3 {
			return false
		}
	}
	return true
}

// spread picks n indices spread evenly over 0..total-1 (all when n >= total),
// so a class-sorted folder contributes every class.
func spread(total, n int) []int {
	if n >= total {
		n = total
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(int64(i) * int64(total) / int64(n))
	}
	return idx
}

// chooseNorm scores each candidate with score (higher is better) and
// returns the index of the chosen one: the first (the data set's own
// statistics) unless another beats it by normGuessMargin points.
func chooseNorm(scores []float64) int {
	best := 0
	for i, s := range scores {
		if i > 0 && s >= scores[0]+normGuessMargin && s > scores[best] {
			best = i
		}
	}
	return best
}

// describeNorm is the log line for the guess.
func describeNorm(n int, cands []normCandidate, scores []float64, unit string, pick int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "normalisation: on %d training images the model scores", n)
	for i, c := range cands {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %.1f%% %s with %s (mean %s, std %s)", sep, scores[i], unit, c.label, fmtStats(c.Mean), fmtStats(c.Std))
	}
	c := cands[pick]
	fmt.Fprintf(&b, ": normalising with %s; pass --mean/--std to choose yourself (the choice is recorded in every model written)\n", c.label)
	return b.String()
}

// fmtStats prints statistics to three significant digits.
func fmtStats(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', 3, 32)
	}
	return strings.Join(parts, ",")
}

// pickNorm scores each candidate for statistics (mean, std) of c channels
// with score, logs every score (n images, in unit) and returns the chosen
// candidate and whether it differs from (mean, std).
func pickNorm(e *Env, c int, mean, std []float32, n int, unit string, score func(normCandidate) (float64, error)) (normCandidate, bool, error) {
	cands := normCandidates(c, mean, std)
	fmt.Fprintf(e.Log, "the model carries no preprocessing and no --mean/--std was given: scoring %d usual normalisations on %d training images\n", len(cands), n)
	scores := make([]float64, len(cands))
	for i, cand := range cands {
		v, err := score(cand)
		if err != nil {
			return cand, false, err
		}
		scores[i] = v
	}
	pick := chooseNorm(scores)
	fmt.Fprint(e.Log, describeNorm(n, cands, scores, unit, pick))
	return cands[pick], pick > 0, nil
}

// guessNorm chooses the normalisation of classifier g's inputs when
// neither its metadata nor the caller gave one (the sets are already
// normalised with the training set's statistics): each candidate is
// scored on normGuessImages training images and, when one beats the data
// set's statistics by normGuessMargin points, both sets are renormalised
// in place to it. Without training images (te may be nil) it only warns
// that the data set's statistics are used: the choice is never made on
// test images.
func guessNorm(e *Env, g *graph.Graph, tr, te *data.Dataset, batch int) error {
	if tr.Len() == 0 {
		fmt.Fprintf(e.Log, "warning: the model carries no preprocessing and no --mean/--std was given: normalising with the data set's own statistics (mean %s, std %s); pass the values the model was trained with (e.g. --mean 0.5 --std 0.5, or --mean imagenet --std imagenet)\n",
			data.FormatStats(tr.Mean), data.FormatStats(tr.Std))
		return nil
	}
	idx := spread(tr.Len(), normGuessImages)
	cand, change, err := pickNorm(e, tr.C, tr.Mean, tr.Std, len(idx), "accuracy", func(c normCandidate) (float64, error) {
		s := tr.Subset(idx)
		if err := data.Renormalise(s.X, s.C, s.H*s.W, tr.Mean, tr.Std, c.Mean, c.Std); err != nil {
			return 0, err
		}
		ev, err := train.Evaluate(g, s, batch)
		return 100 * ev.Accuracy, err
	})
	if err != nil || !change {
		return err
	}
	sets := []normTarget{{tr.X, &tr.Mean, &tr.Std}}
	if te != nil {
		sets = append(sets, normTarget{te.X, &te.Mean, &te.Std})
	}
	return applyNorm(tr.C, tr.H*tr.W, cand, sets...)
}

// guessDetNorm is guessNorm for detector g, scored in mAP@0.5 on the
// training images (fewer of them: a detector's pass costs more); va may
// be nil.
func guessDetNorm(e *Env, g *graph.Graph, tr, va *data.DetDataset) error {
	if tr.Len() == 0 {
		fmt.Fprintf(e.Log, "warning: the model carries no preprocessing and no --mean/--std was given: normalising with the data set's own statistics\n")
		return nil
	}
	idx := spread(tr.Len(), normGuessImages/2)
	cand, change, err := pickNorm(e, tr.C, tr.Mean, tr.Std, len(idx), "mAP@0.5", func(c normCandidate) (float64, error) {
		s := tr.Subset(idx)
		if err := data.Renormalise(s.X, s.C, s.H*s.W, tr.Mean, tr.Std, c.Mean, c.Std); err != nil {
			return 0, err
		}
		m50, _, err := detScore(g, s)
		return m50, err
	})
	if err != nil || !change {
		return err
	}
	sets := []normTarget{{tr.X, &tr.Mean, &tr.Std}}
	if va != nil {
		sets = append(sets, normTarget{va.X, &va.Mean, &va.Std})
	}
	return applyNorm(tr.C, tr.H*tr.W, cand, sets...)
}

// normTarget is one loaded set to renormalise: its images and where its
// statistics are recorded.
type normTarget struct {
	x         []float32
	mean, std *[]float32
}

// applyNorm renormalises every set (images of c channels of hw pixels,
// each normalised with its recorded statistics) to cand and records
// cand's statistics, expanded to c channels, in its place.
func applyNorm(c, hw int, cand normCandidate, sets ...normTarget) error {
	for _, t := range sets {
		if len(t.x) > 0 {
			if err := data.Renormalise(t.x, c, hw, *t.mean, *t.std, cand.Mean, cand.Std); err != nil {
				return err
			}
		}
		*t.mean, *t.std = expand(cand.Mean, c), expand(cand.Std, c)
	}
	return nil
}

func expand(v []float32, c int) []float32 {
	if len(v) == c {
		return slices.Clone(v)
	}
	return slices.Repeat(v[:1], c)
}
