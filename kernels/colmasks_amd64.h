// COLMASKS sets K1 to the lanes of columns 0-15 and K2 to those of 16-23
// of a partial panel of cols columns (1..24, in register R): K1 = (1 <<
// min(cols, 16)) - 1, K2 = (1 << max(cols-16, 0)) - 1
// (gemm_avx512_amd64.s, gemm_avx512c_amd64.s). Clobbers R, AX and CX.
#define COLMASKS(R) \
	MOVQ    $16, CX    \
	CMPQ    R, CX      \
	CMOVQLT R, CX      \
	MOVQ    $1, AX     \
	SHLQ    CX, AX     \
	DECQ    AX         \
	KMOVW   AX, K1     \
	SUBQ    $16, R     \
	MOVQ    $0, CX     \
	CMPQ    R, CX      \
	CMOVQGT R, CX      \
	MOVQ    $1, AX     \
	SHLQ    CX, AX     \
	DECQ    AX         \
	KMOVW   AX, K2
