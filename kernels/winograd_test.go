package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// winoCase builds a plane of random input, groups whose halves sit at
// random patch origins, and an output plane of ow = 20 where group g's
// half A writes rows 2g, 2g+1 at x 0..7 and half B at x 10..17, with
// random store counts (8 for most halves, so the plain and masked stores
// both run).
func winoCase(r *rand.Rand, ng, wp int) (src []float32, groups []WinoGroup, ow int) {
	const rows = 12
	src = randSlice(r, rows*wp+16)
	ow = 20
	count := func() int32 {
		if r.IntN(3) == 0 {
			return int32(r.IntN(9))
		}
		return 8
	}
	for g := range ng {
		groups = append(groups, WinoGroup{
			InA: int32(r.IntN((rows-4)*wp + 6)), InB: int32(r.IntN((rows-4)*wp + 6)),
			OutA: int32(2 * g * ow), OutB: int32(2*g*ow + 10),
			NA0: count(), NA1: count(), NB0: count(), NB1: count(),
		})
	}
	return src, groups, ow
}

// TestWinograd runs input transform, per-element product with the
// transformed filter, and output transform on random tiles, and checks
// every stored output against the direct 3x3 correlation of its patch,
// that nothing outside the stored counts is written, and that the
// assembly and Go transforms agree bit for bit.
func TestWinograd(t *testing.T) {
	for _, ng := range []int{1, 2, 5} {
		for _, wp := range []int{10, 17, 33} {
			var outs, vs [][]float32
			for _, path := range gemmPaths(t) {
				t.Run(fmt.Sprintf("%s/ng%d/wp%d", path.name, ng, wp), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(ng*100+wp), 9))
					src, groups, ow := winoCase(r, ng, wp)
					g := randSlice(r, 9)
					p, err := NewWinoPlan(groups, wp, ow)
					if err != nil {
						t.Fatal(err)
					}
					T := p.Tiles()
					stride := T + 5 // V and M rows need not be packed
					v := make([]float32, 16*stride)
					var u [16]float32
					WinoFilter(g, u[:], 1)
					withAsm(path.asm, func() { p.Input(src, v, stride) })
					m := make([]float32, len(v))
					for xi := range 16 {
						for c := range T {
							m[xi*stride+c] = u[xi] * v[xi*stride+c]
						}
					}
					const sentinel = -12345
					dst := make([]float32, 2*ng*ow)
					for i := range dst {
						dst[i] = sentinel
					}
					withAsm(path.asm, func() { p.Output(m, stride, dst) })
					written := make([]bool, len(dst))
					for _, gr := range groups {
						for h, half := range [2][4]int32{{gr.InA, gr.OutA, gr.NA0, gr.NA1}, {gr.InB, gr.OutB, gr.NB0, gr.NB1}} {
							for a := range 2 {
								for x := range int(half[2+a]) {
									var ref float64
									in := int(half[0]) + (x/2)*2 + a*wp + x%2
									for ky := range 3 {
										for kx := range 3 {
											ref += float64(src[in+ky*wp+kx]) * float64(g[ky*3+kx])
										}
									}
									o := int(half[1]) + a*ow + x
									written[o] = true
									if got := dst[o]; math.Abs(float64(got)-ref) > 1e-4*(1+math.Abs(ref)) {
										t.Fatalf("half %d row %d x %d: %v, want %v", h, a, x, got, ref)
									}
								}
							}
						}
					}
					for i, w := range written {
						if !w && dst[i] != sentinel {
							t.Fatalf("output %d written (%v) outside the stored counts", i, dst[i])
						}
					}
					outs, vs = append(outs, dst), append(vs, v)
				})
			}
			for i := 1; i < len(outs); i++ {
				if !slices.Equal(outs[i], outs[0]) || !slices.Equal(vs[i], vs[0]) {
					t.Errorf("ng %d wp %d: assembly and Go transforms differ", ng, wp)
				}
			}
		}
	}
}

// TestWinoOutputEpi checks OutputEpi against Output followed by the
// epilogue in Go, bit for bit, with and without a residual and with a
// ReLU and a two-sided clamp, on the assembly and Go paths; and that it
// stores nothing outside the stored counts.
func TestWinoOutputEpi(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, ng := range []int{1, 2, 5} {
		for ei, e := range []WinoEpi{{B: 0.25, Lo: 0, Hi: inf}, {B: -0.5, Lo: -0.5, Hi: 0.5}, {B: 0, Lo: -inf, Hi: inf}} {
			for _, withRes := range []bool{false, true} {
				for _, path := range gemmPaths(t) {
					t.Run(fmt.Sprintf("%s/ng%d/epi%d/res%v", path.name, ng, ei, withRes), func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(ng*10+ei), 3))
						_, groups, ow := winoCase(r, ng, 17)
						p, err := NewWinoPlan(groups, 17, ow)
						if err != nil {
							t.Fatal(err)
						}
						stride := p.Tiles() + 3
						m := randSlice(r, 16*stride)
						const sentinel = -12345
						want := make([]float32, 2*ng*ow)
						for i := range want {
							want[i] = sentinel
						}
						withAsm(path.asm, func() { p.Output(m, stride, want) })
						if withRes {
							e.Res = randSlice(r, len(want))
						}
						for i, y := range want {
							if y == sentinel {
								continue
							}
							y += e.B
							if e.Res != nil {
								y += e.Res[i]
							}
							want[i] = min(max(y, e.Lo), e.Hi)
						}
						got := make([]float32, len(want))
						for i := range got {
							got[i] = sentinel
						}
						withAsm(path.asm, func() { p.OutputEpi(m, stride, got, e) })
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("output %d: %v, want %v", i, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestWinoPlanErrors checks that bad groups are refused and short buffers
// panic.
func TestWinoPlanErrors(t *testing.T) {
	for name, g := range map[string]WinoGroup{
		"negative offset": {InA: -1},
		"count 9":         {NB1: 9},
		"count -1":        {NA0: -1},
	} {
		if _, err := NewWinoPlan([]WinoGroup{g}, 10, 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewWinoPlan(nil, 0, 10); err == nil {
		t.Error("row stride 0: no error")
	}
	p, err := NewWinoPlan([]WinoGroup{{InB: 20, OutA: 3, NA0: 8, NA1: 2}}, 10, 12)
	if err != nil {
		t.Fatal(err)
	}
	if p.InputNeed() != 20+3*10+10 || p.OutputNeed() != 3+12+2 {
		t.Fatalf("needs %d, %d", p.InputNeed(), p.OutputNeed())
	}
	for name, f := range map[string]func(){
		"short input":  func() { p.Input(make([]float32, p.InputNeed()-1), make([]float32, 128), 8) },
		"short V":      func() { p.Input(make([]float32, p.InputNeed()), make([]float32, 127), 8) },
		"short output": func() { p.Output(make([]float32, 128), 8, make([]float32, p.OutputNeed()-1)) },
		"short residual": func() {
			p.OutputEpi(make([]float32, 128), 8, make([]float32, p.OutputNeed()), WinoEpi{Res: make([]float32, p.OutputNeed()-1)})
		},
		"small stride": func() { p.Output(make([]float32, 128), 7, make([]float32, p.OutputNeed())) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestWinoFilter checks the filter transform against G g G^T.
func TestWinoFilter(t *testing.T) {
	G := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	r := rand.New(rand.NewPCG(3, 3))
	g := randSlice(r, 9)
	u := make([]float32, 16*3)
	WinoFilter(g, u, 3)
	for i := range 4 {
		for j := range 4 {
			var ref float64
			for a := range 3 {
				for b := range 3 {
					ref += G[i][a] * float64(g[a*3+b]) * G[j][b]
				}
			}
			if got := u[(4*i+j)*3]; math.Abs(float64(got)-ref) > 1e-6 {
				t.Fatalf("U[%d][%d] = %v, want %v", i, j, got, ref)
			}
		}
	}
}

// TestWinoFullStores builds plans over dense output planes (row stride
// the map width, as the engine's are), where a partial row's overflow
// lands on outputs a later store writes, and checks that such stores are
// flagged for a whole-row store and that the assembly's results still
// equal the Go transform's (which stores exactly the counts) bit for bit.
func TestWinoFullStores(t *testing.T) {
	for _, w := range []int{5, 7, 14} {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			h, planes := w, 3
			twp := 4
			if w > 8 {
				twp = 8
			}
			var halves [][4]int32 // in, out, n0, n1
			for j := range planes {
				for ty := range (h + 1) / 2 {
					for tx0 := 0; tx0 < twp; tx0 += 4 {
						n0 := int32(min(max(w-2*tx0, 0), 8))
						n1 := n0
						if 2*ty+1 >= h {
							n1 = 0
						}
						halves = append(halves, [4]int32{int32(j*40 + ty), int32(j*h*w + 2*ty*w + 2*tx0), n0, n1})
					}
				}
			}
			if len(halves)%2 == 1 {
				halves = append(halves, [4]int32{})
			}
			var groups []WinoGroup
			for i := 0; i < len(halves); i += 2 {
				a, b := halves[i], halves[i+1]
				groups = append(groups, WinoGroup{InA: a[0], InB: b[0], OutA: a[1], OutB: b[1], NA0: a[2], NA1: a[3], NB0: b[2], NB1: b[3]})
			}
			p, err := NewWinoPlan(groups, 16, w)
			if err != nil {
				t.Fatal(err)
			}
			full := 0
			for _, g := range p.groups {
				for _, n := range [4]int32{g.NA0, g.NA1, g.NB0, g.NB1} {
					if n&winoFull != 0 {
						full++
					}
				}
			}
			if full == 0 {
				t.Fatal("no store flagged for a whole-row store")
			}
			r := rand.New(rand.NewPCG(uint64(w), 1))
			m := randSlice(r, 16*p.Tiles())
			var outs [][]float32
			for _, path := range gemmPaths(t) {
				dst := make([]float32, planes*h*w+8)
				for i := range dst {
					dst[i] = -777
				}
				withAsm(path.asm, func() { p.Output(m, p.Tiles(), dst) })
				outs = append(outs, dst)
			}
			for i := 1; i < len(outs); i++ {
				if !slices.Equal(outs[i], outs[0]) {
					t.Fatalf("assembly and Go outputs differ (%d whole-row stores)", full)
				}
			}
			for i, v := range outs[0][planes*h*w:] {
				if v != -777 {
					t.Fatalf("float %d past the planes written", i)
				}
			}
		})
	}
}

// TestWinoFiltersRotation checks that WinoFilters is WinoFilter with
// stride n, bit for bit, and that the transform of every filter rotated by
// 180 degrees is the plain transform's elements permuted by WinoRot, bit
// for bit (the engine's input gradient reads the forward's transforms
// through it). The values span several magnitudes, so an evaluation order
// that is not symmetric in the first and last taps rounds differently.
func TestWinoFiltersRotation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	const n = 517
	w := make([]float32, 9*n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
	}
	rot := make([]float32, 9*n)
	for i := range n {
		for tp := range 9 {
			rot[9*i+tp] = w[9*i+8-tp]
		}
	}
	u, ur, one := make([]float32, 16*n), make([]float32, 16*n), make([]float32, 16*n)
	WinoFilters(w, n, u)
	WinoFilters(rot, n, ur)
	for i := range n {
		WinoFilter(w[9*i:9*i+9], one[i:], n)
	}
	for xi := range 16 {
		for i := range n {
			if a, b := math.Float32bits(u[xi*n+i]), math.Float32bits(one[xi*n+i]); a != b {
				t.Fatalf("filter %d element %d: WinoFilters %v, WinoFilter %v", i, xi, u[xi*n+i], one[xi*n+i])
			}
			if a, b := math.Float32bits(ur[xi*n+i]), math.Float32bits(u[WinoRot(xi)*n+i]); a != b {
				t.Fatalf("filter %d element %d: rotated %v, permuted %v", i, xi, ur[xi*n+i], u[WinoRot(xi)*n+i])
			}
		}
	}
}
