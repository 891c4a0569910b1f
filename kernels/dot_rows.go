package kernels

// Weight gradients of the implicit convolution lowering as blocks of dot
// products. SgemmRowsT's operands both run along the reduction: row i of A
// (an output-gradient plane) and row j of B (an input plane shifted by a
// tap). The packed GEMM must transpose B into 24-wide panels first, which
// for the few output channels of a small convolution (16-64 rows of A)
// costs a sizeable share of the product. dotRowsT reads both operands in
// place instead: a 4x3 block of C is twelve eight-lane dot products over
// the whole reduction, four rows of A against three runs of B, summed
// across lanes at the end.

// dotRowsT is SgemmRowsT (arguments checked by it, m, n, k > 0, alpha != 0)
// through 4x6 blocks of dot products (AVX-512: 24 sixteen-lane
// accumulators) and 4x3 ones (AVX2, and the columns after the last 4x6);
// edge rows and columns go through single dot products.
func dotRowsT(m, n, k int, alpha float32, a []float32, lda int, b []float32, off []int, beta float32, c []float32, ldc int) {
	set := func(i, j int, v float32) {
		v *= alpha
		if beta != 0 {
			v += beta * c[i*ldc+j]
		}
		c[i*ldc+j] = v
	}
	var blk [12]float32
	var blk6 [24]float32
	wide := hasDotBlock4x6()
	i := 0
	for ; i+4 <= m; i += 4 {
		j := 0
		for ; wide && j+6 <= n; j += 6 {
			dotBlock4x6(a[i*lda:], lda, b, (*[6]int)(off[j:j+6]), k, &blk6)
			if alpha != 1 || (beta != 0 && beta != 1) {
				for r := range 4 {
					for s := range 6 {
						set(i+r, j+s, blk6[r*6+s])
					}
				}
				continue
			}
			// set's arithmetic for alpha 1 and beta 0 or 1 (v*1 and
			// 1*c are exact), without its call per value.
			for r := range 4 {
				cr := (*[6]float32)(c[(i+r)*ldc+j:])
				br := (*[6]float32)(blk6[r*6:])
				if beta == 0 {
					*cr = *br
					continue
				}
				for s := range 6 {
					cr[s] = br[s] + cr[s]
				}
			}
		}
		for ; j+3 <= n; j += 3 {
			dotBlock4x3(a[i*lda:], lda, b, off[j], off[j+1], off[j+2], k, &blk)
			for r := range 4 {
				for s := range 3 {
					set(i+r, j+s, blk[r*3+s])
				}
			}
		}
		for ; j < n; j++ {
			for r := range 4 {
				set(i+r, j, dot(a[(i+r)*lda:(i+r)*lda+k], b[off[j]:off[j]+k]))
			}
		}
	}
	for ; i < m; i++ {
		for j := range n {
			set(i, j, dot(a[i*lda:i*lda+k], b[off[j]:off[j]+k]))
		}
	}
}

// dotBlock4x3Go is the portable dotBlock4x3: out[r*3+s] = sum over q < k
// of a[r*lda+q] * b[o_s+q], each a sequential dotGo.
func dotBlock4x3Go(a []float32, lda int, b []float32, o0, o1, o2, k int, out *[12]float32) {
	offs := [3]int{o0, o1, o2}
	for r := range 4 {
		ar := a[r*lda : r*lda+k]
		for s, o := range offs {
			out[r*3+s] = dotGo(ar, b[o:o+k])
		}
	}
}

// dotBlock4x6Go is the portable dotBlock4x6: out[r*6+s] = sum over q < k
// of a[r*lda+q] * b[o[s]+q], each a sequential dotGo.
func dotBlock4x6Go(a []float32, lda int, b []float32, o *[6]int, k int, out *[24]float32) {
	for r := range 4 {
		ar := a[r*lda : r*lda+k]
		for s, v := range o {
			out[r*6+s] = dotGo(ar, b[v:v+k])
		}
	}
}
