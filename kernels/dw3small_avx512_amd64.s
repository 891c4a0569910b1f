//go:build !purego

#include "textflag.h"
#include "dw3taps_amd64.h"

// LOADROW loads input row IY (a register, left unchanged) of the plane at
// SI into DST under the row's lane mask, or zeros when IY is outside
// [0, h) (h in BX, row bytes in R8, lane mask bits in R12). A masked-off
// load reads nothing, so neither a short last row nor a row outside the
// plane is touched. Clobbers R10, R11, R15, K6.
#define LOADROW(IY, DST) \
	XORQ      R15, R15     \
	XORQ      R11, R11     \
	MOVQ      IY, R10      \
	IMULQ     R8, R10      \
	CMPQ      IY, BX       \
	CMOVQCS   R12, R15     \
	CMOVQCS   R10, R11     \
	KMOVW     R15, K6      \
	VMOVUPS.Z (SI)(R11*1), K6, DST

// TAPS adds the three taps of one kernel row (weights W0-W2) on input row
// R to ACC: each tap's columns gathered by the lane plan (Z12-Z14 under
// K1-K3, zeros outside the row), in kx order.
#define TAPS(R, W0, W1, W2, ACC) \
	VPERMPS.Z   R, Z12, K1, Z19 \
	VFMADD231PS Z19, W0, ACC    \
	VPERMPS.Z   R, Z13, K2, Z19 \
	VFMADD231PS Z19, W1, ACC    \
	VPERMPS.Z   R, Z14, K3, Z19 \
	VFMADD231PS Z19, W2, ACC

// LOADROW2 loads input row IY (a register, R10 allowed) of the plane at
// SI into LO (columns 0-15) and HI (16-31) under the lane masks in K3
// and K4, or zeros when IY is outside [0, h) (h in BX, row bytes in R8).
// Clobbers R10, R15, K6, K7.
#define LOADROW2(IY, LO, HI) \
	MOVQ      IY, R10              \
	CMPQ      R10, BX              \
	SBBQ      R15, R15             \
	IMULQ     R8, R10              \
	ANDQ      R15, R10             \
	KMOVW     R15, K7              \
	KANDW     K3, K7, K6           \
	KANDW     K4, K7, K7           \
	VMOVUPS.Z (SI)(R10*1), K6, LO  \
	VMOVUPS.Z 64(SI)(R10*1), K7, HI

// KVEC points R11 at idx[v] and R15 at kmask[v] - 896 (v in R12) and R10
// at kw, for a kx loop.
#define KVEC \
	MOVQ  kw+56(FP), R10 \
	MOVQ  R12, R11       \
	IMULQ $448, R11      \
	ADDQ  R13, R11       \
	MOVQ  R12, R15       \
	IMULQ $56, R15       \
	ADDQ  R13, R15

// ROWPTR sets DST to input row IY's address (SI + IY*R8) when IY is in
// [0, h), else to the zero row. Clobbers R15.
#define ROWPTR(IY, DST) \
	MOVQ    zero+80(FP), DST \
	MOVQ    IY, R15          \
	IMULQ   R8, R15          \
	ADDQ    SI, R15          \
	CMPQ    IY, h+16(FP)     \
	CMOVQCS R15, DST

// TAPROW adds kernel row ky's three taps (weights W0-W2) to Z22 for the
// output block at input byte offset BX of the row at RP: the block's 32
// input columns under K1 and K2, the even ones (tap 1) and the odd ones
// (tap 2) by permutation, tap 0 the odd ones shifted a lane with the
// previous block's last odd column (PREV, zeros at the row start) in.
#define TAPROW(RP, PREV, W0, W1, W2) \
	VMOVUPS.Z   (RP)(BX*1), K1, Z17   \
	VMOVUPS.Z   64(RP)(BX*1), K2, Z18 \
	VMOVAPS     Z12, Z19              \
	VPERMI2PS   Z18, Z17, Z19         \
	VMOVAPS     Z13, Z20              \
	VPERMI2PS   Z18, Z17, Z20         \
	VALIGND     $15, PREV, Z20, Z21   \
	VMOVAPS     Z20, PREV             \
	VFMADD231PS Z21, W0, Z22          \
	VFMADD231PS Z19, W1, Z22          \
	VFMADD231PS Z20, W2, Z22

// TAPROW1 is TAPROW at stride 1: the block's 16 input columns (K1) are
// tap 1, the next 16 (K2) shift one lane in for tap 2, and the previous
// block's last column (PREV, zeros at the row start) shifts in for tap 0.
#define TAPROW1(RP, PREV, W0, W1, W2) \
	VMOVUPS.Z   (RP)(BX*1), K1, Z17   \
	VMOVUPS.Z   64(RP)(BX*1), K2, Z18 \
	VALIGND     $15, PREV, Z17, Z21   \
	VALIGND     $1, Z17, Z18, Z19     \
	VMOVAPS     Z17, PREV             \
	VFMADD231PS Z21, W0, Z22          \
	VFMADD231PS Z17, W1, Z22          \
	VFMADD231PS Z19, W2, Z22

// func dw3SmallAVX512(y, x *float32, h, w, oh, stride int, p *dwSmall, wts *[9]float32, bias, lo, hi float32)
// One output row a step: bias, then the nine taps in row-major order by
// FMA (the chain of dw3RowAVX512, taps outside the plane adding w*0),
// clamped to [lo, hi] as there, stored under the ow-lane mask.
TEXT ·dw3SmallAVX512(SB), NOSPLIT, $0-76
	MOVQ         wts+56(FP), R14
	DW3WEIGHTSZ
	VBROADCASTSS bias+64(FP), Z9
	VBROADCASTSS lo+68(FP), Z10
	VBROADCASTSS hi+72(FP), Z11
	MOVQ         p+48(FP), R14
	VMOVDQU32    0(R14), Z12
	VMOVDQU32    64(R14), Z13
	VMOVDQU32    128(R14), Z14
	KMOVW        192(R14), K1
	KMOVW        200(R14), K2
	KMOVW        208(R14), K3
	KMOVW        216(R14), K5
	MOVQ         224(R14), R12
	MOVQ         232(R14), R13
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         h+16(FP), BX
	MOVQ         w+24(FP), R8
	SHLQ         $2, R8
	MOVQ         oh+32(FP), CX
	MOVQ         stride+40(FP), DX
	MOVQ         $-1, R9

row:
	VMOVAPS Z9, Z20
	MOVQ    R9, AX
	LOADROW(AX, Z16)
	TAPS(Z16, Z0, Z1, Z2, Z20)
	INCQ    AX
	LOADROW(AX, Z16)
	TAPS(Z16, Z3, Z4, Z5, Z20)
	INCQ    AX
	LOADROW(AX, Z16)
	TAPS(Z16, Z6, Z7, Z8, Z20)
	VMAXPS  Z20, Z10, Z20
	VMINPS  Z20, Z11, Z20
	VMOVUPS Z20, K5, (DI)
	ADDQ    R13, DI
	ADDQ    DX, R9
	DECQ    CX
	JNZ     row
	VZEROUPPER
	RET

// func dwSmallKAVX512(y, x *float32, h, w, oh, stride, kh, kw int, p *dwSmallK, wts *float32, bias, lo, hi float32)
// PlaneKxK.Depthwise on a plane at most 32 wide: for each output row and
// each of its (one or two) 16-column vectors, bias then the kh*kw taps in
// row-major order by FMA (each tap's columns gathered from the input
// row's two vectors by p's permutation for the vector and kx, zeros
// outside the plane), the chain dwTapsAVX512 computes, clamped as there,
// stored under the vector's output lanes. Two output rows a step (their
// chains interleaved, as one row's chain is bound by the FMA latency),
// then one.
TEXT ·dwSmallKAVX512(SB), NOSPLIT, $0-92
	VBROADCASTSS bias+80(FP), Z9
	VBROADCASTSS lo+84(FP), Z10
	VBROADCASTSS hi+88(FP), Z11
	MOVQ         p+64(FP), R13
	KMOVW        1024(R13), K3
	KMOVW        1032(R13), K4
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         h+16(FP), BX
	MOVQ         w+24(FP), R8
	SHLQ         $2, R8
	MOVQ         kh+48(FP), R9
	DECQ         R9
	SHRQ         $1, R9
	NEGQ         R9                // iy of output row 0's first kernel row: -(kh-1)/2
	MOVQ         oh+32(FP), CX

krow2:
	CMPQ CX, $2
	JLT  krow1
	XORQ R12, R12                  // output vector v

kvec2:
	VMOVAPS Z9, Z20
	VMOVAPS Z9, Z24
	MOVQ    wts+72(FP), R14
	MOVQ    R9, AX
	MOVQ    kh+48(FP), DX

kky2:
	LOADROW2(AX, Z16, Z17)
	MOVQ    stride+40(FP), R10
	ADDQ    AX, R10
	LOADROW2(R10, Z21, Z22)
	KVEC

kkx2:
	VMOVDQU32    (R11), Z18
	VMOVAPS      Z18, Z23
	KMOVW        896(R15), K2
	VPERMI2PS.Z  Z17, Z16, K2, Z18
	VPERMI2PS.Z  Z22, Z21, K2, Z23
	VBROADCASTSS (R14), Z19
	VFMADD231PS  Z18, Z19, Z20
	VFMADD231PS  Z23, Z19, Z24
	ADDQ         $4, R14
	ADDQ         $64, R11
	ADDQ         $8, R15
	DECQ         R10
	JNZ          kkx2
	INCQ         AX
	DECQ         DX
	JNZ          kky2
	VMAXPS       Z20, Z10, Z20
	VMINPS       Z20, Z11, Z20
	VMAXPS       Z24, Z10, Z24
	VMINPS       Z24, Z11, Z24
	KMOVW        1008(R13)(R12*8), K5
	MOVQ         R12, R11
	SHLQ         $6, R11
	VMOVUPS      Z20, K5, (DI)(R11*1)
	ADDQ         1040(R13), R11
	VMOVUPS      Z24, K5, (DI)(R11*1)
	INCQ         R12
	CMPQ         R12, 1048(R13)
	JLT          kvec2
	ADDQ         1040(R13), DI
	ADDQ         1040(R13), DI
	ADDQ         stride+40(FP), R9
	ADDQ         stride+40(FP), R9
	SUBQ         $2, CX
	JMP          krow2

krow1:
	TESTQ CX, CX
	JZ    kdone
	XORQ  R12, R12

kvec:
	VMOVAPS Z9, Z20
	MOVQ    wts+72(FP), R14
	MOVQ    R9, AX
	MOVQ    kh+48(FP), DX

kky:
	LOADROW2(AX, Z16, Z17)
	KVEC

kkx:
	VMOVDQU32        (R11), Z18
	KMOVW            896(R15), K2
	VPERMI2PS.Z      Z17, Z16, K2, Z18
	VFMADD231PS.BCST (R14), Z18, Z20
	ADDQ             $4, R14
	ADDQ             $64, R11
	ADDQ             $8, R15
	DECQ             R10
	JNZ              kkx
	INCQ             AX
	DECQ             DX
	JNZ              kky
	VMAXPS           Z20, Z10, Z20
	VMINPS           Z20, Z11, Z20
	KMOVW            1008(R13)(R12*8), K5
	MOVQ             R12, R11
	SHLQ             $6, R11
	VMOVUPS          Z20, K5, (DI)(R11*1)
	INCQ             R12
	CMPQ             R12, 1048(R13)
	JLT              kvec

kdone:
	VZEROUPPER
	RET

// func dw3WideAVX512(y, x *float32, h, w, oh, ow, stride int, p *dwWide, masks *uint64, nb int, zero *float32, wts *[9]float32, bias, lo, hi float32)
// Plane3x3.Depthwise on a plane of any width at stride 1 or 2: for each
// output row, nb blocks of 16 outputs, each bias then the nine taps in
// row-major order by FMA (the chain of dw3RowAVX512; rows outside the
// plane read the zero row, columns past it masked to zero; TAPROW at
// stride 2, TAPROW1 at stride 1), clamped as there and stored under the
// block's output lanes.
TEXT ·dw3WideAVX512(SB), NOSPLIT, $0-108
	MOVQ         wts+88(FP), R14
	DW3WEIGHTSZ
	VBROADCASTSS bias+96(FP), Z9
	VBROADCASTSS lo+100(FP), Z10
	VBROADCASTSS hi+104(FP), Z11
	MOVQ         p+56(FP), R14
	VMOVDQU32    0(R14), Z12
	VMOVDQU32    64(R14), Z13
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+24(FP), R8
	SHLQ         $2, R8
	XORQ         CX, CX

wrow:
	MOVQ   CX, AX
	IMULQ  stride+48(FP), AX
	DECQ   AX
	ROWPTR(AX, R10)
	INCQ   AX
	ROWPTR(AX, R11)
	INCQ   AX
	ROWPTR(AX, R12)
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	MOVQ   masks+64(FP), R13
	XORQ   BX, BX
	MOVQ   DI, R9
	MOVQ   nb+72(FP), DX

wblk:
	KMOVW   0(R13), K1
	KMOVW   8(R13), K2
	KMOVW   16(R13), K3
	VMOVAPS Z9, Z22
	CMPQ    stride+48(FP), $1
	JEQ     wtaps1
	TAPROW(R10, Z14, Z0, Z1, Z2)
	TAPROW(R11, Z15, Z3, Z4, Z5)
	TAPROW(R12, Z16, Z6, Z7, Z8)
	JMP     wstore

wtaps1:
	TAPROW1(R10, Z14, Z0, Z1, Z2)
	TAPROW1(R11, Z15, Z3, Z4, Z5)
	TAPROW1(R12, Z16, Z6, Z7, Z8)

wstore:
	VMAXPS  Z22, Z10, Z22
	VMINPS  Z22, Z11, Z22
	VMOVUPS Z22, K3, (R9)
	ADDQ    $64, R9
	MOVQ    stride+48(FP), AX
	SHLQ    $6, AX
	ADDQ    AX, BX
	ADDQ    $24, R13
	DECQ    DX
	JNZ     wblk
	MOVQ    ow+40(FP), AX
	SHLQ    $2, AX
	ADDQ    AX, DI
	INCQ    CX
	CMPQ    CX, oh+32(FP)
	JLT     wrow
	VZEROUPPER
	RET
