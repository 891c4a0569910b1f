//go:build amd64 && !purego

package kernels

// hasPool2 reports whether MaxPool2x2's AVX-512 rows run.
func hasPool2() bool { return useAVX512 && UseAsm && hasAsmKernel }

// maxPool2RowAVX512 is MaxPool2x2's row of n >= 1 outputs from input
// rows r0 and r1, the last n%16 under the masks in tail
// (pool2_avx512_amd64.s).
//
//go:noescape
func maxPool2RowAVX512(r0, r1, y *float32, n int, tail int)

// maxPool3s2RowAVX512 is one output row of a stride-2 3x3 max pool from
// three -inf padded input rows (pool2_avx512_amd64.s).
//
//go:noescape
func maxPool3s2RowAVX512(p0, p1, p2, y *float32, nblk, tail int)
