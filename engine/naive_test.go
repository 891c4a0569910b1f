package engine

// Naive reference implementations for the spatial ops (Conv, pooling,
// BatchNormalization, Gemm), written straight from the definitions with
// float64 accumulation and their own output-size arithmetic, so that the
// fast kernels are checked against code that shares nothing with them.
// Plus small test helpers shared by the op_*_test.go files of this area
// (prefixed cv to stay clear of other test files in the package).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// refGeom is a convolution/pool geometry for the naive references.
type refGeom struct {
	kh, kw, sh, sw         int
	padT, padL, padB, padR int
	dh, dw                 int
	group                  int
	ceil                   bool
}

// refOutSize is the output length along one axis, from the ONNX formula:
// floor or ceil of (in + pads - dil*(k-1) - 1)/s + 1, where in ceil mode a
// window that would start in the bottom/right padding is dropped.
func refOutSize(in, k, s, d, p0, p1 int, ceil bool) int {
	span := in + p0 + p1 - d*(k-1) - 1
	if span < 0 {
		return 0
	}
	if !ceil {
		return int(math.Floor(float64(span)/float64(s))) + 1
	}
	o := int(math.Ceil(float64(span)/float64(s))) + 1
	if (o-1)*s >= in+p0 {
		o--
	}
	return o
}

func (g refGeom) out(h, w int) (int, int) {
	return refOutSize(h, g.kh, g.sh, g.dh, g.padT, g.padB, g.ceil),
		refOutSize(w, g.kw, g.sw, g.dw, g.padL, g.padR, g.ceil)
}

// attrs returns the node attributes for the geometry (kernel_shape omitted;
// pools add it themselves).
func (g refGeom) attrs() graph.Attrs {
	a := graph.Attrs{
		"strides":   []int{g.sh, g.sw},
		"pads":      []int{g.padT, g.padL, g.padB, g.padR},
		"dilations": []int{g.dh, g.dw},
	}
	if g.group > 1 {
		a["group"] = g.group
	}
	if g.ceil {
		a["ceil_mode"] = 1
	}
	return a
}

// naiveConv is the direct 7-loop convolution: for every image, filter,
// output pixel, input channel of the filter's group and kernel tap.
// b may be nil. Returns Y[N,M,OH,OW] as float64.
func naiveConv(x, w, b *tensor.Tensor, g refGeom) ([]float64, []int) {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	m, cg := w.Shape[0], w.Shape[1]
	mg := m / g.group
	oh, ow := g.out(h, wd)
	y := make([]float64, n*m*oh*ow)
	for in := range n {
		for f := range m {
			grp := f / mg
			for oy := range oh {
				for ox := range ow {
					s := 0.0
					if b != nil {
						s = float64(b.Data[f])
					}
					for ci := range cg {
						for ky := range g.kh {
							for kx := range g.kw {
								iy := oy*g.sh - g.padT + ky*g.dh
								ix := ox*g.sw - g.padL + kx*g.dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								xv := x.Data[((in*c+grp*cg+ci)*h+iy)*wd+ix]
								wv := w.Data[((f*cg+ci)*g.kh+ky)*g.kw+kx]
								s += float64(xv) * float64(wv)
							}
						}
					}
					y[((in*m+f)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return y, []int{n, m, oh, ow}
}

// naiveConvAdjoint is the direct adjoint of naiveConv: given dY it returns
// dX, dW and dB by scattering each output gradient along the same loops.
func naiveConvAdjoint(x, w, dy *tensor.Tensor, g refGeom) (dx, dw, db []float64) {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	m, cg := w.Shape[0], w.Shape[1]
	mg := m / g.group
	oh, ow := dy.Shape[2], dy.Shape[3]
	dx = make([]float64, len(x.Data))
	dw = make([]float64, len(w.Data))
	db = make([]float64, m)
	for in := range n {
		for f := range m {
			grp := f / mg
			for oy := range oh {
				for ox := range ow {
					gv := float64(dy.Data[((in*m+f)*oh+oy)*ow+ox])
					db[f] += gv
					for ci := range cg {
						for ky := range g.kh {
							for kx := range g.kw {
								iy := oy*g.sh - g.padT + ky*g.dh
								ix := ox*g.sw - g.padL + kx*g.dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								xi := ((in*c+grp*cg+ci)*h+iy)*wd + ix
								wi := ((f*cg+ci)*g.kh+ky)*g.kw + kx
								dx[xi] += gv * float64(w.Data[wi])
								dw[wi] += gv * float64(x.Data[xi])
							}
						}
					}
				}
			}
		}
	}
	return dx, dw, db
}

// naivePool computes MaxPool (max=true) or AveragePool over every window.
// Taps outside the image are skipped; for averages the divisor is the number
// of taps inside the image, or with countPad the number inside the padded
// extent [-padT, H+padB) x [-padL, W+padR) (PyTorch's rule). A window with no
// tap inside the image yields 0.
func naivePool(x *tensor.Tensor, g refGeom, max, countPad bool) ([]float64, []int) {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := g.out(h, wd)
	y := make([]float64, n*c*oh*ow)
	for p := range n * c {
		for oy := range oh {
			for ox := range ow {
				best, sum := math.Inf(-1), 0.0
				inside, padded := 0, 0
				for ky := range g.kh {
					for kx := range g.kw {
						iy := oy*g.sh - g.padT + ky*g.dh
						ix := ox*g.sw - g.padL + kx*g.dw
						if iy >= -g.padT && iy < h+g.padB && ix >= -g.padL && ix < wd+g.padR {
							padded++
						}
						if iy < 0 || iy >= h || ix < 0 || ix >= wd {
							continue
						}
						v := float64(x.Data[(p*h+iy)*wd+ix])
						inside++
						sum += v
						best = math.Max(best, v)
					}
				}
				var r float64
				switch {
				case inside == 0:
					r = 0
				case max:
					r = best
				case countPad:
					r = sum / float64(padded)
				default:
					r = sum / float64(inside)
				}
				y[(p*oh+oy)*ow+ox] = r
			}
		}
	}
	return y, []int{n, c, oh, ow}
}

// cvRand returns a tensor of the shape filled with N(0, 1) from a seed.
func cvRand(seed uint64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	t.FillNormal(tensor.NewRNG(seed), 0, 1)
	return t
}

// cvPermuted returns a tensor whose values are a random permutation of
// 0..n-1 times step, shifted to be centred on 0: every pair of values is at
// least step apart, so a gradient-check perturbation smaller than step/2
// never changes which element of a window is the maximum.
func cvPermuted(seed uint64, step float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	rng := tensor.NewRNG(seed)
	perm := rng.Perm(t.Len())
	for i, p := range perm {
		t.Data[i] = (float32(p) - float32(t.Len())/2) * step
	}
	return t
}

// cvCompile compiles a node or fails the test.
func cvCompile(t testing.TB, n *graph.Node) Kernel {
	t.Helper()
	k, err := Compile(n)
	if err != nil {
		t.Fatalf("compile %s: %v", n.Op, err)
	}
	return k
}

// cvForward runs one kernel forward with a pool-less context.
func cvForward(t testing.TB, k Kernel, train bool, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	ctx := &Ctx{Train: train, RNG: rand.New(rand.NewPCG(1, 2))}
	if c, ok := k.(*convKernel); ok && c.fused {
		ctx.conv = poisonedScratch()
	}
	out, err := k.Forward(ctx, in)
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	return out[0]
}

// poisonedScratch returns a set of shared Conv buffers (convScratch) of
// 64K floats a worker, every float NaN: a fused Conv that reads a padded
// row, a gap or a zero row it did not write gets NaN in its output instead
// of the zeros of a fresh buffer.
func poisonedScratch() *convScratch {
	bufs := func() [][]float32 {
		b := make([][]float32, 4)
		for i := range b {
			b[i] = make([]float32, 64<<10)
			for j := range b[i] {
				b[i][j] = float32(math.NaN())
			}
		}
		return b
	}
	return &convScratch{cols: bufs(), wv: bufs(), wm: bufs(), ybufs: bufs()}
}

// cvBackward runs one kernel backward for a single-output op.
func cvBackward(t testing.TB, k Kernel, in []*tensor.Tensor, out, dy *tensor.Tensor, need []bool) []*tensor.Tensor {
	t.Helper()
	ctx := &Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 2))}
	g, err := k.Backward(ctx, in, []*tensor.Tensor{out}, []*tensor.Tensor{dy}, need)
	if err != nil {
		t.Fatalf("backward: %v", err)
	}
	return g
}

// cvClose reports the first element where got and want differ by more than
// tol*(1+|want|), or "" when all agree and the sizes match.
func cvClose(got []float32, want []float64, tol float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(d) {
			return fmt.Sprintf("element %d: got %.7g, want %.7g (diff %.3g)", i, got[i], want[i], d)
		}
	}
	return ""
}

// cvWantErr checks that err is non-nil and mentions every fragment.
func cvWantErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error mentioning %q, got nil", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not mention %q", err, f)
		}
	}
}

// cvBitEqual reports whether two tensors are bit-identical.
func cvBitEqual(a, b *tensor.Tensor) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !tensor.SameShape(a.Shape, b.Shape) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// naiveBN normalises x[N,C,...] per channel with float64 arithmetic. In
// training mode it uses the batch mean and biased variance and also returns
// them with the unbiased variance; otherwise it uses mean and vr.
func naiveBN(x, scale, b, mean, vr *tensor.Tensor, eps float64, train bool) (y, bmean, bvar, bvarUnbiased []float64) {
	n, c := x.Shape[0], x.Shape[1]
	inner := x.Len() / (n * c)
	at := func(img, ch, i int) int { return (img*c+ch)*inner + i }
	y = make([]float64, x.Len())
	bmean, bvar, bvarUnbiased = make([]float64, c), make([]float64, c), make([]float64, c)
	for ch := range c {
		mu, v := float64(mean.Data[ch]), float64(vr.Data[ch])
		if train {
			var s, ss float64
			for img := range n {
				for i := range inner {
					s += float64(x.Data[at(img, ch, i)])
				}
			}
			mu = s / float64(n*inner)
			for img := range n {
				for i := range inner {
					d := float64(x.Data[at(img, ch, i)]) - mu
					ss += d * d
				}
			}
			v = ss / float64(n*inner)
			bmean[ch], bvar[ch], bvarUnbiased[ch] = mu, v, ss/float64(n*inner-1)
		}
		for img := range n {
			for i := range inner {
				j := at(img, ch, i)
				y[j] = float64(scale.Data[ch])*(float64(x.Data[j])-mu)/math.Sqrt(v+eps) + float64(b.Data[ch])
			}
		}
	}
	return y, bmean, bvar, bvarUnbiased
}

// naiveBNBackward is the textbook chain rule through batch statistics
// (d xhat, then d var, then d mean), in float64.
func naiveBNBackward(x, scale, dy *tensor.Tensor, eps float64) (dx, dscale, db []float64) {
	n, c := x.Shape[0], x.Shape[1]
	inner := x.Len() / (n * c)
	m := float64(n * inner)
	at := func(img, ch, i int) int { return (img*c+ch)*inner + i }
	dx = make([]float64, x.Len())
	dscale, db = make([]float64, c), make([]float64, c)
	_, mean, vr, _ := naiveBN(x, scale, scale, scale, scale, eps, true)
	for ch := range c {
		mu, v := mean[ch], vr[ch]
		std := math.Sqrt(v + eps)
		var dvar, dmu, sumDev float64
		for img := range n {
			for i := range inner {
				j := at(img, ch, i)
				xv, g := float64(x.Data[j]), float64(dy.Data[j])
				db[ch] += g
				dscale[ch] += g * (xv - mu) / std
				dxhat := g * float64(scale.Data[ch])
				dvar += dxhat * (xv - mu) * -0.5 * math.Pow(v+eps, -1.5)
				dmu += -dxhat / std
				sumDev += -2 * (xv - mu)
			}
		}
		dmu += dvar * sumDev / m
		for img := range n {
			for i := range inner {
				j := at(img, ch, i)
				xv, g := float64(x.Data[j]), float64(dy.Data[j])
				dx[j] = g*float64(scale.Data[ch])/std + dvar*2*(xv-mu)/m + dmu/m
			}
		}
	}
	return dx, dscale, db
}

// naivePoolAdjoint scatters dy back through naivePool's windows: for max to
// the first tap (in row-major window order) holding the window maximum, for
// averages evenly over the taps inside the image divided by the divisor.
func naivePoolAdjoint(x, dy *tensor.Tensor, g refGeom, max, countPad bool) []float64 {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := dy.Shape[2], dy.Shape[3]
	dx := make([]float64, x.Len())
	for p := range n * c {
		for oy := range oh {
			for ox := range ow {
				gv := float64(dy.Data[(p*oh+oy)*ow+ox])
				var taps []int
				best, bestAt, padded := math.Inf(-1), -1, 0
				for ky := range g.kh {
					for kx := range g.kw {
						iy := oy*g.sh - g.padT + ky*g.dh
						ix := ox*g.sw - g.padL + kx*g.dw
						if iy >= -g.padT && iy < h+g.padB && ix >= -g.padL && ix < wd+g.padR {
							padded++
						}
						if iy < 0 || iy >= h || ix < 0 || ix >= wd {
							continue
						}
						j := (p*h+iy)*wd + ix
						taps = append(taps, j)
						if v := float64(x.Data[j]); v > best {
							best, bestAt = v, j
						}
					}
				}
				switch {
				case len(taps) == 0:
				case max:
					dx[bestAt] += gv
				default:
					div := float64(len(taps))
					if countPad {
						div = float64(padded)
					}
					for _, j := range taps {
						dx[j] += gv / div
					}
				}
			}
		}
	}
	return dx
}
