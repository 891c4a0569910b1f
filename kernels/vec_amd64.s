//go:build !purego

#include "textflag.h"
#include "hsum_amd64.h"

// func axpyAVX(alpha float32, x, y *float32, n int)
// y[i] += alpha*x[i] for i < n, n a multiple of 8 and >= 8.
TEXT ·axpyAVX(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	MOVQ         CX, R9
	SHRQ         $2, R9
	ANDQ         $3, CX
	TESTQ        R9, R9
	JZ           axtail

axloop4:
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        R9
	JNZ         axloop4

axtail:
	TESTQ CX, CX
	JZ    axdone

axloop1:
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         axloop1

axdone:
	VZEROUPPER
	RET

// func addAVX(x, y *float32, n int)
// y[i] += x[i] for i < n, n a multiple of 8 and >= 8.
TEXT ·addAVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $3, CX

adloop:
	VMOVUPS (DI), Y1
	VADDPS  (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     adloop
	VZEROUPPER
	RET

// func addRowsAVX(rows, n int, src, dst *float32, stride int)
// dst[r*stride+t] += src[r*stride+t] for r < rows, t < n; rows, n >= 1.
TEXT ·addRowsAVX(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), R10
	MOVQ n+8(FP), R11
	MOVQ src+16(FP), SI
	MOVQ dst+24(FP), DI
	MOVQ stride+32(FP), R8
	SHLQ $2, R8

rowloop:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R11, CX
	CMPQ CX, $8
	JLT  rscalar

rvec:
	VMOVUPS (BX), Y0
	VADDPS  (AX), Y0, Y0
	VMOVUPS Y0, (BX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     rvec

rscalar:
	TESTQ CX, CX
	JZ    rnext

rsloop:
	VMOVSS (BX), X0
	VADDSS (AX), X0, X0
	VMOVSS X0, (BX)
	ADDQ   $4, AX
	ADDQ   $4, BX
	DECQ   CX
	JNZ    rsloop

rnext:
	ADDQ R8, SI
	ADDQ R8, DI
	DECQ R10
	JNZ  rowloop
	VZEROUPPER
	RET

// func gather2AVX(nblk int, src, dst *float32)
// dst[t] = src[2*t] for t < 8*nblk, reading src[0 : 16*nblk]; nblk >= 1.
TEXT ·gather2AVX(SB), NOSPLIT, $0-24
	MOVQ nblk+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI

gloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VPERMPD $0xD8, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ    $64, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     gloop
	VZEROUPPER
	RET

// func deint2AVX(nblk int, src, even, odd *float32)
// even[t] = src[2*t], odd[t] = src[2*t+1] for t < 8*nblk; nblk >= 1.
TEXT ·deint2AVX(SB), NOSPLIT, $0-32
	MOVQ nblk+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ even+16(FP), DI
	MOVQ odd+24(FP), DX

dloop:
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
	JNZ     dloop
	VZEROUPPER
	RET

// func int2AVX(nblk int, even, odd, dst *float32)
// dst[2*t] = even[t], dst[2*t+1] = odd[t] for t < 8*nblk; nblk >= 1.
TEXT ·int2AVX(SB), NOSPLIT, $0-32
	MOVQ nblk+0(FP), CX
	MOVQ even+8(FP), SI
	MOVQ odd+16(FP), DX
	MOVQ dst+24(FP), DI

iloop:
	VMOVUPS    (SI), Y0
	VMOVUPS    (DX), Y1
	VUNPCKLPS  Y1, Y0, Y2
	VUNPCKHPS  Y1, Y0, Y3
	VPERM2F128 $0x20, Y3, Y2, Y4
	VPERM2F128 $0x31, Y3, Y2, Y5
	VMOVUPS    Y4, (DI)
	VMOVUPS    Y5, 32(DI)
	ADDQ       $32, SI
	ADDQ       $32, DX
	ADDQ       $64, DI
	DECQ       CX
	JNZ        iloop
	VZEROUPPER
	RET

// func copyRowsAVX(dst *float32, dstride int, src *float32, sstride int, n, rows, zero int)
// For each of rows >= 1 rows: copy n >= 1 floats src -> dst in 8-, 4- and
// 1-float steps, then store zero zeros; advance dst by dstride and src by
// sstride floats.
TEXT ·copyRowsAVX(SB), NOSPLIT, $0-56
	MOVQ   dst+0(FP), DI
	MOVQ   dstride+8(FP), R8
	SHLQ   $2, R8
	MOVQ   src+16(FP), SI
	MOVQ   sstride+24(FP), R9
	SHLQ   $2, R9
	MOVQ   n+32(FP), R10
	MOVQ   rows+40(FP), R11
	MOVQ   zero+48(FP), R12
	VXORPS X1, X1, X1

crow:
	MOVQ R10, CX
	XORQ AX, AX

c8:
	CMPQ    CX, $8
	JLT     c4
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     c8

c4:
	CMPQ    CX, $4
	JLT     c1
	VMOVUPS (SI)(AX*4), X0
	VMOVUPS X0, (DI)(AX*4)
	ADDQ    $4, AX
	SUBQ    $4, CX

c1:
	TESTQ CX, CX
	JZ    cz
	MOVL  (SI)(AX*4), BX
	MOVL  BX, (DI)(AX*4)
	INCQ  AX
	DECQ  CX
	JMP   c1

cz:
	MOVQ R12, CX

czl:
	TESTQ CX, CX
	JZ    cnext
	MOVL  $0, (DI)(AX*4)
	INCQ  AX
	DECQ  CX
	JMP   czl

cnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ R11
	JNZ  crow
	VZEROUPPER
	RET

// func add3AVX(a, b, y *float32, n int, relu int)
// y[i] = a[i] + b[i], then max(., 0) when relu != 0 (NaN gives 0).
TEXT ·add3AVX(SB), NOSPLIT, $0-40
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DX
	MOVQ   y+16(FP), DI
	MOVQ   n+24(FP), CX
	MOVQ   relu+32(FP), AX
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0
	TESTQ  AX, AX
	JZ     a3loop

a3reluloop:
	VMOVUPS (SI), Y1
	VADDPS  (DX), Y1, Y1
	VMAXPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     a3reluloop
	VZEROUPPER
	RET

a3loop:
	VMOVUPS (SI), Y1
	VADDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     a3loop
	VZEROUPPER
	RET

// func dotAVX(a, b *float32, n int) float32
// sum(a[i]*b[i]) for i < n (n a positive multiple of 8): four 8-lane
// accumulators over 32-float blocks, then 8-float steps, then one
// horizontal sum.
TEXT ·dotAVX(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DX
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, R8
	SHRQ   $5, R8
	ANDQ   $31, CX
	SHRQ   $3, CX
	TESTQ  R8, R8
	JZ     dottail

dotloop4:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DX), Y4, Y0
	VFMADD231PS 32(DX), Y5, Y1
	VFMADD231PS 64(DX), Y6, Y2
	VFMADD231PS 96(DX), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DX
	DECQ        R8
	JNZ         dotloop4

dottail:
	TESTQ CX, CX
	JZ    dotsum

dotloop1:
	VMOVUPS     (SI), Y4
	VFMADD231PS (DX), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DX
	DECQ        CX
	JNZ         dotloop1

dotsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	VMOVSS        X0, ret+24(FP)
	RET

// HSUM_STORE(Y, X, XT, OFF) stores the sum of Y's eight lanes at OFF(DI);
// X is Y's low half, XT a scratch register's.
#define HSUM_STORE(Y, X, XT, OFF) \
	VEXTRACTF128 $1, Y, XT; \
	VADDPS       XT, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X; \
	VMOVSS       X, OFF(DI)

// func dotBlock4x3AVX(a *float32, lda int, b0, b1, b2 *float32, k int, out *[12]float32)
// out[r*3+s] = sum over q < k of a[r*lda+q]*b_s[q], r < 4, s < 3 (k a
// positive multiple of 8). Twelve accumulators Y0-Y11 (row r, run s in
// Y(3r+s)), the three runs' vectors in Y12-Y14, each row's in Y15.
TEXT ·dotBlock4x3AVX(SB), NOSPLIT, $0-56
	MOVQ   a+0(FP), SI
	MOVQ   lda+8(FP), AX
	MOVQ   b0+16(FP), DX
	MOVQ   b1+24(FP), BX
	MOVQ   b2+32(FP), R11
	MOVQ   k+40(FP), CX
	MOVQ   out+48(FP), DI
	SHLQ   $2, AX
	LEAQ   (SI)(AX*1), R8
	LEAQ   (R8)(AX*1), R9
	LEAQ   (R9)(AX*1), R10
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ   R12, R12

db43loop:
	VMOVUPS     (DX)(R12*1), Y12
	VMOVUPS     (BX)(R12*1), Y13
	VMOVUPS     (R11)(R12*1), Y14
	VMOVUPS     (SI)(R12*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y1
	VFMADD231PS Y15, Y14, Y2
	VMOVUPS     (R8)(R12*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y5
	VMOVUPS     (R9)(R12*1), Y15
	VFMADD231PS Y15, Y12, Y6
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS     (R10)(R12*1), Y15
	VFMADD231PS Y15, Y12, Y9
	VFMADD231PS Y15, Y13, Y10
	VFMADD231PS Y15, Y14, Y11
	ADDQ        $32, R12
	DECQ        CX
	JNZ         db43loop

	HSUM_STORE(Y0, X0, X12, 0)
	HSUM_STORE(Y1, X1, X12, 4)
	HSUM_STORE(Y2, X2, X12, 8)
	HSUM_STORE(Y3, X3, X12, 12)
	HSUM_STORE(Y4, X4, X12, 16)
	HSUM_STORE(Y5, X5, X12, 20)
	HSUM_STORE(Y6, X6, X12, 24)
	HSUM_STORE(Y7, X7, X12, 28)
	HSUM_STORE(Y8, X8, X12, 32)
	HSUM_STORE(Y9, X9, X12, 36)
	HSUM_STORE(Y10, X10, X12, 40)
	HSUM_STORE(Y11, X11, X12, 44)
	VZEROUPPER
	RET

// func finiteAVX(x *float32, n int) float32
// The sum of x[i]-x[i] for i < n (n a positive multiple of 8): 0 when
// every value is finite, NaN when one is NaN or infinite (Inf-Inf is NaN
// and NaN propagates through the sums). Four 8-lane accumulators over
// 32-float blocks, then 8-float steps.
TEXT ·finiteAVX(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, R8
	SHRQ   $5, R8
	ANDQ   $31, CX
	SHRQ   $3, CX
	TESTQ  R8, R8
	JZ     fintail

finloop4:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VSUBPS  Y4, Y4, Y4
	VSUBPS  Y5, Y5, Y5
	VSUBPS  Y6, Y6, Y6
	VSUBPS  Y7, Y7, Y7
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	ADDQ    $128, SI
	DECQ    R8
	JNZ     finloop4

fintail:
	TESTQ CX, CX
	JZ    finsum

finloop1:
	VMOVUPS (SI), Y4
	VSUBPS  Y4, Y4, Y4
	VADDPS  Y4, Y0, Y0
	ADDQ    $32, SI
	DECQ    CX
	JNZ     finloop1

finsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VZEROUPPER
	VMOVSS        X0, ret+16(FP)
	RET

// func copyRowsAVX512(dst *float32, dstride int, src *float32, sstride int, nfull, rows int, lmask, smask, zmask int)
// For each of rows >= 1 rows: copy nfull 8-float blocks src -> dst, then
// one block loaded under lmask (zeros elsewhere) and stored under smask,
// then zeros stored under zmask in the block after it (CopyRows' tail:
// the last n%8 floats and the zeros after them); advance dst by dstride
// and src by sstride floats. Masked-off lanes are neither read nor
// written (AVX-512F/VL masks on YMM registers: 32-byte moves split fewer
// cache lines than 64-byte ones on rows of 7 to 29 floats).
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-72
	MOVQ   dst+0(FP), DI
	MOVQ   dstride+8(FP), R8
	SHLQ   $2, R8
	MOVQ   src+16(FP), SI
	MOVQ   sstride+24(FP), R9
	SHLQ   $2, R9
	MOVQ   nfull+32(FP), R10
	MOVQ   rows+40(FP), R11
	MOVQ   lmask+48(FP), AX
	KMOVW  AX, K1
	MOVQ   smask+56(FP), AX
	KMOVW  AX, K2
	MOVQ   zmask+64(FP), AX
	KMOVW  AX, K3
	VPXORD Y1, Y1, Y1

yrow:
	MOVQ R10, CX
	XORQ AX, AX

yfull:
	TESTQ   CX, CX
	JZ      ytail
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	DECQ    CX
	JMP     yfull

ytail:
	VMOVUPS.Z (SI)(AX*1), K1, Y0
	VMOVUPS   Y0, K2, (DI)(AX*1)
	VMOVUPS   Y1, K3, 32(DI)(AX*1)
	ADDQ      R8, DI
	ADDQ      R9, SI
	DECQ      R11
	JNZ       yrow
	VZEROUPPER
	RET


// DOT46_ROW multiplies row vector Z30 by the six runs' vectors Z24-Z29,
// accumulating into the six given registers.
#define DOT46_ROW(Z0_, Z1_, Z2_, Z3_, Z4_, Z5_) \
	VFMADD231PS Z30, Z24, Z0_; \
	VFMADD231PS Z30, Z25, Z1_; \
	VFMADD231PS Z30, Z26, Z2_; \
	VFMADD231PS Z30, Z27, Z3_; \
	VFMADD231PS Z30, Z28, Z4_; \
	VFMADD231PS Z30, Z29, Z5_

// DOT46_FULL is one whole 16-float step of dotBlock4x6AVX512 at byte
// index AX (unmasked loads: a masked one may take a p05 micro-op beside
// the FMAs).
#define DOT46_FULL \
	VMOVUPS (DX)(AX*1), Z24  \
	VMOVUPS (BX)(AX*1), Z25  \
	VMOVUPS (R11)(AX*1), Z26 \
	VMOVUPS (R12)(AX*1), Z27 \
	VMOVUPS (R13)(AX*1), Z28 \
	VMOVUPS (R14)(AX*1), Z29 \
	VMOVUPS (SI)(AX*1), Z30  \
	DOT46_ROW(Z0, Z1, Z2, Z3, Z4, Z5) \
	VMOVUPS (R8)(AX*1), Z30  \
	DOT46_ROW(Z6, Z7, Z8, Z9, Z10, Z11) \
	VMOVUPS (R9)(AX*1), Z30  \
	DOT46_ROW(Z12, Z13, Z14, Z15, Z16, Z17) \
	VMOVUPS (R10)(AX*1), Z30 \
	DOT46_ROW(Z18, Z19, Z20, Z21, Z22, Z23)

// DOT46_STEP is DOT46_FULL with loads under mask K (.Z zeroes the other
// lanes), for the tail.
#define DOT46_STEP(K) \
	VMOVUPS.Z (DX)(AX*1), K, Z24  \
	VMOVUPS.Z (BX)(AX*1), K, Z25  \
	VMOVUPS.Z (R11)(AX*1), K, Z26 \
	VMOVUPS.Z (R12)(AX*1), K, Z27 \
	VMOVUPS.Z (R13)(AX*1), K, Z28 \
	VMOVUPS.Z (R14)(AX*1), K, Z29 \
	VMOVUPS.Z (SI)(AX*1), K, Z30  \
	DOT46_ROW(Z0, Z1, Z2, Z3, Z4, Z5) \
	VMOVUPS.Z (R8)(AX*1), K, Z30  \
	DOT46_ROW(Z6, Z7, Z8, Z9, Z10, Z11) \
	VMOVUPS.Z (R9)(AX*1), K, Z30  \
	DOT46_ROW(Z12, Z13, Z14, Z15, Z16, Z17) \
	VMOVUPS.Z (R10)(AX*1), K, Z30 \
	DOT46_ROW(Z18, Z19, Z20, Z21, Z22, Z23)

// func dotBlock4x6AVX512(a *float32, lda int, b0, b1, b2, b3, b4, b5 *float32, nfull, tmask int, out *[24]float32)
// out[r*6+s] = sum over q < k of a[r*lda+q]*b_s[q], r < 4, s < 6, for
// k = 16*nfull + the tail floats set in tmask (a mask of the k%16 lowest
// lanes, 0: none; nothing past k read). Accumulators
// Z0-Z23 (row r, run s in Z(6r+s)), the runs' vectors in Z24-Z29, each
// row's in Z30; every accumulator's lanes summed at the end.
TEXT ·dotBlock4x6AVX512(SB), NOSPLIT, $0-88
	MOVQ    a+0(FP), SI
	MOVQ    lda+8(FP), AX
	MOVQ    b0+16(FP), DX
	MOVQ    b1+24(FP), BX
	MOVQ    b2+32(FP), R11
	MOVQ    b3+40(FP), R12
	MOVQ    b4+48(FP), R13
	MOVQ    b5+56(FP), R14
	MOVQ    nfull+64(FP), CX
	SHLQ    $2, AX
	LEAQ    (SI)(AX*1), R8
	LEAQ    (R8)(AX*1), R9
	LEAQ    (R9)(AX*1), R10
	VPXORD  Z0, Z0, Z0
	VMOVAPS Z0, Z1
	VMOVAPS Z0, Z2
	VMOVAPS Z0, Z3
	VMOVAPS Z0, Z4
	VMOVAPS Z0, Z5
	VMOVAPS Z0, Z6
	VMOVAPS Z0, Z7
	VMOVAPS Z0, Z8
	VMOVAPS Z0, Z9
	VMOVAPS Z0, Z10
	VMOVAPS Z0, Z11
	VMOVAPS Z0, Z12
	VMOVAPS Z0, Z13
	VMOVAPS Z0, Z14
	VMOVAPS Z0, Z15
	VMOVAPS Z0, Z16
	VMOVAPS Z0, Z17
	VMOVAPS Z0, Z18
	VMOVAPS Z0, Z19
	VMOVAPS Z0, Z20
	VMOVAPS Z0, Z21
	VMOVAPS Z0, Z22
	VMOVAPS Z0, Z23
	MOVQ    tmask+72(FP), DI
	KMOVW   DI, K2            // tail lanes
	XORQ    AX, AX
	TESTQ   CX, CX
	JZ      d46tail

d46loop:
	DOT46_FULL
	ADDQ $64, AX
	DECQ CX
	JNZ  d46loop

d46tail:
	TESTQ DI, DI
	JZ    d46sum
	DOT46_STEP(K2)

d46sum:
	MOVQ out+80(FP), DI
	HSUM512_STORE(Z0, Y0, X0, 0)
	HSUM512_STORE(Z1, Y1, X1, 4)
	HSUM512_STORE(Z2, Y2, X2, 8)
	HSUM512_STORE(Z3, Y3, X3, 12)
	HSUM512_STORE(Z4, Y4, X4, 16)
	HSUM512_STORE(Z5, Y5, X5, 20)
	HSUM512_STORE(Z6, Y6, X6, 24)
	HSUM512_STORE(Z7, Y7, X7, 28)
	HSUM512_STORE(Z8, Y8, X8, 32)
	HSUM512_STORE(Z9, Y9, X9, 36)
	HSUM512_STORE(Z10, Y10, X10, 40)
	HSUM512_STORE(Z11, Y11, X11, 44)
	HSUM512_STORE(Z12, Y12, X12, 48)
	HSUM512_STORE(Z13, Y13, X13, 52)
	HSUM512_STORE(Z14, Y14, X14, 56)
	HSUM512_STORE(Z15, Y15, X15, 60)
	HSUM512_STORE(Z16, Y16, X16, 64)
	HSUM512_STORE(Z17, Y17, X17, 68)
	HSUM512_STORE(Z18, Y18, X18, 72)
	HSUM512_STORE(Z19, Y19, X19, 76)
	HSUM512_STORE(Z20, Y20, X20, 80)
	HSUM512_STORE(Z21, Y21, X21, 84)
	HSUM512_STORE(Z22, Y22, X22, 88)
	HSUM512_STORE(Z23, Y23, X23, 92)
	VZEROUPPER
	RET

// func mulAVX(a, b, y *float32, n int)
// y[i] = a[i] * b[i] for i < n, n a multiple of 8 and >= 8.
TEXT ·mulAVX(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX

mulloop:
	VMOVUPS (SI), Y1
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mulloop
	VZEROUPPER
	RET

// func scaleAVX(x, y *float32, n int, s float32)
// y[i] = x[i] * s for i < n, n a multiple of 8 and >= 8.
TEXT ·scaleAVX(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         y+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Y0
	SHRQ         $3, CX

scloop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     scloop
	VZEROUPPER
	RET
