package engine

import (
	"os"
	"runtime"
	"sort"
	"testing"
	"time"
)

var sink float32

func TestTmpSM(t *testing.T) {
	evict := make([]float32, 32<<20)
	for i := range evict {
		evict[i] = float32(i)
	}
	cases := []convCase{
		{"1x1 960to160 7x7", 1, 960, 7, 7, 160, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 160to960 7x7", 1, 160, 7, 7, 960, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 576to96 14x14", 1, 576, 14, 14, 96, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"1x1 96to576 14x14", 1, 96, 14, 14, 576, cvGeom(1, 1, 1, 0, 1, 1), true},
		{"3x3 64x7x7", 1, 64, 7, 7, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"3x3 512x7x7", 1, 512, 7, 7, 512, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"stem7", 1, 3, 224, 224, 64, cvGeom(7, 7, 2, 3, 1, 1), true},
		{"r20stem", 1, 1, 28, 28, 16, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"r20stem64", 64, 1, 28, 28, 16, cvGeom(3, 3, 1, 1, 1, 1), true},
		{"stem3", 1, 3, 224, 224, 32, cvGeom(3, 3, 2, 1, 1, 1), true},
		{"3x3 64x56x56", 1, 64, 56, 56, 64, cvGeom(3, 3, 1, 1, 1, 1), true},
	}
	for _, tc := range cases {
		if s := os.Getenv("CASE"); s != "" && s != tc.name {
			continue
		}
		for _, cold := range []bool{false} {
			for _, th := range []int{1, 2} {
				runtime.GOMAXPROCS(th)
				n, x, w, bias := tc.build(1)
				n.Op = OpFusedConv
				k := cvCompile(t, n)
				in := convIn(x, w, bias)
				ctx := &Ctx{pool: NewPool()}
				var ds []time.Duration
				for range 300 {
					ctx.pool.Reset()
					if cold {
						var s float32
						for i := 0; i < len(evict); i += 16 {
							s += evict[i]
						}
						sink += s
					}
					st := time.Now()
					k.Forward(ctx, in)
					ds = append(ds, time.Since(st))
				}
				sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
				t.Logf("%-20s cold %-5v threads %d: best %v median %v", tc.name, cold, th, ds[0], ds[len(ds)/2])
			}
		}
	}
}
