package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// naiveDW3 is the 3x3 pad-1 depthwise definition in float64, straight
// from the formula, with its own bounds tests.
func naiveDW3(x []float32, h, w, s int, k []float32, bias, lo, hi float32) []float64 {
	oh, ow := (h+2-3)/s+1, (w+2-3)/s+1
	y := make([]float64, oh*ow)
	for oy := range oh {
		for ox := range ow {
			sum := float64(bias)
			for ky := range 3 {
				for kx := range 3 {
					iy, ix := oy*s-1+ky, ox*s-1+kx
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						sum += float64(k[ky*3+kx]) * float64(x[iy*w+ix])
					}
				}
			}
			y[oy*ow+ox] = math.Min(math.Max(sum, float64(lo)), float64(hi))
		}
	}
	return y
}

func dw3Paths(t *testing.T) []bool {
	if AsmAvailable() {
		return []bool{false, true}
	}
	t.Log("no AVX2/FMA: pure-Go path only")
	return []bool{false}
}

// TestDepthwise3x3MatchesNaive checks both paths on planes from 1x1 up,
// odd and even, narrower and wider than a vector step, at strides 1 and 2,
// without and with a ReLU6 clamp, on a scratch full of NaN (so a cell the
// kernel reads but does not write shows up).
func TestDepthwise3x3MatchesNaive(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	rng := rand.New(rand.NewPCG(7, 8))
	inf := float32(math.Inf(1))
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, hw := range [][2]int{{1, 1}, {2, 3}, {5, 7}, {8, 8}, {9, 17}, {16, 33}, {31, 16}, {14, 14}, {57, 40}, {112, 112}} {
			for _, s := range []int{1, 2} {
				for _, act := range [][2]float32{{-inf, inf}, {0, 6}} {
					h, w := hw[0], hw[1]
					t.Run(fmt.Sprintf("asm=%v/%dx%d/s%d/clamp%v", asm, h, w, s, act[1] != inf), func(t *testing.T) {
						x := make([]float32, h*w)
						for i := range x {
							x[i] = float32(rng.NormFloat64() * 3)
						}
						k := make([]float32, 9)
						for i := range k {
							k[i] = float32(rng.NormFloat64())
						}
						bias := float32(rng.NormFloat64())
						oh, ow := Depthwise3x3Out(h, s), Depthwise3x3Out(w, s)
						y := make([]float32, oh*ow)
						scratch := make([]float32, Depthwise3x3Scratch(h, w, s))
						for i := range scratch {
							scratch[i] = float32(math.NaN())
						}
						Depthwise3x3(x, h, w, s, k, bias, act[0], act[1], y, scratch)
						want := naiveDW3(x, h, w, s, k, bias, act[0], act[1])
						if len(want) != len(y) {
							t.Fatalf("output %d elements, naive %d", len(y), len(want))
						}
						for i, v := range y {
							if d := math.Abs(float64(v) - want[i]); !(d <= 1e-4*(1+math.Abs(want[i]))) {
								t.Fatalf("output %d (of %dx%d): got %g, want %g", i, oh, ow, v, want[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestDepthwise3x3AsmAgreesWithGo compares the two paths on the same
// planes (to rounding) and checks that both keep a NaN sum NaN under a
// clamp.
func TestDepthwise3x3AsmAgreesWithGo(t *testing.T) {
	if !AsmAvailable() {
		t.Skip("no AVX2/FMA")
	}
	defer func(old bool) { UseAsm = old }(UseAsm)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range []int{1, 2} {
		h, w := 23, 61
		x := make([]float32, h*w)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		x[5*w+17] = float32(math.NaN())
		k := []float32{0.5, -1, 2, 0.25, 1, -0.5, 1.5, -2, 0.75}
		out := [2][]float32{}
		for p, asm := range []bool{false, true} {
			UseAsm = asm
			out[p] = make([]float32, Depthwise3x3Out(h, s)*Depthwise3x3Out(w, s))
			Depthwise3x3(x, h, w, s, k, 0.1, 0, 6, out[p], make([]float32, Depthwise3x3Scratch(h, w, s)))
		}
		nan := 0
		for i := range out[0] {
			a, b := out[0][i], out[1][i]
			if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
				if math.IsNaN(float64(a)) != math.IsNaN(float64(b)) {
					t.Fatalf("stride %d output %d: Go %g, asm %g", s, i, a, b)
				}
				nan++
				continue
			}
			if math.Abs(float64(a-b)) > 1e-5*(1+math.Abs(float64(a))) {
				t.Fatalf("stride %d output %d: Go %g, asm %g", s, i, a, b)
			}
		}
		if nan == 0 {
			t.Fatalf("stride %d: the NaN input reached no output", s)
		}
	}
}

func TestDepthwise3x3Panics(t *testing.T) {
	for _, tc := range []struct {
		name      string
		h, w, s   int
		x, y, scr int
	}{
		{"stride 3", 4, 4, 3, 16, 4, 100},
		{"short x", 4, 4, 1, 15, 16, Depthwise3x3Scratch(4, 4, 1)},
		{"short y", 4, 4, 2, 16, 3, Depthwise3x3Scratch(4, 4, 2)},
		{"short scratch", 4, 4, 1, 16, 16, Depthwise3x3Scratch(4, 4, 1) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Depthwise3x3(make([]float32, tc.x), tc.h, tc.w, tc.s, make([]float32, 9), 0, 0, 1,
				make([]float32, tc.y), make([]float32, tc.scr))
		})
	}
}

func BenchmarkDepthwise3x3(b *testing.B) {
	for _, c := range []struct{ h, s int }{{112, 1}, {112, 2}, {56, 1}, {56, 2}, {28, 1}, {28, 2}, {14, 1}, {14, 2}, {7, 1}} {
		b.Run(fmt.Sprintf("%dx%d/s%d", c.h, c.h, c.s), func(b *testing.B) {
			x := make([]float32, c.h*c.h)
			y := make([]float32, Depthwise3x3Out(c.h, c.s)*Depthwise3x3Out(c.h, c.s))
			scr := make([]float32, Depthwise3x3Scratch(c.h, c.h, c.s))
			k := make([]float32, 9)
			p := NewPlane3x3(c.h, c.h, c.s)
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				p.Depthwise(x, k, 0, 0, 6, y, scr)
			}
		})
	}
}

// TestMaxPool3x3MatchesNaive checks both paths against the window maxima
// over the taps inside the image, planes as for the depthwise test, on a
// scratch full of NaN.
func TestMaxPool3x3MatchesNaive(t *testing.T) {
	defer func(old bool) { UseAsm = old }(UseAsm)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, asm := range dw3Paths(t) {
		UseAsm = asm
		for _, hw := range [][2]int{{1, 1}, {2, 3}, {5, 7}, {9, 17}, {16, 33}, {31, 16}, {57, 40}, {112, 112}} {
			for _, s := range []int{1, 2} {
				h, w := hw[0], hw[1]
				x := make([]float32, h*w)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				oh, ow := Depthwise3x3Out(h, s), Depthwise3x3Out(w, s)
				y := make([]float32, oh*ow)
				scratch := make([]float32, Depthwise3x3Scratch(h, w, s))
				for i := range scratch {
					scratch[i] = float32(math.NaN())
				}
				MaxPool3x3(x, h, w, s, y, scratch)
				for oy := range oh {
					for ox := range ow {
						want := float32(math.Inf(-1))
						for ky := range 3 {
							for kx := range 3 {
								iy, ix := oy*s-1+ky, ox*s-1+kx
								if iy >= 0 && iy < h && ix >= 0 && ix < w {
									want = max(want, x[iy*w+ix])
								}
							}
						}
						if got := y[oy*ow+ox]; got != want {
							t.Fatalf("asm=%v %dx%d stride %d: y[%d,%d] = %g, want %g", asm, h, w, s, oy, ox, got, want)
						}
					}
				}
			}
		}
	}
}

// TestMaxPool3x3AsmAgreesWithGo compares the paths bitwise on a plane with
// NaNs in it.
func TestMaxPool3x3AsmAgreesWithGo(t *testing.T) {
	if !AsmAvailable() {
		t.Skip("no AVX2/FMA")
	}
	defer func(old bool) { UseAsm = old }(UseAsm)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range []int{1, 2} {
		h, w := 21, 70
		x := make([]float32, h*w)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if i%37 == 5 {
				x[i] = float32(math.NaN())
			}
		}
		var out [2][]float32
		for p, asm := range []bool{false, true} {
			UseAsm = asm
			out[p] = make([]float32, Depthwise3x3Out(h, s)*Depthwise3x3Out(w, s))
			MaxPool3x3(x, h, w, s, out[p], make([]float32, Depthwise3x3Scratch(h, w, s)))
		}
		for i := range out[0] {
			if math.Float32bits(out[0][i]) != math.Float32bits(out[1][i]) {
				t.Fatalf("stride %d output %d: Go %g, asm %g", s, i, out[0][i], out[1][i])
			}
		}
	}
}

// TestDw3RowAVX512AgreesWithAVX2 runs rows of 1 to 70 outputs through
// the AVX-512 depthwise row (masked rest) and the AVX2 one (Go rest):
// bitwise the same on the AVX2 blocks, to rounding on the Go rest, NaN
// kept under the clamp, and nothing written past the row.
func TestDw3RowAVX512AgreesWithAVX2(t *testing.T) {
	if !AsmAvailable() || !useAVX512 {
		t.Skip("no AVX-512 (or SLIMGO_NOASM / SLIMGO_NOAVX512)")
	}
	defer func(v bool) { useDW512 = v }(useDW512)
	rng := rand.New(rand.NewPCG(11, 12))
	w := [9]float32{0.5, -1, 2, 0.25, 1, -0.5, 1.5, -2, 0.75}
	for n := 1; n <= 70; n++ {
		x := make([]float32, 3*n+40)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		x[n/2] = float32(math.NaN())
		off := [9]int{0, 1, 2, n + 10, n + 11, n + 12, 2*n + 20, 2*n + 21, 2*n + 22}
		var out [2][]float32
		for p, on := range []bool{false, true} {
			useDW512 = on
			out[p] = make([]float32, n+16)
			for i := range out[p] {
				out[p][i] = 42
			}
			dw3Row(out[p][:n], x, &off, &w, 0.1, -3, 6)
		}
		for i := range n + 16 {
			a, b := out[0][i], out[1][i]
			switch {
			case i >= n:
				if b != 42 {
					t.Fatalf("n=%d: float %d past the row written (%g)", n, i, b)
				}
			case math.IsNaN(float64(a)) || math.IsNaN(float64(b)):
				if math.IsNaN(float64(a)) != math.IsNaN(float64(b)) {
					t.Fatalf("n=%d output %d: AVX2 %g, AVX-512 %g", n, i, a, b)
				}
			case i < n&^7 && a != b:
				t.Fatalf("n=%d output %d: AVX2 %g, AVX-512 %g (not bitwise)", n, i, a, b)
			case math.Abs(float64(a-b)) > 1e-5*(1+math.Abs(float64(a))):
				t.Fatalf("n=%d output %d: AVX2+Go %g, AVX-512 %g", n, i, a, b)
			}
		}
	}
}

// TestDW3SmallMatchesPadded: on planes of 1 to 17, 28 and 33 rows and 1
// to 50 columns and wider (to 224) at strides 1 and 2, the small-plane
// kernels (3x3 to 16 columns, KxK to 32 at stride 2, the wide kernels
// above) give bitwise the padded layout's AVX-512 outputs (NaN where
// they have NaN, clamped or not) and write nothing past the output plane.
func TestDW3SmallMatchesPadded(t *testing.T) {
	if !AsmAvailable() || !useAVX512 {
		t.Skip("no AVX-512 (or SLIMGO_NOASM / SLIMGO_NOAVX512)")
	}
	defer func(v bool) { useDWSmall = v }(useDWSmall)
	rng := rand.New(rand.NewPCG(13, 14))
	inf := float32(math.Inf(1))
	widths := []int{63, 64, 65, 95, 96, 97, 112, 113, 224}
	for w := 1; w <= 50; w++ {
		widths = append(widths, w)
	}
	for _, h := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 28, 33} {
		for _, w := range widths {
			for _, s := range []int{1, 2} {
				p := NewPlane3x3(h, w, s)
				x := make([]float32, h*w)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 3)
				}
				if h*w > 4 {
					x[rng.IntN(h*w)] = float32(math.NaN())
				}
				k := make([]float32, 9)
				for i := range k {
					k[i] = float32(rng.NormFloat64())
				}
				n := Depthwise3x3Out(h, s) * Depthwise3x3Out(w, s)
				for _, act := range [][2]float32{{-inf, inf}, {0, 6}} {
					var out [2][]float32
					for i, on := range []bool{false, true} {
						useDWSmall = on
						out[i] = make([]float32, n+20)
						for j := range out[i] {
							out[i][j] = 42
						}
						p.Depthwise(x, k, 0.25, act[0], act[1], out[i][:n], make([]float32, p.Scratch()))
					}
					for j := range out[0] {
						a, b := out[0][j], out[1][j]
						if a != b && !(math.IsNaN(float64(a)) && math.IsNaN(float64(b))) {
							t.Fatalf("%dx%d s%d clamp %v: output %d padded %g, small %g", h, w, s, act, j, a, b)
						}
					}
				}
			}
		}
	}
}

// TestDWSmallKMatchesPadded is TestDW3SmallMatchesPadded for PlaneKxK:
// kernels 1x1 to 7x7 (square or not) on planes up to 32 wide (input rows
// of one and two vectors), 1 to 17 rows and 28, 32, 33, at both strides
// (the small-plane kernels: dwSmallK at stride 2, smallKFits; dwS1 at
// stride 1 up to 16 columns, s1Fits; wider stride-1 planes take the
// padded layout in both runs).
func TestDWSmallKMatchesPadded(t *testing.T) {
	if !AsmAvailable() || !useAVX512 {
		t.Skip("no AVX-512 (or SLIMGO_NOASM / SLIMGO_NOAVX512)")
	}
	defer func(v bool) { useDWSmall = v }(useDWSmall)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, k := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {7, 7}, {3, 5}, {7, 1}} {
		for _, h := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 28, 32, 33} {
			for w := 1; w <= dwSmallKMaxW; w++ {
				for _, s := range []int{1, 2} {
					p := NewPlaneKxK(h, w, k[0], k[1], s)
					oh, ow := p.Out()
					x := randSlice(rng, h*w)
					if h*w > 4 {
						x[rng.IntN(h*w)] = float32(math.NaN())
					}
					wts := randSlice(rng, k[0]*k[1])
					var out [2][]float32
					for i, on := range []bool{false, true} {
						useDWSmall = on
						out[i] = make([]float32, oh*ow+20)
						for j := range out[i] {
							out[i][j] = 42
						}
						p.Depthwise(x, wts, 0.25, 0, 1.5, out[i][:oh*ow], make([]float32, p.Scratch()))
					}
					for j := range out[0] {
						a, b := out[0][j], out[1][j]
						if a != b && !(math.IsNaN(float64(a)) && math.IsNaN(float64(b))) {
							t.Fatalf("%dx%d k%v s%d: output %d padded %g, small %g", h, w, k, s, j, a, b)
						}
					}
				}
			}
		}
	}
}

// The assembly reads the lane plans at fixed byte offsets (the comments
// of dwSmall, dwSmallK and dwS1); they must match the Go layout.
func TestDWSmallLayout(t *testing.T) {
	var a dwSmall
	var b dwSmallK
	var c1 dwS1
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"dwSmall.kmask", unsafe.Offsetof(a.kmask), 192}, {"dwSmall.omask", unsafe.Offsetof(a.omask), 216},
		{"dwSmall.wmask", unsafe.Offsetof(a.wmask), 224}, {"dwSmall.orow", unsafe.Offsetof(a.orow), 232},
		{"dwSmallK.kmask", unsafe.Offsetof(b.kmask), 896}, {"dwSmallK.omask", unsafe.Offsetof(b.omask), 1008},
		{"dwSmallK.wmask", unsafe.Offsetof(b.wmask), 1024}, {"dwSmallK.orow", unsafe.Offsetof(b.orow), 1040},
		{"dwSmallK.nv", unsafe.Offsetof(b.nv), 1048},
		{"dwS1.kmask", unsafe.Offsetof(c1.kmask), 448}, {"dwS1.wmask", unsafe.Offsetof(c1.wmask), 504},
		{"dwS1.rowb", unsafe.Offsetof(c1.rowb), 512},
	} {
		if c.got != c.want {
			t.Errorf("%s at byte %d, the assembly reads %d", c.name, c.got, c.want)
		}
	}
}
