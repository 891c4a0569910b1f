//go:build !amd64 || purego

package kernels

// hasRowsT is false without the assembly kernels: RowsTFits says no and
// callers keep SgemmRowsT.
func hasRowsT() bool { return false }

func noRowsT() { panic("kernels: RowsT without assembly") }

func rowsT1x9AVX512(dyT *float32, k int, b *float32, offs *[9]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT1x3AVX512(dyT *float32, k int, b *float32, offs *[3]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT1x1AVX512(dyT *float32, k int, b *float32, offs *[1]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT2x4AVX512(dyT *float32, k int, b *float32, offs *[4]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT2x1AVX512(dyT *float32, k int, b *float32, offs *[1]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT4x2AVX512(dyT *float32, k int, b *float32, offs *[2]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func rowsT4x1AVX512(dyT *float32, k int, b *float32, offs *[1]int, pos *int32, acc *float32, accum int) {
	noRowsT()
}

func gatherTAVX512(a *float32, k int, pos *int32, idx *[64]int32, masks *[4]uint16, nv int, dst *float32) {
	noRowsT()
}

func rowsN4x6AVX512(wt *float32, k int, b *float32, off *int, pos *[6]int, t *float32, accum int) {
	noRowsT()
}

func rowsN2x9AVX512(wt *float32, k int, b *float32, off *int, pos *[9]int, t *float32, accum int) {
	noRowsT()
}

func transposeOutAVX512(t *float32, hw int, y *float32, rows, ldy, shift int) { noRowsT() }
