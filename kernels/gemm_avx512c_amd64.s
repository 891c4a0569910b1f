//go:build !purego

#include "textflag.h"
#include "colmasks_amd64.h"

// The 8-row masked AVX-512 micro-kernel: sgemmKernelAVX512Cols's partial
// panel (1..24 columns) for two 4-row A panels at a time, an 8x24 tile in
// Z16..Z23 (columns 0-15 of rows 0-7) and Y24..Y31 (16-23). A k step
// loads B's row once under the column masks and broadcasts each of the 8
// A values into a register once, for 16 FMAs; the 4-row kernel issues 8
// FMAs per 10 loads (every broadcast from memory twice).

// ROWC adds A value AADDR (broadcast through Z2) times B (Z0, Y1) to one
// row's accumulators.
#define ROWC(AADDR, ZL, YH) \
	VBROADCASTSS AADDR, Z2 \
	VFMADD231PS  Z0, Z2, ZL \
	VFMADD231PS  Y1, Y2, YH

// STEPC is one k step: B's row at BR, A panel q at SI+AOFF, q+1 at
// SI+R9+AOFF.
#define STEPC(AOFF, BR) \
	VMOVUPS.Z (BR), K1, Z0                   \
	VMOVUPS.Z 64(BR), K2, Y1                 \
	ROWC((AOFF+0)(SI), Z16, Y24)             \
	ROWC((AOFF+4)(SI), Z17, Y25)             \
	ROWC((AOFF+8)(SI), Z18, Y26)             \
	ROWC((AOFF+12)(SI), Z19, Y27)            \
	ROWC((AOFF+0)(SI)(R9*1), Z20, Y28)       \
	ROWC((AOFF+4)(SI)(R9*1), Z21, Y29)       \
	ROWC((AOFF+8)(SI)(R9*1), Z22, Y30)       \
	ROWC((AOFF+12)(SI)(R9*1), Z23, Y31)

// ROWC16 and STEPC16 are ROWC and STEPC for at most 16 columns: Z
// accumulators only.
#define ROWC16(AADDR, ZL) \
	VBROADCASTSS AADDR, Z2 \
	VFMADD231PS  Z0, Z2, ZL

#define STEPC16(AOFF, BR) \
	VMOVUPS.Z (BR), K1, Z0                 \
	ROWC16((AOFF+0)(SI), Z16)              \
	ROWC16((AOFF+4)(SI), Z17)              \
	ROWC16((AOFF+8)(SI), Z18)              \
	ROWC16((AOFF+12)(SI), Z19)             \
	ROWC16((AOFF+0)(SI)(R9*1), Z20)        \
	ROWC16((AOFF+4)(SI)(R9*1), Z21)        \
	ROWC16((AOFF+8)(SI)(R9*1), Z22)        \
	ROWC16((AOFF+12)(SI)(R9*1), Z23)

// STC stores (or, with AX != 0, adds) one row under the masks at DX and
// steps DX to the next row.
#define STC(ZL, YH) \
	TESTQ     AX, AX          \
	JZ        3(PC)           \
	VADDPS.Z  (DX), ZL, K1, ZL \
	VADDPS.Z  64(DX), YH, K2, YH \
	VMOVUPS   ZL, K1, (DX)    \
	VMOVUPS   YH, K2, 64(DX)  \
	ADDQ      R8, DX

// func sgemmKernelAVX512ColsW(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int, cols int)
// np >= 2, even: packed A panels of 4 rows taken in pairs, times k >= 1
// rows of cols (1..24) floats of B, ldb apart, read and written only in
// their first cols floats, into C (or added to it when accum != 0); of
// the last pair's second panel only its first last (1..4) rows. Each C
// value is the chain of FMAs sgemmKernelAVX512Cols computes.
TEXT ·sgemmKernelAVX512ColsW(SB), NOSPLIT, $0-80
	MOVQ np+0(FP), R10
	MOVQ k+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), R14
	MOVQ ldb+32(FP), R11
	SHLQ $2, R11
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ R15, R9
	SHLQ $4, R9                     // bytes of one A panel: 4 rows * 4 bytes * k

	MOVQ cols+72(FP), BX
	COLMASKS(BX)

	MOVQ accum+56(FP), AX
	LEAQ (R11)(R11*2), R12
	LEAQ (R11*4), R13

cpair:
	MOVQ   R14, DI
	MOVQ   R15, CX
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31
	MOVQ   CX, BX
	SHRQ   $2, BX
	ANDQ   $3, CX
	CMPQ   cols+72(FP), $16
	JLE    narrow
	TESTQ  BX, BX
	JZ     ctail

cloop4:
	STEPC(0, DI)
	LEAQ (DI)(R11*1), R14
	STEPC(16, R14)
	LEAQ (DI)(R11*2), R14
	STEPC(32, R14)
	LEAQ (DI)(R12*1), R14
	STEPC(48, R14)
	ADDQ $64, SI
	ADDQ R13, DI
	DECQ BX
	JNZ  cloop4

ctail:
	TESTQ CX, CX
	JZ    cstore

cloop1:
	STEPC(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  cloop1

	JMP cstore

	// At most 16 columns: the same chains without the 16-23 half.
narrow:
	TESTQ BX, BX
	JZ    ntail

nloop4:
	STEPC16(0, DI)
	LEAQ (DI)(R11*1), R14
	STEPC16(16, R14)
	LEAQ (DI)(R11*2), R14
	STEPC16(32, R14)
	LEAQ (DI)(R12*1), R14
	STEPC16(48, R14)
	ADDQ $64, SI
	ADDQ R13, DI
	DECQ BX
	JNZ  nloop4

ntail:
	TESTQ CX, CX
	JZ    cstore

nloop1:
	STEPC16(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  nloop1

cstore:
	MOVQ b+24(FP), R14              // B again for the next pair
	STC(Z16, Y24)
	STC(Z17, Y25)
	STC(Z18, Y26)
	STC(Z19, Y27)
	MOVQ $4, BX
	CMPQ R10, $2
	JNE  crows
	MOVQ last+64(FP), BX

crows:
	STC(Z20, Y28)
	DECQ BX
	JZ   cnext
	STC(Z21, Y29)
	DECQ BX
	JZ   cnext
	STC(Z22, Y30)
	DECQ BX
	JZ   cnext
	STC(Z23, Y31)

cnext:
	ADDQ R9, SI                     // SI ran through panel q: skip q+1
	SUBQ $2, R10
	JNZ  cpair
	VZEROUPPER
	RET
