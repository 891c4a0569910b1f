package kernels

import "fmt"

// goKernel is the pure-Go micro-kernel with the same contract as the
// assembly one: for each of np >= 1 stacked tiles q it computes the
// MR x NR tile sum_p a[q*MR*k+p*MR+i]*b[p*ldb+j] over p < k from packed A
// panels and B rows ldb apart (NR when packed) and stores it into C rows
// q*MR.. (row stride ldc), or adds it when accum; of the last tile only
// its first last (1..MR) rows.
func goKernel(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last int) {
	checkLast(last)
	for q := range np {
		aq, cq := a[q*gemmMR*k:(q+1)*gemmMR*k], c[q*gemmMR*ldc:]
		if q == np-1 && last < gemmMR {
			var tile [gemmMR * gemmNR]float32
			goTile(k, aq, b, ldb, tile[:], gemmNR, false)
			flushTile(&tile, last, gemmNR, cq, ldc, accum)
			continue
		}
		goTile(k, aq, b, ldb, cq, ldc, accum)
	}
}

// checkLast panics unless last, the rows stored of a micro-kernel call's
// last tile, is in 1..MR.
func checkLast(last int) {
	if last < 1 || last > gemmMR {
		panic(fmt.Sprintf("kernels: micro-kernel asked to store %d rows of a tile", last))
	}
}

// goTile computes one MR x NR tile for goKernel in 2x8 sub-tiles, so the
// 16 accumulators can live in registers.
func goTile(k int, a, b []float32, ldb int, c []float32, ldc int, accum bool) {
	a = a[:k*gemmMR]
	b = b[:(k-1)*ldb+gemmNR]
	for i0 := 0; i0 < gemmMR; i0 += 2 {
		for j0 := 0; j0 < gemmNR; j0 += 8 {
			var c00, c01, c02, c03, c04, c05, c06, c07 float32
			var c10, c11, c12, c13, c14, c15, c16, c17 float32
			for p := range k {
				ap := a[p*gemmMR+i0 : p*gemmMR+i0+2]
				bp := b[p*ldb+j0 : p*ldb+j0+8]
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				b4, b5, b6, b7 := bp[4], bp[5], bp[6], bp[7]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c04 += a0 * b4
				c05 += a0 * b5
				c06 += a0 * b6
				c07 += a0 * b7
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				c14 += a1 * b4
				c15 += a1 * b5
				c16 += a1 * b6
				c17 += a1 * b7
			}
			r0 := c[i0*ldc+j0 : i0*ldc+j0+8]
			r1 := c[(i0+1)*ldc+j0 : (i0+1)*ldc+j0+8]
			if accum {
				r0[0] += c00
				r0[1] += c01
				r0[2] += c02
				r0[3] += c03
				r0[4] += c04
				r0[5] += c05
				r0[6] += c06
				r0[7] += c07
				r1[0] += c10
				r1[1] += c11
				r1[2] += c12
				r1[3] += c13
				r1[4] += c14
				r1[5] += c15
				r1[6] += c16
				r1[7] += c17
			} else {
				r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
				r0[4], r0[5], r0[6], r0[7] = c04, c05, c06, c07
				r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
				r1[4], r1[5], r1[6], r1[7] = c14, c15, c16, c17
			}
		}
	}
}
