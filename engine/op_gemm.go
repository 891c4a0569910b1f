package engine

// Gemm: a fully connected layer in ONNX form.
//
//	A[N,K], B[K,M] (or [M,K] with transB=1), C? -> Y[N,M]
//	Y = alpha * A * op(B) + beta * C
//
// C broadcasts unidirectionally to [N,M]: it may be [M], [1,M], [N,M], [N,1],
// [1] or a scalar. transA=1 is refused (exporters do not produce it for a
// linear layer). Products go through kernels.SgemmParallel, which splits
// rows over threads when the batch is large and falls back to the
// single-threaded Sgemm otherwise.

import (
	"fmt"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/kernels"
	"github.com/slimgo/slimgo/tensor"
)

// gemvMaxRows is the most input rows a Gemm with a transposed weight
// computes as dot products (kernels.SgemvT) instead of packing the weight
// for the GEMM: each row reads the whole weight once.
const gemvMaxRows = 2

// gemmKernel is a compiled Gemm node.
type gemmKernel struct {
	alpha, beta float32
	transB      bool
	off         []int // dotRows: the offsets of b's rows
}

// newGemm validates a Gemm node. It errors on transA=1, transA/transB
// values other than 0/1, and unknown attributes.
func newGemm(n *graph.Node) (Kernel, error) {
	if err := rejectUnknownAttrs(n, "alpha", "beta", "transA", "transB"); err != nil {
		return nil, err
	}
	ta, tb := n.Attrs.Int("transA", 0), n.Attrs.Int("transB", 0)
	if ta == 1 {
		return nil, attrErrorf(n, "transA=1 is not supported (store A as [N, K])")
	}
	if ta != 0 || (tb != 0 && tb != 1) {
		return nil, attrErrorf(n, "transA %d, transB %d: want 0 or 1", ta, tb)
	}
	return &gemmKernel{alpha: n.Attrs.Float("alpha", 1), beta: n.Attrs.Float("beta", 1), transB: tb == 1}, nil
}

// gemmDims is the checked size of one call; C, when present, is viewed as
// [cn, cm] with cn in {1, n} and cm in {1, m}.
type gemmDims struct {
	n, k, m int
	hasC    bool
	cn, cm  int
}

func (g *gemmKernel) check(in []*tensor.Tensor) (gemmDims, error) {
	var d gemmDims
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return d, fmt.Errorf("needs inputs A and B, got %d inputs", len(in))
	}
	a, b := in[0].Shape, in[1].Shape
	if len(a) != 2 || len(b) != 2 {
		return d, fmt.Errorf("inputs A %v and B %v must be 2-D", a, b)
	}
	d.n, d.k = a[0], a[1]
	kb, m := b[0], b[1]
	if g.transB {
		kb, m = b[1], b[0]
	}
	if kb != d.k {
		return d, fmt.Errorf("inner sizes differ: A %v, B %v (transB=%v)", a, b, g.transB)
	}
	d.m = m
	if len(in) > 2 && in[2] != nil {
		c := in[2].Shape
		d.hasC = true
		d.cn, d.cm = 1, 1
		switch len(c) {
		case 0:
		case 1:
			d.cm = c[0]
		case 2:
			d.cn, d.cm = c[0], c[1]
		default:
			return d, fmt.Errorf("C %v does not broadcast to [%d %d]", c, d.n, d.m)
		}
		if (d.cn != 1 && d.cn != d.n) || (d.cm != 1 && d.cm != d.m) {
			return d, fmt.Errorf("C %v does not broadcast to [%d %d]", c, d.n, d.m)
		}
	}
	return d, nil
}

// Forward computes Y[N,M]. It errors on missing or non-2-D inputs, an
// inner-size mismatch, or a C that does not broadcast to [N,M].
func (g *gemmKernel) Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	d, err := g.check(in)
	if err != nil {
		return nil, err
	}
	y := ctx.Alloc(d.n, d.m)
	beta := float32(0)
	if d.hasC && g.beta != 0 {
		c := in[2].Data
		for i := range d.n {
			row := y.Data[i*d.m : (i+1)*d.m]
			ci := 0
			if d.cn > 1 {
				ci = i * d.cm
			}
			if d.cm == 1 {
				v := c[ci]
				for j := range row {
					row[j] = v
				}
			} else {
				copy(row, c[ci:ci+d.m])
			}
		}
		beta = g.beta
	}
	ldb := d.m
	if g.transB {
		ldb = d.k
	}
	if g.transB && d.n <= gemvMaxRows {
		// A few input rows against a [M, K] weight (a classifier at
		// batch 1): dot products over the weight in place.
		for i := range d.n {
			kernels.SgemvT(d.m, d.k, g.alpha, in[0].Data[i*d.k:], in[1].Data, ldb, beta, y.Data[i*d.m:])
		}
		return []*tensor.Tensor{y}, nil
	}
	if g.transB && d.n <= gemmDotMaxRows {
		g.dotRows(d, in[0].Data, in[1].Data, beta, y.Data)
		return []*tensor.Tensor{y}, nil
	}
	kernels.SgemmParallel(false, g.transB, d.n, d.m, d.k, g.alpha, in[0].Data, d.k, in[1].Data, ldb, beta, y.Data, d.m)
	return []*tensor.Tensor{y}, nil
}

// gemmDotMaxRows is the most input rows a Gemm with a transposed weight
// computes as blocks of dot products over the weight in place
// (kernels.SgemmRowsT), reading it once per four rows, instead of packing
// (transposing) the whole weight for the GEMM on every call: resnet50's
// classifier at batch 8, one thread, 7.65 ms (ONNX Runtime 2.04).
const gemmDotMaxRows = 16

// dotRows computes y = alpha*a*b^T + beta*y for a [N, K], b [M, K] by
// SgemmRowsT, its columns (b's rows) split over the workers.
func (g *gemmKernel) dotRows(d gemmDims, a, b []float32, beta float32, y []float32) {
	if len(g.off) != d.m || (d.m > 1 && g.off[1] != d.k) {
		g.off = make([]int, d.m)
		for j := range g.off {
			g.off[j] = j * d.k
		}
	}
	t := max(1, min(kernels.Threads(), d.n*d.m*d.k/gemmDotMinMACs))
	kernels.ParallelFor(t, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			j0, j1 := q*d.m/t, (q+1)*d.m/t
			kernels.SgemmRowsT(d.n, j1-j0, d.k, g.alpha, a, d.k, b, g.off[j0:j1], beta, y[j0:], d.m)
		}
	})
}

// gemmDotMinMACs is the least work dotRows gives a worker.
const gemmDotMinMACs = 1 << 18

// Backward returns dA = alpha*dY*op(B)^T, dB = alpha*A^T*dY (or its
// transpose for transB=1) and dC = beta*dY summed over C's broadcast axes,
// each only when needed.
func (g *gemmKernel) Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error) {
	gin := make([]*tensor.Tensor, len(in))
	d, err := g.check(in)
	if err != nil {
		return nil, err
	}
	if len(gout) < 1 || gout[0] == nil {
		return gin, nil
	}
	dy := gout[0]
	if !tensor.SameShape(dy.Shape, []int{d.n, d.m}) {
		return nil, fmt.Errorf("output gradient %v, want [%d %d]", dy.Shape, d.n, d.m)
	}
	a, b := in[0], in[1]
	if len(need) > 0 && need[0] {
		da := ctx.Alloc(a.Shape...)
		if g.transB { // B is [M,K]: dA = dY * B
			kernels.SgemmParallel(false, false, d.n, d.k, d.m, g.alpha, dy.Data, d.m, b.Data, d.k, 0, da.Data, d.k)
		} else { // B is [K,M]: dA = dY * B^T
			kernels.SgemmParallel(false, true, d.n, d.k, d.m, g.alpha, dy.Data, d.m, b.Data, d.m, 0, da.Data, d.k)
		}
		gin[0] = da
	}
	if len(need) > 1 && need[1] {
		db := ctx.Alloc(b.Shape...)
		if g.transB { // dB[M,K] = dY^T * A
			kernels.SgemmParallel(true, false, d.m, d.k, d.n, g.alpha, dy.Data, d.m, a.Data, d.k, 0, db.Data, d.k)
		} else { // dB[K,M] = A^T * dY
			kernels.SgemmParallel(true, false, d.k, d.m, d.n, g.alpha, a.Data, d.k, dy.Data, d.m, 0, db.Data, d.m)
		}
		gin[1] = db
	}
	if len(need) > 2 && need[2] && d.hasC {
		dc := ctx.Alloc(in[2].Shape...)
		acc := make([]float64, d.cn*d.cm)
		for i := range d.n {
			ci := 0
			if d.cn > 1 {
				ci = i * d.cm
			}
			for j, v := range dy.Data[i*d.m : (i+1)*d.m] {
				if d.cm == 1 {
					acc[ci] += float64(v)
				} else {
					acc[ci+j] += float64(v)
				}
			}
		}
		for i, v := range acc {
			dc.Data[i] = g.beta * float32(v)
		}
		gin[2] = dc
	}
	return gin, nil
}

func init() { Register(graph.OpGemm, newGemm) }
