// HSUM512_STORE stores the sum of Z's sixteen lanes (Y and X its lower
// halves) to OFF(DI), through Z31 (EVEX-encodable steps, as Z may be
// above Z15). Included by vec_amd64.s and gemv_avx512_amd64.s.
#define HSUM512_STORE(Z, Y, X, OFF) \
	VEXTRACTF32X8 $1, Z, Y31;  \
	VADDPS        Y31, Y, Y;   \
	VEXTRACTF32X4 $1, Y, X31;  \
	VADDPS        X31, X, X;   \
	VPERMILPS     $0x4E, X, X31; \
	VADDPS        X31, X, X;   \
	VPERMILPS     $0xB1, X, X31; \
	VADDPS        X31, X, X;   \
	VMOVSS        X, OFF(DI)
