package engine

import (
	"math"
	"testing"
)

// TestPadLayoutFillRows checks fillRows against fill: for every range of
// layout rows it writes exactly floats [r0*wp, r1*wp+g) of each channel
// plane (clamped; nothing for no rows), with fill's values there, and
// nothing else.
func TestPadLayoutFillRows(t *testing.T) {
	const sentinel = -7
	for _, geo := range [][4]int{{5, 7, 1, 1}, {6, 4, 2, 1}, {3, 3, 0, 2}, {4, 9, 1, 0}} {
		h, w, g, gr := geo[0], geo[1], geo[2], geo[3]
		l := newPadLayout(h, w, g, gr, 1)
		const ch = 3
		src := make([]float32, ch*h*w)
		for i := range src {
			src[i] = float32(i + 1)
		}
		full := make([]float32, ch*l.plane)
		l.fill(full, src, ch, 1)
		rows := h + 2*gr
		for r0 := -1; r0 <= rows; r0++ {
			for r1 := r0; r1 <= rows+1; r1++ {
				got := make([]float32, ch*l.plane)
				for i := range got {
					got[i] = sentinel
				}
				l.fillRows(got, src, ch, r0, r1)
				a, b := max(r0, 0)*l.wp, min(r1, rows)*l.wp+l.g
				if max(r0, 0) >= min(r1, rows) {
					a, b = 0, 0 // no rows: nothing written
				}
				for c := range ch {
					for i := range l.plane {
						v := got[c*l.plane+i]
						if a < b && i >= a && i < b {
							if math.Float32bits(v) != math.Float32bits(full[c*l.plane+i]) {
								t.Fatalf("%v rows [%d, %d): channel %d float %d = %v, fill wrote %v", geo, r0, r1, c, i, v, full[c*l.plane+i])
							}
						} else if v != sentinel {
							t.Fatalf("%v rows [%d, %d): channel %d float %d written (%v) outside [%d, %d)", geo, r0, r1, c, i, v, a, b)
						}
					}
				}
			}
		}
	}
}
