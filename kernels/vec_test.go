package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecHelpers checks axpy and addTo against scalar loops for lengths
// around the 8-wide vector body, on both paths, and that elements past
// len(x) are untouched.
func TestVecHelpers(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 67} {
			t.Run(fmt.Sprintf("%s/n%d", path.name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 17))
				x, y := randSlice(r, n), randSlice(r, n+3)
				ya, yb := append([]float32(nil), y...), append([]float32(nil), y...)
				withAsm(path.asm, func() {
					axpy(-1.5, x, ya)
					addTo(x, yb)
				})
				for i := range y {
					wantA, wantB := y[i], y[i]
					if i < n {
						wantA = float32(float64(y[i]) - 1.5*float64(x[i]))
						wantB = y[i] + x[i]
					}
					if math.Abs(float64(ya[i]-wantA)) > 1e-6 {
						t.Fatalf("axpy y[%d] = %v, want %v", i, ya[i], wantA)
					}
					if yb[i] != wantB {
						t.Fatalf("addTo y[%d] = %v, want %v", i, yb[i], wantB)
					}
				}
			})
		}
	}
}

// TestAddRows checks the strided block add on both paths for widths
// around the vector width, leaving the gaps between rows untouched.
func TestAddRows(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, tc := range []struct{ rows, n, stride int }{{1, 1, 1}, {3, 7, 9}, {2, 8, 8}, {4, 9, 12}, {3, 31, 32}, {2, 17, 40}} {
			t.Run(fmt.Sprintf("%s/r%d_n%d_s%d", path.name, tc.rows, tc.n, tc.stride), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(tc.n), 19))
				size := (tc.rows-1)*tc.stride + tc.n
				src, dst := randSlice(r, size), randSlice(r, size+2)
				want := append([]float32(nil), dst...)
				for row := range tc.rows {
					for c := range tc.n {
						want[row*tc.stride+c] += src[row*tc.stride+c]
					}
				}
				withAsm(path.asm, func() { addRows(tc.rows, tc.n, src, dst, tc.stride) })
				for i := range want {
					if dst[i] != want[i] {
						t.Fatalf("dst[%d] = %v, want %v", i, dst[i], want[i])
					}
				}
			})
		}
	}
}

// TestGatherStride2 checks the stride-2 gather on both paths for lengths
// around the vector block, with and without spare source elements.
func TestGatherStride2(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, n := range []int{1, 7, 8, 9, 16, 17, 33} {
			for _, spare := range []int{0, 1, 20} {
				t.Run(fmt.Sprintf("%s/n%d_spare%d", path.name, n, spare), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(n), uint64(spare)))
					src := randSlice(r, 2*n-1+spare)
					dst := randSlice(r, n+2)
					want := append([]float32(nil), dst...)
					for i := range n {
						want[i] = src[2*i]
					}
					withAsm(path.asm, func() { gatherStride2(dst[:n], src) })
					for i := range want {
						if dst[i] != want[i] {
							t.Fatalf("dst[%d] = %v, want %v", i, dst[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestInterleave2 checks Deinterleave2 and Interleave2 (assembly and Go)
// against the definition around the 8-pair vector blocks, that they undo
// each other, that elements past the runs are untouched, and that bad
// lengths panic.
func TestInterleave2(t *testing.T) {
	for _, path := range gemmPaths(t) {
		for _, n := range []int{0, 1, 7, 8, 9, 16, 17, 49, 196} {
			t.Run(fmt.Sprintf("%s/n%d", path.name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 5))
				src := randSlice(r, 2*n+3)
				even, odd := randSlice(r, n+2), randSlice(r, n+2)
				keepE, keepO := even[n:], append([]float32(nil), odd[n:]...)
				keepE = append([]float32(nil), keepE...)
				withAsm(path.asm, func() { Deinterleave2(even[:n], odd[:n], src) })
				for i := range n {
					if even[i] != src[2*i] || odd[i] != src[2*i+1] {
						t.Fatalf("deinterleave %d: %v %v, want %v %v", i, even[i], odd[i], src[2*i], src[2*i+1])
					}
				}
				if even[n] != keepE[0] || odd[n+1] != keepO[1] {
					t.Errorf("deinterleave wrote past n")
				}
				dst := randSlice(r, 2*n+3)
				tail := append([]float32(nil), dst[2*n:]...)
				withAsm(path.asm, func() { Interleave2(dst, even[:n], odd[:n]) })
				for i := range 2 * n {
					if dst[i] != src[i] {
						t.Fatalf("interleave of the deinterleaved: dst[%d] = %v, want %v", i, dst[i], src[i])
					}
				}
				for i, v := range tail {
					if dst[2*n+i] != v {
						t.Errorf("interleave wrote past 2n")
					}
				}
			})
		}
	}
	for _, f := range []func(){
		func() { Deinterleave2(make([]float32, 3), make([]float32, 2), make([]float32, 6)) },
		func() { Deinterleave2(make([]float32, 3), make([]float32, 3), make([]float32, 5)) },
		func() { Interleave2(make([]float32, 5), make([]float32, 3), make([]float32, 3)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("bad lengths did not panic")
				}
			}()
			f()
		}()
	}
}

// TestCopyRows checks CopyRows (Go, AVX2 and AVX-512) against the
// definition on run lengths around the 8-, 4- and 16-float steps, with
// and without zeros, zero runs into the next 16-float block and past it.
func TestCopyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	defer func(v bool) { useAVX512 = v }(useAVX512)
	for _, path := range []struct{ asm, avx512 bool }{{false, false}, {true, false}, {true, true}} {
		if path.avx512 && !hasAVX512Kernel {
			continue
		}
		useAVX512 = path.avx512
		asm := path.asm
		for _, n := range []int{0, 1, 3, 4, 7, 8, 13, 14, 15, 16, 17, 28, 31, 32, 33, 47} {
			for _, zero := range []int{0, 1, 2, 15, 17, 33} {
				rows, ss, ds := 5, n+3, n+zero+2
				src := make([]float32, rows*ss)
				for i := range src {
					src[i] = r.Float32()
				}
				got := make([]float32, rows*ds)
				for i := range got {
					got[i] = -1
				}
				want := append([]float32(nil), got...)
				for row := range rows {
					for c := range n {
						want[row*ds+c] = src[row*ss+c]
					}
					for c := n; c < n+zero; c++ {
						want[row*ds+c] = 0
					}
				}
				withAsm(asm, func() { CopyRows(got, ds, src, ss, n, rows, zero) })
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("asm=%v avx512=%v n=%d zero=%d: element %d = %v, want %v", asm, useAVX512, n, zero, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestDot checks dot (assembly and Go) against a float64 sum on lengths
// around the 32-float blocks and 8-float steps, with b longer than a.
func TestDot(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, asm := range []bool{false, true} {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 812} {
			a := make([]float32, n)
			b := make([]float32, n+5)
			var want, scale float64
			for i := range b {
				b[i] = r.Float32()*2 - 1
			}
			for i := range a {
				a[i] = r.Float32()*2 - 1
				want += float64(a[i]) * float64(b[i])
				scale += math.Abs(float64(a[i]) * float64(b[i]))
			}
			var got float32
			withAsm(asm, func() { got = dot(a, b) })
			if math.Abs(float64(got)-want) > 1e-6*(scale+1) {
				t.Errorf("asm=%v n=%d: dot = %v, want %v", asm, n, got, want)
			}
		}
	}
}

// BenchmarkCopyRows moves the planes of a chunk into and out of the
// implicit lowering's padded layout (rows w floats long, w+1 apart) at the
// resnet map sizes, against one contiguous copy of the same floats.
func BenchmarkCopyRows(b *testing.B) {
	for _, s := range []struct{ w, planes int }{{28, 16}, {14, 96}, {7, 832}} {
		src := make([]float32, s.planes*s.w*s.w)
		dst := make([]float32, s.planes*(s.w+1)*(s.w+1)+8)
		b.Run(fmt.Sprintf("fill_w%d", s.w), func(b *testing.B) {
			for b.Loop() {
				for p := range s.planes {
					CopyRows(dst[p*(s.w+1)*(s.w+1):], s.w+1, src[p*s.w*s.w:], s.w, s.w, s.w, 1)
				}
			}
			b.SetBytes(int64(4 * len(src)))
		})
		b.Run(fmt.Sprintf("extract_w%d", s.w), func(b *testing.B) {
			for b.Loop() {
				for p := range s.planes {
					CopyRows(src[p*s.w*s.w:], s.w, dst[p*(s.w+1)*(s.w+1):], s.w+1, s.w, s.w, 0)
				}
			}
			b.SetBytes(int64(4 * len(src)))
		})
		b.Run(fmt.Sprintf("memmove_w%d", s.w), func(b *testing.B) {
			for b.Loop() {
				copy(dst, src)
			}
			b.SetBytes(int64(4 * len(src)))
		})
	}
}

// TestAllFinite puts a NaN, +Inf or -Inf at every position of slices of
// every length up to 80 (the vector body, its 32- and 8-float steps and
// the Go tail) and checks AllFinite against the scalar loop; the largest
// finite values stay finite.
func TestAllFinite(t *testing.T) {
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for n := range 81 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i%7) - 3
			if i%5 == 0 {
				x[i] = math.MaxFloat32
			}
			if i%11 == 0 {
				x[i] = -math.MaxFloat32
			}
		}
		if !AllFinite(x) || !allFiniteGo(x) {
			t.Fatalf("n %d: finite values reported not finite", n)
		}
		for i := range n {
			for _, b := range bad {
				old := x[i]
				x[i] = b
				if AllFinite(x) || allFiniteGo(x) {
					t.Fatalf("n %d: %v at %d not found", n, b, i)
				}
				x[i] = old
			}
		}
	}
}

// TestDotBlock4x6 checks dotBlock4x6 (AVX-512 when it runs, else Go)
// against float64 sums on lengths around the 16-float steps, with NaN
// right after every operand's k floats (a read past k would show).
func TestDotBlock4x6(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{1, 7, 15, 16, 17, 31, 32, 33, 100, 841} {
		lda := k + 5
		a := make([]float32, 3*lda+k+1)
		for i := range a {
			a[i] = r.Float32()*2 - 1
		}
		for row := range 4 {
			a[row*lda+k] = float32(math.NaN())
		}
		var o [6]int
		b := make([]float32, 6*(k+3)+1)
		for i := range b {
			b[i] = r.Float32()*2 - 1
		}
		for s := range o {
			o[s] = s * (k + 3)
			b[o[s]+k] = float32(math.NaN())
		}
		var got [24]float32
		dotBlock4x6(a, lda, b, &o, k, &got)
		for row := range 4 {
			for s := range 6 {
				var want, scale float64
				for q := range k {
					p := float64(a[row*lda+q]) * float64(b[o[s]+q])
					want += p
					scale += math.Abs(p)
				}
				if g := float64(got[row*6+s]); math.Abs(g-want) > 1e-6*(scale+1) || math.IsNaN(g) {
					t.Fatalf("k=%d (asm %v): out[%d][%d] = %v, want %v", k, hasDotBlock4x6(), row, s, g, want)
				}
			}
		}
	}
}

// TestMulScale checks Mul and Scale on both paths against the Go products
// bit for bit, over lengths that take the vector body, the tail or both,
// with NaN, infinities and signed zeros, in place too.
func TestMulScale(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 49, 100} {
		a, b := randSlice(r, n), randSlice(r, n)
		if n > 4 {
			a[0], a[1], b[2], a[3] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Copysign(0, -1)), 0
		}
		for _, asm := range []bool{false, true} {
			withAsm(asm, func() {
				y, z := make([]float32, n), append([]float32(nil), a...)
				Mul(a, b, y)
				Scale(z, z, -1.5)
				for i := range n {
					if math.Float32bits(y[i]) != math.Float32bits(a[i]*b[i]) {
						t.Fatalf("n=%d asm=%v: Mul[%d] = %g, want %g", n, asm, i, y[i], a[i]*b[i])
					}
					if want := a[i] * -1.5; math.Float32bits(z[i]) != math.Float32bits(want) {
						t.Fatalf("n=%d asm=%v: Scale[%d] = %g, want %g", n, asm, i, z[i], want)
					}
				}
			})
		}
	}
}
