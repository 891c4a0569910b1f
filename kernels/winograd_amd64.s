//go:build !purego

#include "textflag.h"

// Winograd F(2x2, 3x3) input and output transforms over groups of 8 tiles
// (winograd.go). Lane order within a group, as VSHUFPS leaves it: half A
// tiles 0,1 | half B tiles 0,1 | half A tiles 2,3 | half B tiles 2,3 (the
// two 128-bit lanes of a YMM register). Loading 8 floats of half A and 8
// of half B and taking the even (0x88) or odd (0xDD) elements gives one
// patch column of all 8 tiles in that order; the output side undoes it
// with VUNPCKLPS/VUNPCKHPS, which yield half A's and half B's 8 outputs of
// a row in order.

// WINOROW loads patch row (pa, pb: the halves' first patch row; pa2, pb2:
// 2 floats further) and sets t0..t3 to its column transform
// (c0-c2, c1+c2, c2-c1, c1-c3). Clobbers Y8-Y13.
#define WINOROW(pa, pa2, pb, pb2, t0, t1, t2, t3) \
	VMOVUPS pa, Y12 \
	VMOVUPS pb, Y13 \
	VSHUFPS $0x88, Y13, Y12, Y8 \
	VSHUFPS $0xDD, Y13, Y12, Y9 \
	VMOVUPS pa2, Y12 \
	VMOVUPS pb2, Y13 \
	VSHUFPS $0x88, Y13, Y12, Y10 \
	VSHUFPS $0xDD, Y13, Y12, Y11 \
	VSUBPS  Y10, Y8, t0 \
	VADDPS  Y10, Y9, t1 \
	VSUBPS  Y9, Y10, t2 \
	VSUBPS  Y11, Y9, t3

// WINOSTORE stores r at (R10) and advances R10 by one V matrix (SI bytes).
#define WINOSTORE(r) \
	VMOVUPS r, (R10) \
	ADDQ    SI, R10

// func winoInputAVX(src *float32, wp int, groups *WinoGroup, ng int, v *float32, vs int)
TEXT ·winoInputAVX(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), AX
	MOVQ wp+8(FP), DX
	SHLQ $2, DX
	MOVQ groups+16(FP), BX
	MOVQ ng+24(FP), CX
	MOVQ v+32(FP), DI
	MOVQ vs+40(FP), SI
	SHLQ $2, SI

inloop:
	MOVLQSX 0(BX), R11
	LEAQ    (AX)(R11*4), R8
	MOVLQSX 4(BX), R11
	LEAQ    (AX)(R11*4), R9
	LEAQ    (R8)(DX*1), R12
	LEAQ    (R9)(DX*1), R13
	MOVQ    DI, R10

	// Rows 0 and 2: V[0..3] = t0 - t2.
	WINOROW((R8), 8(R8), (R9), 8(R9), Y0, Y1, Y2, Y3)
	WINOROW((R8)(DX*2), 8(R8)(DX*2), (R9)(DX*2), 8(R9)(DX*2), Y4, Y5, Y6, Y7)
	VSUBPS Y4, Y0, Y14
	WINOSTORE(Y14)
	VSUBPS Y5, Y1, Y14
	WINOSTORE(Y14)
	VSUBPS Y6, Y2, Y14
	WINOSTORE(Y14)
	VSUBPS Y7, Y3, Y14
	WINOSTORE(Y14)

	// Row 1: V[4..7] = t1 + t2, V[8..11] = t2 - t1.
	WINOROW((R12), 8(R12), (R13), 8(R13), Y0, Y1, Y2, Y3)
	VADDPS Y4, Y0, Y14
	WINOSTORE(Y14)
	VADDPS Y5, Y1, Y14
	WINOSTORE(Y14)
	VADDPS Y6, Y2, Y14
	WINOSTORE(Y14)
	VADDPS Y7, Y3, Y14
	WINOSTORE(Y14)
	VSUBPS Y0, Y4, Y14
	WINOSTORE(Y14)
	VSUBPS Y1, Y5, Y14
	WINOSTORE(Y14)
	VSUBPS Y2, Y6, Y14
	WINOSTORE(Y14)
	VSUBPS Y3, Y7, Y14
	WINOSTORE(Y14)

	// Row 3: V[12..15] = t1 - t3.
	WINOROW((R12)(DX*2), 8(R12)(DX*2), (R13)(DX*2), 8(R13)(DX*2), Y4, Y5, Y6, Y7)
	VSUBPS Y4, Y0, Y14
	WINOSTORE(Y14)
	VSUBPS Y5, Y1, Y14
	WINOSTORE(Y14)
	VSUBPS Y6, Y2, Y14
	WINOSTORE(Y14)
	VSUBPS Y7, Y3, Y14
	VMOVUPS Y14, (R10)

	ADDQ $32, DI
	ADDQ $32, BX
	DECQ CX
	JNZ  inloop
	VZEROUPPER
	RET

// WINOLOAD loads the next M element of the group into r.
#define WINOLOAD(r) \
	VMOVUPS (R10), r \
	ADDQ    SI, R10

// WINOSTOREROW stores output row r at addr: whole when the count at
// cnt(BX) is 8 or more (8, or winoFull set), else that many floats with a
// masked store; part and done are the macro's local labels. Clobbers R11
// and Y0.
#define WINOSTOREROW(cnt, r, addr, part, done) \
	MOVLQSX    cnt(BX), R11 \
	CMPQ       R11, $8 \
	JLT        part \
	VMOVUPS    r, addr \
	JMP        done \
part: \
	SHLQ       $5, R11 \
	VMOVDQU    (R15)(R11*1), Y0 \
	VMASKMOVPS r, Y0, addr \
done:

// WINOOUTT computes group BX's 4 output rows from its 16 M vectors
// (from AX, SI bytes apart): half A's rows 0, 1 in Y12, Y14, half B's
// in Y13, Y15. Clobbers R10 and Y0-Y11: s0 = m0 + m1 + m2 and
// s1 = m1 - m2 - m3 down the columns, then y?0 = s0 + s1 + s2 and
// y?1 = s1 - s2 - s3 along them, the two output columns interleaved.
#define WINOOUTT \
	MOVQ AX, R10 \
	WINOLOAD(Y0) \
	WINOLOAD(Y1) \
	WINOLOAD(Y2) \
	WINOLOAD(Y3) \
	WINOLOAD(Y4) \
	WINOLOAD(Y5) \
	WINOLOAD(Y6) \
	WINOLOAD(Y7) \
	VADDPS Y4, Y0, Y0 \
	VADDPS Y5, Y1, Y1 \
	VADDPS Y6, Y2, Y2 \
	VADDPS Y7, Y3, Y3 \
	WINOLOAD(Y8) \
	WINOLOAD(Y9) \
	WINOLOAD(Y10) \
	WINOLOAD(Y11) \
	VADDPS Y8, Y0, Y0 \
	VADDPS Y9, Y1, Y1 \
	VADDPS Y10, Y2, Y2 \
	VADDPS Y11, Y3, Y3 \
	VSUBPS Y8, Y4, Y4 \
	VSUBPS Y9, Y5, Y5 \
	VSUBPS Y10, Y6, Y6 \
	VSUBPS Y11, Y7, Y7 \
	VSUBPS (R10), Y4, Y4 \
	ADDQ   SI, R10 \
	VSUBPS (R10), Y5, Y5 \
	ADDQ   SI, R10 \
	VSUBPS (R10), Y6, Y6 \
	ADDQ   SI, R10 \
	VSUBPS (R10), Y7, Y7 \
	VADDPS Y1, Y0, Y8 \
	VADDPS Y2, Y8, Y8 \
	VSUBPS Y2, Y1, Y9 \
	VSUBPS Y3, Y9, Y9 \
	VADDPS Y5, Y4, Y10 \
	VADDPS Y6, Y10, Y10 \
	VSUBPS Y6, Y5, Y11 \
	VSUBPS Y7, Y11, Y11 \
	VUNPCKLPS Y9, Y8, Y12 \
	VUNPCKHPS Y9, Y8, Y13 \
	VUNPCKLPS Y11, Y10, Y14 \
	VUNPCKHPS Y11, Y10, Y15

// func winoOutputAVX(m *float32, ms int, groups *WinoGroup, ng int, dst *float32, ow int, masks *int32, ep *winoEpi)
// With ep nil the rows are stored as they are (outloop), else through the
// epilogue (epiloop).
TEXT ·winoOutputAVX(SB), NOSPLIT, $0-64
	MOVQ  m+0(FP), AX
	MOVQ  ms+8(FP), SI
	SHLQ  $2, SI
	MOVQ  groups+16(FP), BX
	MOVQ  ng+24(FP), CX
	MOVQ  dst+32(FP), DI
	MOVQ  ow+40(FP), DX
	SHLQ  $2, DX
	MOVQ  masks+48(FP), R15
	MOVQ  ep+56(FP), R12
	TESTQ R12, R12
	JNZ   epi

outloop:
	WINOOUTT
	MOVLQSX 8(BX), R11
	LEAQ    (DI)(R11*4), R8
	MOVLQSX 12(BX), R11
	LEAQ    (DI)(R11*4), R9

	WINOSTOREROW(16, Y12, (R8), a0part, a1)
	WINOSTOREROW(20, Y14, (R8)(DX*1), a1part, b0)
	WINOSTOREROW(24, Y13, (R9), b0part, b1)
	WINOSTOREROW(28, Y15, (R9)(DX*1), b1part, next)
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ CX
	JNZ  outloop
	VZEROUPPER
	RET

// WINOEPIROW is WINOSTOREROW with the epilogue: r = min(max((r + b) +
// res, lo), hi), b, lo, hi broadcast in Y1-Y3, the residual row at raddr
// read only when R14 (its distance from dst) is not 0, with the store's
// mask when the store is partial. Clobbers R11, Y0 and Y4.
#define WINOEPIROW(cnt, r, addr, raddr, part, nres, pres, done) \
	VADDPS     Y1, r, r \
	MOVLQSX    cnt(BX), R11 \
	CMPQ       R11, $8 \
	JLT        part \
	TESTQ      R14, R14 \
	JZ         nres \
	VADDPS     raddr, r, r \
nres: \
	VMAXPS     r, Y2, r \
	VMINPS     r, Y3, r \
	VMOVUPS    r, addr \
	JMP        done \
part: \
	SHLQ       $5, R11 \
	VMOVDQU    (R15)(R11*1), Y0 \
	TESTQ      R14, R14 \
	JZ         pres \
	VMASKMOVPS raddr, Y0, Y4 \
	VADDPS     Y4, r, r \
pres: \
	VMAXPS     r, Y2, r \
	VMINPS     r, Y3, r \
	VMASKMOVPS r, Y0, addr \
done:

// winoOutputAVX's epilogue loop (ep in R12).
epi:
	MOVQ 16(R12), R14

epiloop:
	WINOOUTT
	VBROADCASTSS 0(R12), Y1
	VBROADCASTSS 4(R12), Y2
	VBROADCASTSS 8(R12), Y3

	MOVLQSX 8(BX), R11
	LEAQ    (DI)(R11*4), R8
	LEAQ    (R8)(R14*1), R9
	LEAQ    (R9)(DX*1), R13
	WINOEPIROW(16, Y12, (R8), (R9), ea0part, ea0n, ea0p, ea1)
	WINOEPIROW(20, Y14, (R8)(DX*1), (R13), ea1part, ea1n, ea1p, eb0)
	MOVLQSX 12(BX), R11
	LEAQ    (DI)(R11*4), R8
	LEAQ    (R8)(R14*1), R9
	LEAQ    (R9)(DX*1), R13
	WINOEPIROW(24, Y13, (R8), (R9), eb0part, eb0n, eb0p, eb1)
	WINOEPIROW(28, Y15, (R8)(DX*1), (R13), eb1part, eb1n, eb1p, enext)
	ADDQ $32, AX
	ADDQ $32, BX
	DECQ CX
	JNZ  epiloop
	VZEROUPPER
	RET
