package kernels

// Depthwise convolutions read in place by AVX-512 kernels
// (dw3small_avx512_amd64.s), with no padded or deinterleaved copy of the
// plane and no copy out, where Plane3x3 and PlaneKxK otherwise copy every
// plane first: on 14x14 and 7x7 planes the copies cost more than the
// taps. On planes at most 16 wide one vector holds a whole input row and
// each output row is lane permutations of its input rows (dwSmall, 3x3;
// dwSmallK, KxK at stride 2 to 32 columns, two vectors a row); on wider
// planes a block of 16 outputs gathers its taps from two input vectors
// (dwWide, 3x3). Each gives bitwise the padded path's outputs.

// dwSmallMaxW is the widest input plane the small-plane kernel takes.
const dwSmallMaxW = 16

// dwSmall is the lane plan of one small plane geometry for
// dw3SmallAVX512; its layout is read by the assembly (offsets in bytes:
// idx 0, kmask 192, omask 216, wmask 224, orow 232).
type dwSmall struct {
	// idx[kx][ox] is the input column s*ox+kx-1 that output column ox's
	// tap kx reads (0 where it is outside the row or ox >= ow).
	idx [3][dwSmallMaxW]int32
	// kmask[kx] has bit ox set where that column is inside the row.
	kmask [3]uint64
	omask uint64 // bits of the ow output lanes
	wmask uint64 // bits of the w input lanes
	orow  int    // output row bytes (4*ow)
}

func newDWSmall(w, stride int) *dwSmall {
	ow := Depthwise3x3Out(w, stride)
	p := &dwSmall{omask: 1<<ow - 1, wmask: 1<<w - 1, orow: 4 * ow}
	for kx := range 3 {
		for ox := range ow {
			if c := stride*ox + kx - 1; c >= 0 && c < w {
				p.idx[kx][ox] = int32(c)
				p.kmask[kx] |= 1 << ox
			}
		}
	}
	return p
}

// useDWSmall lets Plane3x3.Depthwise take the small-plane kernel; tests
// turn it off to compare with the padded-layout path.
var useDWSmall = true

// dwSmallOn reports whether planes with a lane plan take the small-plane
// kernel.
func dwSmallOn() bool { return UseAsm && useAVX512 && useDWSmall }

// dwSmallMaxK is the widest kernel the KxK small-plane kernel takes, and
// dwSmallKMaxW the widest plane: two vectors hold a row, so output
// columns are gathered from both by two-table permutations.
const (
	dwSmallMaxK  = 7
	dwSmallKMaxW = 2 * dwSmallMaxW
)

// dwSmallK is dwSmall for a kh x kw kernel with "same" padding on planes
// up to dwSmallKMaxW wide, by output vectors of 16 columns (nv of them);
// its layout is read by dwSmallKAVX512 (offsets in bytes: idx 0, kmask
// 896, omask 1008, wmask 1024, orow 1040, nv 1048).
type dwSmallK struct {
	// idx[v][kx][i] is the input column s*ox+kx-(kw-1)/2 of output column
	// ox = 16v+i (0 where it is outside the row or ox >= ow);
	// kmask[v][kx] has bit i set where it is inside.
	idx   [2][dwSmallMaxK][dwSmallMaxW]int32
	kmask [2][dwSmallMaxK]uint64
	omask [2]uint64 // the output lanes of each vector
	wmask [2]uint64 // the input lanes of a row's two vectors
	orow  int       // output row bytes (4*ow)
	nv    int       // output vectors a row (1 or 2)
}

// smallKFits reports whether the KxK small-plane kernel takes planes w
// wide for a kernel kw wide at stride: at stride 2 up to dwSmallKMaxW
// columns (one output vector a row), where the padded layout computes
// every stride-1 output and keeps half. At stride 1 it lost to the
// padded layout's long rows (28x28 3x3 and 5x5 1.3x slower, 14x14 and
// 7x7 5x5 about even), so there only dwSmall's 3x3 kernel is used.
func smallKFits(w, kw, stride int) bool {
	return stride == 2 && w <= dwSmallKMaxW && kw <= dwSmallMaxK
}

func newDWSmallK(w, kw, stride int) *dwSmallK {
	ow := (w-1)/stride + 1
	p := &dwSmallK{orow: 4 * ow, nv: (ow + dwSmallMaxW - 1) / dwSmallMaxW}
	for c := range w {
		p.wmask[c/dwSmallMaxW] |= 1 << (c % dwSmallMaxW)
	}
	for ox := range ow {
		v, i := ox/dwSmallMaxW, ox%dwSmallMaxW
		p.omask[v] |= 1 << i
		for kx := range kw {
			if c := stride*ox + kx - (kw-1)/2; c >= 0 && c < w {
				p.idx[v][kx][i] = int32(c)
				p.kmask[v][kx] |= 1 << i
			}
		}
	}
	return p
}

// dwWide is the lane plan of dw3WideAVX512, the 3x3 kernel for planes
// wider than the small-plane kernels take. At stride 2 each output
// vector's 16 columns come from two input vectors (32 columns) by an even
// and an odd permutation, the left tap by shifting the previous vector's
// odd lanes in; at stride 1 from one vector and the next, the side taps
// shifted a lane. Its layout is read by the assembly (idx 0 and 64
// bytes); masks holds, a block of 16 outputs at a time, the lanes of its
// two input vectors and of its outputs.
type dwWide struct {
	even, odd [dwSmallMaxW]int32 // 0, 2, ..., 30 and 1, 3, ..., 31
	masks     []uint64
	zero      []float32 // w zeros: the rows outside the plane (never written)
}

func newDWWide(w, stride int) *dwWide {
	ow := Depthwise3x3Out(w, stride)
	p := &dwWide{zero: make([]float32, w)}
	for i := range dwSmallMaxW {
		p.even[i], p.odd[i] = int32(2*i), int32(2*i+1)
	}
	lanes := func(n int) uint64 { return 1<<min(max(n, 0), dwSmallMaxW) - 1 }
	in := stride * dwSmallMaxW // input columns a block steps over
	for b := 0; 16*b < ow; b++ {
		p.masks = append(p.masks, lanes(w-in*b), lanes(w-in*b-16), lanes(ow-16*b))
	}
	return p
}

// wideFits reports whether dw3WideAVX512 takes planes w wide at stride:
// at stride 2 above the small-plane kernels' 32 columns, at stride 1
// above dwSmall's 16.
func wideFits(w, stride int) bool {
	return stride == 2 && w > dwSmallKMaxW || stride == 1 && w > dwSmallMaxW
}

// dwS1 is the lane plan of dwS1AVX512, the KxK kernel at stride 1 on
// planes at most dwSmallMaxW wide; its layout is read by the assembly
// (offsets in bytes: idx 0, kmask 448, wmask 504, rowb 512).
type dwS1 struct {
	// idx[kx][ox] is the input column ox+kx-(kw-1)/2 that output column
	// ox's tap kx reads (0 where it is outside the row or ox >= w);
	// kmask[kx] has bit ox set where it is inside.
	idx   [dwSmallMaxK][dwSmallMaxW]int32
	kmask [dwSmallMaxK]uint64
	wmask uint64 // the w lanes of a row
	rowb  int    // row bytes (4*w)
}

// s1Fits reports whether dwS1AVX512 takes planes w wide for a kernel kw
// wide at stride: stride 1, w <= dwSmallMaxW, kw <= dwSmallMaxK. It
// shifts each input row once per kernel column and reads the shifted
// rows kh times from L1, where the padded layout's long rows compute the
// pad columns too (rows of w+kw-1) around a copy in and out of the plane:
// mobilenet_v3_small's 5x5 layers on 14x14 and 7x7 planes took 113-131
// us each at 1 thread (ONNX Runtime 47-62).
func s1Fits(w, kw, stride int) bool {
	return stride == 1 && w <= dwSmallMaxW && kw <= dwSmallMaxK
}

func newDWS1(w, kw int) *dwS1 {
	p := &dwS1{wmask: 1<<w - 1, rowb: 4 * w}
	for kx := range kw {
		for ox := range w {
			if c := ox + kx - (kw-1)/2; c >= 0 && c < w {
				p.idx[kx][ox] = int32(c)
				p.kmask[kx] |= 1 << ox
			}
		}
	}
	return p
}

// s1Scratch is the scratch dwS1AVX512 needs: kw shifted vectors of 16
// floats for each of the h rows and the kh-1 zero rows around them.
func s1Scratch(h, kh, kw int) int { return (h + kh - 1) * kw * dwSmallMaxW }
