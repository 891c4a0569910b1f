//go:build !openblas

package main

// openblasAvailable is false in the default (pure Go, no cgo) build; build
// with -tags openblas for the OpenBLAS columns.
const openblasAvailable = false

func openblasSgemm(threads, m, n, k int, a, b, c []float32) {
	panic("gemm: built without -tags openblas")
}
