// Package npy reads and writes NumPy .npy files holding one float32 array in
// C (row-major) order, the format `slimgo predict` takes and writes.
//
// Reading accepts little- or big-endian float32 ('<f4', '>f4') and float64
// ('<f8', '>f8', converted to float32), header versions 1.0, 2.0 and 3.0.
// Fortran-ordered arrays, other dtypes, malformed headers and data shorter
// than the header's shape are errors. Writing always produces a version 1.0
// (or 2.0 for a huge header) '<f4' C-order file, which numpy.load reads.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/tensor"
)

// MaxElements bounds the element count a file may declare (2^31, 8 GiB of
// float32); larger arrays are refused before anything is allocated.
const MaxElements = 1 << 31

// maxHeader bounds the header length a file may declare.
const maxHeader = 1 << 20

var magic = []byte("\x93NUMPY")

// header is the parsed .npy header dictionary.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// elemSize returns the byte size and byte order of the header's dtype, or an
// error for a dtype other than float32/float64.
func (h header) dtype() (size int, order binary.ByteOrder, err error) {
	switch h.descr {
	case "<f4", "=f4":
		return 4, binary.LittleEndian, nil
	case ">f4":
		return 4, binary.BigEndian, nil
	case "<f8", "=f8":
		return 8, binary.LittleEndian, nil
	case ">f8":
		return 8, binary.BigEndian, nil
	}
	return 0, nil, fmt.Errorf("npy: dtype %q is not supported (want float32 '<f4' or float64 '<f8')", h.descr)
}

// count returns the number of elements of the header's shape, or an error if
// it exceeds MaxElements.
func (h header) count() (int, error) {
	n := 1
	for _, d := range h.shape {
		if d < 0 {
			return 0, fmt.Errorf("npy: negative dimension in shape %v", h.shape)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("npy: shape %v has more than %d elements", h.shape, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// readHeader reads the magic, version and header dictionary from r and
// returns the header and the number of bytes consumed.
func readHeader(r io.Reader) (header, int, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return header{}, 0, fmt.Errorf("npy: reading magic: %w", eofAsUnexpected(err))
	}
	if !bytes.Equal(pre[:6], magic) {
		return header{}, 0, fmt.Errorf("npy: not a .npy file (bad magic %q)", pre[:6])
	}
	major := pre[6]
	var hlen, used int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, 0, fmt.Errorf("npy: reading header length: %w", eofAsUnexpected(err))
		}
		hlen, used = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, 0, fmt.Errorf("npy: reading header length: %w", eofAsUnexpected(err))
		}
		l := binary.LittleEndian.Uint32(b[:])
		if l > maxHeader {
			return header{}, 0, fmt.Errorf("npy: header length %d exceeds %d bytes", l, maxHeader)
		}
		hlen, used = int(l), 12
	default:
		return header{}, 0, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return header{}, 0, fmt.Errorf("npy: reading %d-byte header: %w", hlen, eofAsUnexpected(err))
	}
	h, err := parseHeader(string(buf))
	if err != nil {
		return header{}, 0, err
	}
	return h, used + hlen, nil
}

func eofAsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader parses the Python dict literal of a .npy header, e.g.
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".
func parseHeader(s string) (header, error) {
	p := &dictParser{s: strings.TrimRight(s, " \n\x00")}
	var h header
	seen := map[string]bool{}
	bad := func(what string) (header, error) {
		return header{}, fmt.Errorf("npy: malformed header %q: %s", truncate(s, 120), what)
	}
	if !p.eat('{') {
		return bad("does not start with '{'")
	}
	for {
		p.skip()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return bad("expected a quoted key")
		}
		p.skip()
		if !p.eat(':') {
			return bad("expected ':' after key " + key)
		}
		p.skip()
		switch key {
		case "descr":
			v, ok := p.str()
			if !ok {
				return bad("descr is not a string")
			}
			h.descr = v
		case "fortran_order":
			switch {
			case p.word("True"):
				h.fortran = true
			case p.word("False"):
				h.fortran = false
			default:
				return bad("fortran_order is not True or False")
			}
		case "shape":
			sh, ok := p.tuple()
			if !ok {
				return bad("shape is not a tuple of non-negative integers")
			}
			h.shape = sh
		default:
			return bad("unknown key " + strconv.Quote(key))
		}
		seen[key] = true
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if p.eat('}') {
			break
		}
		return bad("expected ',' or '}'")
	}
	p.skip()
	if p.i != len(p.s) {
		return bad("trailing characters after '}'")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return bad("missing key " + k)
		}
	}
	return h, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type dictParser struct {
	s string
	i int
}

func (p *dictParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *dictParser) str() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

func (p *dictParser) tuple() ([]int, bool) {
	if !p.eat('(') {
		return nil, false
	}
	shape := []int{}
	for {
		p.skip()
		if p.eat(')') {
			return shape, true
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		// Python 2 era files may write long integers as "3L".
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, false
		}
		p.i = j
		p.eat('L')
		shape = append(shape, d)
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if p.eat(')') {
			return shape, true
		}
		return nil, false
	}
}

// Read decodes one .npy array from r into a float32 tensor of the header's
// shape (a 0-d array becomes a tensor of shape []). Memory grows with the
// data actually read, so a header claiming more elements than r holds fails
// with an error naming both sizes instead of allocating the claimed size.
func Read(r io.Reader) (*tensor.Tensor, error) {
	h, _, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	return readData(r, h, -1)
}

// readData reads the array body. avail is the number of body bytes known to
// be present (-1 when unknown); a known size that differs from the shape's is
// reported before any allocation.
func readData(r io.Reader, h header, avail int64) (*tensor.Tensor, error) {
	if h.fortran {
		return nil, fmt.Errorf("npy: Fortran-order arrays are not supported (shape %v); save with numpy.ascontiguousarray", h.shape)
	}
	es, order, err := h.dtype()
	if err != nil {
		return nil, err
	}
	n, err := h.count()
	if err != nil {
		return nil, err
	}
	want := int64(n) * int64(es)
	if avail >= 0 && avail != want {
		return nil, fmt.Errorf("npy: shape %v of %s needs %d data bytes, the file has %d", h.shape, h.descr, want, avail)
	}
	// Read in chunks so that memory follows the bytes actually present.
	const chunk = 1 << 16 // elements per read
	data := make([]float32, 0, min(n, chunk))
	buf := make([]byte, min(n, chunk)*es)
	for len(data) < n {
		k := min(n-len(data), chunk)
		b := buf[:k*es]
		if got, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("npy: shape %v of %s needs %d data bytes, found only %d: %w",
				h.shape, h.descr, want, int64(len(data))*int64(es)+int64(got), eofAsUnexpected(err))
		}
		for i := range k {
			if es == 4 {
				data = append(data, math.Float32frombits(order.Uint32(b[4*i:])))
			} else {
				data = append(data, float32(math.Float64frombits(order.Uint64(b[8*i:]))))
			}
		}
	}
	return &tensor.Tensor{Shape: append([]int{}, h.shape...), Data: data}, nil
}

// ReadFile reads a .npy file. The header's size is checked against the file's
// size before the array is allocated; a file with missing or extra bytes is an
// error naming the path.
func ReadFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	h, used, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := readData(br, h, st.Size()-int64(used))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// headerBytes returns the magic, version, length and padded header dict for
// a '<f4' C-order array of the given shape.
func headerBytes(shape []int) []byte {
	var d strings.Builder
	d.WriteString("{'descr': '<f4', 'fortran_order': False, 'shape': (")
	for i, s := range shape {
		if i > 0 {
			d.WriteString(", ")
		}
		d.WriteString(strconv.Itoa(s))
	}
	if len(shape) == 1 {
		d.WriteByte(',')
	}
	d.WriteString("), }")
	dict := d.String()
	pre := 10
	if len(dict)+1+pre > math.MaxUint16 {
		pre = 12
	}
	// Pad with spaces so the data starts on a 64-byte boundary; end with '\n'.
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	hl := total - pre
	out := make([]byte, 0, total)
	out = append(out, magic...)
	if pre == 10 {
		out = append(out, 1, 0)
		out = binary.LittleEndian.AppendUint16(out, uint16(hl))
	} else {
		out = append(out, 2, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(hl))
	}
	out = append(out, dict...)
	for len(out) < total-1 {
		out = append(out, ' ')
	}
	return append(out, '\n')
}

// Write encodes t as a little-endian float32 C-order .npy array. It errors if
// t's data length does not match its shape or w fails.
func Write(w io.Writer, t *tensor.Tensor) error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", t.Shape)
		}
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("npy: tensor shape %v needs %d values, has %d", t.Shape, n, len(t.Data))
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(headerBytes(t.Shape)); err != nil {
		return err
	}
	var b [4]byte
	for _, v := range t.Data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		if _, err := bw.Write(b[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes t to path atomically: the data goes to a temporary file in
// the same directory, is synced, then renamed over path, so an interrupted
// write never leaves a truncated file where a good one was.
func WriteFile(path string, t *tensor.Tensor) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return Write(w, t) })
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
