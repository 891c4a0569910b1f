package kernels

import "fmt"

// Convolutions on a padded layout, filters in vectors.
//
// The implicit-GEMM lowering computes C[i][q] = sum over r of
// W[i][r] * b[off[r]+q] for every column q of a padded layout, the gap
// columns included (a quarter of them at 7x7), vectorised along q. RowsN
// computes the same sums for a list of positions only (window origins:
// any stride), vectorised along 64 filters (32 for at most 32): every
// input value is broadcast into four (two) fused multiply-adds with
// vectors of 16 filters' weights, six (nine) positions a tile. The tiles
// come out position-major ([q][block]) and are transposed into the output
// planes afterwards, while they are in cache.

// RowsNBlock returns the filter block of RowsN's packed weights for m
// filters: 32 (two vectors, nine positions a tile) up to 32 filters, else
// 64 (four vectors, six positions a tile).
func RowsNBlock(m int) int {
	if m <= 32 {
		return 32
	}
	return 64
}

// PackRowsN packs the m x k matrix w (rows ldw apart) for RowsN into dst
// (grown as needed): ceil(m/bw) blocks of [k][bw] floats, bw =
// RowsNBlock(m), block b holding rows b*bw.. transposed, zeros past row m.
func PackRowsN(dst []float32, m, k int, w []float32, ldw int) []float32 {
	checkMatrix("PackRowsN", "W", m, k, w, ldw)
	bw := RowsNBlock(m)
	nb := (m + bw - 1) / bw
	dst = grow(dst, nb*k*bw)[:nb*k*bw]
	clear(dst)
	for i := range m {
		blk := dst[i/bw*k*bw+i%bw:]
		for r, v := range w[i*ldw : i*ldw+k] {
			blk[r*bw] = v
		}
	}
	return dst
}

// rowsNKC is the reduction block of RowsN: rows of a block of W.
var rowsNKC = 128

// RowsNFits reports whether RowsN runs here (the AVX-512 kernels).
func RowsNFits() bool { return hasRowsT() }

// RowsN sets y[j*ldImg+i*ldPlane+p] = the sum over r < len(off) of
// W[i][r] * b[off[r]+pos[j*hw+p]], for i < m, groups j < len(pos)/hw of hw
// positions (an image, or part of one) and p < hw, with W packed by
// PackRowsN for m rows and len(off) columns: output planes ldPlane floats
// apart, groups ldImg apart. Each sum runs over r in order, one fused
// multiply-add a term, from zero (in blocks of rowsNKC terms, each
// block's sum added to the running one). It panics unless RowsNFits, when
// len(pos) is not a multiple of hw, on negative or out-of-range offsets
// and positions, and on short slices.
func RowsN(m int, wp []float32, b []float32, off []int, pos []int32, hw, ldPlane int, y []float32, ldImg int, s *RowsTScratch) {
	RowsNBlocks(m, 0, (m+RowsNBlock(m)-1)/RowsNBlock(m), wp, b, off, pos, hw, ldPlane, y, ldImg, s)
}

// RowsNBlocks is RowsN for the filter blocks [blo, bhi) of m filters
// (blocks of RowsNBlock(m), the last one short) only: the rows i in
// those blocks of each group's planes are written, y still addressed
// from filter 0.
func RowsNBlocks(m, blo, bhi int, wp []float32, b []float32, off []int, pos []int32, hw, ldPlane int, y []float32, ldImg int, s *RowsTScratch) {
	k, npos := len(off), len(pos)
	if !RowsNFits() {
		panic("kernels.RowsN: no AVX-512 kernels")
	}
	if m < 1 || k < 1 || hw < 1 || npos%hw != 0 || ldPlane < hw || ldImg < 0 {
		panic(fmt.Sprintf("kernels.RowsN: m=%d, %d offsets, %d positions in groups of %d, strides %d and %d", m, k, npos, hw, ldPlane, ldImg))
	}
	if npos == 0 {
		return
	}
	bw := RowsNBlock(m)
	tp, shift := 6, 6 // positions a tile, log2(bw)
	if bw == 32 {
		tp, shift = 9, 5
	}
	nblk := (m + bw - 1) / bw
	if blo < 0 || bhi > nblk || blo >= bhi {
		panic(fmt.Sprintf("kernels.RowsN: blocks [%d, %d) of %d", blo, bhi, nblk))
	}
	if len(wp) < nblk*k*bw {
		panic(fmt.Sprintf("kernels.RowsN: packed weights have %d floats, want %d", len(wp), nblk*k*bw))
	}
	lo, hi := pos[0], pos[0]
	for _, p := range pos {
		lo, hi = min(lo, p), max(hi, p)
	}
	for _, o := range off {
		if o+int(lo) < 0 || o+int(hi) >= len(b) {
			panic(fmt.Sprintf("kernels.RowsN: B row at %d reaches outside B's %d floats", o, len(b)))
		}
	}
	nb := npos / hw
	if need := (nb-1)*ldImg + (m-1)*ldPlane + hw; len(y) < need {
		panic(fmt.Sprintf("kernels.RowsN: y has %d floats, want %d", len(y), need))
	}
	tiles := (npos + tp - 1) / tp
	s.n = grow(s.n, tiles*tp*bw)
	t := s.n[:tiles*tp*bw]
	s.pos = s.pos[:0]
	for q := 0; q < tiles*tp; q++ {
		s.pos = append(s.pos, int(pos[min(q, npos-1)])) // the last tile's spare slots repeat the last position
	}
	for blk := blo; blk < bhi; blk++ {
		wt := wp[blk*k*bw:]
		// The reduction in blocks of rowsNKC rows of W (16-32 KiB, kept
		// in L1 while every tile of positions reads it), the tiles'
		// partial sums in t.
		for r0 := 0; r0 < k; r0 += rowsNKC {
			kc := min(rowsNKC, k-r0)
			acc := 0
			if r0 > 0 {
				acc = 1
			}
			for ti := range tiles {
				if bw == 64 {
					rowsN4x6AVX512(&wt[r0*bw], kc, &b[0], &off[r0], (*[6]int)(s.pos[ti*6:]), &t[ti*6*bw], acc)
				} else {
					rowsN2x9AVX512(&wt[r0*bw], kc, &b[0], &off[r0], (*[9]int)(s.pos[ti*9:]), &t[ti*9*bw], acc)
				}
			}
		}
		rows := min(bw, m-blk*bw)
		for j := range nb {
			transposeOutAVX512(&t[j*hw*bw], hw, &y[j*ldImg+blk*bw*ldPlane], rows, ldPlane, shift)
		}
	}
}

// rowsNGo is RowsN's arithmetic in Go on unpacked W ([m][len(off)]), for
// tests: the same order, each product and sum rounded apart.
func rowsNGo(m int, w []float32, b []float32, off []int, pos []int32, hw, ldPlane int, y []float32, ldImg int) {
	k := len(off)
	for q, p := range pos {
		j, pp := q/hw, q%hw
		for i := range m {
			var s float32
			for r, o := range off {
				s += w[i*k+r] * b[o+int(p)]
			}
			y[j*ldImg+i*ldPlane+pp] = s
		}
	}
}
