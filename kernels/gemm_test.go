package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randSlice returns n values uniform in [-1, 1) from a fixed-seed source.
func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// withAsm runs f with UseAsm set to on and restores the previous value.
func withAsm(on bool, f func()) {
	old := UseAsm
	UseAsm = on
	defer func() { UseAsm = old }()
	f()
}

// gemmPaths are the micro-kernel paths exercised on this machine.
func gemmPaths(t testing.TB) []struct {
	name string
	asm  bool
} {
	paths := []struct {
		name string
		asm  bool
	}{{"go", false}}
	if AsmAvailable() {
		paths = append(paths, struct {
			name string
			asm  bool
		}{"asm", true})
	} else {
		t.Log("assembly micro-kernel not available on this CPU; testing the Go path only")
	}
	return paths
}

type gemmCase struct {
	name           string
	ta, tb         bool
	m, n, k        int
	alpha, beta    float32
	padA, padB, pC int // extra leading-dimension padding (sub-matrix views)
	nanC           bool
}

// gemmOperands builds A, B, C for a case with the stored shapes implied by
// the transpose flags plus leading-dimension padding.
func gemmOperands(r *rand.Rand, tc gemmCase) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.ta {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.tb {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc = ac+tc.padA, bc+tc.padB, tc.n+tc.pC
	a = randSlice(r, max(ar*lda, 1))
	b = randSlice(r, max(br*ldb, 1))
	c = randSlice(r, max(tc.m*ldc, 1))
	if tc.nanC {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	return
}

// maxRelErr compares got and want elementwise relative to scale, which is
// the expected magnitude of the result (so cancellation does not inflate).
func maxRelErr(got, want []float32, scale float64) float64 {
	worst := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) {
			return math.Inf(1)
		}
		if math.IsNaN(w) {
			continue
		}
		worst = max(worst, math.Abs(g-w)/scale)
	}
	return worst
}

func gemmCases() []gemmCase {
	var cases []gemmCase
	shapes := [][3]int{
		{1, 1, 1}, {1, 1, 7}, {3, 5, 1}, {6, 16, 1}, {6, 16, 4}, {7, 17, 5},
		{4, 24, 1}, {4, 24, 8}, {8, 48, 6}, {3, 23, 9}, {5, 25, 2}, {9, 50, 13},
		{5, 15, 3}, {13, 33, 9}, {1, 100, 37}, {100, 1, 37}, {37, 41, 300},
		{64, 784, 144}, {150, 70, 513}, {12, 48, 256}, {145, 2050, 3},
		{19, 2100, 260},
	}
	for _, s := range shapes {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			cases = append(cases, gemmCase{
				name: fmt.Sprintf("%dx%dx%d_tA%v_tB%v", s[0], s[1], s[2], tr[0], tr[1]),
				ta:   tr[0], tb: tr[1], m: s[0], n: s[1], k: s[2], alpha: 1, beta: 0, nanC: true,
			})
		}
	}
	more := []gemmCase{
		{name: "alpha2_beta0_nanC", m: 9, n: 20, k: 11, alpha: 2, beta: 0, nanC: true},
		{name: "alpha1_beta1", m: 9, n: 20, k: 11, alpha: 1, beta: 1},
		{name: "alpha-0.5_beta0.25", ta: true, m: 14, n: 35, k: 300, alpha: -0.5, beta: 0.25},
		{name: "alpha3_beta-1_tB", tb: true, m: 8, n: 19, k: 17, alpha: 3, beta: -1},
		{name: "alpha0_beta0.5", m: 7, n: 9, k: 5, alpha: 0, beta: 0.5},
		{name: "alpha0_beta0_nanC", m: 7, n: 9, k: 5, alpha: 0, beta: 0, nanC: true},
		{name: "k0_beta2", m: 4, n: 5, k: 0, alpha: 1, beta: 2},
		{name: "k0_beta0_nanC", m: 4, n: 5, k: 0, alpha: 1, beta: 0, nanC: true},
		{name: "m0", m: 0, n: 5, k: 3, alpha: 1, beta: 0},
		{name: "n0", m: 4, n: 0, k: 3, alpha: 1, beta: 0},
		{name: "subview_nn", m: 13, n: 21, k: 10, alpha: 1, beta: 0.5, padA: 3, padB: 5, pC: 7},
		{name: "subview_tt", ta: true, tb: true, m: 13, n: 21, k: 10, alpha: 1, beta: 0, padA: 1, padB: 2, pC: 3, nanC: true},
		{name: "panelpack_pow2_ldb256", m: 21, n: 75, k: 40, alpha: 1, beta: 0.5, padB: 256 - 75},
		{name: "panelpack_pow2_ldb1024_nanC", m: 9, n: 1000, k: 30, alpha: 1, beta: 0, padB: 24, nanC: true},
		// Short last row tiles (m mod 4 = 1, 2, 3) stored in place by the
		// micro-kernel, with a padded C whose rows below m must stay untouched.
		{name: "short_tile1_beta1", m: 9, n: 48, k: 9, alpha: 1, beta: 1, pC: 5},
		{name: "short_tile2_nanC", m: 10, n: 72, k: 3, alpha: 1, beta: 0, pC: 3, nanC: true},
		{name: "short_tile3_beta0.5", tb: true, m: 7, n: 24, k: 17, alpha: 2, beta: 0.5, pC: 1},
		{name: "subview_large_tn", ta: true, m: 70, n: 300, k: 270, alpha: 1.5, beta: 1, padA: 9, padB: 4, pC: 11},
	}
	return append(cases, more...)
}

// TestSgemmMatchesRef checks both micro-kernel paths against the naive
// triple loop over shapes with edge tiles, all transpose combinations,
// alpha/beta variants, NaN-filled C with beta == 0, and padded strides.
func TestSgemmMatchesRef(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for ci, tc := range gemmCases() {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(ci), 42))
				a, lda, b, ldb, c, ldc := gemmOperands(r, tc)
				want := append([]float32(nil), c...)
				got := append([]float32(nil), c...)
				SgemmRef(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
				withAsm(path.asm, func() {
					Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				})
				// Elements outside the m x n view (padding) must be untouched.
				for i := range c {
					if ldc == 0 || i/ldc >= tc.m || i%ldc >= tc.n {
						if math.Float32bits(got[i]) != math.Float32bits(c[i]) {
							t.Fatalf("element %d outside the C view changed: %v -> %v", i, c[i], got[i])
						}
					}
				}
				scale := math.Abs(float64(tc.alpha))*math.Sqrt(float64(max(tc.k, 1))) + math.Abs(float64(tc.beta)) + 1e-6
				if e := maxRelErr(got, want, scale); e > 1e-5 {
					t.Fatalf("max scaled error %g > 1e-5", e)
				}
			})
		}
	}
}

// TestSgemmAsmMatchesGo checks the two micro-kernel paths agree with each
// other on shapes larger than the reference test uses.
func TestSgemmAsmMatchesGo(t *testing.T) {
	if !AsmAvailable() {
		t.Skip("assembly micro-kernel not available on this CPU")
	}
	for ci, tc := range []gemmCase{
		{name: "conv_like", m: 32, n: 1568, k: 288, alpha: 1, beta: 0, nanC: true},
		{name: "square_tt", ta: true, tb: true, m: 161, n: 163, k: 517, alpha: 0.5, beta: 1},
		{name: "wide_k", tb: true, m: 10, n: 50, k: 1100, alpha: 1, beta: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			a, lda, b, ldb, c, ldc := gemmOperands(r, tc)
			g := append([]float32(nil), c...)
			s := append([]float32(nil), c...)
			withAsm(false, func() { Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, g, ldc) })
			withAsm(true, func() { Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, s, ldc) })
			scale := math.Sqrt(float64(tc.k)) + 1
			if e := maxRelErr(s, g, scale); e > 1e-5 {
				t.Fatalf("asm vs go: max scaled error %g > 1e-5", e)
			}
		})
	}
}

// TestSgemmBadArgsPanics checks short slices and small leading dimensions
// are reported with a message instead of corrupting memory.
func TestSgemmBadArgsPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"shortA", func() {
			Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		}},
		{"shortB_transB", func() {
			Sgemm(false, true, 4, 5, 4, 1, make([]float32, 16), 4, make([]float32, 19), 4, 0, make([]float32, 20), 5)
		}},
		{"shortC", func() {
			Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
		}},
		{"smallLdc", func() {
			Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 64), 3)
		}},
		{"negative", func() { Sgemm(false, false, -1, 4, 4, 1, nil, 4, nil, 4, 0, nil, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatal("expected a panic")
				} else if s, ok := r.(string); !ok || len(s) < 15 {
					t.Fatalf("panic value %v is not a descriptive message", r)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmNoAllocs checks the pooled scratch keeps steady-state calls
// allocation free.
func TestSgemmNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool randomly drops items under -race")
	}
	r := rand.New(rand.NewPCG(1, 2))
	a, b, c := randSlice(r, 40*300), randSlice(r, 300*500), make([]float32, 40*500)
	Sgemm(false, false, 40, 500, 300, 1, a, 300, b, 500, 0, c, 500)
	if n := testing.AllocsPerRun(5, func() { Sgemm(false, false, 40, 500, 300, 1, a, 300, b, 500, 0, c, 500) }); n > 0.5 {
		t.Fatalf("Sgemm allocates %v times per call", n)
	}
}

// TestSgemmRandomShapes draws fixed-seed random shapes, transposes,
// alpha/beta and stride padding (including K above one cache block) and
// checks both paths against the reference.
func TestSgemmRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	alphas := []float32{1, -1, 0.5, 2}
	betas := []float32{0, 1, -0.5, 0.3}
	for ci := range 60 {
		tc := gemmCase{
			ta: r.IntN(2) == 1, tb: r.IntN(2) == 1,
			m: 1 + r.IntN(40), n: 1 + r.IntN(70), k: 1 + r.IntN(60),
			alpha: alphas[r.IntN(len(alphas))], beta: betas[r.IntN(len(betas))],
			padA: r.IntN(3), padB: r.IntN(3), pC: r.IntN(3),
		}
		if ci%10 == 0 {
			tc.k = 257 + r.IntN(300)
		}
		tc.nanC = tc.beta == 0
		tc.name = fmt.Sprintf("%d_%dx%dx%d_tA%v_tB%v_a%v_b%v", ci, tc.m, tc.n, tc.k, tc.ta, tc.tb, tc.alpha, tc.beta)
		a, lda, b, ldb, c, ldc := gemmOperands(r, tc)
		want := append([]float32(nil), c...)
		SgemmRef(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		for _, path := range gemmPaths(t) {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				got := append([]float32(nil), c...)
				withAsm(path.asm, func() {
					Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
				})
				scale := math.Abs(float64(tc.alpha))*math.Sqrt(float64(tc.k)) + math.Abs(float64(tc.beta)) + 1e-6
				if e := maxRelErr(got, want, scale); e > 1e-5 {
					t.Fatalf("max scaled error %g > 1e-5", e)
				}
			})
		}
	}
}

// TestStrideSpreadsL1 checks the in-place-B stride rule on strides whose
// L1 set spread is known: 1024 floats (4 KiB) hits one set, 256 floats
// four, 12544 floats (a 112x112 map) four, 128 and 6272 floats eight,
// 784 floats (49 lines) all 64; few rows fit in few sets.
func TestStrideSpreadsL1(t *testing.T) {
	for _, tc := range []struct {
		ld, kc int
		want   bool
	}{{1024, 256, false}, {2048, 256, false}, {256, 256, false}, {512, 256, false}, {6272, 256, true}, {784, 256, true},
		{196, 256, true}, {49, 256, true}, {16, 256, true}, {128, 256, true},
		{12544, 32, true}, {12544, 33, false}, {12544, 256, false}, {1024, 8, true}, {1024, 9, false}} {
		if got := strideSpreadsL1(tc.ld, tc.kc); got != tc.want {
			t.Errorf("strideSpreadsL1(%d, %d) = %v, want %v", tc.ld, tc.kc, got, tc.want)
		}
	}
}

// TestSgemmShortTileStaysInC checks that a short last row tile (m not a
// multiple of 4), which the micro-kernel stores in place, writes no row
// below C: the floats after C in the same allocation keep their values.
func TestSgemmShortTileStaysInC(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, m := range []int{1, 2, 3, 5, 9, 10, 11} {
			for _, beta := range []float32{0, 1} {
				n, k := 48, 7
				r := rand.New(rand.NewPCG(uint64(m), 3))
				a, b := randSlice(r, m*k), randSlice(r, k*n)
				buf := randSlice(r, m*n+4*n)
				guard := append([]float32(nil), buf[m*n:]...)
				want := append([]float32(nil), buf[:m*n]...)
				SgemmRef(false, false, m, n, k, 1, a, k, b, n, beta, want, n)
				withAsm(path.asm, func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, beta, buf[:m*n], n) })
				if e := maxRelErr(buf[:m*n], want, 4); e > 1e-5 {
					t.Fatalf("%s m=%d beta=%g: max scaled error %g", path.name, m, beta, e)
				}
				for i, v := range guard {
					if buf[m*n+i] != v {
						t.Fatalf("%s m=%d beta=%g: float %d after C changed", path.name, m, beta, i)
					}
				}
			}
		}
	}
}

// TestSgemmAVX512MatchesAVX2 runs the reference cases through the AVX2
// micro-kernel and the AVX-512 one (which the asm path takes on CPUs that
// have it): both must match the naive product.
func TestSgemmAVX512MatchesAVX2(t *testing.T) {
	if !hasAVX512Kernel || !UseAsm {
		t.Skip("no AVX-512 micro-kernel on this CPU (or SLIMGO_NOASM)")
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	for ci, tc := range gemmCases() {
		for _, on := range []bool{false, true} {
			useAVX512 = on
			r := rand.New(rand.NewPCG(uint64(ci), 43))
			a, lda, b, ldb, c, ldc := gemmOperands(r, tc)
			want := append([]float32(nil), c...)
			got := append([]float32(nil), c...)
			SgemmRef(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
			scale := math.Abs(float64(tc.alpha))*math.Sqrt(float64(max(tc.k, 1))) + math.Abs(float64(tc.beta)) + 1e-6
			if e := maxRelErr(got, want, scale); e > 1e-5 {
				t.Fatalf("%s, AVX-512 %v: max scaled error %g > 1e-5", tc.name, on, e)
			}
		}
	}
}

// TestSgemmWideMatchesNarrow runs products through the wide AVX-512
// kernels (8x48 tiles, and 8-row tiles for a partial panel) and the 4x24
// ones: C must be bitwise the same, as
// both compute each value by the same chain of FMAs, and match the naive
// product. The shapes take every B mode (packed block: m > 144; packed
// per panel: a stride that thrashes L1 or a transposed B; read in place),
// odd and even panel counts with 1-4 rows in the last, column counts
// with and without a 24- or 1..23-wide rest, k across the 256 block, and
// beta 0 and 1, plainly, through PackA, split over threads and with B's
// rows at offsets (SgemmRows).
func TestSgemmWideMatchesNarrow(t *testing.T) {
	if !hasAVX512Kernel || !UseAsm || !useAVX512 {
		t.Skip("no AVX-512 micro-kernel on this CPU (or SLIMGO_NOASM / SLIMGO_NOAVX512)")
	}
	defer func(v, w bool) { useWide, useColsW = v, w }(useWide, useColsW)
	type shape struct {
		m, n, k int
		tb      bool
	}
	var shapes []shape
	for _, m := range []int{1, 4, 5, 8, 11, 13, 64, 150, 157} {
		for _, n := range []int{48, 71, 96, 120, 1024} {
			for _, k := range []int{1, 5, 300} {
				shapes = append(shapes, shape{m, n, k, false})
			}
		}
	}
	shapes = append(shapes, shape{9, 100, 33, true}, shape{160, 97, 40, true}, shape{16, 6272, 27, false})
	for si, s := range shapes {
		r := rand.New(rand.NewPCG(uint64(si), 47))
		a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		ldb := s.n
		if s.tb {
			ldb = s.k
		}
		for _, beta := range []float32{0, 1} {
			c0 := randSlice(r, s.m*s.n)
			want := append([]float32(nil), c0...)
			SgemmRef(false, s.tb, s.m, s.n, s.k, 1, a, s.k, b, ldb, beta, want, s.n)
			// The row-offset form: B's rows at shuffled offsets into a
			// longer buffer (untransposed B only).
			rowBuf := randSlice(r, (s.k+3)*s.n)
			off := r.Perm(s.k + 3)[:s.k]
			for p := range off {
				off[p] *= s.n
			}
			var got [2][4][]float32
			for wi, wide := range []bool{false, true} {
				useWide, useColsW = wide, wide
				pa := PackA(false, s.m, s.k, 1, a, s.k)
				for pi, run := range []func(c []float32){
					func(c []float32) { Sgemm(false, s.tb, s.m, s.n, s.k, 1, a, s.k, b, ldb, beta, c, s.n) },
					func(c []float32) { SgemmPacked(pa, s.tb, s.n, b, ldb, beta, c, s.n) },
					func(c []float32) { SgemmParallel(false, s.tb, s.m, s.n, s.k, 1, a, s.k, b, ldb, beta, c, s.n) },
					func(c []float32) { SgemmRows(s.m, s.n, s.k, 1, a, s.k, rowBuf, off, beta, c, s.n) },
				} {
					c := append([]float32(nil), c0...)
					run(c)
					got[wi][pi] = c
				}
			}
			wantRows := append([]float32(nil), c0...)
			bm := make([]float32, s.k*s.n) // the rows as a matrix, for the reference
			for p, o := range off {
				copy(bm[p*s.n:], rowBuf[o:o+s.n])
			}
			SgemmRef(false, false, s.m, s.n, s.k, 1, a, s.k, bm, s.n, beta, wantRows, s.n)
			for pi := range 4 {
				want := want
				if pi == 3 {
					want = wantRows
				}
				if e := maxRelErr(got[1][pi], want, math.Sqrt(float64(s.k))+1); e > 1e-5 {
					t.Fatalf("%+v beta %g path %d: wide kernel off the naive product by %g", s, beta, pi, e)
				}
				for i := range got[0][pi] {
					if got[0][pi][i] != got[1][pi][i] {
						t.Fatalf("%+v beta %g path %d: C[%d] = %g wide, %g narrow", s, beta, pi, i, got[1][pi][i], got[0][pi][i])
					}
				}
			}
		}
	}
}
