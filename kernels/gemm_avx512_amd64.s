//go:build !purego

#include "textflag.h"
#include "colmasks_amd64.h"

// The 4x24 micro-kernel of gemm_avx2_amd64.s with AVX-512 (F and VL):
// each 24-float row of B is one ZMM (16 floats) and one YMM (8), and the
// packed A values are broadcast from memory inside the FMAs ({1to16},
// {1to8}), so a k step is 2 loads and 8 FMAs instead of 3 loads, 4
// broadcasts and 12 FMAs. Accumulators: row r in Z(4+r) (columns 0-15)
// and Y(8+r) (columns 16-23).
#define STEP512(AOFF, BR) \
	VMOVUPS          (BR), Z0           \
	VMOVUPS          64(BR), Y1         \
	VFMADD231PS.BCST (AOFF+0)(SI), Z0, Z4  \
	VFMADD231PS.BCST (AOFF+0)(SI), Y1, Y8  \
	VFMADD231PS.BCST (AOFF+4)(SI), Z0, Z5  \
	VFMADD231PS.BCST (AOFF+4)(SI), Y1, Y9  \
	VFMADD231PS.BCST (AOFF+8)(SI), Z0, Z6  \
	VFMADD231PS.BCST (AOFF+8)(SI), Y1, Y10 \
	VFMADD231PS.BCST (AOFF+12)(SI), Z0, Z7 \
	VFMADD231PS.BCST (AOFF+12)(SI), Y1, Y11

// Add (accumulate) or store one 24-wide row of the tile at DX.
#define ACCROW512(ZR, YR) \
	VADDPS  (DX), ZR, ZR   \
	VADDPS  64(DX), YR, YR \
	VMOVUPS ZR, (DX)       \
	VMOVUPS YR, 64(DX)     \
	ADDQ    R8, DX

#define STROW512(ZR, YR) \
	VMOVUPS ZR, (DX)   \
	VMOVUPS YR, 64(DX) \
	ADDQ    R8, DX

// func sgemmKernelAVX512(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int)
// Same contract as sgemmKernelAVX2. np, k >= 1, last in 1..4.
TEXT ·sgemmKernelAVX512(SB), NOSPLIT, $0-72
	MOVQ np+0(FP), R10
	MOVQ k+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), R14
	MOVQ ldb+32(FP), R11
	SHLQ $2, R11
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ accum+56(FP), AX
	LEAQ (R11)(R11*2), R12
	LEAQ (R11*4), R13

panel:
	MOVQ R14, DI
	MOVQ R15, CX

	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ  CX, R9
	SHRQ  $2, R9
	ANDQ  $3, CX
	TESTQ R9, R9
	JZ    tail

loop4:
	PREFETCHT0 256(SI)
	STEP512(0, DI)
	PREFETCHT0 (DI)(R13*2)
	LEAQ       (DI)(R11*1), BX
	STEP512(16, BX)
	PREFETCHT0 64(DI)(R13*2)
	LEAQ       (DI)(R11*2), BX
	STEP512(32, BX)
	PREFETCHT0 128(DI)(R13*2)
	LEAQ       (DI)(R12*1), BX
	STEP512(48, BX)
	ADDQ       $64, SI
	ADDQ       R13, DI
	DECQ       R9
	JNZ        loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	STEP512(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  loop1

store:
	MOVQ $4, R9
	CMPQ R10, $1
	JNE  rows
	MOVQ last+64(FP), R9

rows:
	TESTQ AX, AX
	JZ    overwrite
	ACCROW512(Z4, Y8)
	DECQ  R9
	JZ    next
	ACCROW512(Z5, Y9)
	DECQ  R9
	JZ    next
	ACCROW512(Z6, Y10)
	DECQ  R9
	JZ    next
	ACCROW512(Z7, Y11)
	JMP   next

overwrite:
	STROW512(Z4, Y8)
	DECQ R9
	JZ   next
	STROW512(Z5, Y9)
	DECQ R9
	JZ   next
	STROW512(Z6, Y10)
	DECQ R9
	JZ   next
	STROW512(Z7, Y11)

next:
	DECQ R10
	JNZ  panel
	VZEROUPPER
	RET

// One k step of sgemmKernelAVX512Cols: B's row read under the column
// masks K1 (columns 0-15) and K2 (16-23), masked-off floats read as zero
// and never touched in memory.
#define STEP512M(AOFF, BR) \
	VMOVUPS.Z        (BR), K1, Z0       \
	VMOVUPS.Z        64(BR), K2, Y1     \
	VFMADD231PS.BCST (AOFF+0)(SI), Z0, Z4  \
	VFMADD231PS.BCST (AOFF+0)(SI), Y1, Y8  \
	VFMADD231PS.BCST (AOFF+4)(SI), Z0, Z5  \
	VFMADD231PS.BCST (AOFF+4)(SI), Y1, Y9  \
	VFMADD231PS.BCST (AOFF+8)(SI), Z0, Z6  \
	VFMADD231PS.BCST (AOFF+8)(SI), Y1, Y10 \
	VFMADD231PS.BCST (AOFF+12)(SI), Z0, Z7 \
	VFMADD231PS.BCST (AOFF+12)(SI), Y1, Y11

#define ACCROW512M(ZR, YR) \
	VMOVUPS.Z (DX), K1, Z12   \
	VMOVUPS.Z 64(DX), K2, Y13 \
	VADDPS    Z12, ZR, ZR     \
	VADDPS    Y13, YR, YR     \
	VMOVUPS   ZR, K1, (DX)    \
	VMOVUPS   YR, K2, 64(DX)  \
	ADDQ      R8, DX

#define STROW512M(ZR, YR) \
	VMOVUPS ZR, K1, (DX)   \
	VMOVUPS YR, K2, 64(DX) \
	ADDQ    R8, DX

// func sgemmKernelAVX512Cols(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int, cols int)
// sgemmKernelAVX512 for a panel of cols (1..24) columns: B rows are read
// and C rows written only in their first cols floats, so a partial panel
// of B is read in place and its tile stored straight into C.
TEXT ·sgemmKernelAVX512Cols(SB), NOSPLIT, $0-80
	MOVQ np+0(FP), R10
	MOVQ k+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), R14
	MOVQ ldb+32(FP), R11
	SHLQ $2, R11
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	MOVQ cols+72(FP), R9
	COLMASKS(R9)

	MOVQ accum+56(FP), AX
	LEAQ (R11)(R11*2), R12
	LEAQ (R11*4), R13

mpanel:
	MOVQ R14, DI
	MOVQ R15, CX

	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ  CX, R9
	SHRQ  $2, R9
	ANDQ  $3, CX
	TESTQ R9, R9
	JZ    mtail

mloop4:
	STEP512M(0, DI)
	LEAQ (DI)(R11*1), BX
	STEP512M(16, BX)
	LEAQ (DI)(R11*2), BX
	STEP512M(32, BX)
	LEAQ (DI)(R12*1), BX
	STEP512M(48, BX)
	ADDQ $64, SI
	ADDQ R13, DI
	DECQ R9
	JNZ  mloop4

mtail:
	TESTQ CX, CX
	JZ    mstore

mloop1:
	STEP512M(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  mloop1

mstore:
	MOVQ $4, R9
	CMPQ R10, $1
	JNE  mrows
	MOVQ last+64(FP), R9

mrows:
	TESTQ AX, AX
	JZ    moverwrite
	ACCROW512M(Z4, Y8)
	DECQ  R9
	JZ    mnext
	ACCROW512M(Z5, Y9)
	DECQ  R9
	JZ    mnext
	ACCROW512M(Z6, Y10)
	DECQ  R9
	JZ    mnext
	ACCROW512M(Z7, Y11)
	JMP   mnext

moverwrite:
	STROW512M(Z4, Y8)
	DECQ R9
	JZ   mnext
	STROW512M(Z5, Y9)
	DECQ R9
	JZ   mnext
	STROW512M(Z6, Y10)
	DECQ R9
	JZ   mnext
	STROW512M(Z7, Y11)

mnext:
	DECQ R10
	JNZ  mpanel
	VZEROUPPER
	RET
