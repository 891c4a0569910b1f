package kernels

import "fmt"

// SgemmRows computes C = alpha*A*B + beta*C where A is m x k (row-major,
// stride lda) and B is the k x n matrix whose row p is the run
// b[off[p] : off[p]+n]. Rows may overlap and their offsets need not
// increase: this is an implicit im2col, where every row of the lowered
// matrix is a shifted view of a (padded) image, and no lowered matrix is
// written. len(off) must be k; beta, alpha and the overwrite rule are as in
// Sgemm. It runs on the calling goroutine. It panics if an offset is
// negative or a row runs past the end of b (a programmer error).
func SgemmRows(m, n, k int, alpha float32, a []float32, lda int, b []float32, off []int, beta float32, c []float32, ldc int) {
	checkRows(false, m, n, k, a, lda, b, off, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	sgemmBlockedSrc(false, m, n, k, alpha, a, lda, bSource{b: b, off: off}, beta, c, ldc, nil)
}

// SgemmRowsPacked is SgemmRows with A packed once by PackA (alpha
// applied there), for a product repeated over many B: bitwise SgemmRows'
// result with the same A and alpha. It panics as SgemmRows does.
func SgemmRowsPacked(pa *PackedA, n int, b []float32, off []int, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	checkRowsBC("SgemmRowsPacked", false, m, n, k, b, off, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	sgemmBlockedSrc(false, m, n, k, 1, nil, 0, bSource{b: b, off: off}, beta, c, ldc, pa)
}

// SgemmRowsT computes C = alpha*A*B^T + beta*C where A is m x k and B is the
// n x k matrix whose row j is the run b[off[j] : off[j]+k] (len(off) must be
// n): the weight gradient of an implicit-im2col convolution. Narrow
// products (n <= rowsTDotMaxN) are blocks of dot products over both
// operands in place, wider ones a packed GEMM. Otherwise as SgemmRows.
func SgemmRowsT(m, n, k int, alpha float32, a []float32, lda int, b []float32, off []int, beta float32, c []float32, ldc int) {
	checkRows(true, m, n, k, a, lda, b, off, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	if n <= rowsTDotMaxN || (m <= rowsTDotMaxM && hasDotBlock4x6()) {
		dotRowsT(m, n, k, alpha, a, lda, b, off, beta, c, ldc)
		return
	}
	sgemmRowsTPacked(m, n, k, alpha, a, lda, b, off, beta, c, ldc)
}

// rowsTDotMaxN is the widest SgemmRowsT product computed as blocks of dot
// products (dot_rows.go): below it the packed GEMM's fixed costs dominate
// (16 x 27 x 841, an RGB stem's weight gradient: 8.9 us against 26 us;
// at 144 columns the GEMM is ahead, 43 us against 47). A variable so
// tests can force either algorithm.
var rowsTDotMaxN = 64

// rowsTDotMaxM is the most rows of a SgemmRowsT product of any width
// computed as dot products when the AVX-512 4x6 blocks run: with 16 rows
// (a 16-channel convolution's weight gradient) the packed GEMM transposes
// B for two 8-row tiles only. A variable so tests can force either.
var rowsTDotMaxM = 16

// sgemmRowsTPacked is SgemmRowsT through the packed GEMM (B^T packed into
// 24-wide panels); arguments checked by SgemmRowsT, m, n, k > 0.
func sgemmRowsTPacked(m, n, k int, alpha float32, a []float32, lda int, b []float32, off []int, beta float32, c []float32, ldc int) {
	sgemmBlockedSrc(false, m, n, k, alpha, a, lda, bSource{b: b, off: off, trans: true}, beta, c, ldc, nil)
}

// checkRows validates a row-offset GEMM's operands; trans selects
// SgemmRowsT's layout (n rows of k) over SgemmRows's (k rows of n).
func checkRows(trans bool, m, n, k int, a []float32, lda int, b []float32, off []int, c []float32, ldc int) {
	name := "SgemmRows"
	if trans {
		name = "SgemmRowsT"
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.%s: negative dimension m=%d n=%d k=%d", name, m, n, k))
	}
	checkRowsBC(name, trans, m, n, k, b, off, c, ldc)
	checkMatrix(name, "A", m, k, a, lda)
}

// checkRowsBC validates the row offsets into B and C of the row-offset
// GEMM name (m, n, k >= 0).
func checkRowsBC(name string, trans bool, m, n, k int, b []float32, off []int, c []float32, ldc int) {
	rows, cols := k, n
	if trans {
		rows, cols = n, k
	}
	if len(off) != rows {
		panic(fmt.Sprintf("kernels.%s: %d row offsets for %d rows", name, len(off), rows))
	}
	if m > 0 && n > 0 && k > 0 {
		for p, o := range off {
			if o < 0 || o+cols > len(b) {
				panic(fmt.Sprintf("kernels.%s: row %d at offset %d with %d columns is outside B (%d elements)", name, p, o, cols, len(b)))
			}
		}
	}
	checkMatrix(name, "C", m, n, c, ldc)
}

// packBRows is packB for a row-offset B: op(B)[p][j] = b[off[pc+p]+j]
// (untransposed) or b[off[j]+p] (trans), for p < kc and j in [jc, jc+nc).
func packBRows(trans bool, kc, nc int, b []float32, off []int, pc, jc int, dst []float32) {
	for q := 0; q*gemmNR < nc; q++ {
		panel := dst[q*gemmNR*kc : (q+1)*gemmNR*kc]
		c0 := jc + q*gemmNR
		cols := min(gemmNR, nc-q*gemmNR)
		if !trans {
			for p := range kc {
				d := panel[p*gemmNR : p*gemmNR+gemmNR]
				o := off[pc+p] + c0
				copy(d, b[o:o+cols])
				clear(d[cols:])
			}
			continue
		}
		if cols == gemmNR {
			packPanelBTransRows(kc, b, off[c0:c0+gemmNR], pc, panel)
			continue
		}
		for j := range cols {
			o := off[c0+j] + pc
			for p, v := range b[o : o+kc] {
				panel[p*gemmNR+j] = v
			}
		}
		for j := cols; j < gemmNR; j++ {
			for p := range kc {
				panel[p*gemmNR+j] = 0
			}
		}
	}
}

// packPanelBTransRowsGo packs k-values [p0, kc) of one full panel of a
// transposed row-offset B: dst[p*NR+j] = b[off[j]+pc+p].
func packPanelBTransRowsGo(p0, kc int, b []float32, off []int, pc int, dst []float32) {
	for j := range gemmNR {
		s := b[off[j]+pc : off[j]+pc+kc]
		for p := p0; p < kc; p++ {
			dst[p*gemmNR+j] = s[p]
		}
	}
}

// rowsMacroPanel multiplies the packed mcur x kc block of A by one full
// 24-column panel of a row-offset B (row p at b[off[p]:]) into C (offset
// to the panel's first column): all row tiles in one kernel call, a short
// last one stored in place.
func rowsMacroPanel(mcur, kc int, ap, b []float32, off []int, c []float32, ldc int, accum bool) {
	kern := goKernelRows
	if UseAsm && hasAsmKernel {
		kern = asmKernelRows
	}
	np := ceilDiv(mcur, gemmMR)
	kern(np, kc, ap[:np*gemmMR*kc], b, off, c[:(mcur-1)*ldc+gemmNR], ldc, accum, mcur-(np-1)*gemmMR)
}

// goKernelRows is goKernel with B row p at b[off[p]:] (len(off) == k).
func goKernelRows(np, k int, a, b []float32, off []int, c []float32, ldc int, accum bool, last int) {
	checkLast(last)
	off = off[:k]
	for q := range np {
		aq := a[q*gemmMR*k : (q+1)*gemmMR*k]
		cq := c[q*gemmMR*ldc:]
		rows := gemmMR
		if q == np-1 {
			rows = last
		}
		for i := range rows {
			var acc [gemmNR]float32
			for p, o := range off {
				av := aq[p*gemmMR+i]
				row := (*[gemmNR]float32)(b[o : o+gemmNR])
				for j := range gemmNR {
					acc[j] += av * row[j]
				}
			}
			dst := cq[i*ldc : i*ldc+gemmNR]
			if accum {
				for j, v := range acc {
					dst[j] += v
				}
			} else {
				copy(dst, acc[:])
			}
		}
	}
}
