//go:build !purego

#include "textflag.h"

// func biasClampAVX(v *float32, n int, b, lo, hi float32)
// v[i] = min(max(v[i]+b, lo), hi) for i < n, n a multiple of 8 and >= 8.
// The max and min take the sum as their second source, which they return
// when it is NaN.
TEXT ·biasClampAVX(SB), NOSPLIT, $0-28
	MOVQ         v+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS b+16(FP), Y0
	VBROADCASTSS lo+20(FP), Y1
	VBROADCASTSS hi+24(FP), Y2
	SHRQ         $3, CX

bcloop:
	VADDPS  (DI), Y0, Y3
	VMAXPS  Y3, Y1, Y3
	VMINPS  Y3, Y2, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     bcloop
	VZEROUPPER
	RET

// func biasAddClampAVX(v, r *float32, n int, b, lo, hi float32)
// v[i] = min(max((v[i]+b)+r[i], lo), hi) for i < n, n a multiple of 8 and
// >= 8; NaN kept as in biasClampAVX.
TEXT ·biasAddClampAVX(SB), NOSPLIT, $0-36
	MOVQ         v+0(FP), DI
	MOVQ         r+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS b+24(FP), Y0
	VBROADCASTSS lo+28(FP), Y1
	VBROADCASTSS hi+32(FP), Y2
	SHRQ         $3, CX

baloop:
	VADDPS  (DI), Y0, Y3
	VADDPS  (SI), Y3, Y3
	VMAXPS  Y3, Y1, Y3
	VMINPS  Y3, Y2, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     baloop
	VZEROUPPER
	RET

// func hardSwishAVX(x, y *float32, n int)
// y[i] = x[i] * min(max(x[i]+3, 0), 6) / 6 for i < n (n a multiple of 8,
// >= 8), rounded at every step as the Go expression is; the max and min
// take the sum as their second source, so a NaN stays NaN.
TEXT ·hardSwishAVX(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	SHRQ         $3, CX
	MOVL         $0x40400000, AX // 3
	VMOVD        AX, X0
	VBROADCASTSS X0, Y0
	VXORPS       Y1, Y1, Y1      // 0
	MOVL         $0x40c00000, AX // 6
	VMOVD        AX, X2
	VBROADCASTSS X2, Y2

hsloop:
	VMOVUPS (SI), Y3
	VADDPS  Y0, Y3, Y4
	VMAXPS  Y4, Y1, Y4
	VMINPS  Y4, Y2, Y4
	VMULPS  Y4, Y3, Y4
	VDIVPS  Y2, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     hsloop
	VZEROUPPER
	RET
