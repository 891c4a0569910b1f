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
