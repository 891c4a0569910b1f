//go:build amd64 && !purego

package kernels

import (
	"os"
	"strconv"

	"golang.org/x/sys/cpu"
)

// sgemmKernelAVX2 computes np >= 1 vertically stacked 4x24
// (gemmMR x gemmNR) tiles: tile q is sum_p a[q*4*k+p*4+i]*b[p*ldb+j] over
// p < k (k >= 1), from contiguous packed A panels and B rows ldb floats
// apart (ldb = 24 for a packed panel), stored into C rows 4q.. (row stride
// ldc elements), or added to them when accum != 0; of the last tile only
// its first last (1..4) rows. Implemented in gemm_avx2_amd64.s; requires
// AVX2 and FMA.
//
//go:noescape
func sgemmKernelAVX2(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int)

// packBPanelAVX copies kc >= 1 rows of 24 floats from src (rows ldb floats
// apart) to dst contiguously. Implemented in gemm_avx2_amd64.s (AVX).
//
//go:noescape
func packBPanelAVX(kc int, src *float32, ldb int, dst *float32)

// sgemmKernelAVX512 is sgemmKernelAVX2 with AVX-512 (F, VL) instructions:
// a B row is one ZMM and one YMM and A is broadcast inside the FMAs, 8
// FMAs per k step instead of 12 (gemm_avx512_amd64.s).
//
//go:noescape
func sgemmKernelAVX512(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int)

// sgemmKernelAVX512Cols is sgemmKernelAVX512 for a partial panel of cols
// (1..24) columns: only those floats of B's rows are read and of C's rows
// written (AVX-512 masks), so the panel needs no packing or scratch tile.
//
//go:noescape
func sgemmKernelAVX512Cols(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int, cols int)

// asmKernelCols calls sgemmKernelAVX512Cols after checking a holds np
// panels, b k rows of cols floats ldb apart, last in 1..MR, cols in
// 1..NR and c (np-1)*MR+last rows of cols floats at ldc.
func asmKernelCols(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last, cols int) {
	_ = a[np*k*gemmMR-1]
	checkLast(last)
	if cols < 1 || cols > gemmNR {
		panic("kernels: partial panel of " + strconv.Itoa(cols) + " columns")
	}
	_ = b[(k-1)*ldb+cols-1]
	_ = c[((np-1)*gemmMR+last-1)*ldc+cols-1]
	acc := boolInt(accum)
	if np >= 2 && useColsW {
		pairs := np &^ 1
		lastW := gemmMR
		if pairs == np {
			lastW = last
		}
		sgemmKernelAVX512ColsW(pairs, k, &a[0], &b[0], ldb, &c[0], ldc, acc, lastW, cols)
		if pairs == np {
			return
		}
		a, c, np = a[pairs*k*gemmMR:], c[pairs*gemmMR*ldc:], 1
	}
	sgemmKernelAVX512Cols(np, k, &a[0], &b[0], ldb, &c[0], ldc, acc, last, cols)
}

// sgemmKernelAVX512ColsW is sgemmKernelAVX512Cols for an even np >= 2,
// the panels in pairs (8-row tiles, gemm_avx512c_amd64.s), each C value
// the same chain of FMAs.
//
//go:noescape
func sgemmKernelAVX512ColsW(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int, cols int)

// sgemmKernelAVX512W is the wide AVX-512 micro-kernel: np >= 1 packed A
// panels of 4 rows times k >= 1 rows of 48 columns of B into C (or added
// to it when accum != 0), the last panel's first last (1..4) rows only.
// With off nil, columns 0-23 of B's row p are at b0[p*ldb:] and 24-47 at
// b1[p*ldb:]; otherwise row p is the 48 floats at b0[off[p]:] (a
// row-offset B, as SgemmRows's). Panels go in pairs as 8x48 tiles
// (gemm_avx512w_amd64.s). Each C value is the same ordered chain of FMAs
// as in sgemmKernelAVX512 (and sgemmKernelRowsAVX2), so they agree bitwise.
//
//go:noescape
func sgemmKernelAVX512W(np, k int, a, b0, b1 *float32, ldb int, off *int, c *float32, ldc int, accum int, last int)

// asmKernelWide calls sgemmKernelAVX512W (off nil) after checking a holds
// np panels, b0 and b1 k rows of 24 floats ldb apart, last in 1..MR and c
// (np-1)*MR+last rows of 48 floats at ldc.
func asmKernelWide(np, k int, a, b0, b1 []float32, ldb int, c []float32, ldc int, accum bool, last int) {
	_ = a[np*k*gemmMR-1]
	_ = b0[(k-1)*ldb+gemmNR-1]
	_ = b1[(k-1)*ldb+gemmNR-1]
	checkLast(last)
	_ = c[((np-1)*gemmMR+last-1)*ldc+2*gemmNR-1]
	if useContigB && len(b0) > gemmNR && &b0[gemmNR] == &b1[0] {
		// One row of 48 floats (B read in place): plain loads.
		sgemmKernelAVX512W(np, k, &a[0], &b0[0], nil, ldb, nil, &c[0], ldc, boolInt(accum), last)
		return
	}
	sgemmKernelAVX512W(np, k, &a[0], &b0[0], &b1[0], ldb, nil, &c[0], ldc, boolInt(accum), last)
}

// useContigB lets asmKernelWide read B's two panels as one 48-float row
// when they are contiguous; tests turn it off to compare (bitwise the same
// products).
var useContigB = true

// asmKernelRowsWide calls sgemmKernelAVX512W for a row-offset B (row p
// the 48 floats at b[off[p]:]) after checking a, off, last and c as
// asmKernelWide does; the caller has checked every row lies inside b.
func asmKernelRowsWide(np, k int, a, b []float32, off []int, c []float32, ldc int, accum bool, last int) {
	_ = a[np*k*gemmMR-1]
	_ = off[k-1]
	checkLast(last)
	_ = c[((np-1)*gemmMR+last-1)*ldc+2*gemmNR-1]
	sgemmKernelAVX512W(np, k, &a[0], &b[0], nil, 0, &off[0], &c[0], ldc, boolInt(accum), last)
}

// boolInt is 1 for true, 0 for false (the kernels' accum argument).
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hasAsmKernel reports whether this CPU can run the assembly micro-kernel.
var hasAsmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512Kernel reports whether it can run sgemmKernelAVX512 (the
// operating system saving the ZMM state included).
var hasAVX512Kernel = hasAsmKernel && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// useAVX512 selects sgemmKernelAVX512 over sgemmKernelAVX2 for the
// packed GEMM when the CPU has it (tests compare both). SLIMGO_NOAVX512=1
// turns it off.
var useAVX512 = hasAVX512Kernel && os.Getenv("SLIMGO_NOAVX512") != "1"

// asmKernel calls the assembly micro-kernel after checking a holds np
// packed panels of k*MR elements, b holds k rows of NR floats ldb apart,
// last is in 1..MR and c covers (np-1)*MR+last full rows of NR at ldc.
func asmKernel(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last int) {
	_ = a[np*k*gemmMR-1]
	_ = b[(k-1)*ldb+gemmNR-1]
	checkLast(last)
	_ = c[((np-1)*gemmMR+last-1)*ldc+gemmNR-1]
	acc := boolInt(accum)
	if useAVX512 {
		sgemmKernelAVX512(np, k, &a[0], &b[0], ldb, &c[0], ldc, acc, last)
		return
	}
	sgemmKernelAVX2(np, k, &a[0], &b[0], ldb, &c[0], ldc, acc, last)
}

// packPanelB packs one full gemmNR-column panel of an untransposed B:
// dst[p*NR+j] = src[p*ldb+j] for p < kc.
func packPanelB(kc int, src []float32, ldb int, dst []float32) {
	if UseAsm && hasAsmKernel {
		_ = src[(kc-1)*ldb+gemmNR-1]
		_ = dst[kc*gemmNR-1]
		packBPanelAVX(kc, &src[0], ldb, &dst[0])
		return
	}
	packPanelBGo(kc, src, ldb, dst)
}

// packBTransAVX transposes nblk 8x8 blocks of a transposed B into a packed
// panel (see gemm_avx2_amd64.s).
//
//go:noescape
func packBTransAVX(nblk int, src *float32, ldb int, dst *float32)

// packANoTransAVX transposes nblk 4x8 blocks of an untransposed A into a
// packed panel (see gemm_avx2_amd64.s).
//
//go:noescape
func packANoTransAVX(nblk int, src *float32, lda int, dst *float32)

// packPanelBTrans packs one full panel of a transposed B: dst[p*NR+j] =
// src[j*ldb+p] for p < kc, j < NR.
func packPanelBTrans(kc int, src []float32, ldb int, dst []float32) {
	nblk := kc / 8
	if UseAsm && hasAsmKernel && nblk > 0 {
		_ = src[(gemmNR-1)*ldb+nblk*8-1]
		_ = dst[kc*gemmNR-1]
		for g := 0; g < gemmNR; g += 8 {
			packBTransAVX(nblk, &src[g*ldb], ldb, &dst[g])
		}
		packPanelBTransGo(nblk*8, kc, src, ldb, dst)
		return
	}
	packPanelBTransGo(0, kc, src, ldb, dst)
}

// packPanelANoTrans packs one full panel of an untransposed A (alpha 1):
// dst[p*MR+i] = src[i*lda+p] for p < kc, i < MR.
func packPanelANoTrans(kc int, src []float32, lda int, dst []float32) {
	nblk := kc / 8
	if UseAsm && hasAsmKernel && nblk > 0 {
		_ = src[(gemmMR-1)*lda+nblk*8-1]
		_ = dst[kc*gemmMR-1]
		packANoTransAVX(nblk, &src[0], lda, &dst[0])
		packPanelANoTransGo(nblk*8, kc, src, lda, dst)
		return
	}
	packPanelANoTransGo(0, kc, src, lda, dst)
}

// sgemmKernelRowsAVX2 is sgemmKernelAVX2 with B row p at b + off[p]
// floats instead of b + p*ldb (gemm_avx2_amd64.s).
//
//go:noescape
func sgemmKernelRowsAVX2(np, k int, a, b *float32, off *int, c *float32, ldc int, accum int, last int)

// asmKernelRows calls the row-offset assembly micro-kernel after checking
// that a holds np packed panels, off has k entries, last is in 1..MR and
// c covers (np-1)*MR+last full rows. That every row b[off[p]:off[p]+NR] lies inside b is not checked
// here (it would cost a pass over the offsets per panel): SgemmRows checks
// every row against the full width n once per call, and full panels read
// inside it.
func asmKernelRows(np, k int, a, b []float32, off []int, c []float32, ldc int, accum bool, last int) {
	_ = a[np*k*gemmMR-1]
	_ = off[k-1]
	checkLast(last)
	_ = c[((np-1)*gemmMR+last-1)*ldc+gemmNR-1]
	acc := boolInt(accum)
	sgemmKernelRowsAVX2(np, k, &a[0], &b[0], &off[0], &c[0], ldc, acc, last)
}

// packBTransRowsAVX transposes nblk 8x8 blocks of 8 rows starting at
// b + off[r] floats into a packed panel (see gemm_avx2_amd64.s).
//
//go:noescape
func packBTransRowsAVX(nblk int, b *float32, off *int, dst *float32)

// packPanelBTransRows packs one full panel of a transposed row-offset B:
// dst[p*NR+j] = b[off[j]+pc+p] for p < kc, j < NR.
func packPanelBTransRows(kc int, b []float32, off []int, pc int, dst []float32) {
	nblk := kc / 8
	if UseAsm && hasAsmKernel && nblk > 0 {
		off = off[:gemmNR]
		for _, o := range off {
			_ = b[o+pc : o+pc+kc]
		}
		_ = dst[kc*gemmNR-1]
		for g := 0; g < gemmNR; g += 8 {
			packBTransRowsAVX(nblk, &b[pc], &off[g], &dst[g])
		}
		packPanelBTransRowsGo(nblk*8, kc, b, off, pc, dst)
		return
	}
	packPanelBTransRowsGo(0, kc, b, off, pc, dst)
}
