//go:build amd64 && !purego

package kernels

// axpyAVX sets y[i] += alpha*x[i] for i < n (n a positive multiple of 8).
// Implemented in vec_amd64.s (AVX2+FMA).
//
//go:noescape
func axpyAVX(alpha float32, x, y *float32, n int)

// addAVX sets y[i] += x[i] for i < n (n a positive multiple of 8).
// Implemented in vec_amd64.s (AVX).
//
//go:noescape
func addAVX(x, y *float32, n int)

// axpy sets y[i] += alpha*x[i] for i < len(x); y must be at least as long.
// Note the vector body rounds alpha*x[i] and the add once (FMA), the Go
// tail twice, so results can differ from a scalar loop in the last bit.
func axpy(alpha float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	v := n &^ 7
	if v > 0 && UseAsm && hasAsmKernel {
		axpyAVX(alpha, &x[0], &y[0], v)
		x, y = x[v:], y[v:]
	}
	for i, xv := range x {
		y[i] += alpha * xv
	}
}

// addTo sets y[i] += x[i] for i < len(x); y must be at least as long.
func addTo(x, y []float32) {
	n := len(x)
	y = y[:n]
	v := n &^ 7
	if v > 0 && UseAsm && hasAsmKernel {
		addAVX(&x[0], &y[0], v)
		x, y = x[v:], y[v:]
	}
	for i, xv := range x {
		y[i] += xv
	}
}

// addRowsAVX adds rows x n blocks with a shared row stride (see
// vec_amd64.s); rows, n >= 1.
//
//go:noescape
func addRowsAVX(rows, n int, src, dst *float32, stride int)

// addRows sets dst[r*stride+t] += src[r*stride+t] for r < rows, t < n.
func addRows(rows, n int, src, dst []float32, stride int) {
	if rows <= 0 || n <= 0 {
		return
	}
	last := (rows-1)*stride + n
	_, _ = src[last-1], dst[last-1]
	if UseAsm && hasAsmKernel {
		addRowsAVX(rows, n, &src[0], &dst[0], stride)
		return
	}
	addRowsGo(rows, n, src, dst, stride)
}

// gather2AVX copies every second float (see vec_amd64.s); nblk >= 1.
//
//go:noescape
func gather2AVX(nblk int, src, dst *float32)

// gatherStride2 sets dst[t] = src[2*t] for t < len(dst); src must hold at
// least 2*len(dst)-1 elements. Extra elements of src past that let the
// vector path run further (it reads whole 16-float blocks).
func gatherStride2(dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = src[2*(n-1)]
	done := 0
	if nb := min(n/8, len(src)/16); nb > 0 && UseAsm && hasAsmKernel {
		gather2AVX(nb, &src[0], &dst[0])
		done = nb * 8
	}
	for t := done; t < n; t++ {
		dst[t] = src[2*t]
	}
}

// deint2AVX and int2AVX are Deinterleave2's and Interleave2's vector
// bodies (vec_amd64.s, AVX2); nblk >= 1 blocks of 8 output pairs.
//
//go:noescape
func deint2AVX(nblk int, src, even, odd *float32)

//go:noescape
func int2AVX(nblk int, even, odd, dst *float32)

func deinterleave2(even, odd, src []float32) {
	done := 0
	if nb := len(even) / 8; nb > 0 && UseAsm && hasAsmKernel {
		deint2AVX(nb, &src[0], &even[0], &odd[0])
		done = nb * 8
	}
	deinterleave2Go(even[done:], odd[done:], src[2*done:])
}

func interleave2(dst, even, odd []float32) {
	done := 0
	if nb := len(even) / 8; nb > 0 && UseAsm && hasAsmKernel {
		int2AVX(nb, &even[0], &odd[0], &dst[0])
		done = nb * 8
	}
	interleave2Go(dst[2*done:], even[done:], odd[done:])
}

// copyRowsAVX is copyRows for rows >= 1 (vec_amd64.s, AVX).
//
//go:noescape
func copyRowsAVX(dst *float32, dstride int, src *float32, sstride int, n, rows, zero int)

// copyRowsAVX512 is copyRows for rows >= 1 through 8-float blocks and
// masked tails (vec_amd64.s, AVX-512VL): nfull whole blocks, then the
// last n%8 floats under lmask with the zeros after them under smask and
// zmask (the next block). copyRows sets the masks.
//
//go:noescape
func copyRowsAVX512(dst *float32, dstride int, src *float32, sstride int, nfull, rows int, lmask, smask, zmask int)

// copyRows runs CopyRows' loop (arguments checked by CopyRows). With
// AVX-512 every row is whole 8-float moves and one masked one (the rows
// of 7, 14 and 28 floats of the small maps' padded layouts, which the
// AVX2 loop's 4-float and scalar steps ran far below memmove's speed);
// zero runs reaching more than one block past the last full one take the
// AVX2 loop.
func copyRows(dst []float32, dstride int, src []float32, sstride int, n, rows, zero int) {
	if useAVX512 && UseAsm && hasAsmKernel {
		nfull := n / 8
		rem, tot := n-8*nfull, n+zero-8*nfull
		if tot <= 16 {
			bits := func(k int) int { return 1<<min(max(k, 0), 8) - 1 }
			sp := &dst[0] // not read when n == 0 (src may be empty then)
			if n > 0 {
				sp = &src[0]
			}
			copyRowsAVX512(&dst[0], dstride, sp, sstride, nfull, rows, bits(rem), bits(tot), bits(tot-8))
			return
		}
	}
	if UseAsm && hasAsmKernel && n > 0 {
		copyRowsAVX(&dst[0], dstride, &src[0], sstride, n, rows, zero)
		return
	}
	copyRowsGo(dst, dstride, src, sstride, n, rows, zero)
}

// add3AVX is Add's vector body for n a positive multiple of 8
// (vec_amd64.s, AVX).
//
//go:noescape
func add3AVX(a, b, y *float32, n int, relu int)

func add3(a, b, y []float32, relu bool) {
	if v := len(a) &^ 7; v > 0 && UseAsm && hasAsmKernel {
		r := 0
		if relu {
			r = 1
		}
		add3AVX(&a[0], &b[0], &y[0], v, r)
		a, b, y = a[v:], b[v:], y[v:]
	}
	add3Go(a, b, y, relu)
}

// dotAVX returns sum(a[i]*b[i]) for i < n (n a positive multiple of 8).
// Implemented in vec_amd64.s (AVX2+FMA).
//
//go:noescape
func dotAVX(a, b *float32, n int) float32

// dot returns the sum of a[i]*b[i] for i < len(a); b must be at least as long.
func dot(a, b []float32) float32 {
	b = b[:len(a)] // the vector loop reads len(a) floats of b
	var s float32
	if v := len(a) &^ 7; v > 0 && UseAsm && hasAsmKernel {
		s = dotAVX(&a[0], &b[0], v)
		a, b = a[v:], b[v:]
	}
	return s + dotGo(a, b)
}

// dotBlock4x3AVX computes the twelve dot products of rows a, a+lda, a+2lda,
// a+3lda against the runs at b0, b1, b2 over k floats (k a positive
// multiple of 8; lda in floats) into out, row-major. Implemented in
// vec_amd64.s (AVX2+FMA).
//
//go:noescape
func dotBlock4x3AVX(a *float32, lda int, b0, b1, b2 *float32, k int, out *[12]float32)

// dotBlock4x3 sets out[r*3+s] = sum over q < k of a[r*lda+q]*b[o_s+q]
// (o_0, o_1, o_2 = o0, o1, o2) for r < 4, checking every operand's bounds
// before the assembly reads it.
func dotBlock4x3(a []float32, lda int, b []float32, o0, o1, o2, k int, out *[12]float32) {
	_ = a[3*lda+k-1]
	_, _, _ = b[o0+k-1], b[o1+k-1], b[o2+k-1]
	v := k &^ 7
	if v == 0 || !UseAsm || !hasAsmKernel {
		dotBlock4x3Go(a, lda, b, o0, o1, o2, k, out)
		return
	}
	dotBlock4x3AVX(&a[0], lda, &b[o0], &b[o1], &b[o2], v, out)
	if v < k {
		offs := [3]int{o0, o1, o2}
		for r := range 4 {
			ar := a[r*lda+v : r*lda+k]
			for s, o := range offs {
				out[r*3+s] += dotGo(ar, b[o+v:o+k])
			}
		}
	}
}

// dotBlock4x6AVX512 computes the 24 dot products of rows a, a+lda,
// a+2lda, a+3lda against the runs at b0..b5 over 16*nfull floats and the
// tail lanes of tmask (the k%16 after them) into out, row-major.
// Implemented in vec_amd64.s (AVX-512F/VL).
//
//go:noescape
func dotBlock4x6AVX512(a *float32, lda int, b0, b1, b2, b3, b4, b5 *float32, nfull, tmask int, out *[24]float32)

// hasDotBlock4x6 reports whether dotBlock4x6 runs in assembly (AVX-512 on
// and allowed), for dotRowsT's choice of block.
func hasDotBlock4x6() bool { return useAVX512 && UseAsm && hasAsmKernel }

// dotBlock4x6 sets out[r*6+s] = sum over q < k of a[r*lda+q]*b[o[s]+q]
// for r < 4, s < 6 (k >= 1), checking every operand's bounds before the
// assembly reads it; without it, dotBlock4x6Go.
func dotBlock4x6(a []float32, lda int, b []float32, o *[6]int, k int, out *[24]float32) {
	_ = a[3*lda+k-1]
	for _, v := range o {
		_ = b[v+k-1]
	}
	if !hasDotBlock4x6() {
		dotBlock4x6Go(a, lda, b, o, k, out)
		return
	}
	dotBlock4x6AVX512(&a[0], lda, &b[o[0]], &b[o[1]], &b[o[2]], &b[o[3]], &b[o[4]], &b[o[5]], k/16, 1<<(k%16)-1, out)
}

// finiteAVX returns the sum of x[i]-x[i] for i < n (n a positive multiple
// of 8): 0 when all are finite, else NaN. Implemented in vec_amd64.s (AVX).
//
//go:noescape
func finiteAVX(x *float32, n int) float32

// allFinite reports whether no value of x is NaN or infinite.
func allFinite(x []float32) bool {
	v := len(x) &^ 7
	if v > 0 && UseAsm && hasAsmKernel {
		if finiteAVX(&x[0], v) != 0 {
			return false
		}
		x = x[v:]
	}
	return allFiniteGo(x)
}

// mulAVX sets y[i] = a[i]*b[i] for i < n (n a positive multiple of 8),
// in vec_amd64.s (AVX).
//
//go:noescape
func mulAVX(a, b, y *float32, n int)

// scaleAVX sets y[i] = x[i]*s for i < n (n a positive multiple of 8), in
// vec_amd64.s (AVX).
//
//go:noescape
func scaleAVX(x, y *float32, n int, s float32)

func mul(a, b, y []float32) {
	n := len(a)
	b, y = b[:n], y[:n]
	if v := n &^ 7; v > 0 && UseAsm && hasAsmKernel {
		mulAVX(&a[0], &b[0], &y[0], v)
		a, b, y = a[v:], b[v:], y[v:]
	}
	mulGo(a, b, y)
}

func scale(x, y []float32, s float32) {
	n := len(x)
	y = y[:n]
	if v := n &^ 7; v > 0 && UseAsm && hasAsmKernel {
		scaleAVX(&x[0], &y[0], v, s)
		x, y = x[v:], y[v:]
	}
	scaleGo(x, y, s)
}

// hasGemv8 reports whether SgemvT's eight-row AVX-512 kernel runs.
func hasGemv8() bool { return useAVX512 && UseAsm && hasAsmKernel }

// gemv8AVX512 sets out[r] = sum over q < k of x[q]*b[r*ldb+q] for r < 8
// (gemv_avx512_amd64.s): k >= 16, the last k%16 floats under tmask.
//
//go:noescape
func gemv8AVX512(x, b *float32, ldb, k, tmask int, out *[8]float32)
