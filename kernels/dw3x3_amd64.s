//go:build !purego

#include "textflag.h"
#include "dw3taps_amd64.h"

// func dw3RowAVX2(y *float32, n int, x *float32, off *[9]int, w *[9]float32, bias, lo, hi float32)
// y[i] = min(max(bias + sum_t w[t]*x[off[t]+i], lo), hi) for i < n, n a
// multiple of 8 and >= 8; the max and min return the sum when it is NaN.
// Tap t reads through its own pointer (AX, BX, ..., R10), its weight is
// broadcast in Y<t>; bias, lo, hi in Y9-Y11; two accumulators (Y12, Y13)
// make 16 outputs a step. R13 is the byte offset of the current outputs.
TEXT ·dw3RowAVX2(SB), NOSPLIT, $0-52
	DW3TAPS
	MOVQ w+32(FP), R14
	VBROADCASTSS 0(R14), Y0
	VBROADCASTSS 4(R14), Y1
	VBROADCASTSS 8(R14), Y2
	VBROADCASTSS 12(R14), Y3
	VBROADCASTSS 16(R14), Y4
	VBROADCASTSS 20(R14), Y5
	VBROADCASTSS 24(R14), Y6
	VBROADCASTSS 28(R14), Y7
	VBROADCASTSS 32(R14), Y8
	VBROADCASTSS bias+40(FP), Y9
	VBROADCASTSS lo+44(FP), Y10
	VBROADCASTSS hi+48(FP), Y11
	MOVQ         y+0(FP), R11
	MOVQ         n+8(FP), R12
	SHLQ         $2, R12
	XORQ         R13, R13

dw3loop16:
	MOVQ    R12, R14
	SUBQ    R13, R14
	CMPQ    R14, $64
	JLT     dw3tail
	VMOVAPS Y9, Y12
	VMOVAPS Y9, Y13
	VFMADD231PS (AX)(R13*1), Y0, Y12
	VFMADD231PS 32(AX)(R13*1), Y0, Y13
	VFMADD231PS (BX)(R13*1), Y1, Y12
	VFMADD231PS 32(BX)(R13*1), Y1, Y13
	VFMADD231PS (CX)(R13*1), Y2, Y12
	VFMADD231PS 32(CX)(R13*1), Y2, Y13
	VFMADD231PS (DX)(R13*1), Y3, Y12
	VFMADD231PS 32(DX)(R13*1), Y3, Y13
	VFMADD231PS (SI)(R13*1), Y4, Y12
	VFMADD231PS 32(SI)(R13*1), Y4, Y13
	VFMADD231PS (DI)(R13*1), Y5, Y12
	VFMADD231PS 32(DI)(R13*1), Y5, Y13
	VFMADD231PS (R8)(R13*1), Y6, Y12
	VFMADD231PS 32(R8)(R13*1), Y6, Y13
	VFMADD231PS (R9)(R13*1), Y7, Y12
	VFMADD231PS 32(R9)(R13*1), Y7, Y13
	VFMADD231PS (R10)(R13*1), Y8, Y12
	VFMADD231PS 32(R10)(R13*1), Y8, Y13
	VMAXPS  Y12, Y10, Y12
	VMINPS  Y12, Y11, Y12
	VMAXPS  Y13, Y10, Y13
	VMINPS  Y13, Y11, Y13
	VMOVUPS Y12, (R11)(R13*1)
	VMOVUPS Y13, 32(R11)(R13*1)
	ADDQ    $64, R13
	JMP     dw3loop16

dw3tail:
	CMPQ    R14, $32
	JLT     dw3done
	VMOVAPS Y9, Y12
	VFMADD231PS (AX)(R13*1), Y0, Y12
	VFMADD231PS (BX)(R13*1), Y1, Y12
	VFMADD231PS (CX)(R13*1), Y2, Y12
	VFMADD231PS (DX)(R13*1), Y3, Y12
	VFMADD231PS (SI)(R13*1), Y4, Y12
	VFMADD231PS (DI)(R13*1), Y5, Y12
	VFMADD231PS (R8)(R13*1), Y6, Y12
	VFMADD231PS (R9)(R13*1), Y7, Y12
	VFMADD231PS (R10)(R13*1), Y8, Y12
	VMAXPS  Y12, Y10, Y12
	VMINPS  Y12, Y11, Y12
	VMOVUPS Y12, (R11)(R13*1)

dw3done:
	VZEROUPPER
	RET


// func max9RowAVX2(y *float32, n int, x *float32, off *[9]int)
// y[i] = running max over t of x[off[t]+i], acc = (acc > v ? acc : v):
// VMAXPS with the accumulator as first source returns the second when
// either is NaN. n a multiple of 8 and >= 8; 16 outputs a step (Y0, Y1).
TEXT ·max9RowAVX2(SB), NOSPLIT, $0-32
	DW3TAPS
	MOVQ y+0(FP), R11
	MOVQ n+8(FP), R12
	SHLQ $2, R12
	XORQ R13, R13

mx9loop16:
	MOVQ    R12, R14
	SUBQ    R13, R14
	CMPQ    R14, $64
	JLT     mx9tail
	VMOVUPS (AX)(R13*1), Y0
	VMOVUPS 32(AX)(R13*1), Y1
	VMAXPS (BX)(R13*1), Y0, Y0
	VMAXPS 32(BX)(R13*1), Y1, Y1
	VMAXPS (CX)(R13*1), Y0, Y0
	VMAXPS 32(CX)(R13*1), Y1, Y1
	VMAXPS (DX)(R13*1), Y0, Y0
	VMAXPS 32(DX)(R13*1), Y1, Y1
	VMAXPS (SI)(R13*1), Y0, Y0
	VMAXPS 32(SI)(R13*1), Y1, Y1
	VMAXPS (DI)(R13*1), Y0, Y0
	VMAXPS 32(DI)(R13*1), Y1, Y1
	VMAXPS (R8)(R13*1), Y0, Y0
	VMAXPS 32(R8)(R13*1), Y1, Y1
	VMAXPS (R9)(R13*1), Y0, Y0
	VMAXPS 32(R9)(R13*1), Y1, Y1
	VMAXPS (R10)(R13*1), Y0, Y0
	VMAXPS 32(R10)(R13*1), Y1, Y1
	VMOVUPS Y0, (R11)(R13*1)
	VMOVUPS Y1, 32(R11)(R13*1)
	ADDQ    $64, R13
	JMP     mx9loop16

mx9tail:
	CMPQ    R14, $32
	JLT     mx9done
	VMOVUPS (AX)(R13*1), Y0
	VMAXPS (BX)(R13*1), Y0, Y0
	VMAXPS (CX)(R13*1), Y0, Y0
	VMAXPS (DX)(R13*1), Y0, Y0
	VMAXPS (SI)(R13*1), Y0, Y0
	VMAXPS (DI)(R13*1), Y0, Y0
	VMAXPS (R8)(R13*1), Y0, Y0
	VMAXPS (R9)(R13*1), Y0, Y0
	VMAXPS (R10)(R13*1), Y0, Y0
	VMOVUPS Y0, (R11)(R13*1)

mx9done:
	VZEROUPPER
	RET

// func deinterleaveAVX2(src, even, odd *float32, n int)
// even[j] = src[2j], odd[j] = src[2j+1] for j < n, n a multiple of 8 and
// >= 8: per 16 source floats a (Y0) and b (Y1), VSHUFPS picks a0 a2 b0 b2
// | a4 a6 b4 b6 (0x88; odd ones with 0xDD) and VPERMPD 0xD8 puts the
// 64-bit pairs in order.
TEXT ·deinterleaveAVX2(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ even+8(FP), DI
	MOVQ odd+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX

dilloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, (DX)
	ADDQ    $64, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     dilloop
	VZEROUPPER
	RET
