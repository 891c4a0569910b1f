//go:build !purego

#include "textflag.h"

// The wide AVX-512 micro-kernel: an 8x48 tile (two 4-row A panels by two
// 24-column B panels) in 24 ZMM accumulators, Z8..Z31, row r in
// Z(8+3r)..Z(10+3r). A k step loads the 48 floats of B as three ZMMs (the
// middle one is columns 16-23 of the first panel and 0-7 of the second,
// joined by VINSERTF64X4), broadcasts each of the 8 A values once and
// issues 24 full-width FMAs: the FMA ports, not the loads, bound it,
// where the 4x24 kernel issues 8 FMAs (4 of them half-width) per 10 loads.

// LOADB loads one k step of B: columns 0-23 from B0, 24-47 from B1.
#define LOADB(B0, B1) \
	VMOVUPS      (B0), Z0           \
	VMOVUPS      64(B0), Y1         \
	VINSERTF64X4 $1, (B1), Z1, Z1   \
	VMOVUPS      32(B1), Z2

// LOADR loads one k step of B from a contiguous row of 48 floats at BR.
#define LOADR(BR) \
	VMOVUPS (BR), Z0    \
	VMOVUPS 64(BR), Z1  \
	VMOVUPS 128(BR), Z2

// ROWADDRW sets R14 to B row IDX of the rows at DI: b + off[IDX] floats.
#define ROWADDRW(IDX) \
	MOVQ (IDX*8)(DI), R14 \
	LEAQ (BX)(R14*4), R14

// FMAROW adds A value AADDR (broadcast through T) times B to one row.
#define FMAROW(AADDR, T, ZA, ZB, ZC) \
	VBROADCASTSS AADDR, T      \
	VFMADD231PS  Z0, T, ZA     \
	VFMADD231PS  Z1, T, ZB     \
	VFMADD231PS  Z2, T, ZC

// ROWS8 and ROWS4 are the FMAs of one k step of an 8- and a 4-row tile
// (A panel q at SI, q+1 at SI+R9), with B in Z0-Z2.
#define ROWS8(AOFF) \
	ROWS4(AOFF)                                      \
	FMAROW((AOFF+0)(SI)(R9*1), Z7, Z20, Z21, Z22)    \
	FMAROW((AOFF+4)(SI)(R9*1), Z3, Z23, Z24, Z25)    \
	FMAROW((AOFF+8)(SI)(R9*1), Z4, Z26, Z27, Z28)    \
	FMAROW((AOFF+12)(SI)(R9*1), Z5, Z29, Z30, Z31)

#define ROWS4(AOFF) \
	FMAROW((AOFF+0)(SI), Z3, Z8, Z9, Z10)            \
	FMAROW((AOFF+4)(SI), Z4, Z11, Z12, Z13)          \
	FMAROW((AOFF+8)(SI), Z5, Z14, Z15, Z16)          \
	FMAROW((AOFF+12)(SI), Z6, Z17, Z18, Z19)

// STEP8 and STEP4: one k step with B's row in two panels (B0, B1);
// STEP8R and STEP4R with B's row at R14 (a row-offset B).
#define STEP8(AOFF, B0, B1) \
	LOADB(B0, B1) \
	ROWS8(AOFF)

#define STEP4(AOFF, B0, B1) \
	LOADB(B0, B1) \
	ROWS4(AOFF)

#define STEP8R(AOFF) \
	LOADR(R14) \
	ROWS8(AOFF)

#define STEP4R(AOFF) \
	LOADR(R14) \
	ROWS4(AOFF)

// STEP8C and STEP4C: one k step with B's row the 48 contiguous floats at R.
#define STEP8C(AOFF, R) \
	LOADR(R) \
	ROWS8(AOFF)

#define STEP4C(AOFF, R) \
	LOADR(R) \
	ROWS4(AOFF)

// Store (overwrite) or add (accumulate) one 48-wide row of C at DX and
// step DX to the next row.
#define STROWW(ZA, ZB, ZC) \
	VMOVUPS ZA, (DX)    \
	VMOVUPS ZB, 64(DX)  \
	VMOVUPS ZC, 128(DX) \
	ADDQ    R8, DX

#define ACCROWW(ZA, ZB, ZC) \
	VADDPS  (DX), ZA, ZA    \
	VADDPS  64(DX), ZB, ZB  \
	VADDPS  128(DX), ZC, ZC \
	STROWW(ZA, ZB, ZC)

// ZERO12 clears the accumulators of rows 0-3, ZERO24 of rows 0-7.
#define ZERO12 \
	VPXORD Z8, Z8, Z8    \
	VPXORD Z9, Z9, Z9    \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19

#define ZERO24 \
	ZERO12               \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23 \
	VPXORD Z24, Z24, Z24 \
	VPXORD Z25, Z25, Z25 \
	VPXORD Z26, Z26, Z26 \
	VPXORD Z27, Z27, Z27 \
	VPXORD Z28, Z28, Z28 \
	VPXORD Z29, Z29, Z29 \
	VPXORD Z30, Z30, Z30 \
	VPXORD Z31, Z31, Z31

// func sgemmKernelAVX512W(np, k int, a, b0, b1 *float32, ldb int, off *int, c *float32, ldc int, accum int, last int)
// np >= 1 packed A panels of 4 rows (k*4 floats each, contiguous) times
// k >= 1 rows of 48 columns of B, stored into (or, accum != 0, added to)
// C rows 4q.. (ldc floats apart); of the last panel only its first last
// (1..4) rows. With off nil, columns 0-23 of B's row p are at b0+p*ldb
// and 24-47 at b1+p*ldb, or with b1 nil too all 48 at b0+p*ldb (three
// plain loads a step instead of two and a VINSERTF64X4, whose shuffle
// takes an FMA port); otherwise row p is the 48 floats at b0+off[p] (a
// row-offset B; b1 and ldb unused). Panels are taken in pairs (8-row
// tiles); an odd last one alone.
TEXT ·sgemmKernelAVX512W(SB), NOSPLIT, $0-88
	MOVQ np+0(FP), R10
	MOVQ k+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ ldb+40(FP), R11
	SHLQ $2, R11
	MOVQ c+56(FP), DX
	MOVQ ldc+64(FP), R8
	SHLQ $2, R8
	LEAQ (R11)(R11*2), R12
	LEAQ (R11*4), R13
	MOVQ R15, R9
	SHLQ $4, R9            // bytes of one A panel: 4 rows * 4 bytes * k

pair:
	CMPQ  R10, $2
	JLT   single
	ZERO24
	MOVQ  R15, AX
	SHRQ  $2, AX
	MOVQ  off+48(FP), DI
	TESTQ DI, DI
	JNZ   prows
	MOVQ  b0+24(FP), DI
	MOVQ  b1+32(FP), BX
	TESTQ BX, BX
	JZ    pcont
	TESTQ AX, AX
	JZ    ptail

ploop4:
	STEP8(0, DI, BX)
	LEAQ (DI)(R11*1), R14
	LEAQ (BX)(R11*1), CX
	STEP8(16, R14, CX)
	LEAQ (DI)(R11*2), R14
	LEAQ (BX)(R11*2), CX
	STEP8(32, R14, CX)
	LEAQ (DI)(R12*1), R14
	LEAQ (BX)(R12*1), CX
	STEP8(48, R14, CX)
	ADDQ $64, SI
	ADDQ R13, DI
	ADDQ R13, BX
	DECQ AX
	JNZ  ploop4

ptail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   pstore

ploop1:
	STEP8(0, DI, BX)
	ADDQ $16, SI
	ADDQ R11, DI
	ADDQ R11, BX
	DECQ CX
	JNZ  ploop1
	JMP  pstore

prows:
	MOVQ  b0+24(FP), BX
	TESTQ AX, AX
	JZ    prtail

prloop4:
	ROWADDRW(0)
	STEP8R(0)
	ROWADDRW(1)
	STEP8R(16)
	ROWADDRW(2)
	STEP8R(32)
	ROWADDRW(3)
	STEP8R(48)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ AX
	JNZ  prloop4

prtail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   pstore

prloop1:
	ROWADDRW(0)
	STEP8R(0)
	ADDQ $16, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  prloop1
	JMP  pstore

pcont:
	TESTQ AX, AX
	JZ    pctail

pcloop4:
	STEP8C(0, DI)
	LEAQ (DI)(R11*1), R14
	STEP8C(16, R14)
	LEAQ (DI)(R11*2), R14
	STEP8C(32, R14)
	LEAQ (DI)(R12*1), R14
	STEP8C(48, R14)
	ADDQ $64, SI
	ADDQ R13, DI
	DECQ AX
	JNZ  pcloop4

pctail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   pstore

pcloop1:
	STEP8C(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  pcloop1

pstore:
	ADDQ R9, SI            // skip the pair's second panel
	MOVQ $8, CX
	CMPQ R10, $2
	JNE  pput
	MOVQ last+80(FP), CX
	ADDQ $4, CX

	// CX rows (5..8) to store: rows 0-4, then while CX > 5.
pput:
	MOVQ  accum+72(FP), AX
	TESTQ AX, AX
	JZ    pover
	ACCROWW(Z8, Z9, Z10)
	ACCROWW(Z11, Z12, Z13)
	ACCROWW(Z14, Z15, Z16)
	ACCROWW(Z17, Z18, Z19)
	ACCROWW(Z20, Z21, Z22)
	SUBQ  $5, CX
	JZ    pnext
	ACCROWW(Z23, Z24, Z25)
	DECQ  CX
	JZ    pnext
	ACCROWW(Z26, Z27, Z28)
	DECQ  CX
	JZ    pnext
	ACCROWW(Z29, Z30, Z31)
	JMP   pnext

pover:
	STROWW(Z8, Z9, Z10)
	STROWW(Z11, Z12, Z13)
	STROWW(Z14, Z15, Z16)
	STROWW(Z17, Z18, Z19)
	STROWW(Z20, Z21, Z22)
	SUBQ $5, CX
	JZ   pnext
	STROWW(Z23, Z24, Z25)
	DECQ CX
	JZ   pnext
	STROWW(Z26, Z27, Z28)
	DECQ CX
	JZ   pnext
	STROWW(Z29, Z30, Z31)

pnext:
	SUBQ $2, R10
	JNZ  pair
	VZEROUPPER
	RET

single:
	ZERO12
	MOVQ  R15, AX
	SHRQ  $2, AX
	MOVQ  off+48(FP), DI
	TESTQ DI, DI
	JNZ   srows
	MOVQ  b0+24(FP), DI
	MOVQ  b1+32(FP), BX
	TESTQ BX, BX
	JZ    scont
	TESTQ AX, AX
	JZ    stail

sloop4:
	STEP4(0, DI, BX)
	LEAQ (DI)(R11*1), R14
	LEAQ (BX)(R11*1), CX
	STEP4(16, R14, CX)
	LEAQ (DI)(R11*2), R14
	LEAQ (BX)(R11*2), CX
	STEP4(32, R14, CX)
	LEAQ (DI)(R12*1), R14
	LEAQ (BX)(R12*1), CX
	STEP4(48, R14, CX)
	ADDQ $64, SI
	ADDQ R13, DI
	ADDQ R13, BX
	DECQ AX
	JNZ  sloop4

stail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   sstore

sloop1:
	STEP4(0, DI, BX)
	ADDQ $16, SI
	ADDQ R11, DI
	ADDQ R11, BX
	DECQ CX
	JNZ  sloop1
	JMP  sstore

srows:
	MOVQ  b0+24(FP), BX
	TESTQ AX, AX
	JZ    srtail

srloop4:
	ROWADDRW(0)
	STEP4R(0)
	ROWADDRW(1)
	STEP4R(16)
	ROWADDRW(2)
	STEP4R(32)
	ROWADDRW(3)
	STEP4R(48)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ AX
	JNZ  srloop4

srtail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   sstore

srloop1:
	ROWADDRW(0)
	STEP4R(0)
	ADDQ $16, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  srloop1
	JMP  sstore

scont:
	TESTQ AX, AX
	JZ    sctail

scloop4:
	STEP4C(0, DI)
	LEAQ (DI)(R11*1), R14
	STEP4C(16, R14)
	LEAQ (DI)(R11*2), R14
	STEP4C(32, R14)
	LEAQ (DI)(R12*1), R14
	STEP4C(48, R14)
	ADDQ $64, SI
	ADDQ R13, DI
	DECQ AX
	JNZ  scloop4

sctail:
	MOVQ R15, CX
	ANDQ $3, CX
	JZ   sstore

scloop1:
	STEP4C(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  scloop1

sstore:
	MOVQ  last+80(FP), CX
	MOVQ  accum+72(FP), AX
	TESTQ AX, AX
	JZ    sover
	ACCROWW(Z8, Z9, Z10)
	DECQ  CX
	JZ    sdone
	ACCROWW(Z11, Z12, Z13)
	DECQ  CX
	JZ    sdone
	ACCROWW(Z14, Z15, Z16)
	DECQ  CX
	JZ    sdone
	ACCROWW(Z17, Z18, Z19)
	JMP   sdone

sover:
	STROWW(Z8, Z9, Z10)
	DECQ CX
	JZ   sdone
	STROWW(Z11, Z12, Z13)
	DECQ CX
	JZ   sdone
	STROWW(Z14, Z15, Z16)
	DECQ CX
	JZ   sdone
	STROWW(Z17, Z18, Z19)

sdone:
	VZEROUPPER
	RET
