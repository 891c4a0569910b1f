//go:build !amd64 || purego

package kernels

// hasAsmKernel is false where no assembly micro-kernel is built.
var hasAsmKernel = false

// hasAVX512Kernel and useAVX512: no AVX-512 micro-kernel either.
var hasAVX512Kernel, useAVX512 = false, false

// asmKernel is never called when hasAsmKernel is false.
func asmKernel(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last int) {
	goKernel(np, k, a, b, ldb, c, ldc, accum, last)
}

// packPanelB packs one full gemmNR-column panel of an untransposed B.
func packPanelB(kc int, src []float32, ldb int, dst []float32) {
	packPanelBGo(kc, src, ldb, dst)
}

// packPanelBTrans packs one full panel of a transposed B.
func packPanelBTrans(kc int, src []float32, ldb int, dst []float32) {
	packPanelBTransGo(0, kc, src, ldb, dst)
}

// packPanelANoTrans packs one full panel of an untransposed A.
func packPanelANoTrans(kc int, src []float32, lda int, dst []float32) {
	packPanelANoTransGo(0, kc, src, lda, dst)
}

// asmKernelRows is never called when hasAsmKernel is false.
func asmKernelRows(np, k int, a, b []float32, off []int, c []float32, ldc int, accum bool, last int) {
	goKernelRows(np, k, a, b, off, c, ldc, accum, last)
}

// packPanelBTransRows packs one full panel of a transposed row-offset B.
func packPanelBTransRows(kc int, b []float32, off []int, pc int, dst []float32) {
	packPanelBTransRowsGo(0, kc, b, off, pc, dst)
}

// asmKernelCols is never called when useAVX512 is false.
func asmKernelCols(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last, cols int) {
	panic("kernels: no AVX-512 micro-kernel in this build")
}

// asmKernelWide is never called when useAVX512 is false.
func asmKernelWide(np, k int, a, b0, b1 []float32, ldb int, c []float32, ldc int, accum bool, last int) {
	panic("kernels: no AVX-512 micro-kernel in this build")
}

// asmKernelRowsWide is never called when useAVX512 is false.
func asmKernelRowsWide(np, k int, a, b []float32, off []int, c []float32, ldc int, accum bool, last int) {
	panic("kernels: no AVX-512 micro-kernel in this build")
}
