//go:build openblas

package main

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
*/
import "C"

import "unsafe"

const openblasAvailable = true

// openblasSgemm runs C = op(A)*op(B) (row-major, C is m x n with stride n)
// with OpenBLAS limited to threads threads.
func openblasSgemm(threads int, ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32) {
	opA, opB := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if ta {
		opA = C.CblasTrans
	}
	if tb {
		opB = C.CblasTrans
	}
	C.openblas_set_num_threads(C.int(threads))
	C.cblas_sgemm(C.CblasRowMajor, opA, opB, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
}
