package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gemmBenchShapes are conv-lowered (M filters, K = C*KH*KW, N = OH*OW*batch)
// and square products.
var gemmBenchShapes = []struct{ m, n, k int }{
	{16, 784 * 8, 144}, {32, 196 * 8, 288}, {64, 49 * 32, 576},
	{64, 784 * 8, 576}, {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
}

func benchGemm(b *testing.B, parallel bool, asm bool) {
	for _, s := range gemmBenchShapes {
		b.Run(fmt.Sprintf("M%d_N%d_K%d", s.m, s.n, s.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
			withAsm(asm, func() {
				b.ResetTimer()
				for b.Loop() {
					if parallel {
						SgemmParallel(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n)
					} else {
						Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n)
					}
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		})
	}
}

// BenchmarkSgemm measures the single-threaded packed GEMM (asm kernel when
// available).
func BenchmarkSgemm(b *testing.B) { benchGemm(b, false, AsmAvailable()) }

// BenchmarkSgemmGo measures the single-threaded GEMM with the pure-Go
// micro-kernel.
func BenchmarkSgemmGo(b *testing.B) { benchGemm(b, false, false) }

// BenchmarkSgemmParallel measures SgemmParallel over Threads() goroutines.
func BenchmarkSgemmParallel(b *testing.B) { benchGemm(b, true, AsmAvailable()) }

// BenchmarkSgemmRows measures SgemmRows on implicit-im2col shapes (3x3
// pad-1 convolutions of one 28x28, three 14x14 and thirteen 7x7 padded
// images, whose rows are shifted views of one buffer) next to Sgemm on the
// materialised matrix of the same size.
func BenchmarkSgemmRows(b *testing.B) {
	for _, s := range []struct{ m, c, h, nb int }{{16, 16, 28, 1}, {32, 32, 14, 3}, {64, 64, 7, 13}} {
		wp := s.h + 1
		plane := (1+s.nb*(s.h+1))*wp + 1
		n := (s.nb*(s.h+1)*wp + 23) / 24 * 24
		k := s.c * 9
		off := make([]int, 0, k)
		for c := range s.c {
			for t := range 9 {
				off = append(off, c*plane+wp+1+(t/3-1)*wp+t%3-1)
			}
		}
		r := rand.New(rand.NewPCG(1, 1))
		a, buf, c := randSlice(r, s.m*k), randSlice(r, s.c*plane+n), make([]float32, s.m*n)
		dense := randSlice(r, k*n)
		flops := 2 * float64(s.m) * float64(n) * float64(k)
		b.Run(fmt.Sprintf("rows_M%d_N%d_K%d", s.m, n, k), func(b *testing.B) {
			for b.Loop() {
				SgemmRows(s.m, n, k, 1, a, k, buf, off, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("dense_M%d_N%d_K%d", s.m, n, k), func(b *testing.B) {
			for b.Loop() {
				Sgemm(false, false, s.m, n, k, 1, a, k, dense, n, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkRowsT compares SgemmRowsT's two algorithms on weight gradients
// of 3x3 convs (C[m, c*9] = dY_pad * Xshift^T over one chunk's padded
// columns): grayscale and RGB stems, a few channels, the resnet layers.
func BenchmarkRowsT(b *testing.B) {
	for _, s := range []struct{ m, c, h, nb int }{{16, 1, 28, 1}, {16, 3, 28, 1}, {32, 6, 14, 3}, {16, 16, 28, 1}, {32, 32, 14, 3}, {64, 64, 7, 13}} {
		wp := s.h + 1
		plane := (1+s.nb*(s.h+1))*wp + 1
		k := s.nb * (s.h + 1) * wp
		n := s.c * 9
		off := make([]int, 0, n)
		for c := range s.c {
			for t := range 9 {
				off = append(off, c*plane+(t/3)*wp+t%3)
			}
		}
		r := rand.New(rand.NewPCG(1, 1))
		a, buf, c := randSlice(r, s.m*plane), randSlice(r, s.c*plane+k), make([]float32, s.m*n)
		flops := 2 * float64(s.m) * float64(n) * float64(k)
		for _, path := range []struct {
			name string
			f    func(m, n, k int, alpha float32, a []float32, lda int, b []float32, off []int, beta float32, c []float32, ldc int)
		}{{"gemm", sgemmRowsTPacked}, {"dots", dotRowsT}} {
			b.Run(fmt.Sprintf("%s_M%d_N%d_K%d", path.name, s.m, n, k), func(b *testing.B) {
				for b.Loop() {
					path.f(s.m, n, k, 1, a, plane, buf, off, 0, c, n)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
