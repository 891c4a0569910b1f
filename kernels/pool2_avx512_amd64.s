//go:build !purego

#include "textflag.h"

DATA pool2idx<>+0(SB)/4, $0
DATA pool2idx<>+4(SB)/4, $2
DATA pool2idx<>+8(SB)/4, $4
DATA pool2idx<>+12(SB)/4, $6
DATA pool2idx<>+16(SB)/4, $8
DATA pool2idx<>+20(SB)/4, $10
DATA pool2idx<>+24(SB)/4, $12
DATA pool2idx<>+28(SB)/4, $14
DATA pool2idx<>+32(SB)/4, $16
DATA pool2idx<>+36(SB)/4, $18
DATA pool2idx<>+40(SB)/4, $20
DATA pool2idx<>+44(SB)/4, $22
DATA pool2idx<>+48(SB)/4, $24
DATA pool2idx<>+52(SB)/4, $26
DATA pool2idx<>+56(SB)/4, $28
DATA pool2idx<>+60(SB)/4, $30
GLOBL pool2idx<>(SB), RODATA|NOPTR, $64

// MAX2X2 sets Z4 to the running maximum of 16 windows from two input
// rows' 32 floats each (Z0-Z1, Z2-Z3): their even and odd lanes split by
// VPERMI2PS (indices in Z8, Z9), then VMAXPS in tap order, the
// accumulator its first source.
#define MAX2X2 \
	VMOVDQA32 Z8, Z4       \
	VPERMI2PS Z1, Z0, Z4   \
	VMOVDQA32 Z9, Z5       \
	VPERMI2PS Z1, Z0, Z5   \
	VMOVDQA32 Z8, Z6       \
	VPERMI2PS Z3, Z2, Z6   \
	VMOVDQA32 Z9, Z7       \
	VPERMI2PS Z3, Z2, Z7   \
	VMAXPS    Z5, Z4, Z4   \
	VMAXPS    Z6, Z4, Z4   \
	VMAXPS    Z7, Z4, Z4

// func maxPool2RowAVX512(r0, r1, y *float32, n int, tail int)
// y[i] = the running maximum acc = (acc > v ? acc : v) of r0[2i],
// r0[2i+1], r1[2i], r1[2i+1] in that order, for i < n (n >= 1): VMAXPS
// with the accumulator as its first source, sixteen outputs a step, the
// last n%16 under masks (tail: the low 16 bits the first input vector's
// lanes, the next 16 the second's, the next 16 the outputs'; nothing
// past the row read or written).
TEXT ·maxPool2RowAVX512(SB), NOSPLIT, $0-40
	MOVQ      r0+0(FP), SI
	MOVQ      r1+8(FP), DX
	MOVQ      y+16(FP), DI
	MOVQ      n+24(FP), CX
	SHRQ      $4, CX
	VMOVDQU32 pool2idx<>(SB), Z8        // even lanes
	VPTERNLOGD $0xff, Z9, Z9, Z9       // all ones (-1)
	VPSUBD    Z9, Z8, Z9                // odd lanes: even + 1
	TESTQ     CX, CX
	JZ        p2tail
p2loop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVUPS   (DX), Z2
	VMOVUPS   64(DX), Z3
	MAX2X2
	VMOVUPS   Z4, (DI)
	ADDQ      $128, SI
	ADDQ      $128, DX
	ADDQ      $64, DI
	DECQ      CX
	JNZ       p2loop
p2tail:
	MOVQ      tail+32(FP), AX
	TESTQ     AX, AX
	JZ        p2done
	KMOVW     AX, K1
	SHRQ      $16, AX
	KMOVW     AX, K2
	SHRQ      $16, AX
	KMOVW     AX, K3
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS.Z (DX), K1, Z2
	VMOVUPS.Z 64(DX), K2, Z3
	MAX2X2
	VMOVUPS   Z4, K3, (DI)
p2done:
	VZEROUPPER
	RET

// TAPS3(R) loads 32+32 floats of a padded row at R+AX (from p[32b] and
// p[32b+2]) and splits them into the three tap columns of 16 stride-2
// windows: Z4 columns 2ox-1, Z5 2ox, Z6 2ox+1 (indices in Z30, Z31).
#define TAPS3(R) \
	VMOVUPS   (R)(AX*1), Z0     \
	VMOVUPS   64(R)(AX*1), Z1   \
	VMOVUPS   8(R)(AX*1), Z2    \
	VMOVUPS   72(R)(AX*1), Z3   \
	VMOVDQA32 Z30, Z4           \
	VPERMI2PS Z1, Z0, Z4        \
	VMOVDQA32 Z31, Z5           \
	VPERMI2PS Z1, Z0, Z5        \
	VMOVDQA32 Z30, Z6           \
	VPERMI2PS Z3, Z2, Z6

// func maxPool3s2RowAVX512(p0, p1, p2, y *float32, nblk, tail int)
// One output row of a 3x3 max pool at stride 2 with pad 1 from three
// padded input rows (p[i] = column i-1, -inf outside the plane, at least
// 32*nblk+2 floats each): y[ox] = the running maximum acc = (acc > v ? acc
// : v) over the taps p_r[2ox+c] in row-major order (r, then c < 3), for
// ox < 16*nblk, the last block's outputs under the mask tail. Each block
// loads 32+32 floats a row and splits them into the three tap columns
// with VPERMI2PS.
TEXT ·maxPool3s2RowAVX512(SB), NOSPLIT, $0-48
	MOVQ      p0+0(FP), R8
	MOVQ      p1+8(FP), R9
	MOVQ      p2+16(FP), R10
	MOVQ      y+24(FP), DI
	MOVQ      nblk+32(FP), CX
	MOVQ      tail+40(FP), AX
	KMOVW     AX, K1
	VMOVDQU32 pool2idx<>(SB), Z30       // even lanes
	VPTERNLOGD $0xff, Z31, Z31, Z31
	VPSUBD    Z31, Z30, Z31             // odd lanes
	XORQ      AX, AX
p3loop:
	TAPS3(R8)
	VMOVAPS   Z4, Z10
	VMAXPS    Z5, Z10, Z10
	VMAXPS    Z6, Z10, Z10
	TAPS3(R9)
	VMAXPS    Z4, Z10, Z10
	VMAXPS    Z5, Z10, Z10
	VMAXPS    Z6, Z10, Z10
	TAPS3(R10)
	VMAXPS    Z4, Z10, Z10
	VMAXPS    Z5, Z10, Z10
	VMAXPS    Z6, Z10, Z10
	CMPQ      CX, $1
	JEQ       p3last
	VMOVUPS   Z10, (DI)
	ADDQ      $128, AX
	ADDQ      $64, DI
	DECQ      CX
	JMP       p3loop
p3last:
	VMOVUPS   Z10, K1, (DI)
	VZEROUPPER
	RET
