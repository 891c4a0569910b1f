// Package kernels holds the numeric primitives the engine's hot loops call:
// single-precision GEMM and the convolution lowering helpers (im2col/col2im).
// All matrices are row-major with explicit leading dimensions.
package kernels

import (
	"fmt"
	"os"
	"sync"
)

// Register tile and cache-block sizes of the packed GEMM. A is packed in
// row panels of gemmMR rows (k-major), B in column panels of gemmNR columns
// (k-major); the micro-kernel multiplies one A panel by one B panel.
// gemmKC x gemmNR floats of B (24 KiB) stay in L1 while gemmMC x gemmKC of A
// (144 KiB) stays in L2.
const (
	gemmMR = 4
	gemmNR = 24
	gemmKC = 256
	gemmMC = 144  // multiple of gemmMR
	gemmNC = 2016 // multiple of gemmNR
)

// UseAsm selects the AVX2+FMA assembly micro-kernel for Sgemm. It starts
// true when the CPU supports AVX2 and FMA (golang.org/x/sys/cpu) and the
// environment variable SLIMGO_NOASM is not "1". Setting it to false forces
// the pure-Go micro-kernel (tests use this to exercise both paths); setting
// it to true on a CPU without AVX2/FMA has no effect. Change it only while
// no Sgemm call is running.
var UseAsm = hasAsmKernel && os.Getenv("SLIMGO_NOASM") != "1"

// AsmAvailable reports whether the assembly micro-kernel can run on this
// CPU (independent of UseAsm).
func AsmAvailable() bool { return hasAsmKernel }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(A) is m x k and
// op(B) is k x n (A is stored k x m when transA, B is stored n x k when
// transB) and C is m x n. lda, ldb, ldc are the row strides of the stored
// matrices. With beta == 0, C is overwritten (its old contents, even NaN, are
// ignored). With alpha == 0 or k == 0, A and B are not read and C becomes
// beta*C. It runs on the calling goroutine only (see SgemmParallel). It
// panics if a slice is too short or a leading dimension is smaller than its
// row length (a programmer error).
//
// The product is cache-blocked: panels of A and B are packed into
// contiguous scratch (pooled, so steady-state calls do not allocate) or B
// is read in place, and multiplied by register-tile micro-kernels: 8x48
// (AVX-512) and 4x24 (AVX-512 or AVX2+FMA) assembly when UseAsm, a pure-Go
// 4x24 otherwise. Every path gives each C value the same ordered chain of
// multiply-adds.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	sgemmBlocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkGemmArgs panics with a message naming the operand when a stored
// matrix does not fit its slice or its leading dimension is too small.
func checkGemmArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	check := func(name string, rows, cols int, s []float32, ld int) {
		checkMatrix("Sgemm", name, rows, cols, s, ld)
	}
	if transA {
		check("A", k, m, a, lda)
	} else {
		check("A", m, k, a, lda)
	}
	if transB {
		check("B", n, k, b, ldb)
	} else {
		check("B", k, n, b, ldb)
	}
	check("C", m, n, c, ldc)
}

// checkMatrix panics, naming function fn and operand name, when a stored
// rows x cols matrix with stride ld does not fit s.
func checkMatrix(fn, name string, rows, cols int, s []float32, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels.%s: leading dimension of %s is %d, less than its %d columns", fn, name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("kernels.%s: %s has %d elements, a %dx%d matrix with stride %d needs %d", fn, name, len(s), rows, cols, ld, need))
	}
}

// scaleMatrix sets C = beta*C (C = 0 when beta == 0, ignoring NaN).
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmScratch is the per-call packing space: one A block and one B block,
// grown on demand up to gemmMC*gemmKC and gemmKC*gemmNC floats so small
// products do not allocate (and zero) the full blocks after a GC empties
// the pool.
type gemmScratch struct {
	a, b []float32
	tile [gemmMR * gemmNR]float32
}

// grow returns s[:n], reallocating when s is too short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

var scratchPool = sync.Pool{New: func() any { return new(gemmScratch) }}

// ceilDiv returns ceil(a/b) for a >= 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// balancedBlock splits total into ceil(total/max) nearly equal blocks,
// rounded up to a multiple of unit (but never above max).
func balancedBlock(total, max, unit int) int {
	nb := ceilDiv(total, max)
	bs := ceilDiv(ceilDiv(total, nb), unit) * unit
	return min(bs, max)
}

// sgemmBlocked is the packed GEMM for m, n, k > 0 and alpha != 0.
func sgemmBlocked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmBlockedSrc(transA, m, n, k, alpha, a, lda, bSource{b: b, ldb: ldb, trans: transB}, beta, c, ldc, nil)
}

// sgemmBlockedSrc is sgemmBlocked with op(B) described by src (whose pc,
// jc and mode it sets): a stored matrix, or rows at offsets (src.off).
// With pa not nil, A's blocks come from pa (packed by PackA for this m
// and k, alpha included) and transA, alpha, a and lda are not used.
func sgemmBlockedSrc(transA bool, m, n, k int, alpha float32, a []float32, lda int, src bSource, beta float32, c []float32, ldc int, pa *PackedA) {
	if beta != 0 {
		scaleMatrix(m, n, beta, c, ldc)
	}
	kern := goKernel
	if UseAsm && hasAsmKernel {
		kern = asmKernel
	}
	sc := scratchPool.Get().(*gemmScratch)
	defer scratchPool.Put(sc)

	kc := balancedBlock(k, gemmKC, 1)
	mc := balancedBlock(m, gemmMC, gemmMR)
	nc := balancedBlock(n, gemmNC, gemmNR)
	// With a single row block (m <= gemmMC) a B panel is used by one sweep
	// of A panels only, so packing all of B first just adds a pass through
	// memory: an untransposed B is then read in place (rows ldb apart)
	// when its stride spreads over L1, and otherwise each panel is packed
	// right before its sweep, while it is still hot in L1.
	src.mode = bPackBlock
	if m <= gemmMC && src.pre == nil {
		src.mode = bPackPanel
		switch {
		case src.off != nil && !src.trans:
			src.mode = bRows
		case src.off == nil && !src.trans && strideSpreadsL1(src.ldb, kc):
			src.mode = bDirect
		}
	}
	if pa == nil {
		sc.a = grow(sc.a, ceilDiv(mc, gemmMR)*gemmMR*kc)
	}
	switch {
	case src.pre != nil: // B's panels are read where PackB put them
	case src.mode == bPackBlock:
		sc.b = grow(sc.b, ceilDiv(nc, gemmNR)*gemmNR*kc)
	default:
		sc.b = grow(sc.b, 2*gemmNR*kc) // two panels for widePanels
	}
	for jc := 0; jc < n; jc += nc {
		ncur := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kcur := min(kc, k-pc)
			bp := sc.b
			switch {
			case src.pre != nil:
				bp = src.pre.panels(pc, src.j0+jc)
			case src.mode == bPackBlock:
				src.pc, src.jc = pc, jc
				src.pack(kcur, ncur, 0, sc.b)
			}
			src.pc, src.jc = pc, jc
			accum := beta != 0 || pc > 0
			for ic := 0; ic < m; ic += mc {
				mcur := min(mc, m-ic)
				ap := sc.a
				if pa != nil {
					ap = pa.block(pc/kc, ic/mc)
				} else {
					packA(transA, mcur, kcur, alpha, a, lda, ic, pc, sc.a)
				}
				macroKernel(kern, mcur, ncur, kcur, ap, bp, &src, c[ic*ldc+jc:], ldc, accum, &sc.tile)
			}
		}
	}
}

// How macroKernel gets its B panels.
const (
	bPackBlock = iota // the whole kc x nc block is packed in bp beforehand
	bPackPanel        // each panel is packed into bp just before use
	bDirect           // full panels are read in place; a partial one is packed
	bRows             // as bDirect, rows at src.off (untransposed row-offset B)
)

// bSource describes op(B) for macroKernel: the stored matrix, its stride
// and transpose, the block's corner (pc, jc) and the panel mode.
type bSource struct {
	b      []float32
	ldb    int
	trans  bool
	pc, jc int
	mode   int

	// off, when not nil, replaces ldb: row p of the stored matrix starts
	// at b[off[p]] (see SgemmRows).
	off []int

	// pre, when not nil, holds op(B) already packed (PackB); the product
	// covers its columns from j0 (a multiple of gemmNR) on.
	pre *PackedB
	j0  int
}

// pack packs the kc x nc block of op(B) at (pc, jc+j0) into dst as
// packB does.
func (s *bSource) pack(kc, nc, j0 int, dst []float32) {
	if s.off != nil {
		packBRows(s.trans, kc, nc, s.b, s.off, s.pc, s.jc+j0, dst)
		return
	}
	packB(s.trans, kc, nc, s.b, s.ldb, s.pc, s.jc+j0, dst)
}

// strideSpreadsL1 reports whether kc rows ld floats apart can be read in
// place from a 64-set, 64-byte-line L1 data cache of at least 8 ways (32
// KiB, as on current x86 cores): when they fall into at least 8 distinct
// sets, or when so few rows share each set that they fit its 8 ways.
// Power-of-two strides such as 1024 floats map every row to the same set
// and thrash L1 over a long k, but 32 rows of a 112x112 map (4 sets) fit.
func strideSpreadsL1(ld, kc int) bool {
	bytes := ld * 4
	if bytes%64 != 0 {
		return true
	}
	g, lines := 64, (bytes/64)%64
	for lines != 0 { // gcd(64, lines)
		g, lines = lines, g%lines
	}
	sets := 64 / g
	return sets >= 8 || ceilDiv(kc, sets) <= 8
}

// microKernel computes np stacked MR x NR tiles from packed A panels and
// B rows ldb apart, storing the first last rows of the last one (see
// goKernel).
type microKernel func(np, k int, a, b []float32, ldb int, c []float32, ldc int, accum bool, last int)

// macroKernel multiplies a packed mcur x kc block of A by the kc x ncur
// block of op(B) described by src into C (offset to the block's corner),
// tile by tile; bp is the packed block (bPackBlock) or one panel of
// scratch. Edge tiles are computed into tile and the valid part copied out.
func macroKernel(kern microKernel, mcur, ncur, kc int, ap, bp []float32, src *bSource, c []float32, ldc int, accum bool, tile *[gemmMR * gemmNR]float32) {
	wide := useWide && useAVX512 && UseAsm && hasAsmKernel
	jr0 := 0
	if wide && src.mode != bPackPanel && kc <= rowSweepMaxK {
		jr0 = wideRowSweep(mcur, ncur, kc, ap, bp, src, c, ldc, accum)
	}
	for jr := jr0; jr < ncur; jr += gemmNR {
		if wide && ncur-jr >= 2*gemmNR {
			np := ceilDiv(mcur, gemmMR)
			widePanels(np, mcur-(np-1)*gemmMR, kc, ap[:np*gemmMR*kc], bp, src, c[jr:], ldc, accum, jr)
			jr += gemmNR // and the loop's step: two panels done
			continue
		}
		nr := min(gemmNR, ncur-jr)
		var bpanel []float32
		ldbp := gemmNR
		switch {
		case src.mode == bPackBlock:
			bpanel = bp[jr*kc : (jr+gemmNR)*kc]
		case src.mode == bDirect && nr == gemmNR:
			bpanel, ldbp = src.b[src.pc*src.ldb+src.jc+jr:], src.ldb
		case src.mode == bRows && nr == gemmNR:
			rowsMacroPanel(mcur, kc, ap, src.b[src.jc+jr:], src.off[src.pc:src.pc+kc], c[jr:], ldc, accum)
			continue
		case useAVX512 && UseAsm && hasAsmKernel:
			// A partial panel (the last columns of a 7x7 or 14x14 map):
			// one masked kernel call into C, B read in place when it
			// may be.
			np := ceilDiv(mcur, gemmMR)
			last := mcur - (np-1)*gemmMR
			if src.mode == bDirect {
				asmKernelCols(np, kc, ap[:np*gemmMR*kc], src.b[src.pc*src.ldb+src.jc+jr:], src.ldb, c[jr:], ldc, accum, last, nr)
				continue
			}
			bpanel = bp[:gemmNR*kc]
			src.pack(kc, nr, jr, bpanel)
			asmKernelCols(np, kc, ap[:np*gemmMR*kc], bpanel, gemmNR, c[jr:], ldc, accum, last, nr)
			continue
		default:
			bpanel = bp[:gemmNR*kc]
			src.pack(kc, nr, jr, bpanel)
		}
		// A full-width panel: every row panel in one kernel call, the
		// last one stored in place even when short (rows not a multiple
		// of MR: pruned channel counts), so the call count does not
		// depend on m's remainder.
		if nr == gemmNR {
			np := ceilDiv(mcur, gemmMR)
			kern(np, kc, ap[:np*gemmMR*kc], bpanel, ldbp, c[jr:(mcur-1)*ldc+jr+gemmNR], ldc, accum, mcur-(np-1)*gemmMR)
			continue
		}
		for ir := 0; ir < mcur; ir += gemmMR {
			mr := min(gemmMR, mcur-ir)
			apanel := ap[ir*kc : (ir+gemmMR)*kc]
			kern(1, kc, apanel, bpanel, ldbp, tile[:], gemmNR, false, gemmMR)
			flushTile(tile, mr, nr, c[ir*ldc+jr:], ldc, accum)
		}
	}
}

// splitCols is the column unit a product is split by over goroutines: a
// pair of panels when the wide kernel takes them (a lone panel in each
// part would run at about two thirds of its speed), else one panel.
func splitCols() int {
	if useWide && useAVX512 && UseAsm && hasAsmKernel {
		return 2 * gemmNR
	}
	return gemmNR
}

// useWide lets macroKernel take two full B panels at a time through the
// wide AVX-512 kernel (8x48 tiles) when useAVX512 holds; tests turn it off
// to compare with the 4x24 kernel, which gives bitwise the same C.
var useWide = true

// useColsW lets asmKernelCols take a partial panel's A panels in pairs
// through sgemmKernelAVX512ColsW (8-row tiles, one load of B's row and
// one broadcast of each A value a k step); tests turn it off to compare
// with the 4-row kernel, which gives bitwise the same C.
var useColsW = true

// widePanels multiplies np packed A panels (the last with last rows) by
// the 48 columns of op(B) at jr (two full NR panels, per src.mode: packed
// in bp, read in place, rows at offsets, or packed into bp now) into C
// (offset to column jr and the panels' first row) with the wide AVX-512
// kernel.
func widePanels(np, last, kc int, ap, bp []float32, src *bSource, c []float32, ldc int, accum bool, jr int) {
	var b0, b1 []float32
	ldb := gemmNR
	switch src.mode {
	case bRows:
		asmKernelRowsWide(np, kc, ap, src.b[src.jc+jr:], src.off[src.pc:src.pc+kc], c, ldc, accum, last)
		return
	case bPackBlock:
		b0, b1 = bp[jr*kc:(jr+gemmNR)*kc], bp[(jr+gemmNR)*kc:(jr+2*gemmNR)*kc]
	case bDirect:
		b0 = src.b[src.pc*src.ldb+src.jc+jr:]
		b1, ldb = b0[gemmNR:], src.ldb
	default: // bPackPanel: both panels packed side by side now
		src.pack(kc, 2*gemmNR, jr, bp[:2*gemmNR*kc])
		b0, b1 = bp[:gemmNR*kc], bp[gemmNR*kc:2*gemmNR*kc]
	}
	asmKernelWide(np, kc, ap, b0, b1, ldb, c, ldc, accum, last)
}

// rowSweepMaxK is the longest k block wideRowSweep takes. With a short k
// a product is bound by writing C, not by the FMAs: 96x12544x16 (a
// 112x112 mobilenet_v2 expansion) ran in 423 us swept by rows against
// 917 us by columns with B and C out of cache, while at k = 144 and more
// the column order, B reused from L1 by every row pair, is ahead (twice
// as fast at 64x3136x576). Sweeping by rows whenever the B block is small
// (a 7x7 map's 49 columns) gained nothing measurable.
const rowSweepMaxK = 64

// wideRowSweep computes a block one pair of A panels at a time, sweeping
// each pair along the block's columns: C is then written as 8 rows of long
// contiguous runs instead of every row of the block 192 bytes at a time,
// which the write-back of a C too large for L2 punishes, and A is read
// once. Full 48-column pairs of panels go through the wide kernel; the
// rest (a B block packed or read in place) through the masked 4x24 one
// while the row pair is still in L1. It returns the columns done: all of
// them, or the full pairs only for a row-offset B.
func wideRowSweep(mcur, ncur, kc int, ap, bp []float32, src *bSource, c []float32, ldc int, accum bool) int {
	np := ceilDiv(mcur, gemmMR)
	last := mcur - (np-1)*gemmMR
	full := ncur / (2 * gemmNR) * (2 * gemmNR)
	done := ncur
	if src.mode == bRows {
		done = full
	}
	for q := 0; q < np; q += 2 {
		npq, lq := min(2, np-q), gemmMR
		if q+npq == np {
			lq = last
		}
		aq := ap[q*gemmMR*kc : (q+npq)*gemmMR*kc]
		cq := c[q*gemmMR*ldc:]
		for jr := 0; jr < full; jr += 2 * gemmNR {
			widePanels(npq, lq, kc, aq, bp, src, cq[jr:], ldc, accum, jr)
		}
		for jr := full; jr < done; jr += gemmNR {
			cols := min(gemmNR, ncur-jr)
			if src.mode == bDirect {
				asmKernelCols(npq, kc, aq, src.b[src.pc*src.ldb+src.jc+jr:], src.ldb, cq[jr:], ldc, accum, lq, cols)
			} else { // bPackBlock
				asmKernelCols(npq, kc, aq, bp[jr*kc:(jr+gemmNR)*kc], gemmNR, cq[jr:], ldc, accum, lq, cols)
			}
		}
	}
	return done
}

// flushTile stores (or, with accum, adds) the top-left mr x nr part of an
// edge tile computed into tile to C (offset to the tile's corner).
func flushTile(tile *[gemmMR * gemmNR]float32, mr, nr int, c []float32, ldc int, accum bool) {
	for i := range mr {
		dst := c[i*ldc : i*ldc+nr]
		src := tile[i*gemmNR : i*gemmNR+nr]
		if accum {
			for j, v := range src {
				dst[j] += v
			}
		} else {
			copy(dst, src)
		}
	}
}

// packA copies alpha*op(A)[ic:ic+mc, pc:pc+kc] into dst as ceil(mc/MR)
// panels; panel q holds rows ic+q*MR.. in k-major order (dst[q*MR*kc +
// p*MR + i]), zero-padded to MR rows.
func packA(transA bool, mc, kc int, alpha float32, a []float32, lda, ic, pc int, dst []float32) {
	for q := 0; q*gemmMR < mc; q++ {
		panel := dst[q*gemmMR*kc : (q+1)*gemmMR*kc]
		r0 := ic + q*gemmMR
		rows := min(gemmMR, mc-q*gemmMR)
		if transA {
			// op(A)[r][p] = a[p*lda+r]: each p gives rows contiguous values.
			for p := range kc {
				src := a[(pc+p)*lda+r0 : (pc+p)*lda+r0+rows]
				d := panel[p*gemmMR : p*gemmMR+gemmMR]
				if rows == gemmMR && alpha == 1 {
					*(*[gemmMR]float32)(d) = *(*[gemmMR]float32)(src)
					continue
				}
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[rows:])
			}
			continue
		}
		if rows == gemmMR && alpha == 1 {
			packPanelANoTrans(kc, a[r0*lda+pc:], lda, panel)
			continue
		}
		for i := range rows {
			src := a[(r0+i)*lda+pc : (r0+i)*lda+pc+kc]
			if alpha == 1 {
				for p, v := range src {
					panel[p*gemmMR+i] = v
				}
			} else {
				for p, v := range src {
					panel[p*gemmMR+i] = alpha * v
				}
			}
		}
		for i := rows; i < gemmMR; i++ {
			for p := range kc {
				panel[p*gemmMR+i] = 0
			}
		}
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into dst as ceil(nc/NR) panels;
// panel q holds columns jc+q*NR.. in k-major order (dst[q*NR*kc + p*NR +
// j]), zero-padded to NR columns.
func packB(transB bool, kc, nc int, b []float32, ldb, pc, jc int, dst []float32) {
	for q := 0; q*gemmNR < nc; q++ {
		panel := dst[q*gemmNR*kc : (q+1)*gemmNR*kc]
		c0 := jc + q*gemmNR
		cols := min(gemmNR, nc-q*gemmNR)
		if !transB {
			if cols == gemmNR {
				packPanelB(kc, b[pc*ldb+c0:], ldb, panel)
				continue
			}
			for p := range kc {
				d := panel[p*gemmNR : p*gemmNR+gemmNR]
				copy(d, b[(pc+p)*ldb+c0:(pc+p)*ldb+c0+cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: each column j is a contiguous run over p.
		if cols == gemmNR {
			packPanelBTrans(kc, b[c0*ldb+pc:], ldb, panel)
			continue
		}
		for j := range cols {
			src := b[(c0+j)*ldb+pc : (c0+j)*ldb+pc+kc]
			for p, v := range src {
				panel[p*gemmNR+j] = v
			}
		}
		for j := cols; j < gemmNR; j++ {
			for p := range kc {
				panel[p*gemmNR+j] = 0
			}
		}
	}
}

// packPanelBGo is the portable packPanelB: dst[p*NR+j] = src[p*ldb+j] for
// p < kc, j < NR.
func packPanelBGo(kc int, src []float32, ldb int, dst []float32) {
	for p := range kc {
		*(*[gemmNR]float32)(dst[p*gemmNR:]) = *(*[gemmNR]float32)(src[p*ldb:])
	}
}

// packPanelBTransGo packs k-values [p0, kc) of one full panel of a
// transposed B: dst[p*NR+j] = src[j*ldb+p].
func packPanelBTransGo(p0, kc int, src []float32, ldb int, dst []float32) {
	for j := range gemmNR {
		s := src[j*ldb : j*ldb+kc]
		for p := p0; p < kc; p++ {
			dst[p*gemmNR+j] = s[p]
		}
	}
}

// packPanelANoTransGo packs k-values [p0, kc) of one full panel of an
// untransposed A: dst[p*MR+i] = src[i*lda+p].
func packPanelANoTransGo(p0, kc int, src []float32, lda int, dst []float32) {
	for i := range gemmMR {
		s := src[i*lda : i*lda+kc]
		for p := p0; p < kc; p++ {
			dst[p*gemmMR+i] = s[p]
		}
	}
}

// SgemmRef is the naive triple loop that defines Sgemm's result; tests
// compare every fast path against it.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
