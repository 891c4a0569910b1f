//go:build !purego

#include "textflag.h"

// One k step of the 4x24 micro-kernel: load 24 floats of B at BR (three
// YMM), broadcast each of the 4 packed A values at SI+AOFF and accumulate
// the outer product into Y4..Y15 (row r uses Y(4+3r)..Y(6+3r)).
#define STEP(AOFF, BR) \
	VMOVUPS      (BR), Y0            \
	VMOVUPS      32(BR), Y1          \
	VMOVUPS      64(BR), Y2          \
	VBROADCASTSS (AOFF+0)(SI), Y3    \
	VFMADD231PS  Y0, Y3, Y4          \
	VFMADD231PS  Y1, Y3, Y5          \
	VFMADD231PS  Y2, Y3, Y6          \
	VBROADCASTSS (AOFF+4)(SI), Y3    \
	VFMADD231PS  Y0, Y3, Y7          \
	VFMADD231PS  Y1, Y3, Y8          \
	VFMADD231PS  Y2, Y3, Y9          \
	VBROADCASTSS (AOFF+8)(SI), Y3    \
	VFMADD231PS  Y0, Y3, Y10         \
	VFMADD231PS  Y1, Y3, Y11         \
	VFMADD231PS  Y2, Y3, Y12         \
	VBROADCASTSS (AOFF+12)(SI), Y3   \
	VFMADD231PS  Y0, Y3, Y13         \
	VFMADD231PS  Y1, Y3, Y14         \
	VFMADD231PS  Y2, Y3, Y15

// Clear the 12 accumulators Y4..Y15 of a 4x24 tile.
#define ZERO_ACC \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	VXORPS Y8, Y8, Y8 \
	VXORPS Y9, Y9, Y9 \
	VXORPS Y10, Y10, Y10 \
	VXORPS Y11, Y11, Y11 \
	VXORPS Y12, Y12, Y12 \
	VXORPS Y13, Y13, Y13 \
	VXORPS Y14, Y14, Y14 \
	VXORPS Y15, Y15, Y15

// Add (accumulate) or store one 24-wide row of the tile at DX.
#define ACCROW(R0, R1, R2) \
	VADDPS  (DX), R0, R0   \
	VADDPS  32(DX), R1, R1 \
	VADDPS  64(DX), R2, R2 \
	VMOVUPS R0, (DX)       \
	VMOVUPS R1, 32(DX)     \
	VMOVUPS R2, 64(DX)     \
	ADDQ    R8, DX

#define STROW(R0, R1, R2) \
	VMOVUPS R0, (DX)   \
	VMOVUPS R1, 32(DX) \
	VMOVUPS R2, 64(DX) \
	ADDQ    R8, DX

// func sgemmKernelAVX2(np, k int, a, b *float32, ldb int, c *float32, ldc int, accum int, last int)
// Computes np vertically stacked 4x24 tiles: tile q uses the packed A
// panel at a + q*4*k floats and writes C rows 4q..4q+3, the last tile
// only its first last (1..4) rows (a matrix whose rows are not a multiple
// of 4 ends in a short tile, stored in place instead of through a
// scratch tile). B rows (24 floats each) are ldb floats apart: 24 for a
// packed panel, the matrix stride when reading an untransposed B in
// place. np, k >= 1.
TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-72
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
	// SI already points at this panel of A (panels are contiguous) and DX
	// at its first C row; B restarts for every panel.
	MOVQ R14, DI
	MOVQ R15, CX

	ZERO_ACC

	MOVQ  CX, R9
	SHRQ  $2, R9
	ANDQ  $3, CX
	TESTQ R9, R9
	JZ    tail

loop4:
	PREFETCHT0 256(SI)
	STEP(0, DI)
	PREFETCHT0 (DI)(R13*2)
	LEAQ       (DI)(R11*1), BX
	STEP(16, BX)
	PREFETCHT0 64(DI)(R13*2)
	LEAQ       (DI)(R11*2), BX
	STEP(32, BX)
	PREFETCHT0 128(DI)(R13*2)
	LEAQ       (DI)(R12*1), BX
	STEP(48, BX)
	ADDQ       $64, SI
	ADDQ       R13, DI
	DECQ       R9
	JNZ        loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	STEP(0, DI)
	ADDQ $16, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  loop1

store:
	// R9 (the step counter, free now): rows to store, 4 except in the
	// last tile.
	MOVQ  $4, R9
	CMPQ  R10, $1
	JNE   rows
	MOVQ  last+64(FP), R9

rows:
	TESTQ AX, AX
	JZ    overwrite
	ACCROW(Y4, Y5, Y6)
	DECQ  R9
	JZ    next
	ACCROW(Y7, Y8, Y9)
	DECQ  R9
	JZ    next
	ACCROW(Y10, Y11, Y12)
	DECQ  R9
	JZ    next
	ACCROW(Y13, Y14, Y15)
	JMP   next

overwrite:
	STROW(Y4, Y5, Y6)
	DECQ  R9
	JZ    next
	STROW(Y7, Y8, Y9)
	DECQ  R9
	JZ    next
	STROW(Y10, Y11, Y12)
	DECQ  R9
	JZ    next
	STROW(Y13, Y14, Y15)

next:
	DECQ R10
	JNZ  panel
	VZEROUPPER
	RET

// Load the address of B row number IDX of the offset table at DI into BX.
#define ROWADDR(IDX) \
	MOVQ (IDX*8)(DI), BX \
	LEAQ (R14)(BX*4), BX

// func sgemmKernelRowsAVX2(np, k int, a, b *float32, off *int, c *float32, ldc int, accum int, last int)
// As sgemmKernelAVX2, but B row p (24 floats) starts at b + off[p] floats:
// the rows of an implicit im2col. np, k >= 1, last in 1..4.
TEXT ·sgemmKernelRowsAVX2(SB), NOSPLIT, $0-72
	MOVQ np+0(FP), R10
	MOVQ k+8(FP), R15
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), R14
	MOVQ off+32(FP), R11
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ accum+56(FP), AX

rpanel:
	MOVQ R11, DI
	MOVQ R15, CX

	ZERO_ACC

	MOVQ  CX, R9
	SHRQ  $2, R9
	ANDQ  $3, CX
	TESTQ R9, R9
	JZ    rtail

rloop4:
	PREFETCHT0 256(SI)
	ROWADDR(0)
	STEP(0, BX)
	ROWADDR(1)
	STEP(16, BX)
	ROWADDR(2)
	STEP(32, BX)
	ROWADDR(3)
	STEP(48, BX)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ R9
	JNZ  rloop4

rtail:
	TESTQ CX, CX
	JZ    rstore

rloop1:
	ROWADDR(0)
	STEP(0, BX)
	ADDQ $16, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  rloop1

rstore:
	// R9 (the step counter, free now): rows to store, 4 except in the
	// last tile.
	MOVQ  $4, R9
	CMPQ  R10, $1
	JNE   rrows
	MOVQ  last+64(FP), R9

rrows:
	TESTQ AX, AX
	JZ    roverwrite
	ACCROW(Y4, Y5, Y6)
	DECQ  R9
	JZ    rnext
	ACCROW(Y7, Y8, Y9)
	DECQ  R9
	JZ    rnext
	ACCROW(Y10, Y11, Y12)
	DECQ  R9
	JZ    rnext
	ACCROW(Y13, Y14, Y15)
	JMP   rnext

roverwrite:
	STROW(Y4, Y5, Y6)
	DECQ  R9
	JZ    rnext
	STROW(Y7, Y8, Y9)
	DECQ  R9
	JZ    rnext
	STROW(Y10, Y11, Y12)
	DECQ  R9
	JZ    rnext
	STROW(Y13, Y14, Y15)

rnext:
	DECQ R10
	JNZ  rpanel
	VZEROUPPER
	RET

// func packBPanelAVX(kc int, src *float32, ldb int, dst *float32)
// Copies kc rows of 24 floats, src rows ldb floats apart, to dst
// contiguously (one packed B panel). kc >= 1.
TEXT ·packBPanelAVX(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

packloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	ADDQ    R8, SI
	ADDQ    $96, DI
	DECQ    CX
	JNZ     packloop
	VZEROUPPER
	RET

// Transpose the 8x8 block in Y0..Y7 (row r in Yr) and store its 8 columns
// as 8 rows of a packed B panel (24 floats apart) at DI; clobbers Y8..Y15.
#define TRANSPOSE8x8_STORE \
	VUNPCKLPS Y1, Y0, Y8 \
	VUNPCKHPS Y1, Y0, Y9 \
	VUNPCKLPS Y3, Y2, Y10 \
	VUNPCKHPS Y3, Y2, Y11 \
	VUNPCKLPS Y5, Y4, Y12 \
	VUNPCKHPS Y5, Y4, Y13 \
	VUNPCKLPS Y7, Y6, Y14 \
	VUNPCKHPS Y7, Y6, Y15 \
	VSHUFPS $0x44, Y10, Y8, Y0 \
	VSHUFPS $0xEE, Y10, Y8, Y1 \
	VSHUFPS $0x44, Y11, Y9, Y2 \
	VSHUFPS $0xEE, Y11, Y9, Y3 \
	VSHUFPS $0x44, Y14, Y12, Y4 \
	VSHUFPS $0xEE, Y14, Y12, Y5 \
	VSHUFPS $0x44, Y15, Y13, Y6 \
	VSHUFPS $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15 \
	VMOVUPS Y8, (DI) \
	VMOVUPS Y9, 96(DI) \
	VMOVUPS Y10, 192(DI) \
	VMOVUPS Y11, 288(DI) \
	VMOVUPS Y12, 384(DI) \
	VMOVUPS Y13, 480(DI) \
	VMOVUPS Y14, 576(DI) \
	VMOVUPS Y15, 672(DI)

// func packBTransAVX(nblk int, src *float32, ldb int, dst *float32)
// For each of nblk blocks of 8 k-values, transposes the 8x8 block whose
// rows (8 consecutive columns j of op(B)) start at src + r*ldb into 8 rows
// of a packed B panel (stride 24 floats) at dst. Row addresses advance 8
// floats per block, dst advances 8 panel rows. nblk >= 1.
TEXT ·packBTransAVX(SB), NOSPLIT, $0-32
	MOVQ nblk+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R9

tloop:
	LEAQ    (SI)(R8*4), R10
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7

	TRANSPOSE8x8_STORE

	ADDQ $32, SI
	ADDQ $768, DI
	DECQ CX
	JNZ  tloop
	VZEROUPPER
	RET

// func packBTransRowsAVX(nblk int, b *float32, off *int, dst *float32)
// As packBTransAVX, but the 8 rows start at b + off[r] floats (r < 8)
// instead of ldb apart: 8 columns of a transposed row-offset B.
TEXT ·packBTransRowsAVX(SB), NOSPLIT, $0-32
	MOVQ nblk+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ off+16(FP), BX
	MOVQ dst+24(FP), DI
	MOVQ 0(BX), R8
	LEAQ (SI)(R8*4), R8
	MOVQ 8(BX), R9
	LEAQ (SI)(R9*4), R9
	MOVQ 16(BX), R10
	LEAQ (SI)(R10*4), R10
	MOVQ 24(BX), R11
	LEAQ (SI)(R11*4), R11
	MOVQ 32(BX), R12
	LEAQ (SI)(R12*4), R12
	MOVQ 40(BX), R13
	LEAQ (SI)(R13*4), R13
	MOVQ 48(BX), R14
	LEAQ (SI)(R14*4), R14
	MOVQ 56(BX), R15
	LEAQ (SI)(R15*4), R15
	XORQ AX, AX

trloop:
	VMOVUPS (R8)(AX*1), Y0
	VMOVUPS (R9)(AX*1), Y1
	VMOVUPS (R10)(AX*1), Y2
	VMOVUPS (R11)(AX*1), Y3
	VMOVUPS (R12)(AX*1), Y4
	VMOVUPS (R13)(AX*1), Y5
	VMOVUPS (R14)(AX*1), Y6
	VMOVUPS (R15)(AX*1), Y7

	TRANSPOSE8x8_STORE


	ADDQ $32, AX
	ADDQ $768, DI
	DECQ CX
	JNZ  trloop
	VZEROUPPER
	RET

// func packANoTransAVX(nblk int, src *float32, lda int, dst *float32)
// For each of nblk blocks of 8 k-values, transposes the 4x8 block whose
// rows (4 consecutive rows of A) start at src + r*lda into 8 packed A
// columns of 4 floats (32 contiguous floats) at dst. nblk >= 1.
TEXT ·packANoTransAVX(SB), NOSPLIT, $0-32
	MOVQ nblk+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (R8)(R8*2), R9

aloop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3

	VUNPCKLPS Y1, Y0, Y4
	VUNPCKHPS Y1, Y0, Y5
	VUNPCKLPS Y3, Y2, Y6
	VUNPCKHPS Y3, Y2, Y7

	VSHUFPS $0x44, Y6, Y4, Y8
	VSHUFPS $0xEE, Y6, Y4, Y9
	VSHUFPS $0x44, Y7, Y5, Y10
	VSHUFPS $0xEE, Y7, Y5, Y11

	VPERM2F128 $0x20, Y9, Y8, Y0
	VPERM2F128 $0x20, Y11, Y10, Y1
	VPERM2F128 $0x31, Y9, Y8, Y2
	VPERM2F128 $0x31, Y11, Y10, Y3

	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)

	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  aloop
	VZEROUPPER
	RET
