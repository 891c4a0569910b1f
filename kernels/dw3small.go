package kernels

// Depthwise 3x3 on planes at most 16 pixels wide (MobileNets' 14x14 and
// 7x7 layers): one vector holds a whole input row, so each output row is
// nine lane permutations of three row loads (dw3small_avx512_amd64.s),
// with no padded copy of the plane and no copy out. On such planes the
// padded layout's fill and copy-out cost more than the taps.

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

// dwSmallMaxK is the widest kernel the KxK small-plane kernel takes.
const dwSmallMaxK = 7

// dwSmallK is dwSmall for a kh x kw kernel with "same" padding (PlaneKxK);
// its layout is read by dwSmallKAVX512 (offsets in bytes: idx 0, kmask
// 448, omask 504, wmask 512, orow 520).
type dwSmallK struct {
	// idx[kx][ox] is the input column s*ox+kx-(kw-1)/2 (0 where it is
	// outside the row or ox >= ow); kmask[kx] has bit ox set where it is
	// inside.
	idx   [dwSmallMaxK][dwSmallMaxW]int32
	kmask [dwSmallMaxK]uint64
	omask uint64
	wmask uint64
	orow  int
}

func newDWSmallK(w, kw, stride int) *dwSmallK {
	ow := (w-1)/stride + 1
	p := &dwSmallK{omask: 1<<ow - 1, wmask: 1<<w - 1, orow: 4 * ow}
	for kx := range kw {
		for ox := range ow {
			if c := stride*ox + kx - (kw-1)/2; c >= 0 && c < w {
				p.idx[kx][ox] = int32(c)
				p.kmask[kx] |= 1 << ox
			}
		}
	}
	return p
}
