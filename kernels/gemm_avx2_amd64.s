#include "textflag.h"

// One k step of the 6x16 micro-kernel: load 16 floats of the packed B
// panel (two YMM), broadcast each of the 6 packed A values and accumulate
// the outer product into Y4..Y15 (row r uses Y(4+2r), Y(5+2r)).
#define STEP(AOFF, BOFF0, BOFF1) \
	VMOVUPS      BOFF0(DI), Y0       \
	VMOVUPS      BOFF1(DI), Y1       \
	VBROADCASTSS (AOFF+0)(SI), Y2    \
	VFMADD231PS  Y0, Y2, Y4          \
	VFMADD231PS  Y1, Y2, Y5          \
	VBROADCASTSS (AOFF+4)(SI), Y3    \
	VFMADD231PS  Y0, Y3, Y6          \
	VFMADD231PS  Y1, Y3, Y7          \
	VBROADCASTSS (AOFF+8)(SI), Y2    \
	VFMADD231PS  Y0, Y2, Y8          \
	VFMADD231PS  Y1, Y2, Y9          \
	VBROADCASTSS (AOFF+12)(SI), Y3   \
	VFMADD231PS  Y0, Y3, Y10         \
	VFMADD231PS  Y1, Y3, Y11         \
	VBROADCASTSS (AOFF+16)(SI), Y2   \
	VFMADD231PS  Y0, Y2, Y12         \
	VFMADD231PS  Y1, Y2, Y13         \
	VBROADCASTSS (AOFF+20)(SI), Y3   \
	VFMADD231PS  Y0, Y3, Y14         \
	VFMADD231PS  Y1, Y3, Y15

// Add (accumulate) or store one 16-wide row of the tile at DX.
#define ACCROW(R0, R1) \
	VADDPS  (DX), R0, R0   \
	VADDPS  32(DX), R1, R1 \
	VMOVUPS R0, (DX)       \
	VMOVUPS R1, 32(DX)     \
	ADDQ    R8, DX

#define STROW(R0, R1) \
	VMOVUPS R0, (DX)   \
	VMOVUPS R1, 32(DX) \
	ADDQ    R8, DX

// func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, accum int)
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R9
	SHRQ $2, R9
	ANDQ $3, CX
	TESTQ R9, R9
	JZ   tail

loop4:
	PREFETCHT0 384(SI)
	STEP(0, 0, 32)
	PREFETCHT0 512(DI)
	STEP(24, 64, 96)
	PREFETCHT0 576(DI)
	STEP(48, 128, 160)
	STEP(72, 192, 224)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ R9
	JNZ  loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	STEP(0, 0, 32)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

store:
	MOVQ  accum+40(FP), AX
	TESTQ AX, AX
	JZ    overwrite
	ACCROW(Y4, Y5)
	ACCROW(Y6, Y7)
	ACCROW(Y8, Y9)
	ACCROW(Y10, Y11)
	ACCROW(Y12, Y13)
	ACCROW(Y14, Y15)
	VZEROUPPER
	RET

overwrite:
	STROW(Y4, Y5)
	STROW(Y6, Y7)
	STROW(Y8, Y9)
	STROW(Y10, Y11)
	STROW(Y12, Y13)
	STROW(Y14, Y15)
	VZEROUPPER
	RET

// func packB16AVX(kc int, src *float32, ldb int, dst *float32)
// Copies kc rows of 16 floats, src rows ldb floats apart, to dst
// contiguously (one packed B panel). kc >= 1.
TEXT ·packB16AVX(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

packloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     packloop
	VZEROUPPER
	RET
