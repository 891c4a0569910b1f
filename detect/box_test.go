package detect

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestBoxConversions(t *testing.T) {
	b := FromCXCYWH(5, 6, 4, 2)
	if want := (Box{3, 5, 7, 7}); b != want {
		t.Fatalf("FromCXCYWH = %v, want %v", b, want)
	}
	cx, cy, w, h := b.CXCYWH()
	if cx != 5 || cy != 6 || w != 4 || h != 2 {
		t.Fatalf("CXCYWH = %g %g %g %g", cx, cy, w, h)
	}
	if got := FromXYWH(3, 5, 4, 2); got != b {
		t.Fatalf("FromXYWH = %v", got)
	}
	if a := (Box{5, 5, 3, 9}).Area(); a != 0 {
		t.Fatalf("degenerate box area %g", a)
	}
	if c := (Box{-2, 3, 12, 20}).Clip(10, 8); c != (Box{0, 3, 10, 8}) {
		t.Fatalf("Clip = %v", c)
	}
	if (Box{0, math.NaN(), 1, 1}).Finite() {
		t.Fatal("NaN box reported finite")
	}
}

func TestIoUHand(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a, b       Box
		iou, giou  float64
		ciouBelow1 bool
	}{
		// 10x10 boxes shifted by 5 in x: intersection 5*10 = 50, union
		// 100+100-50 = 150, IoU 1/3; the enclosing box is 15x10 = 150 =
		// the union, so GIoU = IoU.
		{"shift", Box{0, 0, 10, 10}, Box{5, 0, 15, 10}, 1.0 / 3, 1.0 / 3, true},
		// Disjoint 2x2 boxes 2 apart: IoU 0, union 8, enclosing 6x2 = 12,
		// GIoU = 0 - (12-8)/12 = -1/3.
		{"disjoint", Box{0, 0, 2, 2}, Box{4, 0, 6, 2}, 0, -1.0 / 3, true},
		// Nested: 4x4 inside 8x8: IoU 16/64 = 0.25, enclosing = outer box,
		// GIoU = 0.25 - 0 = 0.25.
		{"nested", Box{2, 2, 6, 6}, Box{0, 0, 8, 8}, 0.25, 0.25, false},
		{"identical", Box{1, 2, 3, 5}, Box{1, 2, 3, 5}, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IoU(tc.a, tc.b); !near(got, tc.iou, 1e-12) {
				t.Errorf("IoU = %g, want %g", got, tc.iou)
			}
			if got := GIoU(tc.a, tc.b); !near(got, tc.giou, 1e-12) {
				t.Errorf("GIoU = %g, want %g", got, tc.giou)
			}
			c := CIoU(tc.a, tc.b)
			if c > IoU(tc.a, tc.b)+1e-12 || (tc.ciouBelow1 && c >= IoU(tc.a, tc.b)) {
				t.Errorf("CIoU = %g with IoU %g", c, IoU(tc.a, tc.b))
			}
		})
	}
	// Nested boxes share their centre and aspect ratio: CIoU = IoU.
	if c := CIoU(Box{2, 2, 6, 6}, Box{0, 0, 8, 8}); !near(c, 0.25, 1e-6) {
		t.Errorf("concentric CIoU = %g, want 0.25", c)
	}
}
