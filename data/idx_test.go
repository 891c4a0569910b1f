package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
)

// idxBytes builds an IDX image file and label file by hand (independently
// of WriteIDX): image i's pixel j is (7*i + j) mod 256, label i is i mod 10.
func idxBytes(n, h, w int) (images, labels []byte) {
	images = binary.BigEndian.AppendUint32(nil, 0x803)
	for _, d := range []int{n, h, w} {
		images = binary.BigEndian.AppendUint32(images, uint32(d))
	}
	for i := range n {
		for j := range h * w {
			images = append(images, byte(7*i+j))
		}
	}
	labels = binary.BigEndian.AppendUint32(nil, 0x801)
	labels = binary.BigEndian.AppendUint32(labels, uint32(n))
	for i := range n {
		labels = append(labels, byte(i%10))
	}
	return images, labels
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDXRoundTrip(t *testing.T) {
	const n, h, w = 13, 3, 5
	img, lab := idxBytes(n, h, w)
	for _, tc := range []struct {
		name     string
		img, lab []byte
		limit    int
		want     int
	}{
		{"raw", img, lab, 0, n},
		{"gzip", gz(t, img), gz(t, lab), 0, n},
		{"mixed", gz(t, img), lab, 0, n},
		{"limit", img, gz(t, lab), 4, 4},
		{"limit beyond count", img, lab, 100, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadIDX(bytes.NewReader(tc.img), bytes.NewReader(tc.lab), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if r.N != tc.want || r.C != 1 || r.H != h || r.W != w || len(r.Pix) != tc.want*h*w || len(r.Labels) != tc.want {
				t.Fatalf("got N=%d C=%d H=%d W=%d len(Pix)=%d len(Labels)=%d", r.N, r.C, r.H, r.W, len(r.Pix), len(r.Labels))
			}
			for i := range r.N {
				if r.Labels[i] != int32(i%10) {
					t.Fatalf("label %d = %d, want %d", i, r.Labels[i], i%10)
				}
				for j := range h * w {
					if got := r.Pix[i*h*w+j]; got != byte(7*i+j) {
						t.Fatalf("pixel %d of image %d = %d, want %d", j, i, got, byte(7*i+j))
					}
				}
			}
			// WriteIDX gives back the same bytes as the hand-built file.
			if tc.limit == 0 {
				var wi, wl bytes.Buffer
				if err := WriteIDX(&wi, &wl, r); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(wi.Bytes(), img) || !bytes.Equal(wl.Bytes(), lab) {
					t.Fatal("WriteIDX output differs from the original IDX bytes")
				}
			}
		})
	}
}

func TestReadIDXBadInput(t *testing.T) {
	img, lab := idxBytes(6, 4, 4)
	header := func(magic uint32, dims ...uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, magic)
		for _, d := range dims {
			b = binary.BigEndian.AppendUint32(b, d)
		}
		return b
	}
	corruptGz := gz(t, img)
	corruptGz = corruptGz[:len(corruptGz)-6] // cut the CRC/size trailer
	for _, tc := range []struct {
		name     string
		img, lab []byte
		want     string // substring of the error
	}{
		{"empty images", nil, lab, "images: truncated IDX header"},
		{"short header", img[:7], lab, "images: truncated IDX header"},
		{"wrong image magic", append(header(0x801, 6, 4, 4), img[16:]...), lab, "images: bad IDX magic 0x00000801, want 0x00000803"},
		{"float IDX", append(header(0xd03, 6, 4, 4), img[16:]...), lab, "bad IDX magic 0x00000d03"},
		{"wrong label magic", img, append(header(0x803, 6), lab[8:]...), "labels: bad IDX magic 0x00000803, want 0x00000801"},
		{"truncated pixels", img[:len(img)-3], lab, "images: truncated: 93 bytes present, 96 declared"},
		{"trailing pixels", append(append([]byte(nil), img...), 1, 2), lab, "images: trailing data after the 96 bytes"},
		{"truncated labels", img, lab[:len(lab)-1], "labels: truncated: 5 bytes present, 6 declared"},
		{"count mismatch", img, append(header(0x801, 5), lab[8:13]...), "labels: 5 labels for 6 images"},
		{"zero images", header(0x803, 0, 4, 4), header(0x801, 0), "images: zero dimension"},
		{"zero width", header(0x803, 6, 4, 0), lab, "images: zero dimension"},
		{"huge declared count", append(header(0x803, 60000000, 28, 28), img[16:]...), lab, "more than the 1073741824 byte budget"},
		{"huge side", header(0x803, 1, 1<<20, 1), lab, "exceeds 32768 per side"},
		{"huge declared labels", img, header(0x801, 0xffffffff), "labels: header declares 4294967295 labels"},
		{"declared 60000x28x28, tiny file", append(header(0x803, 60000, 28, 28), 1, 2, 3), lab, "images: truncated: 3 bytes present, 47040000 declared"},
		{"corrupt gzip", corruptGz, lab, "images: "},
		{"gzip magic only", []byte{0x1f, 0x8b}, lab, "images: bad gzip header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadIDX(bytes.NewReader(tc.img), bytes.NewReader(tc.lab), 0)
			if err == nil {
				t.Fatalf("no error; got %d examples", r.N)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestReadIDXNoOverAllocation checks that a header declaring 47 MB of
// pixels in a file of a few bytes costs far less than that in memory.
func TestReadIDXNoOverAllocation(t *testing.T) {
	b := binary.BigEndian.AppendUint32(nil, 0x803)
	for _, d := range []uint32{60000, 28, 28} {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	b = append(b, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, _, _, _, _, err := ReadIDXImages(bytes.NewReader(b), 0); err == nil {
			t.Fatal("truncated file accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 1<<20 {
		t.Fatalf("reading a 116-byte file allocated %d bytes per call", per)
	}
}

// TestReadIDXLimitChecksRest: with a limit the remainder is still checked.
func TestReadIDXLimitChecksRest(t *testing.T) {
	img, lab := idxBytes(8, 2, 2)
	if _, err := ReadIDX(bytes.NewReader(img[:len(img)-1]), bytes.NewReader(lab), 2); err == nil ||
		!strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated tail with limit: err = %v", err)
	}
}

func TestWriteIDXErrors(t *testing.T) {
	var a, b bytes.Buffer
	for _, tc := range []struct {
		name string
		r    *Raw
		want string
	}{
		{"three channels", &Raw{Pix: make([]uint8, 12), Labels: []int32{0}, N: 1, C: 3, H: 2, W: 2}, "one channel"},
		{"label 300", &Raw{Pix: make([]uint8, 4), Labels: []int32{300}, N: 1, C: 1, H: 2, W: 2}, "label 300 of example 0"},
		{"short pixels", &Raw{Pix: make([]uint8, 3), Labels: []int32{0}, N: 1, C: 1, H: 2, W: 2}, "holds 3 pixels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteIDX(&a, &b, tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
