//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// sgemmKernel6x16AVX2 computes the 6x16 tile sum_p a[p*6+i]*b[p*16+j] over
// p < k (k >= 1) from packed panels and stores it into c (row stride ldc
// elements), or adds it to c when accum != 0. Implemented in
// gemm_avx2_amd64.s; requires AVX2 and FMA.
//
//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, accum int)

// hasAsmKernel reports whether this CPU can run the assembly micro-kernel.
var hasAsmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// asmKernel calls the assembly micro-kernel; callers guarantee the panels
// hold k*mr and k*nr elements and c covers a full mr x nr tile at ldc.
func asmKernel(k int, a, b, c []float32, ldc int, accum bool) {
	acc := 0
	if accum {
		acc = 1
	}
	sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, acc)
}

// packB16AVX copies kc >= 1 rows of 16 floats from src (rows ldb floats
// apart) to dst contiguously. Implemented in gemm_avx2_amd64.s (AVX).
//
//go:noescape
func packB16AVX(kc int, src *float32, ldb int, dst *float32)

// packPanelB16 packs one full 16-column panel of an untransposed B:
// dst[p*16+j] = src[p*ldb+j] for p < kc. Callers guarantee the bounds.
func packPanelB16(kc int, src []float32, ldb int, dst []float32) {
	if UseAsm && hasAsmKernel {
		_ = src[(kc-1)*ldb+gemmNR-1]
		_ = dst[kc*gemmNR-1]
		packB16AVX(kc, &src[0], ldb, &dst[0])
		return
	}
	packPanelB16Go(kc, src, ldb, dst)
}
