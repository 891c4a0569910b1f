package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// rowsCase is one SgemmRows/SgemmRowsT problem: the row offsets are
// random (overlapping, not increasing) unless shifted, which gives the
// 3x3 implicit-im2col pattern of a padded image.
type rowsCase struct {
	m, n, k     int
	alpha, beta float32
	shifted     bool
}

// rowsOffsets returns rows offsets into a buffer of size elements, each
// leaving room for cols values.
func rowsOffsets(r *rand.Rand, rows, cols int, shifted bool) (off []int, size int) {
	off = make([]int, rows)
	if shifted {
		// Channel c, tap (ky, kx) of a padded plane 37 wide.
		const wp = 37
		plane := cols + 3*wp + 2
		for p := range off {
			c, t := p/9, p%9
			off[p] = c*plane + (t/3)*wp + t%3
		}
		return off, (rows/9+1)*plane + cols
	}
	size = cols + 3*rows + 7
	for p := range off {
		off[p] = r.IntN(size - cols + 1)
	}
	return off, size
}

// TestSgemmRowsMatchesRef compares SgemmRows and SgemmRowsT (both of its
// algorithms), both micro-kernel paths, with SgemmRef on the materialised
// matrix, over shapes with edge tiles in every dimension, k tails, more
// rows than one A block (m > 144: the packed-block path) and beta 0 over
// NaN.
func TestSgemmRowsMatchesRef(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []rowsCase{
		{4, 24, 1, 1, 0, false},
		{16, 100, 144, 1, 0, true},
		{7, 53, 9, 1, 0, true},
		{33, 200, 300, 0.5, 1, false},
		{150, 61, 27, 1, 0.25, true},
		{3, 5, 2, -1, 0, false},
		{64, 500, 577, 1, 0, true},
	}
	for range 12 {
		cases = append(cases, rowsCase{1 + r.IntN(80), 1 + r.IntN(130), 1 + r.IntN(300), 1, float32(r.IntN(2)), r.IntN(2) == 0})
	}
	// SgemmRowsT takes the dot-product blocks up to rowsTDotMaxN columns
	// (or rowsTDotMaxM rows, AVX-512) and the packed GEMM above: "dots"
	// and "packed" force one for all, "dots-avx2" the 4x3 blocks.
	variants := []struct {
		name         string
		trans        bool
		maxN, maxM   int
		avx512Blocks bool
	}{
		{"rows", false, rowsTDotMaxN, rowsTDotMaxM, true}, {"rowsT", true, rowsTDotMaxN, rowsTDotMaxM, true},
		{"rowsT-dots", true, 1 << 30, 0, true}, {"rowsT-dots-avx2", true, 1 << 30, 0, false}, {"rowsT-packed", true, 0, 0, true},
	}
	defer func(v bool) { useAVX512 = v }(useAVX512)
	for _, path := range gemmPaths(t) {
		for _, v := range variants {
			trans := v.trans
			for i, tc := range cases {
				name := fmt.Sprintf("%s/%s/%d_%dx%dx%d", path.name, v.name, i, tc.m, tc.n, tc.k)
				t.Run(name, func(t *testing.T) {
					rows, cols := tc.k, tc.n
					if trans {
						rows, cols = tc.n, tc.k
					}
					off, size := rowsOffsets(r, rows, cols, tc.shifted)
					b := randSlice(r, size)
					// Materialise B as a stored rows x cols matrix.
					dense := make([]float32, rows*cols)
					for p, o := range off {
						copy(dense[p*cols:(p+1)*cols], b[o:o+cols])
					}
					a := randSlice(r, tc.m*tc.k)
					c := randSlice(r, tc.m*tc.n)
					want := append([]float32(nil), c...)
					if tc.beta == 0 {
						for i := range c {
							c[i] = float32(math.NaN())
						}
					}
					SgemmRef(false, trans, tc.m, tc.n, tc.k, tc.alpha, a, tc.k, dense, cols, tc.beta, want, tc.n)
					oldN, oldM, old512 := rowsTDotMaxN, rowsTDotMaxM, useAVX512
					rowsTDotMaxN, rowsTDotMaxM = v.maxN, v.maxM
					useAVX512 = old512 && v.avx512Blocks
					defer func() { rowsTDotMaxN, rowsTDotMaxM, useAVX512 = oldN, oldM, old512 }()
					withAsm(path.asm, func() {
						if trans {
							SgemmRowsT(tc.m, tc.n, tc.k, tc.alpha, a, tc.k, b, off, tc.beta, c, tc.n)
						} else {
							SgemmRows(tc.m, tc.n, tc.k, tc.alpha, a, tc.k, b, off, tc.beta, c, tc.n)
						}
					})
					if e := maxRelErr(c, want, float64(tc.k)); e > 1e-5 {
						t.Fatalf("max relative error %g", e)
					}
				})
			}
		}
	}
}

// TestSgemmRowsBadOffsetsPanic checks that an offset outside B is caught
// before any kernel reads memory.
func TestSgemmRowsBadOffsetsPanic(t *testing.T) {
	b := make([]float32, 100)
	c := make([]float32, 4*30)
	a := make([]float32, 4*2)
	for _, tc := range []struct {
		name string
		f    func()
		msg  string
	}{
		{"row past the end", func() { SgemmRows(4, 30, 2, 1, a, 2, b, []int{0, 71}, 0, c, 30) }, "outside B"},
		{"negative offset", func() { SgemmRows(4, 30, 2, 1, a, 2, b, []int{-1, 0}, 0, c, 30) }, "outside B"},
		{"offset count", func() { SgemmRows(4, 30, 2, 1, a, 2, b, []int{0}, 0, c, 30) }, "row offsets"},
		{"transposed row past the end", func() { SgemmRowsT(4, 2, 30, 1, make([]float32, 120), 30, b, []int{0, 71}, 0, c, 2) }, "outside B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tc.msg) {
					t.Fatalf("panic %v, want one containing %q", r, tc.msg)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmRowsPackedMatchesSgemmRows: with A packed once, the row-offset
// product is bitwise SgemmRows' (alpha folded into the packing, beta 0
// and 1, shapes with edge tiles and several row and depth blocks), on both
// micro-kernel paths.
func TestSgemmRowsPackedMatchesSgemmRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, path := range gemmPaths(t) {
		for i, tc := range []rowsCase{{4, 24, 1, 1, 0, false}, {16, 100, 144, 1, 0, true}, {150, 61, 300, 0.5, 1, true}, {33, 530, 577, -1, 0, true}, {7, 53, 9, 1, 1, false}} {
			off, size := rowsOffsets(r, tc.k, tc.n, tc.shifted)
			b, a := randSlice(r, size), randSlice(r, tc.m*tc.k)
			c := randSlice(r, tc.m*tc.n)
			got := append([]float32(nil), c...)
			withAsm(path.asm, func() {
				SgemmRows(tc.m, tc.n, tc.k, tc.alpha, a, tc.k, b, off, tc.beta, c, tc.n)
				SgemmRowsPacked(PackA(false, tc.m, tc.k, tc.alpha, a, tc.k), tc.n, b, off, tc.beta, got, tc.n)
			})
			for j := range c {
				if math.Float32bits(got[j]) != math.Float32bits(c[j]) {
					t.Fatalf("%s case %d: C[%d] = %g, SgemmRows %g", path.name, i, j, got[j], c[j])
				}
			}
		}
	}
}
