package prune

import (
	"fmt"
	"math"

	"github.com/slimgo/slimgo/graph"
)

// Criterion selects how Importance scores a group's channels.
type Criterion int

const (
	// BNMean: mean over the group's BatchNormalizations of |gamma| (the
	// default: groups joined by residual adds stay comparable with plain
	// ones under a global threshold).
	BNMean Criterion = iota
	// BNSum: sum over the group's BNs of |gamma|.
	BNSum
	// BNMax: max over the group's BNs of |gamma|.
	BNMax
	// L1: sum over the producing members (ConvOut, Depthwise, GemmOut) of
	// the L1 norm of the channel's filter.
	L1
)

func (c Criterion) String() string {
	switch c {
	case BNMean:
		return "bn-mean"
	case BNSum:
		return "bn-sum"
	case BNMax:
		return "bn-max"
	case L1:
		return "l1"
	}
	return fmt.Sprintf("Criterion(%d)", int(c))
}

// ParseCriterion maps "bn-mean", "bn-sum", "bn-max" and "l1" to a Criterion.
func ParseCriterion(s string) (Criterion, error) {
	for c := BNMean; c <= L1; c++ {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("prune: unknown importance criterion %q (want bn-mean, bn-sum, bn-max or l1)", s)
}

// Importance returns one score per channel of grp (len grp.Size); higher
// means more important. The BN criteria fall back to L1 for a group without
// a BatchNormalization. grp must come from Groups(g) (or a graph with the
// same parameters); a member whose parameter is missing or too small is an
// error naming it.
func Importance(g *graph.Graph, grp *Group, c Criterion) ([]float64, error) {
	imp := make([]float64, grp.Size)
	if c != L1 && grp.HasBN() {
		nbn := 0
		for _, m := range grp.Members {
			if m.Role != BN {
				continue
			}
			gamma := g.Params[m.Tensors[0].Param]
			if gamma == nil {
				return nil, fmt.Errorf("prune: group %d: BN %q: missing scale %q", grp.ID, m.Node, m.Tensors[0].Param)
			}
			for j, ix := range m.Index {
				if ix >= gamma.Len() {
					return nil, fmt.Errorf("prune: group %d: BN %q: channel %d beyond scale of %d", grp.ID, m.Node, ix, gamma.Len())
				}
				v := math.Abs(float64(gamma.Data[ix]))
				switch {
				case c == BNMax && nbn > 0:
					imp[j] = math.Max(imp[j], v)
				default:
					imp[j] += v
				}
			}
			nbn++
		}
		if c == BNMean {
			for j := range imp {
				imp[j] /= float64(nbn)
			}
		}
		return imp, nil
	}
	for _, m := range grp.Members {
		if m.Role != ConvOut && m.Role != Depthwise && m.Role != GemmOut {
			continue
		}
		ta := m.Tensors[0]
		w := g.Params[ta.Param]
		if w == nil {
			return nil, fmt.Errorf("prune: group %d: %s %q: missing weight %q", grp.ID, m.Role, m.Node, ta.Param)
		}
		outer, n, inner := split(w.Shape, ta.Axis)
		for j, ix := range m.Index {
			if ix >= n {
				return nil, fmt.Errorf("prune: group %d: %s %q: channel %d beyond axis %d of %v", grp.ID, m.Role, m.Node, ix, ta.Axis, w.Shape)
			}
			s := 0.0
			for o := range outer {
				for _, v := range w.Data[(o*n+ix)*inner : (o*n+ix+1)*inner] {
					s += math.Abs(float64(v))
				}
			}
			imp[j] += s
		}
	}
	return imp, nil
}

// split returns the sizes before, at and after axis.
func split(shape []int, axis int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	return outer, shape[axis], inner
}
