//go:build !purego

#include "textflag.h"

// func dwS1AVX512(y, x *float32, h, kh, kw int, p *dwS1, wts *float32, bias, lo, hi float32, s *float32)
// PlaneKxK.Depthwise at stride 1 on a plane at most 16 wide (p: its lane
// plan). First every input row r is shifted once per kernel column kx
// (its columns r+kx-(kw-1)/2 gathered into the output lanes, zeros
// outside the plane) into s, row by row after (kh-1)/2 zero rows and
// before as many: the kh*kw tap vectors of output row oy are then the
// consecutive vectors from s[oy*kw*16]. Each output row is bias then the
// taps in row-major order by FMA (the chain dwTapsAVX512 computes on the
// padded plane, zero taps included), clamped as there and stored under
// the row's w lanes; four rows a step (interleaved chains), the last
// step moved back to end at the last row, one row a step on planes of
// fewer than four rows.
TEXT ·dwS1AVX512(SB), NOSPLIT, $0-80
	MOVQ   p+40(FP), R13
	KMOVW  504(R13), K1          // the w lanes of a row
	MOVQ   512(R13), R8          // row bytes, 4*w
	MOVQ   x+8(FP), SI
	MOVQ   h+16(FP), BX
	MOVQ   kw+32(FP), R10
	MOVQ   s+72(FP), DI
	VPXORD Z0, Z0, Z0
	MOVQ   kh+24(FP), R9
	DECQ   R9
	SHRQ   $1, R9
	IMULQ  R10, R9               // zero vectors before (and after) the rows
	MOVQ   R9, AX

zbefore:
	TESTQ   AX, AX
	JZ      shift
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	DECQ    AX
	JMP     zbefore

shift:
	MOVQ BX, CX

srow:
	VMOVUPS.Z (SI), K1, Z0
	MOVQ      R13, R12           // idx[kx]
	LEAQ      448(R13), R14      // kmask[kx]
	MOVQ      R10, R11

skx:
	VMOVDQU32 (R12), Z1
	KMOVW     (R14), K2
	VPERMPS.Z Z0, Z1, K2, Z2
	VMOVUPS   Z2, (DI)
	ADDQ      $64, DI
	ADDQ      $64, R12
	ADDQ      $8, R14
	DECQ      R11
	JNZ       skx
	ADDQ      R8, SI
	DECQ      CX
	JNZ       srow
	VPXORD    Z0, Z0, Z0
	MOVQ      R9, AX

zafter:
	TESTQ   AX, AX
	JZ      taps
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	DECQ    AX
	JMP     zafter

taps:
	VBROADCASTSS bias+56(FP), Z9
	VBROADCASTSS lo+60(FP), Z10
	VBROADCASTSS hi+64(FP), Z11
	MOVQ         s+72(FP), SI
	MOVQ         y+0(FP), DI
	MOVQ         kh+24(FP), R9
	IMULQ        R10, R9         // taps
	MOVQ         R10, R13
	SHLQ         $6, R13         // the next output row's taps: kw vectors on
	LEAQ         (R13)(R13*1), R14
	LEAQ         (R14)(R13*1), R15
	MOVQ         BX, CX

out4:
	CMPQ    CX, $4
	JLT     tail
	VMOVAPS Z9, Z20
	VMOVAPS Z9, Z21
	VMOVAPS Z9, Z22
	VMOVAPS Z9, Z23
	MOVQ    wts+48(FP), R12
	MOVQ    SI, DX
	MOVQ    R9, AX

t4:
	VBROADCASTSS (R12), Z4
	VFMADD231PS  (DX), Z4, Z20
	VFMADD231PS  (DX)(R13*1), Z4, Z21
	VFMADD231PS  (DX)(R14*1), Z4, Z22
	VFMADD231PS  (DX)(R15*1), Z4, Z23
	ADDQ         $4, R12
	ADDQ         $64, DX
	DECQ         AX
	JNZ          t4
	VMAXPS       Z20, Z10, Z20
	VMINPS       Z20, Z11, Z20
	VMAXPS       Z21, Z10, Z21
	VMINPS       Z21, Z11, Z21
	VMAXPS       Z22, Z10, Z22
	VMINPS       Z22, Z11, Z22
	VMAXPS       Z23, Z10, Z23
	VMINPS       Z23, Z11, Z23
	VMOVUPS      Z20, K1, (DI)
	ADDQ         R8, DI
	VMOVUPS      Z21, K1, (DI)
	ADDQ         R8, DI
	VMOVUPS      Z22, K1, (DI)
	ADDQ         R8, DI
	VMOVUPS      Z23, K1, (DI)
	ADDQ         R8, DI
	LEAQ         (SI)(R13*4), SI
	SUBQ         $4, CX
	JMP          out4

tail:
	TESTQ CX, CX
	JZ    done
	CMPQ  BX, $4
	JLT   out1

	// 1-3 rows left of at least 4: the last four rows in one more step
	// (those before the tail computed again, to the same bits), as one
	// row's chain alone waits on every FMA.
	MOVQ  BX, AX
	SUBQ  $4, AX
	MOVQ  AX, DX
	IMULQ R13, DX
	MOVQ  s+72(FP), SI
	ADDQ  DX, SI
	IMULQ R8, AX
	MOVQ  y+0(FP), DI
	ADDQ  AX, DI
	MOVQ  $4, CX
	JMP   out4

out1:
	TESTQ CX, CX
	JZ    done
	VMOVAPS Z9, Z20
	MOVQ    wts+48(FP), R12
	MOVQ    SI, DX
	MOVQ    R9, AX

t1:
	VMOVUPS          (DX), Z5
	VFMADD231PS.BCST (R12), Z5, Z20
	ADDQ             $4, R12
	ADDQ             $64, DX
	DECQ             AX
	JNZ              t1
	VMAXPS           Z20, Z10, Z20
	VMINPS           Z20, Z11, Z20
	VMOVUPS          Z20, K1, (DI)
	ADDQ             R8, DI
	ADDQ             R13, SI
	DECQ             CX
	JMP              out1

done:
	VZEROUPPER
	RET
