//go:build !purego

#include "textflag.h"
#include "hsum_amd64.h"

// GV8 adds the products of x's 16 floats at AX with the 8 rows' (at DI,
// BX, CX, DX, R10-R13) into Z0-Z7; GV8M(K) under mask K (the tail).
#define GV8 \
	VMOVUPS (SI)(AX*1), Z8 \
	VFMADD231PS (DI)(AX*1), Z8, Z0 \
	VFMADD231PS (BX)(AX*1), Z8, Z1 \
	VFMADD231PS (CX)(AX*1), Z8, Z2 \
	VFMADD231PS (DX)(AX*1), Z8, Z3 \
	VFMADD231PS (R10)(AX*1), Z8, Z4 \
	VFMADD231PS (R11)(AX*1), Z8, Z5 \
	VFMADD231PS (R12)(AX*1), Z8, Z6 \
	VFMADD231PS (R13)(AX*1), Z8, Z7

#define GV8M(K) \
	VMOVUPS.Z (SI)(AX*1), K, Z8 \
	VMOVUPS.Z (DI)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z0 \
	VMOVUPS.Z (BX)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z1 \
	VMOVUPS.Z (CX)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z2 \
	VMOVUPS.Z (DX)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z3 \
	VMOVUPS.Z (R10)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z4 \
	VMOVUPS.Z (R11)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z5 \
	VMOVUPS.Z (R12)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z6 \
	VMOVUPS.Z (R13)(AX*1), K, Z9 \
	VFMADD231PS Z9, Z8, Z7

// func gemv8AVX512(x, b *float32, ldb, k, tmask int, out *[8]float32)
// out[r] = sum over q < k of x[q]*b[r*ldb+q] for r < 8: eight rows
// streamed side by side, one 16-lane accumulator each, 16 floats a step
// (the last k%16 under tmask, a mask of that many low lanes; 0: none),
// lanes summed at the end. ldb in floats.
TEXT ·gemv8AVX512(SB), NOSPLIT, $0-48
	MOVQ   x+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   ldb+16(FP), R8
	SHLQ   $2, R8
	LEAQ   (DI)(R8*1), BX
	LEAQ   (BX)(R8*1), CX
	LEAQ   (CX)(R8*1), DX
	LEAQ   (DX)(R8*1), R10
	LEAQ   (R10)(R8*1), R11
	LEAQ   (R11)(R8*1), R12
	LEAQ   (R12)(R8*1), R13
	MOVQ   k+24(FP), R14
	SHRQ   $4, R14
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX
	TESTQ  R14, R14
	JZ     gvtail
gvloop:
	GV8
	ADDQ   $64, AX
	DECQ   R14
	JNZ    gvloop
gvtail:
	MOVQ   tmask+32(FP), R15
	TESTQ  R15, R15
	JZ     gvsum
	KMOVW  R15, K2
	GV8M(K2)
gvsum:
	MOVQ   out+40(FP), DI
	HSUM512_STORE(Z0, Y0, X0, 0)
	HSUM512_STORE(Z1, Y1, X1, 4)
	HSUM512_STORE(Z2, Y2, X2, 8)
	HSUM512_STORE(Z3, Y3, X3, 12)
	HSUM512_STORE(Z4, Y4, X4, 16)
	HSUM512_STORE(Z5, Y5, X5, 20)
	HSUM512_STORE(Z6, Y6, X6, 24)
	HSUM512_STORE(Z7, Y7, X7, 28)
	VZEROUPPER
	RET
