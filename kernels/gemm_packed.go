package kernels

import "fmt"

// PackedA is the left operand of Sgemm, alpha*op(A) (m x k), packed once
// into the row panels of Sgemm's cache blocks, for a matrix that
// multiplies many right operands: a convolution's filters at inference,
// which Sgemm would otherwise pack again on every call. It is read-only
// after PackA, so goroutines may share it. Products with it are bitwise
// those of Sgemm with the same A, alpha and B.
type PackedA struct {
	m, k, mc, kc, nic int
	data              []float32
	off               []int // block (pc/kc)*nic + ic/mc starts at data[off[...]]
}

// PackA packs alpha*op(A), op(A) m x k (A stored k x m when transA) with
// row stride lda. It panics, like Sgemm, when A does not fit its slice.
func PackA(transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	return PackAInto(nil, transA, m, k, alpha, a, lda)
}

// PackAInto is PackA into dst's storage when it holds enough (dst nil or
// too small: new storage), for a caller that packs a changing matrix
// again and again; dst is then not to be used. It returns the packed
// matrix.
func PackAInto(dst *PackedA, transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	if m < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.PackA: negative dimension m=%d k=%d", m, k))
	}
	if transA {
		checkMatrix("PackA", "A", k, m, a, lda)
	} else {
		checkMatrix("PackA", "A", m, k, a, lda)
	}
	p := &PackedA{m: m, k: k}
	if dst != nil {
		p.data, p.off = dst.data[:0], dst.off[:0]
	}
	if m == 0 || k == 0 {
		return p
	}
	p.kc, p.mc = balancedBlock(k, gemmKC, 1), balancedBlock(m, gemmMC, gemmMR)
	p.nic = ceilDiv(m, p.mc)
	size := 0
	for pc := 0; pc < k; pc += p.kc {
		for ic := 0; ic < m; ic += p.mc {
			p.off = append(p.off, size)
			size += ceilDiv(min(p.mc, m-ic), gemmMR) * gemmMR * min(p.kc, k-pc)
		}
	}
	if cap(p.data) < size {
		p.data = make([]float32, size)
	}
	p.data = p.data[:size]
	i := 0
	for pc := 0; pc < k; pc += p.kc {
		for ic := 0; ic < m; ic += p.mc {
			packA(transA, min(p.mc, m-ic), min(p.kc, k-pc), alpha, a, lda, ic, pc, p.data[p.off[i]:])
			i++
		}
	}
	return p
}

// Rows and Cols return m and k of op(A).
func (p *PackedA) Rows() int { return p.m }
func (p *PackedA) Cols() int { return p.k }

func (p *PackedA) block(pi, ii int) []float32 { return p.data[p.off[pi*p.nic+ii]:] }

// SgemmPacked computes C = A*op(B) + beta*C for a packed A (m x k, alpha
// already applied), op(B) k x n (B stored n x k when transB) and C m x n,
// with Sgemm's rules for beta and its panics on short slices. It runs on
// the calling goroutine.
func SgemmPacked(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	if transB {
		checkMatrix("SgemmPacked", "B", n, k, b, ldb)
	} else {
		checkMatrix("SgemmPacked", "B", k, n, b, ldb)
	}
	checkMatrix("SgemmPacked", "C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	sgemmBlockedSrc(false, m, n, k, 1, nil, 0, bSource{b: b, ldb: ldb, trans: transB}, beta, c, ldc, pa)
}

// SgemmPackedParallel is SgemmPacked split over Threads() goroutines by
// ranges of whole column tiles of C (splitCols wide) (each shares pa and packs its
// own part of B), with the same result; products under about a million
// multiply-adds or of a single column tile run serially.
func SgemmPackedParallel(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	u := splitCols()
	t, nt := Threads(), ceilDiv(n, u)
	if t <= 1 || nt < 2 || int64(pa.m)*int64(n)*int64(pa.k) < 1<<20 {
		SgemmPacked(pa, transB, n, b, ldb, beta, c, ldc)
		return
	}
	if transB {
		checkMatrix("SgemmPacked", "B", n, pa.k, b, ldb)
	} else {
		checkMatrix("SgemmPacked", "B", pa.k, n, b, ldb)
	}
	checkMatrix("SgemmPacked", "C", pa.m, n, c, ldc)
	parts := min(t, nt)
	ParallelFor(parts, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			j0, j1 := min(n, q*nt/parts*u), min(n, (q+1)*nt/parts*u)
			if j1 <= j0 {
				continue
			}
			bs := b[j0:]
			if transB {
				bs = b[j0*ldb:]
			}
			SgemmPacked(pa, transB, j1-j0, bs, ldb, beta, c[j0:], ldc)
		}
	})
}

// PackedB is the right operand of Sgemm, op(B) (k x n), packed once into
// the column panels of Sgemm's cache blocks, for a matrix that many left
// operands multiply: a convolution's filters, transposed, when the
// pixels of a small map are the rows of the product (SgemmPackedB). It
// is read-only after PackB, so goroutines may share it. Products with it
// are bitwise those of Sgemm with the same operands.
type PackedB struct {
	k, n, kc int
	data     []float32
	off      []int // k block pc/kc starts at data[off[pc/kc]]: all its panels
}

// PackB packs op(B), k x n (B stored n x k when transB) with row stride
// ldb. It panics, like Sgemm, when B does not fit its slice.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernels.PackB: negative dimension k=%d n=%d", k, n))
	}
	if transB {
		checkMatrix("PackB", "B", n, k, b, ldb)
	} else {
		checkMatrix("PackB", "B", k, n, b, ldb)
	}
	p := &PackedB{k: k, n: n}
	if k == 0 || n == 0 {
		return p
	}
	p.kc = balancedBlock(k, gemmKC, 1)
	width := ceilDiv(n, gemmNR) * gemmNR
	size := 0
	for pc := 0; pc < k; pc += p.kc {
		p.off = append(p.off, size)
		size += width * min(p.kc, k-pc)
	}
	p.data = make([]float32, size)
	for i, pc := 0, 0; pc < k; i, pc = i+1, pc+p.kc {
		packB(transB, min(p.kc, k-pc), n, b, ldb, pc, 0, p.data[p.off[i]:])
	}
	return p
}

// Rows and Cols return k and n of op(B).
func (p *PackedB) Rows() int { return p.k }
func (p *PackedB) Cols() int { return p.n }

// panels returns the packed panels of k block pc from column j (a
// multiple of gemmNR) on.
func (p *PackedB) panels(pc, j int) []float32 {
	kcur := min(p.kc, p.k-pc)
	return p.data[p.off[pc/p.kc]+j*kcur:]
}

// SgemmPackedB computes columns [j0, j1) of C = op(A)*B + beta*C for a
// packed B (k x n): op(A) is m x k (A stored k x m when transA, row
// stride lda), C m x n with row stride ldc; only C's columns j0..j1-1 are
// read or written. j0 must be a multiple of 24 (a panel) and j0 <= j1 <=
// n; with Sgemm's rules for beta, alpha 1, and its panics on short
// slices. It runs on the calling goroutine.
func SgemmPackedB(transA bool, m int, a []float32, lda int, pb *PackedB, j0, j1 int, beta float32, c []float32, ldc int) {
	k := pb.k
	if j0%gemmNR != 0 || j0 < 0 || j1 < j0 || j1 > pb.n {
		panic(fmt.Sprintf("kernels.SgemmPackedB: columns [%d, %d) of %d (the first a multiple of %d)", j0, j1, pb.n, gemmNR))
	}
	if transA {
		checkMatrix("SgemmPackedB", "A", k, m, a, lda)
	} else {
		checkMatrix("SgemmPackedB", "A", m, k, a, lda)
	}
	checkMatrix("SgemmPackedB", "C", m, pb.n, c, ldc)
	n := j1 - j0
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleMatrix(m, n, beta, c[j0:], ldc)
		return
	}
	sgemmBlockedSrc(transA, m, n, k, 1, a, lda, bSource{pre: pb, j0: j0}, beta, c[j0:], ldc, nil)
}
