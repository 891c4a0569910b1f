//go:build !openblas

package main

// openblasAvailable is false in the default (pure Go, no cgo) build; build
// with -tags openblas for the OpenBLAS columns.
const openblasAvailable = false

func openblasSgemm(threads int, ta, tb bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32) {
	panic("gemm: built without -tags openblas")
}
