//go:build !purego

#include "textflag.h"
#include "dw3taps_amd64.h"

// DWZ accumulates the nine taps of the 16 outputs at byte offset OFF
// (past R13) into ACC, under mask K.
#define DWZ(OFF, K, ACC) \
	VFMADD231PS OFF(AX)(R13*1), Z0, K, ACC  \
	VFMADD231PS OFF(BX)(R13*1), Z1, K, ACC  \
	VFMADD231PS OFF(CX)(R13*1), Z2, K, ACC  \
	VFMADD231PS OFF(DX)(R13*1), Z3, K, ACC  \
	VFMADD231PS OFF(SI)(R13*1), Z4, K, ACC  \
	VFMADD231PS OFF(DI)(R13*1), Z5, K, ACC  \
	VFMADD231PS OFF(R8)(R13*1), Z6, K, ACC  \
	VFMADD231PS OFF(R9)(R13*1), Z7, K, ACC  \
	VFMADD231PS OFF(R10)(R13*1), Z8, K, ACC

// func dw3RowAVX512(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32, tail int)
// dw3RowAVX2 for any n >= 1 with AVX-512 (F): 32 outputs a step in Z12
// and Z13, then 16, then the last n%16 under the mask tail (its low n%16
// bits set: masked-off lanes are neither read nor written), so no Go
// tail is left. Each output is the same FMA chain (bias, then taps 0..8)
// as in dw3RowAVX2.
TEXT ·dw3RowAVX512(SB), NOSPLIT, $0-64
	DW3TAPS
	MOVQ w+32(FP), R14
	DW3WEIGHTSZ
	VBROADCASTSS bias+40(FP), Z9
	VBROADCASTSS lo+44(FP), Z10
	VBROADCASTSS hi+48(FP), Z11
	MOVQ         y+0(FP), R11
	MOVQ         n+8(FP), R12
	SHLQ         $2, R12
	XORQ         R13, R13
	MOVW         $0xffff, R15
	KMOVW        R15, K1

zloop32:
	MOVQ    R12, R14
	SUBQ    R13, R14
	CMPQ    R14, $128
	JLT     ztail16
	VMOVAPS Z9, Z12
	VMOVAPS Z9, Z13
	DWZ(0, K1, Z12)
	DWZ(64, K1, Z13)
	VMAXPS  Z12, Z10, Z12
	VMINPS  Z12, Z11, Z12
	VMAXPS  Z13, Z10, Z13
	VMINPS  Z13, Z11, Z13
	VMOVUPS Z12, (R11)(R13*1)
	VMOVUPS Z13, 64(R11)(R13*1)
	ADDQ    $128, R13
	JMP     zloop32

ztail16:
	CMPQ    R14, $64
	JLT     zmask
	VMOVAPS Z9, Z12
	DWZ(0, K1, Z12)
	VMAXPS  Z12, Z10, Z12
	VMINPS  Z12, Z11, Z12
	VMOVUPS Z12, (R11)(R13*1)
	ADDQ    $64, R13
	SUBQ    $64, R14

zmask:
	TESTQ   R14, R14
	JZ      zdone
	MOVQ    tail+56(FP), R15
	KMOVW   R15, K2
	VMOVAPS Z9, Z12
	DWZ(0, K2, Z12)
	VMAXPS  Z12, Z10, Z12
	VMINPS  Z12, Z11, Z12
	VMOVUPS Z12, K2, (R11)(R13*1)

zdone:
	VZEROUPPER
	RET
