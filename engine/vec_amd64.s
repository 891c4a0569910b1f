//go:build !purego

#include "textflag.h"

// AVX2/FMA loops behind engine/vec_amd64.go. Every routine takes n, a
// positive multiple of 8; the Go wrappers handle the tails.

// BN_APPLY_ARGS loads the arguments (x, dy, dx *float32, n int, coef
// *[8]float32) of the bnBwdApply* routines into SI, DX, DI, CX, AX and
// broadcasts coef's mu, a, bx, c into Y0-Y3.
#define BN_APPLY_ARGS \
	MOVQ         x+0(FP), SI  \
	MOVQ         dy+8(FP), DX \
	MOVQ         dx+16(FP), DI \
	MOVQ         n+24(FP), CX \
	MOVQ         coef+32(FP), AX \
	VBROADCASTSS (AX), Y0     \
	VBROADCASTSS 4(AX), Y1    \
	VBROADCASTSS 8(AX), Y2    \
	VBROADCASTSS 12(AX), Y3

// BN_SUMS_ARGS loads the arguments (x, dy *float32, n int, coef
// *[4 or 8]float32, out *[2]float32) of the masked bnBwdSums* routines into
// SI, DX, CX, AX, DI and broadcasts coef's mu, a, b into Y0, Y9, Y10.
#define BN_SUMS_ARGS \
	MOVQ         x+0(FP), SI  \
	MOVQ         dy+8(FP), DX \
	MOVQ         n+16(FP), CX \
	MOVQ         coef+24(FP), AX \
	MOVQ         out+32(FP), DI \
	VBROADCASTSS (AX), Y0     \
	VBROADCASTSS 4(AX), Y9    \
	VBROADCASTSS 8(AX), Y10

// func reluAVX(x, y *float32, n int)
// y[i] = x[i] > 0 ? x[i] : 0 (NaN and -0 give +0).
TEXT ·reluAVX(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0

reluloop:
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y1 // NaN in x selects the second source (zero)
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     reluloop
	VZEROUPPER
	RET

// func reluBwdAVX(x, dy, dx *float32, n int)
// dx[i] = x[i] > 0 ? dy[i] : 0.
TEXT ·reluBwdAVX(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   dy+8(FP), DX
	MOVQ   dx+16(FP), DI
	MOVQ   n+24(FP), CX
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0

rbloop:
	VMOVUPS (SI), Y1
	VCMPPS  $0x1e, Y0, Y1, Y1 // x > 0 (ordered, quiet)
	VANDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     rbloop
	VZEROUPPER
	RET

// func addReluBwdAVX(x, a, b, d *float32, n int)
// d[i] = x[i] > 0 ? a[i]+b[i] : 0.
TEXT ·addReluBwdAVX(SB), NOSPLIT, $0-40
	MOVQ   x+0(FP), SI
	MOVQ   a+8(FP), DX
	MOVQ   b+16(FP), R8
	MOVQ   d+24(FP), DI
	MOVQ   n+32(FP), CX
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0

arbloop:
	VMOVUPS (DX), Y2
	VADDPS  (R8), Y2, Y2
	VMOVUPS (SI), Y1
	VCMPPS  $0x1e, Y0, Y1, Y1 // x > 0 (ordered, quiet)
	VANDPS  Y2, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, DI
	DECQ    CX
	JNZ     arbloop
	VZEROUPPER
	RET

// hsum reduces the 8 lanes of Y to X's lane 0 (fixed order).
#define HSUM(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS       T, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X

// The two-sum loops (sumsAVX, bnBwdSums*AVX) accumulate in Y1/Y3 and
// Y2/Y4 over pairs of 8-float blocks, then one block. PAIR_SUMS_INIT
// clears the accumulators and splits the n floats in CX into R9 pairs and a
// CX (0 or 1) tail block, flags set for JZ on no pairs; PAIR_SUMS_STORE
// reduces Y1+Y3 and Y2+Y4 into out[0] and out[1] at DI and returns.
#define PAIR_SUMS_INIT \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	SHRQ   $3, CX; \
	MOVQ   CX, R9; \
	SHRQ   $1, R9; \
	ANDQ   $1, CX; \
	TESTQ  R9, R9

#define PAIR_SUMS_STORE \
	VADDPS Y3, Y1, Y1; \
	VADDPS Y4, Y2, Y2; \
	HSUM(Y1, X1, X7); \
	HSUM(Y2, X2, X7); \
	VMOVSS  X1, (DI); \
	VMOVSS  X2, 4(DI); \
	VZEROUPPER; \
	RET

// func sumsAVX(x *float32, n int, shift float32, out *[2]float32)
// out[0] = sum(x[i]-shift), out[1] = sum((x[i]-shift)^2).
TEXT ·sumsAVX(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS shift+16(FP), Y0
	MOVQ         out+24(FP), DI
	PAIR_SUMS_INIT
	JZ           sumtail

sumloop2:
	VMOVUPS     (SI), Y5
	VMOVUPS     32(SI), Y6
	VSUBPS      Y0, Y5, Y5
	VSUBPS      Y0, Y6, Y6
	VADDPS      Y5, Y1, Y1
	VADDPS      Y6, Y3, Y3
	VFMADD231PS Y5, Y5, Y2
	VFMADD231PS Y6, Y6, Y4
	ADDQ        $64, SI
	DECQ        R9
	JNZ         sumloop2

sumtail:
	TESTQ       CX, CX
	JZ          sumdone
	VMOVUPS     (SI), Y5
	VSUBPS      Y0, Y5, Y5
	VADDPS      Y5, Y1, Y1
	VFMADD231PS Y5, Y5, Y2

sumdone:
	PAIR_SUMS_STORE

// func affineAVX(x, y *float32, n int, mu, a, b float32, relu int)
// y[i] = (x[i]-mu)*a + b, then max(., 0) when relu != 0 (NaN gives +0):
// BN's normalisation, alone or fused with the ReLU after it.
TEXT ·affineAVX(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS mu+24(FP), Y0
	VBROADCASTSS a+28(FP), Y1
	VBROADCASTSS b+32(FP), Y2
	MOVQ         relu+40(FP), AX
	VXORPS       Y5, Y5, Y5
	SHRQ         $3, CX

affloop:
	VMOVUPS     (SI), Y3
	VSUBPS      Y0, Y3, Y3
	VMOVAPS     Y2, Y4
	VFMADD231PS Y3, Y1, Y4
	TESTQ       AX, AX
	JZ          affstore
	VMAXPS      Y5, Y4, Y4 // NaN selects the second source (zero)

affstore:
	VMOVUPS Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     affloop
	VZEROUPPER
	RET

// func bnBwdSumsAVX(x, dy *float32, n int, mu float32, out *[2]float32)
// out[0] = sum(dy[i]), out[1] = sum(dy[i]*(x[i]-mu)).
TEXT ·bnBwdSumsAVX(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         dy+8(FP), DX
	MOVQ         n+16(FP), CX
	VBROADCASTSS mu+24(FP), Y0
	MOVQ         out+32(FP), DI
	PAIR_SUMS_INIT
	JZ           bbtail

bbloop2:
	VMOVUPS     (SI), Y5
	VMOVUPS     32(SI), Y6
	VMOVUPS     (DX), Y7
	VMOVUPS     32(DX), Y8
	VSUBPS      Y0, Y5, Y5
	VSUBPS      Y0, Y6, Y6
	VADDPS      Y7, Y1, Y1
	VADDPS      Y8, Y3, Y3
	VFMADD231PS Y5, Y7, Y2
	VFMADD231PS Y6, Y8, Y4
	ADDQ        $64, SI
	ADDQ        $64, DX
	DECQ        R9
	JNZ         bbloop2

bbtail:
	TESTQ       CX, CX
	JZ          bbdone
	VMOVUPS     (SI), Y5
	VMOVUPS     (DX), Y7
	VSUBPS      Y0, Y5, Y5
	VADDPS      Y7, Y1, Y1
	VFMADD231PS Y5, Y7, Y2

bbdone:
	PAIR_SUMS_STORE

// func bnBwdApplyAVX(x, dy, dx *float32, n int, coef *[4]float32)
// dx[i] = a*dy[i] + b*(x[i]-mu) + c with coef = {mu, a, b, c}.
TEXT ·bnBwdApplyAVX(SB), NOSPLIT, $0-40
	BN_APPLY_ARGS
	SHRQ         $3, CX

baloop:
	VMOVUPS     (SI), Y4
	VSUBPS      Y0, Y4, Y4
	VMULPS      (DX), Y1, Y5
	VFMADD231PS Y4, Y2, Y5
	VADDPS      Y3, Y5, Y5
	VMOVUPS     Y5, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         baloop
	VZEROUPPER
	RET

// BNRELU_MASK sets Y to dy (at DY) where (x-mu)*a + b > 0, else 0, from
// XM = x-mu: the mask the fused forward's affineAVX (relu set) produced,
// recomputed with the same instructions. Clobbers T.
#define BNRELU_MASK(XM, DY, Y, T) \
	VMOVAPS     Y10, T; \
	VFMADD231PS XM, Y9, T; \
	VCMPPS      $0x1e, Y11, T, T; \
	VANDPS      DY, T, Y

// func bnBwdSumsReluAVX(x, dy *float32, n int, coef *[4]float32, out *[2]float32)
// bnBwdSumsAVX of g = dy masked by the fused ReLU, coef = {mu, a, b, _}:
// out[0] = sum(g[i]), out[1] = sum(g[i]*(x[i]-mu)), g[i] = (x[i]-mu)*a+b > 0 ? dy[i] : 0.
TEXT ·bnBwdSumsReluAVX(SB), NOSPLIT, $0-40
	BN_SUMS_ARGS
	VXORPS       Y11, Y11, Y11
	PAIR_SUMS_INIT
	JZ           brtail

brloop2:
	VMOVUPS     (SI), Y5
	VMOVUPS     32(SI), Y6
	VSUBPS      Y0, Y5, Y5
	VSUBPS      Y0, Y6, Y6
	BNRELU_MASK(Y5, (DX), Y7, Y12)
	BNRELU_MASK(Y6, 32(DX), Y8, Y13)
	VADDPS      Y7, Y1, Y1
	VADDPS      Y8, Y3, Y3
	VFMADD231PS Y5, Y7, Y2
	VFMADD231PS Y6, Y8, Y4
	ADDQ        $64, SI
	ADDQ        $64, DX
	DECQ        R9
	JNZ         brloop2

brtail:
	TESTQ       CX, CX
	JZ          brdone
	VMOVUPS     (SI), Y5
	VSUBPS      Y0, Y5, Y5
	BNRELU_MASK(Y5, (DX), Y7, Y12)
	VADDPS      Y7, Y1, Y1
	VFMADD231PS Y5, Y7, Y2

brdone:
	PAIR_SUMS_STORE

// func bnBwdApplyReluAVX(x, dy, dx *float32, n int, coef *[8]float32)
// bnBwdApplyAVX of g = dy masked by the fused ReLU, coef = {mu, a, bx, c, b}:
// dx[i] = a*g[i] + bx*(x[i]-mu) + c, g[i] = (x[i]-mu)*a+b > 0 ? dy[i] : 0.
TEXT ·bnBwdApplyReluAVX(SB), NOSPLIT, $0-40
	BN_APPLY_ARGS
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 16(AX), Y10
	VXORPS       Y11, Y11, Y11
	SHRQ         $3, CX

arloop:
	VMOVUPS     (SI), Y4
	VSUBPS      Y0, Y4, Y4
	BNRELU_MASK(Y4, (DX), Y6, Y12)
	VMULPS      Y6, Y1, Y5
	VFMADD231PS Y4, Y2, Y5
	VADDPS      Y3, Y5, Y5
	VMOVUPS     Y5, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         arloop
	VZEROUPPER
	RET

// affineClampAVX, bnBwdSumsClampAVX and bnBwdApplyClampAVX are the
// affine and BN backward loops fused with a Clip (ReLU6) instead of a ReLU.

// func affineClampAVX(x, y *float32, n int, coef *[8]float32)
// y[i] = min(max((x[i]-mu)*a + b, lo), hi), coef = {mu, a, b, lo, hi}. The
// max and min take the affine value as their second source, which they
// return when it is NaN (NaN stays NaN, as in Go's min and max).
TEXT ·affineClampAVX(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	MOVQ         coef+24(FP), AX
	VBROADCASTSS (AX), Y0
	VBROADCASTSS 4(AX), Y1
	VBROADCASTSS 8(AX), Y2
	VBROADCASTSS 12(AX), Y5
	VBROADCASTSS 16(AX), Y6
	SHRQ         $3, CX

acloop:
	VMOVUPS     (SI), Y3
	VSUBPS      Y0, Y3, Y3
	VMOVAPS     Y2, Y4
	VFMADD231PS Y3, Y1, Y4
	VMAXPS      Y4, Y5, Y4
	VMINPS      Y4, Y6, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         acloop
	VZEROUPPER
	RET

// BNCLAMP_MASK sets Y to dy (at DY) where lo <= (x-mu)*a + b <= hi (lo in
// Y11, hi in Y14, a in Y9, b in Y10), else 0, from XM = x-mu: the affine
// value affineClampAVX clamped, recomputed with the same instructions.
// Clobbers T and T2.
#define BNCLAMP_MASK(XM, DY, Y, T, T2) \
	VMOVAPS     Y10, T; \
	VFMADD231PS XM, Y9, T; \
	VCMPPS      $0x1d, Y11, T, T2; \
	VCMPPS      $0x12, Y14, T, T; \
	VANDPS      T2, T, T; \
	VANDPS      DY, T, Y

// func bnBwdSumsClampAVX(x, dy *float32, n int, coef *[8]float32, out *[2]float32)
// bnBwdSumsAVX of g = dy masked by the fused Clip, coef = {mu, a, b, lo, hi}:
// out[0] = sum(g[i]), out[1] = sum(g[i]*(x[i]-mu)), g[i] = dy[i] where
// lo <= (x[i]-mu)*a+b <= hi, else 0.
TEXT ·bnBwdSumsClampAVX(SB), NOSPLIT, $0-40
	BN_SUMS_ARGS
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y14
	PAIR_SUMS_INIT
	JZ           bctail

bcloop2:
	VMOVUPS     (SI), Y5
	VMOVUPS     32(SI), Y6
	VSUBPS      Y0, Y5, Y5
	VSUBPS      Y0, Y6, Y6
	BNCLAMP_MASK(Y5, (DX), Y7, Y12, Y13)
	BNCLAMP_MASK(Y6, 32(DX), Y8, Y12, Y15)
	VADDPS      Y7, Y1, Y1
	VADDPS      Y8, Y3, Y3
	VFMADD231PS Y5, Y7, Y2
	VFMADD231PS Y6, Y8, Y4
	ADDQ        $64, SI
	ADDQ        $64, DX
	DECQ        R9
	JNZ         bcloop2

bctail:
	TESTQ       CX, CX
	JZ          bcdone
	VMOVUPS     (SI), Y5
	VSUBPS      Y0, Y5, Y5
	BNCLAMP_MASK(Y5, (DX), Y7, Y12, Y13)
	VADDPS      Y7, Y1, Y1
	VFMADD231PS Y5, Y7, Y2

bcdone:
	PAIR_SUMS_STORE

// func bnBwdApplyClampAVX(x, dy, dx *float32, n int, coef *[8]float32)
// bnBwdApplyAVX of g = dy masked by the fused Clip, coef = {mu, a, bx, c, b, lo, hi}:
// dx[i] = a*g[i] + bx*(x[i]-mu) + c, g[i] = dy[i] where lo <= (x[i]-mu)*a+b <= hi, else 0.
TEXT ·bnBwdApplyClampAVX(SB), NOSPLIT, $0-40
	BN_APPLY_ARGS
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 16(AX), Y10
	VBROADCASTSS 20(AX), Y11
	VBROADCASTSS 24(AX), Y14
	SHRQ         $3, CX

acbloop:
	VMOVUPS     (SI), Y4
	VSUBPS      Y0, Y4, Y4
	BNCLAMP_MASK(Y4, (DX), Y6, Y12, Y13)
	VMULPS      Y6, Y1, Y5
	VFMADD231PS Y4, Y2, Y5
	VADDPS      Y3, Y5, Y5
	VMOVUPS     Y5, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         acbloop
	VZEROUPPER
	RET

// func gatherAVX(base *float32, idx *int32, dst *float32, n int)
// dst[i] = base[idx[i]] (indices non-negative and in bounds).
TEXT ·gatherAVX(SB), NOSPLIT, $0-32
	MOVQ base+0(FP), AX
	MOVQ idx+8(FP), SI
	MOVQ dst+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX

gloop:
	VMOVDQU    (SI), Y1
	VPCMPEQD   Y2, Y2, Y2
	VGATHERDPS Y2, (AX)(Y1*4), Y3
	VMOVUPS    Y3, (DI)
	ADDQ       $32, SI
	ADDQ       $32, DI
	DECQ       CX
	JNZ        gloop
	VZEROUPPER
	RET

// MAX9_TAP(OFF, YT) folds tap array taps[OFF/8] into the running maximum
// Y0 and its plane index Y1: lanes where the tap is greater (ordered: a
// NaN never replaces nor is replaced) take its value and the index Y4+YT.
#define MAX9_TAP(OFF, YT) \
	MOVQ      OFF(AX), R8; \
	VMOVUPS   (R8)(BX*4), Y2; \
	VCMPPS    $0x1e, Y0, Y2, Y3; \
	VPADDD    YT, Y4, Y6; \
	VBLENDVPS Y3, Y2, Y0, Y0; \
	VBLENDVPS Y3, Y6, Y1, Y1

// func max9AVX(taps *[9]*float32, n int, y *float32, at *int32, idx *[18]int32)
// For i < n (a positive multiple of 8): y[i] = the first maximum of
// taps[0][i], ..., taps[8][i] in that order (a later tap replaces it only
// when greater) and at[i] = b + i*sw + offs[t] for its tap t, where idx
// holds offs[1..8], b + offs[0] + lane*sw for lanes 0..7, and 8*sw.
TEXT ·max9AVX(SB), NOSPLIT, $0-40
	MOVQ         taps+0(FP), AX
	MOVQ         n+8(FP), CX
	MOVQ         y+16(FP), DI
	MOVQ         at+24(FP), DX
	MOVQ         idx+32(FP), R9
	VPBROADCASTD (R9), Y8
	VPBROADCASTD 4(R9), Y9
	VPBROADCASTD 8(R9), Y10
	VPBROADCASTD 12(R9), Y11
	VPBROADCASTD 16(R9), Y12
	VPBROADCASTD 20(R9), Y13
	VPBROADCASTD 24(R9), Y14
	VPBROADCASTD 28(R9), Y15
	VMOVDQU      32(R9), Y4
	VPBROADCASTD 64(R9), Y5
	XORQ         BX, BX

m9loop:
	MOVQ    (AX), R8
	VMOVUPS (R8)(BX*4), Y0
	VMOVDQA Y4, Y1
	MAX9_TAP(8, Y8)
	MAX9_TAP(16, Y9)
	MAX9_TAP(24, Y10)
	MAX9_TAP(32, Y11)
	MAX9_TAP(40, Y12)
	MAX9_TAP(48, Y13)
	MAX9_TAP(56, Y14)
	MAX9_TAP(64, Y15)
	VMOVUPS Y0, (DI)(BX*4)
	VMOVDQU Y1, (DX)(BX*4)
	VPADDD  Y5, Y4, Y4
	ADDQ    $8, BX
	CMPQ    BX, CX
	JLT     m9loop
	VZEROUPPER
	RET

// func sum64AVX(x *float32, n int) float64
// The float64 sum of x[0:n] (n a positive multiple of 16) in sum64Go's
// order: partial sums a[j] of the elements i%16 == j (four vectors of
// four), then b[l] = (a[l]+a[l+4]) + (a[l+8]+a[l+12]), then
// (b[0]+b[2]) + (b[1]+b[3]).
TEXT ·sum64AVX(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $4, CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

s64loop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $64, SI
	DECQ      CX
	JNZ       s64loop

	VADDPD       Y1, Y0, Y0
	VADDPD       Y3, Y2, Y2
	VADDPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	VMOVSD       X0, ret+16(FP)
	RET
