package npy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// FuzzRead feeds arbitrary bytes to Read: it must return a tensor whose
// shape matches its data, or an error starting "npy: ", never panic, and
// never hold more values than the input had bytes to describe. A tensor it
// returns must survive a Write/Read round trip unchanged.
func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	x := tensor.New(2, 3)
	for i := range x.Data {
		x.Data[i] = float32(i) - 2.5
	}
	if err := Write(&good, x); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(rawNpy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)))
	f.Add(rawNpy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32le(1)))
	f.Add(rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", nil))
	f.Add(rawNpy(3, "{'shape': (0, 4L), 'descr': '<f4', 'fortran_order': True}", nil))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Read(bytes.NewReader(b))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "npy: ") {
				t.Fatalf("error without the npy: prefix: %v", err)
			}
			return
		}
		if len(got.Data) != tensor.Size(got.Shape) {
			t.Fatalf("shape %v with %d values", got.Shape, len(got.Data))
		}
		if 4*len(got.Data) > len(b) {
			t.Fatalf("%d values from a %d-byte input", len(got.Data), len(b))
		}
		var w bytes.Buffer
		if err := Write(&w, got); err != nil {
			t.Fatalf("writing back: %v", err)
		}
		back, err := Read(&w)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !tensor.SameShape(back.Shape, got.Shape) {
			t.Fatalf("round trip shape %v, want %v", back.Shape, got.Shape)
		}
		for i := range got.Data {
			if a, c := got.Data[i], back.Data[i]; a != c && !(a != a && c != c) {
				t.Fatalf("round trip value %d: %v, want %v", i, c, a)
			}
		}
	})
}
