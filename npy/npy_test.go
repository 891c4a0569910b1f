package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// rawNpy builds a .npy file by hand from a header dict and body bytes, so
// tests do not depend on the package's own writer.
func rawNpy(major byte, dict string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(major)
	b.WriteByte(0)
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(len(dict)))
	}
	b.WriteString(dict)
	b.Write(body)
	return b.Bytes()
}

func f32le(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestReadValid(t *testing.T) {
	f64be := func(v ...float64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f64le := func(v ...float64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	tests := []struct {
		name  string
		file  []byte
		shape []int
		data  []float32
	}{
		{"f4 2x3", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", f32le(1, 2, 3, 4, 5, 6)), []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"f4 1-d trailing comma", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }    \n", f32le(-1, 0.5, 7)), []int{3}, []float32{-1, 0.5, 7}},
		{"scalar", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", f32le(42)), []int{}, []float32{42}},
		{"empty", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }\n", nil), []int{0, 5}, []float32{}},
		{"f8 converted", rawNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", f64le(1.5, -2.25)), []int{2}, []float32{1.5, -2.25}},
		{"f8 big endian", rawNpy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 2), }\n", f64be(3, 1e-3)), []int{1, 2}, []float32{3, 1e-3}},
		{"version 2 double quotes key order", rawNpy(2, "{\"shape\": (1,), \"fortran_order\": False, \"descr\": \"<f4\"}\n", f32le(9)), []int{1}, []float32{9}},
		{"version 3", rawNpy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 2), }\n", f32le(1, 2)), []int{1, 1, 1, 2}, []float32{1, 2}},
		{"python2 long", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }\n", f32le(1, 2)), []int{2}, []float32{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(got.Shape, tc.shape) || got.Shape == nil {
				t.Fatalf("shape %v, want %v", got.Shape, tc.shape)
			}
			if fmt.Sprint(got.Data) != fmt.Sprint(tc.data) {
				t.Fatalf("data %v, want %v", got.Data, tc.data)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	ok := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "reading magic"},
		{"bad magic", []byte("PK\x03\x04 not numpy at all"), "bad magic"},
		{"bad version", rawNpy(9, ok, f32le(1, 2)), "version 9"},
		{"truncated header", rawNpy(1, ok, nil)[:20], "header"},
		{"int dtype", rawNpy(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", make([]byte, 16)), `dtype "<i8"`},
		{"fortran", rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", f32le(1, 2, 3, 4)), "Fortran"},
		{"short data", rawNpy(1, ok, f32le(1)), "found only 4"},
		{"missing shape", rawNpy(1, "{'descr': '<f4', 'fortran_order': False}\n", nil), "missing key shape"},
		{"unknown key", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", f32le(1)), "unknown key"},
		{"negative dim", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", nil), "shape is not a tuple"},
		{"garbage header", rawNpy(1, "descr=<f4\n", nil), "malformed header"},
		{"huge shape", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }\n", nil), "more than"},
		{"huge header len", rawNpy(2, "", nil)[:8:8], "header length"},
	}
	// A version-2 file declaring a 4 GB header.
	tests[len(tests)-1].file = append(append([]byte{}, tests[len(tests)-1].file...), 0xff, 0xff, 0xff, 0xff)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tc.file))
			if err == nil {
				t.Fatalf("no error, got %v", got)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "npy: ") {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// A header claiming a 1e9-element array over a 12-byte body must fail without
// allocating gigabytes.
func TestReadClaimedSizeNotAllocated(t *testing.T) {
	file := rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }\n", f32le(1, 2, 3))
	var before, after runtimeMem
	before.read()
	_, err := Read(bytes.NewReader(file))
	after.read()
	if err == nil || !strings.Contains(err.Error(), "found only 12") {
		t.Fatalf("err = %v", err)
	}
	if d := after.total - before.total; d > 64<<20 {
		t.Fatalf("allocated %d bytes for a 12-byte body", d)
	}
	path := filepath.Join(t.TempDir(), "big.npy")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	before.read()
	_, err = ReadFile(path)
	after.read()
	if err == nil || !strings.Contains(err.Error(), "needs 4000000000 data bytes, the file has 12") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if d := after.total - before.total; d > 1<<20 {
		t.Fatalf("ReadFile allocated %d bytes before checking the size", d)
	}
}

func TestReadFileExtraBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	file := rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32le(1, 2, 3))
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "needs 8 data bytes, the file has 12") {
		t.Fatalf("err = %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := tensor.NewRNG(7)
	for _, shape := range [][]int{{}, {5}, {2, 3}, {2, 3, 4, 5}, {0, 3}, {1, 3, 32, 32}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			x := tensor.New(shape...)
			x.FillNormal(rng, 0, 3)
			var b bytes.Buffer
			if err := Write(&b, x); err != nil {
				t.Fatal(err)
			}
			// The data must start on a 64-byte boundary (numpy's convention).
			if (b.Len()-4*x.Len())%64 != 0 {
				t.Fatalf("header of %d bytes is not 64-aligned", b.Len()-4*x.Len())
			}
			y, err := Read(&b)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(x.Shape, y.Shape) || tensor.MaxAbsDiff(x, y) != 0 {
				t.Fatalf("round trip changed %v into %v", x, y)
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.npy")
	x := tensor.From([]float32{1, 2, 3, 4}, 2, 2)
	if err := WriteFile(path, x); err != nil {
		t.Fatal(err)
	}
	// A failing write (shape/data mismatch) must leave the old file intact and no temp file.
	bad := &tensor.Tensor{Shape: []int{3}, Data: []float32{1}}
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("no error for a malformed tensor")
	}
	y, err := ReadFile(path)
	if err != nil || tensor.MaxAbsDiff(x, y) != 0 {
		t.Fatalf("old file damaged: %v %v", y, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.npy"), x); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

// TestNumpyInterop checks files against numpy itself when python3 with numpy
// is installed: numpy reads what we write, and we read what numpy writes.
func TestNumpyInterop(t *testing.T) {
	// Debian's python3 (with python3-numpy) is the peer; a python3 on PATH may lack numpy.
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("python3 with numpy not available; interop with numpy not checked")
	}
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.npy")
	x := tensor.New(2, 3, 4)
	x.FillNormal(tensor.NewRNG(3), 0, 1)
	if err := WriteFile(ours, x); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs.npy")
	theirs64 := filepath.Join(dir, "theirs64.npy")
	script := `import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
np.save(sys.argv[2], a * 2 + 1)
np.save(sys.argv[3], (a.astype(np.float64) - 1)[:, ::2, :])  # a non-contiguous view saved as C order
`
	if out, err := exec.Command(py, "-c", script, ours, theirs, theirs64).CombinedOutput(); err != nil {
		t.Fatalf("numpy failed: %v\n%s", err, out)
	}
	y, err := ReadFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Data {
		if y.Data[i] != v*2+1 {
			t.Fatalf("element %d: numpy %v, want %v", i, y.Data[i], v*2+1)
		}
	}
	z, err := ReadFile(theirs64)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(z.Shape, []int{2, 2, 4}) {
		t.Fatalf("shape %v", z.Shape)
	}
	for n := range 2 {
		for c := range 2 {
			for w := range 4 {
				want := x.Data[n*12+(2*c)*4+w] - 1
				if got := z.Data[n*8+c*4+w]; math.Abs(float64(got-want)) > 1e-6 {
					t.Fatalf("[%d,%d,%d] = %v, want %v", n, c, w, got, want)
				}
			}
		}
	}
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
