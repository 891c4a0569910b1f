package kernels

//go:generate python3 gen_rowst.py rowst_avx512_amd64.s

import "fmt"

// Weight gradients of small convolutions, transposed.
//
// SgemmRowsT's operands both run along the reduction (the positions of a
// padded layout): row i of A is an output-gradient plane, row j of B an
// input plane shifted by a tap. The dot-product blocks (dot_rows.go) sum
// each accumulator's lanes at the end and stream ten rows a block, most
// loads split across cache lines; the packed GEMM transposes B into
// panels first. RowsT turns the product around: A (at most 64 rows) is
// transposed once, so that one position's values are one to four
// vectors, and every B value is broadcast into fused multiply-adds with
// them. The positions come from a list, so the padded layout's gaps,
// where A is zero, are left out. The result comes out transposed too
// (acc[j*M+i] for C[i][j], M = RowsTWidth(m)); callers add chunks up in
// that form and store it once (RowsTStore).

// RowsTWidth returns the row count RowsT pads m rows to: 16, 32 or 64
// (0 when m > 64).
func RowsTWidth(m int) int {
	switch {
	case m <= 16:
		return 16
	case m <= 32:
		return 32
	case m <= 64:
		return 64
	}
	return 0
}

// RowsTFits reports whether RowsT computes the product of m rows of A
// against the B rows at off: 1 <= m <= 64, the offsets in runs of three
// consecutive ones (off[3r+1] = off[3r]+1, off[3r+2] = off[3r]+2: a 3-wide
// kernel's columns), and the AVX-512 kernels present.
func RowsTFits(m int, off []int) bool {
	if m < 1 || m > 64 || len(off) == 0 || len(off)%3 != 0 || !hasRowsT() {
		return false
	}
	for r := 0; r < len(off); r += 3 {
		if off[r+1] != off[r]+1 || off[r+2] != off[r]+2 {
			return false
		}
	}
	return true
}

// RowsTScratch is the working memory of RowsT and RowsN, reused between
// calls.
type RowsTScratch struct {
	t   []float32 // A transposed: [k][M]
	idx [64]int32
	n   []float32 // RowsN's tiles: [positions][block]
	pos []int     // RowsN's positions, tile by tile
}

// RowsT sets acc[j*M+i] = (acc[j*M+i] when accum) + the sum over q <
// len(pos) of a[i*lda+pos[q]] * b[off[j]+pos[q]], for i < m, j < n =
// len(off), M = RowsTWidth(m); rows m <= i < M get zeros added. Each sum
// runs over the positions in order, one fused multiply-add a term. It
// panics unless RowsTFits(m, off), on short slices, on negative positions
// or offsets and when m*lda does not fit in an int32.
func RowsT(m int, a []float32, lda int, b []float32, off []int, pos []int32, acc []float32, accum bool, s *RowsTScratch) {
	n, k := len(off), len(pos)
	if !RowsTFits(m, off) {
		panic(fmt.Sprintf("kernels.RowsT: %d rows and %d offsets do not fit", m, n))
	}
	mw := RowsTWidth(m)
	if len(acc) < n*mw {
		panic(fmt.Sprintf("kernels.RowsT: acc has %d elements, want %d", len(acc), n*mw))
	}
	if k == 0 {
		if !accum {
			clear(acc[:n*mw])
		}
		return
	}
	hi := int32(0)
	for _, p := range pos {
		if p < 0 {
			panic(fmt.Sprintf("kernels.RowsT: negative position %d", p))
		}
		hi = max(hi, p)
	}
	if int64(m)*int64(lda)+int64(hi) >= 1<<31 {
		panic(fmt.Sprintf("kernels.RowsT: %d rows %d apart too far for 32-bit indexes", m, lda))
	}
	if need := (m-1)*lda + int(hi) + 1; len(a) < need {
		panic(fmt.Sprintf("kernels.RowsT: A has %d elements, want %d", len(a), need))
	}
	for _, o := range off {
		if o < 0 || o+int(hi)+1 > len(b) {
			panic(fmt.Sprintf("kernels.RowsT: B row at %d reaches past B's %d floats", o, len(b)))
		}
	}
	nv := mw / 16
	var masks [4]uint16
	for v := range nv {
		rows := min(max(m-16*v, 0), 16)
		masks[v] = uint16(1<<rows - 1)
	}
	for i := range s.idx {
		s.idx[i] = int32(min(i, m-1) * lda)
	}
	s.t = grow(s.t, k*mw)
	t := s.t[:k*mw]
	gatherTAVX512(&a[0], k, &pos[0], &s.idx, &masks, nv, &t[0])
	acm := 0
	if accum {
		acm = 1
	}
	step := [5]int{1: 9, 2: 4, 4: 2}[nv] // runs a full kernel call takes
	r, runs := 0, n/3
	for ; r+step <= runs; r += step {
		var o [9]int
		for j := range step {
			o[j] = off[3*(r+j)]
		}
		c := &acc[3*r*mw]
		switch nv {
		case 1:
			rowsT1x9AVX512(&t[0], k, &b[0], &o, &pos[0], c, acm)
		case 2:
			rowsT2x4AVX512(&t[0], k, &b[0], (*[4]int)(o[:4]), &pos[0], c, acm)
		default:
			rowsT4x2AVX512(&t[0], k, &b[0], (*[2]int)(o[:2]), &pos[0], c, acm)
		}
	}
	for ; nv == 1 && r+3 <= runs; r += 3 {
		o := [3]int{off[3*r], off[3*r+3], off[3*r+6]}
		rowsT1x3AVX512(&t[0], k, &b[0], &o, &pos[0], &acc[3*r*mw], acm)
	}
	for ; r < runs; r++ {
		o := [1]int{off[3*r]}
		c := &acc[3*r*mw]
		switch nv {
		case 1:
			rowsT1x1AVX512(&t[0], k, &b[0], &o, &pos[0], c, acm)
		case 2:
			rowsT2x1AVX512(&t[0], k, &b[0], &o, &pos[0], c, acm)
		default:
			rowsT4x1AVX512(&t[0], k, &b[0], &o, &pos[0], c, acm)
		}
	}
}

// RowsTStore sets c[i*ldc+j] = acc[j*M+i] for i < m, j < n, M =
// RowsTWidth(m).
func RowsTStore(m, n int, acc []float32, c []float32, ldc int) {
	checkMatrix("RowsTStore", "C", m, n, c, ldc)
	mw := RowsTWidth(m)
	acc = acc[:n*mw]
	for j := range n {
		v := acc[j*mw : j*mw+m]
		for i, x := range v {
			c[i*ldc+j] = x
		}
	}
}

// rowsTGo is RowsT's arithmetic in Go, for tests: the same order, each
// product and sum rounded apart.
func rowsTGo(m int, a []float32, lda int, b []float32, off []int, pos []int32, acc []float32, accum bool) {
	mw := RowsTWidth(m)
	for j, o := range off {
		for i := range mw {
			var s float32
			if accum {
				s = acc[j*mw+i]
			}
			if i < m {
				for _, p := range pos {
					s += b[o+int(p)] * a[i*lda+int(p)]
				}
			}
			acc[j*mw+i] = s
		}
	}
}
