// DW3TAPS points AX, BX, CX, DX, SI, DI, R8, R9, R10 at the nine tap
// runs of a depthwise 3x3 row, x + off[t] floats, for functions whose
// arguments x and off sit at x+16(FP) and off+24(FP) (dw3x3_amd64.s,
// dw3x3_avx512_amd64.s). Clobbers R11 and R14.
#define DW3TAPS \
	MOVQ off+24(FP), R14    \
	MOVQ x+16(FP), R11      \
	MOVQ 0(R14), AX         \
	LEAQ (R11)(AX*4), AX    \
	MOVQ 8(R14), BX         \
	LEAQ (R11)(BX*4), BX    \
	MOVQ 16(R14), CX        \
	LEAQ (R11)(CX*4), CX    \
	MOVQ 24(R14), DX        \
	LEAQ (R11)(DX*4), DX    \
	MOVQ 32(R14), SI        \
	LEAQ (R11)(SI*4), SI    \
	MOVQ 40(R14), DI        \
	LEAQ (R11)(DI*4), DI    \
	MOVQ 48(R14), R8        \
	LEAQ (R11)(R8*4), R8    \
	MOVQ 56(R14), R9        \
	LEAQ (R11)(R9*4), R9    \
	MOVQ 64(R14), R10       \
	LEAQ (R11)(R10*4), R10

// DW3WEIGHTSZ broadcasts the nine 3x3 weights at R14 into Z0-Z8 (the
// AVX-512 depthwise kernels, dw3x3_avx512_amd64.s and
// dw3small_avx512_amd64.s).
#define DW3WEIGHTSZ \
	VBROADCASTSS 0(R14), Z0  \
	VBROADCASTSS 4(R14), Z1  \
	VBROADCASTSS 8(R14), Z2  \
	VBROADCASTSS 12(R14), Z3 \
	VBROADCASTSS 16(R14), Z4 \
	VBROADCASTSS 20(R14), Z5 \
	VBROADCASTSS 24(R14), Z6 \
	VBROADCASTSS 28(R14), Z7 \
	VBROADCASTSS 32(R14), Z8
