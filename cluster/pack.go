package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/tensor"
)

// The packed file format, all integers little-endian:
//
//	header, 32 bytes:
//	  magic    [8]byte  "SLIMPACK"
//	  version  uint16   1 or 2
//	  flags    uint16   0 (reserved)
//	  count    uint32   number of tensor records
//	  length   uint64   payload bytes that follow the header
//	  crc      uint32   CRC-32 (IEEE) of the payload
//	  reserved uint32   0
//	payload: count records, each
//	  nameLen uint16, name [nameLen]byte
//	  rank uint8 (<= 8), dims [rank]uint32
//	  kind uint8: 0 = float32 values, 1 = clustered fixed-width,
//	              2 = clustered Huffman-coded (version 2 only)
//	  kind 0: values [n]float32 (n = product of dims)
//	  kind 1: codebookType uint8 (0 = float32, 1 = float16), K uint16
//	          (1..256), bits uint8 (= max(1, ceil(log2 K))), codebook
//	          [K]float32|float16, then the n indices bit-packed at `bits`
//	          bits each, LSB first, in ceil(n*bits/8) bytes.
//	  kind 2: codebookType uint8, K uint16 (1..256), codebook as kind 1,
//	          code lengths [ceil(K/2)]byte (4 bits per symbol, symbol 2i in
//	          the low nibble of byte i, an odd K's last high nibble 0;
//	          length 0 = symbol absent, at most 15), streamLen uint64, then
//	          the n indices as canonical Huffman codes (see huffman.go) in
//	          streamLen bytes, LSB first, the last byte zero-padded. The
//	          code must be complete (Kraft sum 1) or a single symbol of
//	          length 1.
//
// Version 1 files (no kind 2) are still read. The writer emits version 2
// only when at least one layer is Huffman-coded, so a file written with
// NoEntropy (or one where no layer gains from entropy coding) is a version
// 1 file, byte-identical to what earlier builds wrote. Per layer the writer
// picks the smaller index section: kind 1's bits byte and packed indices,
// or kind 2's code lengths, streamLen and bitstream (ties keep kind 1).
//
// Records are sorted by name; the file holds every parameter of the graph,
// so it restores the whole model's weights. The file's size is the "stored
// size" slimgo reports; PackStats gives the per-layer index sizes.
const (
	packVersion1 = 1
	packVersion  = 2 // the newest version this build reads and writes
	packMagic    = "SLIMPACK"
	headerSize   = 32
	maxRank      = 8

	kindFloat     = 0
	kindClustered = 1
	kindHuffman   = 2
	cbFloat32     = 0
	cbFloat16     = 1
)

// PackOptions configure WritePacked.
type PackOptions struct {
	// Float16Codebook stores codebooks as IEEE half floats (round to nearest
	// even): 2 bytes per centroid instead of 4. The restored weights are the
	// half-rounded centroids.
	Float16Codebook bool
	// NoEntropy stores every clustered layer's indices fixed-width (Deep
	// Compression stages 1-2 only) and so writes a version 1 file. By
	// default each layer's indices are Huffman-coded when that is smaller.
	NoEntropy bool
	// Float16Params, in a self-contained file (WriteModel), stores every
	// non-clustered parameter as IEEE half floats, rounded, even where that
	// changes a value. The caller must check that the model's outputs are
	// unchanged (pipeline does, on a fixed random input); without it only
	// parameters whose every value is exactly a half float are stored so.
	Float16Params bool
}

// IndexCoding says how a clustered tensor's indices are stored.
type IndexCoding int

const (
	CodingNone    IndexCoding = iota // not clustered (float32 values)
	CodingFixed                      // ceil(log2 K) bits per index (at least 1)
	CodingHuffman                    // canonical Huffman code, lengths <= 15
)

func (c IndexCoding) String() string {
	switch c {
	case CodingNone:
		return "float"
	case CodingFixed:
		return "fixed"
	case CodingHuffman:
		return "huffman"
	}
	return fmt.Sprintf("IndexCoding(%d)", int(c))
}

// LayerPacking is how WritePacked stores one clustered layer.
type LayerPacking struct {
	Param   string
	Weights int // number of indices
	K       int
	Coding  IndexCoding // CodingFixed or CodingHuffman, whichever is smaller
	// IndexBytes is the size of the index section as stored: for fixed
	// width the bits byte plus the packed indices, for Huffman the code
	// lengths, the 8-byte stream length and the bitstream.
	IndexBytes int
	// FixedBytes and HuffmanBytes are the sizes of both alternatives
	// (HuffmanBytes is 0 when entropy coding is off or there are no
	// weights), so the gain of entropy coding can be reported.
	FixedBytes, HuffmanBytes int
	CodebookBytes            int // 4*K, or 2*K with Float16Codebook
}

// IndexBitsPerWeight is 8*IndexBytes/Weights (0 for no weights): the stored
// index cost per weight, code table included.
func (p LayerPacking) IndexBitsPerWeight() float64 {
	if p.Weights == 0 {
		return 0
	}
	return 8 * float64(p.IndexBytes) / float64(p.Weights)
}

// layerPlan is the writer's choice for one layer.
type layerPlan struct {
	LayerPacking
	lengths []uint8 // Huffman code lengths when Coding == CodingHuffman
}

// planLayer chooses the index coding of l (whose indices must be < K,
// 1 <= K <= MaxK, checked by the caller).
func planLayer(l *LayerResult, opt PackOptions) layerPlan {
	k := len(l.Codebook)
	n := len(l.Indices)
	p := layerPlan{LayerPacking: LayerPacking{Param: l.Param, Weights: n, K: k, Coding: CodingFixed,
		FixedBytes: 1 + packedLen(n, storedBits(k)), CodebookBytes: 4 * k}}
	if opt.Float16Codebook {
		p.CodebookBytes = 2 * k
	}
	p.IndexBytes = p.FixedBytes
	if opt.NoEntropy || n == 0 {
		return p
	}
	freq := make([]uint64, k)
	for _, v := range l.Indices {
		freq[v]++
	}
	lengths := huffmanLengths(freq, maxCodeLen)
	p.HuffmanBytes = (k+1)/2 + 8 + int((huffmanBits(freq, lengths)+7)/8)
	if p.HuffmanBytes < p.FixedBytes {
		p.Coding, p.IndexBytes, p.lengths = CodingHuffman, p.HuffmanBytes, lengths
	}
	return p
}

// checkLayer validates a clustered layer against its parameter p (nil: not
// checked).
func checkLayer(l *LayerResult, p *tensor.Tensor) error {
	if p != nil && len(l.Indices) != p.Len() {
		return fmt.Errorf("cluster: pack: layer %q has %d indices, the parameter %v holds %d values", l.Param, len(l.Indices), p.Shape, p.Len())
	}
	if len(l.Codebook) < 1 || len(l.Codebook) > MaxK {
		return fmt.Errorf("cluster: pack: layer %q has %d centroids, want 1..%d", l.Param, len(l.Codebook), MaxK)
	}
	for i, j := range l.Indices {
		if int(j) >= len(l.Codebook) {
			return fmt.Errorf("cluster: pack: layer %q index %d is %d, K=%d", l.Param, i, j, len(l.Codebook))
		}
	}
	return nil
}

// PackStats reports, per layer of r in order, how WritePacked with opt
// stores its indices (the coding chosen and the bytes of both codings),
// without writing anything. It errors like WritePacked on a layer with K
// outside 1..256 or an index >= K.
func PackStats(r *Result, opt PackOptions) ([]LayerPacking, error) {
	if r == nil {
		return nil, nil
	}
	out := make([]LayerPacking, 0, len(r.Layers))
	for i := range r.Layers {
		l := &r.Layers[i]
		if err := checkLayer(l, nil); err != nil {
			return nil, err
		}
		out = append(out, planLayer(l, opt).LayerPacking)
	}
	return out, nil
}

// WritePacked writes every parameter of g to w: the layers of r (which must
// come from clustering g's current parameters) as codebook plus bit-packed
// indices, all other parameters (BatchNormalization, biases, layers left
// float) as float32. r may be nil (everything float32). Each clustered
// layer's indices are fixed-width or Huffman-coded, whichever is smaller
// (see PackStats; opt.NoEntropy forces fixed width). It returns the number
// of bytes written. It errors if a layer of r does not match g's
// parameter (missing, other size, an index >= K, K outside 1..256), if a
// name or shape cannot be represented, or on a write error.
func WritePacked(w io.Writer, g *graph.Graph, r *Result, opt PackOptions) (int64, error) {
	return writePacked(w, g, r, opt, nil)
}

// writePacked writes a version 1 or 2 file when graph is nil, else a
// version 3 file whose payload starts with pre (the encoded graph
// section, see model.go).
func writePacked(w io.Writer, g *graph.Graph, r *Result, opt PackOptions, pre []byte) (int64, error) {
	layers := map[string]*LayerResult{}
	if r != nil {
		for i := range r.Layers {
			l := &r.Layers[i]
			p, ok := g.Params[l.Param]
			if !ok {
				return 0, fmt.Errorf("cluster: pack: clustered layer %q is not a parameter of graph %q", l.Param, g.Name)
			}
			if err := checkLayer(l, p); err != nil {
				return 0, err
			}
			layers[l.Param] = l
		}
	}
	names := make([]string, 0, len(g.Params))
	for k := range g.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	body := pre
	version := packVersion1
	if pre != nil {
		version = packVersion3
	}
	for _, name := range names {
		p := g.Params[name]
		if len(name) > math.MaxUint16 {
			return 0, fmt.Errorf("cluster: pack: parameter name of %d bytes is too long", len(name))
		}
		if len(p.Shape) > maxRank {
			return 0, fmt.Errorf("cluster: pack: parameter %q has rank %d > %d", name, len(p.Shape), maxRank)
		}
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = append(body, name...)
		body = append(body, byte(len(p.Shape)))
		for _, d := range p.Shape {
			if d < 0 || d > math.MaxUint32 {
				return 0, fmt.Errorf("cluster: pack: parameter %q dimension %d out of range", name, d)
			}
			body = binary.LittleEndian.AppendUint32(body, uint32(d))
		}
		l := layers[name]
		if l == nil && pre != nil && (opt.Float16Params || f16Exact(p.Data)) {
			body = append(body, kindFloat16)
			for _, v := range p.Data {
				body = binary.LittleEndian.AppendUint16(body, Float16(v))
			}
			continue
		}
		if l == nil {
			body = append(body, kindFloat)
			for _, v := range p.Data {
				body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
			}
			continue
		}
		k := len(l.Codebook)
		plan := planLayer(l, opt)
		if plan.Coding == CodingHuffman {
			body = append(body, kindHuffman)
			version = max(version, packVersion)
		} else {
			body = append(body, kindClustered)
		}
		if opt.Float16Codebook {
			body = append(body, cbFloat16)
		} else {
			body = append(body, cbFloat32)
		}
		body = binary.LittleEndian.AppendUint16(body, uint16(k))
		if plan.Coding == CodingFixed {
			body = append(body, byte(storedBits(k)))
		}
		for _, c := range l.Codebook {
			if opt.Float16Codebook {
				body = binary.LittleEndian.AppendUint16(body, Float16(c))
			} else {
				body = binary.LittleEndian.AppendUint32(body, math.Float32bits(c))
			}
		}
		if plan.Coding == CodingFixed {
			body = appendPacked(body, l.Indices, storedBits(k))
			continue
		}
		body = appendLengths(body, plan.lengths)
		start := len(body)
		body = binary.LittleEndian.AppendUint64(body, 0)
		body = appendHuffman(body, l.Indices, plan.lengths)
		binary.LittleEndian.PutUint64(body[start:], uint64(len(body)-start-8))
	}
	var hdr [headerSize]byte
	copy(hdr[:], packMagic)
	binary.LittleEndian.PutUint16(hdr[8:], uint16(version))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(names)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(body)))
	binary.LittleEndian.PutUint32(hdr[24:], crc32.ChecksumIEEE(body))
	n1, err := w.Write(hdr[:])
	if err != nil {
		return int64(n1), fmt.Errorf("cluster: pack: %w", err)
	}
	n2, err := w.Write(body)
	if err != nil {
		return int64(n1 + n2), fmt.Errorf("cluster: pack: %w", err)
	}
	return int64(n1 + n2), nil
}

// storedBits is the index width in the file: ceil(log2 K), but at least 1 so
// that every value occupies file bytes and a declared shape can always be
// checked against the file length before allocating.
func storedBits(k int) int { return max(1, IndexBits(k)) }

// appendPacked appends the indices at bits bits each, LSB first.
func appendPacked(dst []byte, idx []uint8, bits int) []byte {
	var acc uint64
	nacc := 0
	for _, v := range idx {
		acc |= uint64(v) << nacc
		nacc += bits
		for nacc >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nacc -= 8
		}
	}
	if nacc > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// appendLengths appends Huffman code lengths (each <= 15) at 4 bits each,
// symbol 2i in the low nibble of byte i.
func appendLengths(dst []byte, lengths []uint8) []byte {
	for i := 0; i < len(lengths); i += 2 {
		b := lengths[i]
		if i+1 < len(lengths) {
			b |= lengths[i+1] << 4
		}
		dst = append(dst, b)
	}
	return dst
}

// packedLen is the byte length of n indices at bits bits, or -1 on overflow.
func packedLen(n, bits int) int {
	if n > (math.MaxInt-7)/bits {
		return -1
	}
	return (n*bits + 7) / 8
}

// WritePackedFile writes the packed model to path atomically: a temporary
// file in the same directory is written, synced and renamed over path (then
// the directory is synced), so a crash leaves either the old file or the new
// one. It returns the file size.
func WritePackedFile(path string, g *graph.Graph, r *Result, opt PackOptions) (n int64, err error) {
	err = atomicfile.Write(path, func(w io.Writer) error {
		n, err = WritePacked(w, g, r, opt)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: pack %s: %w", path, err)
	}
	return n, nil
}

// Packed is a decoded packed file.
type Packed struct {
	Version int
	// Graph is the model's graph without parameters (version 3 only; nil
	// for a weight-only file). ReadModel fills its parameters.
	Graph   *graph.Graph
	Tensors []PackedTensor // in file order (sorted by name)
}

// PackedTensor is one parameter of a packed file.
type PackedTensor struct {
	Name     string
	Shape    []int
	Codebook []float32 // nil for a float tensor
	Indices  []uint8   // nil for a float tensor
	Data     []float32 // the values (Codebook[Indices[i]] for a clustered tensor)
	Coding   IndexCoding
	// IndexBytes is the stored size of the index section (as in
	// LayerPacking; 0 for a float tensor).
	IndexBytes int
}

// ReadPacked decodes a packed file. It errors, saying what is wrong and in
// which record, on a bad magic or version, a payload checksum mismatch, a
// truncated file or trailing bytes, and on declared sizes that the file
// cannot hold (memory is allocated only for data actually present).
func ReadPacked(r io.Reader) (*Packed, error) {
	var hdr [headerSize]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("cluster: packed file truncated: %d-byte header, want %d", n, headerSize)
		}
		return nil, fmt.Errorf("cluster: packed file: %w", err)
	}
	if string(hdr[:8]) != packMagic {
		return nil, fmt.Errorf("cluster: not a slimgo packed file (magic %q)", hdr[:8])
	}
	version := int(binary.LittleEndian.Uint16(hdr[8:]))
	if version < packVersion1 || version > packVersion4 {
		return nil, fmt.Errorf("cluster: packed file version %d, this build reads %d to %d", version, packVersion1, packVersion4)
	}
	count := binary.LittleEndian.Uint32(hdr[12:])
	length := binary.LittleEndian.Uint64(hdr[16:])
	sum := binary.LittleEndian.Uint32(hdr[24:])
	if length > math.MaxInt64-1 {
		return nil, fmt.Errorf("cluster: packed file declares an absurd payload of %d bytes", length)
	}
	// io.ReadAll grows with the bytes actually read, never from the
	// declared length.
	body, err := io.ReadAll(io.LimitReader(r, int64(length)+1))
	if err != nil {
		return nil, fmt.Errorf("cluster: packed file: %w", err)
	}
	if uint64(len(body)) < length {
		return nil, fmt.Errorf("cluster: packed file truncated: payload has %d bytes, header declares %d", len(body), length)
	}
	if uint64(len(body)) > length {
		return nil, fmt.Errorf("cluster: packed file has bytes after the declared %d-byte payload", length)
	}
	if got := crc32.ChecksumIEEE(body); got != sum {
		return nil, fmt.Errorf("cluster: packed file checksum mismatch (payload %08x, header %08x): the file is corrupt", got, sum)
	}
	p := &Packed{Version: version}
	if version == packVersion4 {
		if body, err = inflateModel(body); err != nil {
			return nil, fmt.Errorf("cluster: packed file: %w", err)
		}
		version = packVersion3
	}
	d := decoder{b: body, version: version}
	if version >= packVersion3 {
		if p.Graph, err = d.graphSection(); err != nil {
			return nil, fmt.Errorf("cluster: packed file: %w", err)
		}
	}
	for i := range count {
		t, err := d.record()
		if err != nil {
			return nil, fmt.Errorf("cluster: packed record %d (of %d) at payload offset %d: %w", i, count, d.off, err)
		}
		p.Tensors = append(p.Tensors, t)
	}
	if d.off != len(body) {
		return nil, fmt.Errorf("cluster: packed payload has %d bytes after record %d", len(body)-d.off, count)
	}
	return p, nil
}

// ReadPackedFile reads a packed file from disk (see ReadPacked).
func ReadPackedFile(path string) (*Packed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer f.Close()
	p, err := ReadPacked(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

type decoder struct {
	b       []byte
	off     int
	version int
}

var errShort = errors.New("record runs past the end of the payload")

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.off {
		return nil, errShort
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s, nil
}

func (d *decoder) u8() (int, error) {
	s, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return int(s[0]), nil
}

func (d *decoder) u16() (int, error) {
	s, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(s)), nil
}

func (d *decoder) record() (PackedTensor, error) {
	var t PackedTensor
	nl, err := d.u16()
	if err != nil {
		return t, err
	}
	nb, err := d.take(nl)
	if err != nil {
		return t, err
	}
	t.Name = string(nb)
	rank, err := d.u8()
	if err != nil {
		return t, err
	}
	if rank > maxRank {
		return t, fmt.Errorf("tensor %q has rank %d > %d", t.Name, rank, maxRank)
	}
	db, err := d.take(4 * rank)
	if err != nil {
		return t, err
	}
	n := 1
	t.Shape = make([]int, rank)
	for i := range rank {
		dim := int(binary.LittleEndian.Uint32(db[4*i:]))
		t.Shape[i] = dim
		// Every value takes at least one bit of the payload, which bounds
		// n (and rules out overflow) before anything is allocated.
		if dim > 0 && n > (8*len(d.b))/dim {
			return t, fmt.Errorf("tensor %q declares shape %v, more values than the %d-byte payload can hold", t.Name, t.Shape[:i+1], len(d.b))
		}
		n *= dim
	}
	kind, err := d.u8()
	if err != nil {
		return t, err
	}
	switch kind {
	case kindFloat:
		vb, err := d.take(4 * n)
		if err != nil {
			return t, fmt.Errorf("tensor %q %v: %d float32 values: %w", t.Name, t.Shape, n, err)
		}
		t.Data = make([]float32, n)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(vb[4*i:]))
		}
	case kindFloat16:
		if d.version < packVersion3 {
			return t, fmt.Errorf("tensor %q: float16 record in a version %d file", t.Name, d.version)
		}
		vb, err := d.take(2 * n)
		if err != nil {
			return t, fmt.Errorf("tensor %q %v: %d float16 values: %w", t.Name, t.Shape, n, err)
		}
		t.Data = make([]float32, n)
		for i := range t.Data {
			t.Data[i] = FromFloat16(binary.LittleEndian.Uint16(vb[2*i:]))
		}
	case kindClustered, kindHuffman:
		if kind == kindHuffman && d.version < packVersion {
			return t, fmt.Errorf("tensor %q: Huffman-coded record in a version %d file", t.Name, d.version)
		}
		if err := d.clustered(&t, n, kind == kindHuffman); err != nil {
			return t, err
		}
	default:
		return t, fmt.Errorf("tensor %q: unknown record kind %d", t.Name, kind)
	}
	return t, nil
}

// clustered decodes the rest of a clustered record (kind 1 or 2) of n
// values into t.
func (d *decoder) clustered(t *PackedTensor, n int, huffman bool) error {
	cbt, err := d.u8()
	if err != nil {
		return err
	}
	k, err := d.u16()
	if err != nil {
		return err
	}
	if k < 1 || k > MaxK {
		return fmt.Errorf("tensor %q has K=%d, want 1..%d", t.Name, k, MaxK)
	}
	bits := storedBits(k)
	if !huffman {
		b, err := d.u8()
		if err != nil {
			return err
		}
		if b != bits {
			return fmt.Errorf("tensor %q: %d-bit indices for K=%d, want %d", t.Name, b, k, bits)
		}
	}
	t.Codebook = make([]float32, k)
	switch cbt {
	case cbFloat32:
		cb, err := d.take(4 * k)
		if err != nil {
			return err
		}
		for i := range t.Codebook {
			t.Codebook[i] = math.Float32frombits(binary.LittleEndian.Uint32(cb[4*i:]))
		}
	case cbFloat16:
		cb, err := d.take(2 * k)
		if err != nil {
			return err
		}
		for i := range t.Codebook {
			t.Codebook[i] = FromFloat16(binary.LittleEndian.Uint16(cb[2*i:]))
		}
	default:
		return fmt.Errorf("tensor %q: unknown codebook type %d", t.Name, cbt)
	}
	if huffman {
		t.Coding = CodingHuffman
		start := d.off
		lb, err := d.take((k + 1) / 2)
		if err != nil {
			return fmt.Errorf("tensor %q: code lengths: %w", t.Name, err)
		}
		lengths := make([]uint8, k)
		for i := range lengths {
			lengths[i] = lb[i/2] >> (4 * (i % 2)) & 15
		}
		if k%2 == 1 && lb[k/2]>>4 != 0 {
			return fmt.Errorf("tensor %q: unused code-length nibble is %d, want 0", t.Name, lb[k/2]>>4)
		}
		sb, err := d.take(8)
		if err != nil {
			return err
		}
		sl := binary.LittleEndian.Uint64(sb)
		if sl > uint64(len(d.b)-d.off) {
			return fmt.Errorf("tensor %q %v: bitstream of %d bytes: %w", t.Name, t.Shape, sl, errShort)
		}
		stream, _ := d.take(int(sl))
		// Every code takes at least one bit, so the stream bounds n
		// before the indices are allocated.
		if uint64(n) > 8*sl {
			return fmt.Errorf("tensor %q %v: a %d-byte bitstream cannot hold %d indices", t.Name, t.Shape, sl, n)
		}
		t.Indices = make([]uint8, n)
		if err := decodeHuffman(stream, lengths, t.Indices); err != nil {
			return fmt.Errorf("tensor %q %v, K=%d: Huffman indices: %w", t.Name, t.Shape, k, err)
		}
		t.IndexBytes = d.off - start
	} else {
		t.Coding = CodingFixed
		pl := packedLen(n, bits)
		if pl < 0 {
			return fmt.Errorf("tensor %q %v: index stream length overflows", t.Name, t.Shape)
		}
		ib, err := d.take(pl)
		if err != nil {
			return fmt.Errorf("tensor %q %v: %d indices of %d bits: %w", t.Name, t.Shape, n, bits, err)
		}
		t.IndexBytes = 1 + pl
		t.Indices = make([]uint8, n)
		var acc uint64
		nacc, pos := 0, 0
		mask := uint64(1)<<bits - 1
		for i := range t.Indices {
			for nacc < bits {
				acc |= uint64(ib[pos]) << nacc
				pos++
				nacc += 8
			}
			j := int(acc & mask)
			acc >>= bits
			nacc -= bits
			t.Indices[i] = uint8(j)
		}
		if acc != 0 {
			return fmt.Errorf("tensor %q: padding bits after the last index are not zero", t.Name)
		}
	}
	t.Data = make([]float32, n)
	for i, j := range t.Indices {
		if int(j) >= k {
			return fmt.Errorf("tensor %q: index %d is %d, K=%d", t.Name, i, j, k)
		}
		t.Data[i] = t.Codebook[j]
	}
	return nil
}

// Apply copies the packed values into g's parameters. The file and the
// graph must hold the same parameter names with the same shapes; otherwise
// it errors naming the first difference and leaves g unchanged.
func (p *Packed) Apply(g *graph.Graph) error {
	seen := map[string]bool{}
	for _, t := range p.Tensors {
		q, ok := g.Params[t.Name]
		if !ok {
			return fmt.Errorf("cluster: packed tensor %q is not a parameter of graph %q", t.Name, g.Name)
		}
		if !tensor.SameShape(q.Shape, t.Shape) {
			return fmt.Errorf("cluster: packed tensor %q has shape %v, graph %q has %v", t.Name, t.Shape, g.Name, q.Shape)
		}
		if seen[t.Name] {
			return fmt.Errorf("cluster: packed tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
	}
	for name := range g.Params {
		if !seen[name] {
			return fmt.Errorf("cluster: parameter %q of graph %q is missing from the packed file", name, g.Name)
		}
	}
	for _, t := range p.Tensors {
		copy(g.Params[t.Name].Data, t.Data)
	}
	return nil
}

// Result returns the clustered tensors of the file as a Result (codebooks
// and indices; Inertia and Threshold are unknown and left 0), so a loaded
// model can be fine-tuned or exported with its sharing.
func (p *Packed) Result() *Result {
	r := &Result{}
	for _, t := range p.Tensors {
		if t.Indices == nil {
			continue
		}
		n := float64(len(t.Indices))
		k := len(t.Codebook)
		r.Layers = append(r.Layers, LayerResult{Param: t.Name, Shape: slices.Clone(t.Shape), K: k,
			Codebook: slices.Clone(t.Codebook), Indices: slices.Clone(t.Indices), IndexBits: IndexBits(k),
			BitsPerWeight: (float64(IndexBits(k))*n + 32*float64(k)) / max(n, 1)})
	}
	return r
}

// Float16 converts f to IEEE 754 half precision bits, rounding to nearest
// even; values beyond the half range become infinities, NaN stays NaN.
func Float16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 31 {
		return sign | 0x7c00
	}
	if e <= 0 { // half subnormal (or zero): value = m * 2^-24
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: still correct
	}
	return sign | uint16(h)
}

// FromFloat16 converts IEEE 754 half precision bits to float32 (exact).
func FromFloat16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		f := float32(mant) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
