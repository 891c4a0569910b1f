package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// IDX magic numbers (big-endian): two zero bytes, the element type (0x08 =
// unsigned byte) and the number of dimensions.
const (
	idxImagesMagic = 0x00000803 // ubyte, 3 dims: N, H, W
	idxLabelsMagic = 0x00000801 // ubyte, 1 dim: N
)

// MaxIDXBytes is the most pixel data ReadIDXImages accepts from one file
// (1 GiB). A header declaring more is rejected before anything is allocated.
const MaxIDXBytes = 1 << 30

// maxIDXSide bounds each declared image side; real IDX sets are tiny (28x28).
const maxIDXSide = 1 << 15

// openMaybeGzip returns a reader of r's content, transparently decompressing
// it when it starts with the gzip magic 0x1f 0x8b.
func openMaybeGzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("bad gzip header: %w", err)
		}
		return zr, nil
	}
	return br, nil
}

// readHeader reads the magic and dims big-endian uint32 words.
func readHeader(r io.Reader, magic uint32, dims int, what string) ([]uint32, error) {
	buf := make([]byte, 4*(1+dims))
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated IDX header (%d bytes expected)", what, len(buf))
		}
		return nil, fmt.Errorf("%s: reading IDX header: %w", what, err)
	}
	if got := binary.BigEndian.Uint32(buf); got != magic {
		return nil, fmt.Errorf("%s: bad IDX magic 0x%08x, want 0x%08x", what, got, magic)
	}
	out := make([]uint32, dims)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(buf[4*(i+1):])
	}
	return out, nil
}

// readExactly reads exactly n bytes from r, growing its buffer only as data
// actually arrives, so a header that declares far more than the input holds
// costs no more memory than the input itself.
func readExactly(r io.Reader, n int64, what string) ([]byte, error) {
	const chunk = 1 << 16
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grow := min(n-int64(len(buf)), max(int64(len(buf)), chunk))
			buf = slices.Grow(buf, int(grow))
		}
		m, err := r.Read(buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				if int64(len(buf)) < n {
					return nil, fmt.Errorf("%s: truncated: %d bytes present, %d declared by the header", what, len(buf), n)
				}
				break
			}
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return buf, nil
}

// skipRest checks that r holds exactly rest more bytes and nothing after.
func skipRest(r io.Reader, rest int64, had int64, what string) error {
	got, err := io.Copy(io.Discard, io.LimitReader(r, rest+1))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case got < rest:
		return fmt.Errorf("%s: truncated: %d bytes present, %d declared by the header", what, had+got, had+rest)
	case got > rest:
		return fmt.Errorf("%s: trailing data after the %d bytes declared by the header", what, had+rest)
	}
	return nil
}

// ReadIDXImages reads an IDX image file (magic 0x00000803, dims N, H, W),
// raw or gzip-compressed. With limit > 0 only the first min(limit, N) images
// are kept, though the rest is still checked to be present. It returns the
// kept pixels (n*h*w bytes, row-major per image), the kept count n and the
// declared total N.
//
// Errors: a bad gzip stream, a bad magic, a zero or oversized dimension
// (more than MaxIDXBytes of pixels), fewer or more bytes than declared.
func ReadIDXImages(r io.Reader, limit int) (pix []byte, n, total, h, w int, err error) {
	zr, err := openMaybeGzip(r)
	if err != nil {
		return nil, 0, 0, 0, 0, fmt.Errorf("images: %w", err)
	}
	d, err := readHeader(zr, idxImagesMagic, 3, "images")
	if err != nil {
		return nil, 0, 0, 0, 0, err
	}
	nn, hh, ww := int64(d[0]), int64(d[1]), int64(d[2])
	if nn == 0 || hh == 0 || ww == 0 {
		return nil, 0, 0, 0, 0, fmt.Errorf("images: zero dimension in header (%d x %d x %d)", nn, hh, ww)
	}
	if hh > maxIDXSide || ww > maxIDXSide {
		return nil, 0, 0, 0, 0, fmt.Errorf("images: image size %d x %d exceeds %d per side", hh, ww, maxIDXSide)
	}
	if nn*hh*ww > MaxIDXBytes {
		return nil, 0, 0, 0, 0, fmt.Errorf("images: header declares %d x %d x %d = %d bytes, more than the %d byte budget", nn, hh, ww, nn*hh*ww, MaxIDXBytes)
	}
	keep := nn
	if limit > 0 && int64(limit) < nn {
		keep = int64(limit)
	}
	size := hh * ww
	pix, err = readExactly(zr, keep*size, "images")
	if err != nil {
		return nil, 0, 0, 0, 0, err
	}
	if err := skipRest(zr, (nn-keep)*size, keep*size, "images"); err != nil {
		return nil, 0, 0, 0, 0, err
	}
	return pix, int(keep), int(nn), int(hh), int(ww), nil
}

// ReadIDXLabels reads an IDX label file (magic 0x00000801, dim N), raw or
// gzip-compressed, keeping the first min(limit, N) labels when limit > 0
// (the rest is still checked to be present). It returns the kept labels and
// the declared total N. Errors as for ReadIDXImages.
func ReadIDXLabels(r io.Reader, limit int) (labels []byte, total int, err error) {
	zr, err := openMaybeGzip(r)
	if err != nil {
		return nil, 0, fmt.Errorf("labels: %w", err)
	}
	d, err := readHeader(zr, idxLabelsMagic, 1, "labels")
	if err != nil {
		return nil, 0, err
	}
	nn := int64(d[0])
	if nn == 0 {
		return nil, 0, fmt.Errorf("labels: header declares 0 labels")
	}
	if nn > MaxIDXBytes {
		return nil, 0, fmt.Errorf("labels: header declares %d labels, more than the %d budget", nn, MaxIDXBytes)
	}
	keep := nn
	if limit > 0 && int64(limit) < nn {
		keep = int64(limit)
	}
	labels, err = readExactly(zr, keep, "labels")
	if err != nil {
		return nil, 0, err
	}
	if err := skipRest(zr, nn-keep, keep, "labels"); err != nil {
		return nil, 0, err
	}
	return labels, int(nn), nil
}

// ReadIDX reads a pair of IDX files (images, labels), raw or gzip, into a
// Raw set with C = 1, keeping the first limit examples when limit > 0.
// Errors: any error of ReadIDXImages/ReadIDXLabels, and a label count that
// differs from the image count.
func ReadIDX(images, labels io.Reader, limit int) (*Raw, error) {
	pix, n, total, h, w, err := ReadIDXImages(images, limit)
	if err != nil {
		return nil, err
	}
	lab, ltotal, err := ReadIDXLabels(labels, limit)
	if err != nil {
		return nil, err
	}
	if ltotal != total {
		return nil, fmt.Errorf("labels: %d labels for %d images", ltotal, total)
	}
	r := &Raw{Pix: pix, Labels: make([]int32, n), N: n, C: 1, H: h, W: w}
	for i, l := range lab {
		r.Labels[i] = int32(l)
	}
	return r, nil
}

// WriteIDX writes r (which must have C = 1 and labels in 0..255) as an IDX
// image file and an IDX label file, uncompressed; wrap the writers in
// gzip.Writer for .gz files.
func WriteIDX(images, labels io.Writer, r *Raw) error {
	if err := r.check(); err != nil {
		return err
	}
	if r.C != 1 {
		return fmt.Errorf("IDX holds one channel, raw set has %d", r.C)
	}
	lab := make([]byte, r.N)
	for i, l := range r.Labels {
		if l < 0 || l > 255 {
			return fmt.Errorf("label %d of example %d does not fit in a byte", l, i)
		}
		lab[i] = byte(l)
	}
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], idxImagesMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(r.N))
	binary.BigEndian.PutUint32(hdr[8:], uint32(r.H))
	binary.BigEndian.PutUint32(hdr[12:], uint32(r.W))
	if _, err := images.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := images.Write(r.Pix); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(hdr[0:], idxLabelsMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(r.N))
	if _, err := labels.Write(hdr[:8]); err != nil {
		return err
	}
	_, err := labels.Write(lab)
	return err
}
