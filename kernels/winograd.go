package kernels

import (
	"fmt"
	"slices"
	"unsafe"
)

// Winograd F(2x2, 3x3) transforms (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016). A 3x3 stride-1 correlation of a
// 4x4 input patch d yields a 2x2 output tile Y = A^T [(G g G^T) .* (B^T d B)] A:
// 16 multiplies per tile where direct convolution needs 36. Over C input
// and M output channels the 16 element-wise products become 16 independent
// GEMMs, U[xi] (M x C) * V[xi] (C x T) for T tiles, so the work moves from
// 9 to 4 multiply-adds per output and channel pair.
//
// The transforms work on groups of 8 tiles, the lanes of an AVX2 vector.
// A group is two halves of 4 tiles each; the tiles of a half are adjacent
// in one row of tiles, so their patches start 2 floats apart and their
// outputs cover 8 consecutive floats of an output row pair.

// WinoGroup describes 8 tiles, half A and half B of 4 tiles each (which
// lane of V and M holds which tile: winoLaneTile). InA and InB are the offsets of the halves' first 4x4 input patch (its
// top-left float; patch i of a half starts 2*i floats later, patch rows are
// the plane's row stride apart). OutA and OutB are the offsets of the
// halves' first output tile (its top-left output); NA0 and NA1 (NB0, NB1)
// are how many of the half's 8 outputs on the tile's first and second
// output row are stored (0..8; 0: none, as for tiles past the image).
type WinoGroup struct {
	InA, InB, OutA, OutB int32
	NA0, NA1, NB0, NB1   int32
}

// WinoPlan is a checked list of tile groups over input planes of row
// stride wp and output planes of row stride ow.
type WinoPlan struct {
	groups  []WinoGroup
	wp, ow  int
	inNeed  int // floats an input plane must hold
	outNeed int // floats an output plane must hold
}

// NewWinoPlan checks groups against the row strides and returns the plan.
// It errors on a negative offset, a stride below 1 or a count outside 0..8.
func NewWinoPlan(groups []WinoGroup, wp, ow int) (*WinoPlan, error) {
	if wp < 1 || ow < 1 {
		return nil, fmt.Errorf("kernels.NewWinoPlan: row strides %d, %d", wp, ow)
	}
	p := &WinoPlan{groups: slices.Clone(groups), wp: wp, ow: ow}
	for i, g := range groups {
		if g.InA < 0 || g.InB < 0 || g.OutA < 0 || g.OutB < 0 {
			return nil, fmt.Errorf("kernels.NewWinoPlan: group %d has a negative offset", i)
		}
		for _, n := range [4]int32{g.NA0, g.NA1, g.NB0, g.NB1} {
			if n < 0 || n > 8 {
				return nil, fmt.Errorf("kernels.NewWinoPlan: group %d stores %d outputs of a row of 8", i, n)
			}
		}
		// A half reads 4 rows of floats [in, in+10): 8-float loads at +0 and +2.
		p.inNeed = max(p.inNeed, int(max(g.InA, g.InB))+3*wp+10)
		for _, h := range [2][3]int32{{g.OutA, g.NA0, g.NA1}, {g.OutB, g.NB0, g.NB1}} {
			if h[1] > 0 {
				p.outNeed = max(p.outNeed, int(h[0])+int(h[1]))
			}
			if h[2] > 0 {
				p.outNeed = max(p.outNeed, int(h[0])+ow+int(h[2]))
			}
		}
	}
	p.markFullStores()
	return p, nil
}

// winoFull flags a store count (bit 4) whose whole 8-float row may be
// stored: the floats past the count are stored validly by a later store
// of the same Output call, so the assembly's plain vector store replaces
// its masked one (several times slower on some CPUs).
const winoFull = 16

// markFullStores sets winoFull on every partial store whose overflow is
// overwritten later. Stores run group by group, in the order A row 0, A
// row 1, B row 0, B row 1 (winograd_amd64.s).
func (p *WinoPlan) markFullStores() {
	owner := make([]int32, p.outNeed) // 1 + the last store writing a float validly
	each := func(f func(s int, base int, n *int32)) {
		for gi := range p.groups {
			g := &p.groups[gi]
			f(4*gi, int(g.OutA), &g.NA0)
			f(4*gi+1, int(g.OutA)+p.ow, &g.NA1)
			f(4*gi+2, int(g.OutB), &g.NB0)
			f(4*gi+3, int(g.OutB)+p.ow, &g.NB1)
		}
	}
	each(func(s, base int, n *int32) {
		for x := range int(*n) {
			owner[base+x] = int32(s + 1)
		}
	})
	each(func(s, base int, n *int32) {
		if *n == 0 || *n == 8 {
			return
		}
		for x := int(*n); x < 8; x++ {
			if base+x >= len(owner) || int(owner[base+x]) <= s+1 {
				return
			}
		}
		*n |= winoFull
	})
}

// Tiles returns the number of tile lanes of the plan (8 per group): the
// columns of every V and M matrix it reads or writes.
func (p *WinoPlan) Tiles() int { return 8 * len(p.groups) }

// InputNeed and OutputNeed return the floats an input plane and an output
// plane must hold for Input and Output.
func (p *WinoPlan) InputNeed() int  { return p.inNeed }
func (p *WinoPlan) OutputNeed() int { return p.outNeed }

// Input transforms the patches of one input plane: V[xi] = B^T d B for
// every tile, element xi of tile lane t stored at v[xi*vs+t] (t <
// Tiles()). It panics if src or v is too short (a programmer error).
func (p *WinoPlan) Input(src, v []float32, vs int) {
	if len(p.groups) == 0 {
		return
	}
	p.check("Input", len(src), p.inNeed, "V", len(v), vs)
	if UseAsm && hasAsmKernel {
		winoInputAVX(&src[0], p.wp, &p.groups[0], len(p.groups), &v[0], vs)
		return
	}
	winoInputGo(src, p.wp, p.groups, v, vs)
}

// check panics unless a plane of n floats holds need and a 16-matrix
// operand (V or M) of nm floats with matrices stride apart holds every
// tile: the bounds the assembly relies on.
func (p *WinoPlan) check(op string, n, need int, mat string, nm, stride int) {
	if n < need || stride < p.Tiles() || nm < 15*stride+p.Tiles() {
		panic(fmt.Sprintf("kernels.WinoPlan.%s: plane %d floats (need %d), %s %d floats with stride %d for %d tiles",
			op, n, need, mat, nm, stride, p.Tiles()))
	}
}

// Output transforms the products of one output plane: for every tile,
// Y = A^T M A with element xi of tile lane t read from m[xi*ms+t], and
// stores the tile's valid outputs into dst (row stride ow). It panics if
// m or dst is too short.
func (p *WinoPlan) Output(m []float32, ms int, dst []float32) {
	if len(p.groups) == 0 {
		return
	}
	p.check("Output", len(dst), p.outNeed, "M", len(m), ms)
	if UseAsm && hasAsmKernel {
		winoOutputAVX(&m[0], ms, &p.groups[0], len(p.groups), &dst[0], p.ow, &winoMasks[0], nil)
		return
	}
	winoOutputGo(m, ms, p.groups, dst, p.ow, nil)
}

// WinoEpi is an epilogue of OutputEpi: every stored output y becomes
// min(max((y + B) + Res[o], Lo), Hi), o its offset in the output plane;
// Res nil: no residual term.
type WinoEpi struct {
	B, Lo, Hi float32
	Res       []float32
}

// winoEpi is WinoEpi as the assembly reads it: res the byte distance from
// the output plane to the residual plane, 0 for none.
type winoEpi struct {
	b, lo, hi float32
	_         float32
	res       int64
}

// OutputEpi is Output with the epilogue e applied to every stored value
// (the bias, residual and clamp of a fused Conv), reading e.Res at the
// offsets it stores. It panics if m, dst or a non-nil e.Res is too short.
func (p *WinoPlan) OutputEpi(m []float32, ms int, dst []float32, e WinoEpi) {
	if len(p.groups) == 0 {
		return
	}
	p.check("OutputEpi", len(dst), p.outNeed, "M", len(m), ms)
	if e.Res != nil && len(e.Res) < p.outNeed {
		panic(fmt.Sprintf("kernels.WinoPlan.OutputEpi: residual plane %d floats (need %d)", len(e.Res), p.outNeed))
	}
	if UseAsm && hasAsmKernel {
		ep := winoEpi{b: e.B, lo: e.Lo, hi: e.Hi}
		if e.Res != nil {
			ep.res = int64(uintptr(unsafe.Pointer(&e.Res[0])) - uintptr(unsafe.Pointer(&dst[0])))
		}
		winoOutputAVX(&m[0], ms, &p.groups[0], len(p.groups), &dst[0], p.ow, &winoMasks[0], &ep)
		return
	}
	winoOutputGo(m, ms, p.groups, dst, p.ow, &e)
}

// winoMasks holds the store masks of 0..8 leading lanes, 8 int32 each.
var winoMasks = func() (m [72]int32) {
	for n := range 9 {
		for i := range n {
			m[n*8+i] = -1
		}
	}
	return m
}()

// WinoFilter sets u[xi*us] (xi < 16) to the transformed 3x3 filter
// G g G^T, g row-major in g[0:9]. The middle rows of G are applied as
// 0.5*((g0+g2) +- g1), symmetric in g0 and g2, so the transform of the
// filter rotated by 180 degrees is this one's elements permuted, bitwise
// (WinoRot).
func WinoFilter(g []float32, u []float32, us int) {
	g = g[:9]
	_ = u[15*us]
	var t [4][3]float32 // G g
	for j := range 3 {
		g0, g1, g2 := g[j], g[3+j], g[6+j]
		s := g0 + g2
		t[0][j] = g0
		t[1][j] = 0.5 * (s + g1)
		t[2][j] = 0.5 * (s - g1)
		t[3][j] = g2
	}
	for i := range 4 {
		g0, g1, g2 := t[i][0], t[i][1], t[i][2]
		s := g0 + g2
		u[(4*i+0)*us] = g0
		u[(4*i+1)*us] = 0.5 * (s + g1)
		u[(4*i+2)*us] = 0.5 * (s - g1)
		u[(4*i+3)*us] = g2
	}
}

// WinoFilters transforms n filters at once: filter i, w[9*i:9*i+9], goes
// to u[xi*n+i] for xi < 16 (WinoFilter with stride n). It panics if w or
// u is too short. Blocks of filters are transformed into a small buffer
// and copied out as 16 runs: written one value at a time, the 16 output
// streams (n floats apart, often a power of two) fall into the same L1
// sets and each store missed.
func WinoFilters(w []float32, n int, u []float32) {
	const blk = 64
	w, u = w[:9*n], u[:16*n]
	var buf [16][blk]float32
	for i0 := 0; i0 < n; i0 += blk {
		nb := min(blk, n-i0)
		for i := range nb {
			g := (*[9]float32)(w[9*(i0+i):])
			var t [4][3]float32
			for j := range 3 {
				g0, g1, g2 := g[j], g[3+j], g[6+j]
				s := g0 + g2
				t[0][j], t[1][j], t[2][j], t[3][j] = g0, 0.5*(s+g1), 0.5*(s-g1), g2
			}
			for r := range 4 {
				g0, g1, g2 := t[r][0], t[r][1], t[r][2]
				s := g0 + g2
				buf[4*r][i] = g0
				buf[4*r+1][i] = 0.5 * (s + g1)
				buf[4*r+2][i] = 0.5 * (s - g1)
				buf[4*r+3][i] = g2
			}
		}
		for xi := range 16 {
			copy(u[xi*n+i0:xi*n+i0+nb], buf[xi][:nb])
		}
	}
}

// WinoRot returns the element of a transformed filter (WinoFilter) that
// equals, bitwise, element xi of the transform of the same filter rotated
// by 180 degrees: rotating g reverses the columns of G, which swaps the
// first and last rows of G g G^T and of its transpose (rows 1 and 2 of G
// are symmetric), so element 4i+j becomes 4p(i)+p(j) with p = (3 1 2 0).
func WinoRot(xi int) int {
	p := [4]int{3, 1, 2, 0}
	return 4*p[xi/4] + p[xi%4]
}

// winoLaneTile returns which half (0: A, 1: B) and which of its 4 tiles
// lane l of a group holds. The lane order is the one AVX2's in-lane
// shuffles produce (winograd_amd64.s): A0 A1 B0 B1 | A2 A3 B2 B3. V and M
// columns follow it; only the transforms see it.
func winoLaneTile(l int) (half, i int) { return (l >> 1) & 1, l&1 + 2*(l>>2) }

// winoInputGo is Input's portable body.
func winoInputGo(src []float32, wp int, groups []WinoGroup, v []float32, vs int) {
	for gi, g := range groups {
		for lane := range 8 {
			half, i := winoLaneTile(lane)
			in := int(g.InA) + 2*i
			if half == 1 {
				in = int(g.InB) + 2*i
			}
			var t [4][4]float32 // B^T d B, columns first
			for r := range 4 {
				row := src[in+r*wp : in+r*wp+4]
				t[r] = [4]float32{row[0] - row[2], row[1] + row[2], row[2] - row[1], row[1] - row[3]}
			}
			o := gi*8 + lane
			for j := range 4 {
				v[(0+j)*vs+o] = t[0][j] - t[2][j]
				v[(4+j)*vs+o] = t[1][j] + t[2][j]
				v[(8+j)*vs+o] = t[2][j] - t[1][j]
				v[(12+j)*vs+o] = t[1][j] - t[3][j]
			}
		}
	}
}

// winoOutputGo is Output's portable body, OutputEpi's with e not nil.
func winoOutputGo(m []float32, ms int, groups []WinoGroup, dst []float32, ow int, e *WinoEpi) {
	put := func(o int, y float32) {
		if e != nil {
			y += e.B
			if e.Res != nil {
				y += e.Res[o]
			}
			y = min(max(y, e.Lo), e.Hi)
		}
		dst[o] = y
	}
	for gi, g := range groups {
		for lane := range 8 {
			half, i := winoLaneTile(lane)
			out, n0, n1 := int(g.OutA), int(g.NA0), int(g.NA1)
			if half == 1 {
				out, n0, n1 = int(g.OutB), int(g.NB0), int(g.NB1)
			}
			o := gi*8 + lane
			var s [2][4]float32 // A^T M
			for j := range 4 {
				m0, m1, m2, m3 := m[j*ms+o], m[(4+j)*ms+o], m[(8+j)*ms+o], m[(12+j)*ms+o]
				s[0][j] = m0 + m1 + m2
				s[1][j] = m1 - m2 - m3
			}
			for a, n := range [2]int{n0 &^ winoFull, n1 &^ winoFull} {
				y0 := s[a][0] + s[a][1] + s[a][2]
				y1 := s[a][1] - s[a][2] - s[a][3]
				x := 2 * i
				if x < n {
					put(out+a*ow+x, y0)
				}
				if x+1 < n {
					put(out+a*ow+x+1, y1)
				}
			}
		}
	}
}
