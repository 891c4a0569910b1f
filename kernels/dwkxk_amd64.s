//go:build !purego

#include "textflag.h"

// DWTAP4 adds tap R11's weight (broadcast in Z4) times four blocks of 16
// inputs at R12 floats past SI into Z0, Z5, Z6, Z7.
#define DWTAP4 \
	MOVQ         (R8)(R11*8), R12      \
	VBROADCASTSS (R9)(R11*4), Z4       \
	VFMADD231PS  (SI)(R12*4), Z4, Z0   \
	VFMADD231PS  64(SI)(R12*4), Z4, Z5 \
	VFMADD231PS  128(SI)(R12*4), Z4, Z6 \
	VFMADD231PS  192(SI)(R12*4), Z4, Z7

#define CLAMPST(Z, OFF) \
	VMAXPS  Z, Z2, Z  \
	VMINPS  Z, Z3, Z  \
	VMOVUPS Z, OFF(DI)

// func dwTapsAVX512(y *float32, n int, x *float32, off *int, w *float32, taps int, bias, lo, hi float32, tail int)
// y[i] = min(max(bias + sum_t w[t]*x[off[t]+i], lo), hi) for i < n (n >=
// 1, taps >= 1), the taps summed in order by FMAs; 64 outputs a step in
// four accumulators, then 16, then the last n%16 under the mask tail (its
// low n%16 bits set), whose masked-off lanes are neither read nor
// written. The max and min return the sum when it is NaN.
TEXT ·dwTapsAVX512(SB), NOSPLIT, $0-72
	MOVQ         y+0(FP), DI
	MOVQ         n+8(FP), CX
	MOVQ         x+16(FP), SI
	MOVQ         off+24(FP), R8
	MOVQ         w+32(FP), R9
	MOVQ         taps+40(FP), R10
	VBROADCASTSS bias+48(FP), Z1
	VBROADCASTSS lo+52(FP), Z2
	VBROADCASTSS hi+56(FP), Z3

loop64:
	CMPQ    CX, $64
	JLT     loop16
	VMOVAPS Z1, Z0
	VMOVAPS Z1, Z5
	VMOVAPS Z1, Z6
	VMOVAPS Z1, Z7
	XORQ    R11, R11

taps64:
	DWTAP4
	INCQ R11
	CMPQ R11, R10
	JLT  taps64
	CLAMPST(Z0, 0)
	CLAMPST(Z5, 64)
	CLAMPST(Z6, 128)
	CLAMPST(Z7, 192)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, CX
	JMP  loop64

loop16:
	CMPQ    CX, $16
	JLT     masked
	VMOVAPS Z1, Z0
	XORQ    R11, R11

taps16:
	MOVQ         (R8)(R11*8), R12
	VBROADCASTSS (R9)(R11*4), Z4
	VFMADD231PS  (SI)(R12*4), Z4, Z0
	INCQ         R11
	CMPQ         R11, R10
	JLT          taps16
	CLAMPST(Z0, 0)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  loop16

masked:
	TESTQ   CX, CX
	JZ      done
	MOVQ    tail+64(FP), AX
	KMOVW   AX, K2
	VMOVAPS Z1, Z0
	XORQ    R11, R11

tapsm:
	MOVQ         (R8)(R11*8), R12
	VBROADCASTSS (R9)(R11*4), Z4
	VFMADD231PS  (SI)(R12*4), Z4, K2, Z0
	INCQ         R11
	CMPQ         R11, R10
	JLT          tapsm
	VMAXPS       Z0, Z2, Z0
	VMINPS       Z0, Z3, Z0
	VMOVUPS      Z0, K2, (DI)

done:
	VZEROUPPER
	RET
