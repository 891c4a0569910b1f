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
