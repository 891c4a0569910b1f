package data

import (
	"math"
	"testing"
)

// FuzzYOLOLabels feeds arbitrary label files to ParseYOLOLabels: it must
// return an error or boxes inside [0, 1] with positive size and classes in
// range, never panic.
func FuzzYOLOLabels(f *testing.F) {
	for _, s := range []string{"0 0.5 0.5 0.2 0.2\n", "1 1 1 0.02 0.02\r\n\n", "3.0 .1 .2 .1 .1", "0 0.5 0.5 0.2", "9 0.5 0.5 0.2 0.2", "0 nan 0 1 1", "0 0.1 0.1 0.2 0.1 0.3 0.3"} {
		f.Add([]byte(s), 4)
	}
	f.Fuzz(func(t *testing.T, b []byte, k int) {
		boxes, err := ParseYOLOLabels(b, "fuzz.txt", k)
		if err != nil {
			return
		}
		for _, x := range boxes {
			x1, x2, y1, y2 := x.CX-x.W/2, x.CX+x.W/2, x.CY-x.H/2, x.CY+x.H/2
			if x.Class < 0 || x.Class >= k || !(x.W > 0) || !(x.H > 0) || x1 < -1e-12 || y1 < -1e-12 || x2 > 1+1e-12 || y2 > 1+1e-12 || math.IsNaN(x.CX+x.CY) {
				t.Fatalf("accepted bad box %+v with %d classes", x, k)
			}
		}
	})
}

// FuzzDataYAML feeds arbitrary data.yaml files to ParseDataYAML: it must
// return an error or at least one and at most MaxClasses names, never
// panic.
func FuzzDataYAML(f *testing.F) {
	for _, s := range []string{"names: [a, b]\n", "names:\n  0: a\n  1: b\nnc: 2\npath: ../x\n", "nc: 3\n", "names:\n - a\n - b\ntrain: [x]\n", "&a [*a]", "names: {1: a}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDataYAML(b, "fuzz.yaml")
		if err != nil {
			return
		}
		if len(d.Names) == 0 || len(d.Names) > MaxClasses {
			t.Fatalf("accepted %d names", len(d.Names))
		}
	})
}
