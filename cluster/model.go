package cluster

import (
	"bytes"
	"compress/flate"
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

// The self-contained packed file (version 3) is the weight-only format of
// pack.go with a graph section in front of the tensor records, so the file
// alone restores the whole model:
//
//	header, 32 bytes, as versions 1 and 2 (version = 3, count = number of
//	tensor records, length and CRC-32 cover the whole payload)
//	payload:
//	  graphRaw uint32  bytes of the graph section before compression (<= 64 MiB)
//	  graphLen uint32  bytes of the compressed graph section
//	  graph    [graphLen]byte, raw DEFLATE (RFC 1951) of the graph section
//	  count tensor records as in version 2, plus
//	    kind 3: values [n]uint16, IEEE half floats. The writer uses it for
//	            a non-clustered parameter only when every value converts
//	            to half and back to the same float32 bits
//	            (PackOptions.Float16Params relaxes this, see there).
//
// The graph section (uvarint = unsigned LEB128, svarint = zigzag LEB128
// as encoding/binary writes them, str = uvarint length + UTF-8 bytes):
//
//	name str
//	metadata: uvarint n, then n (key str, value str), sorted by key
//	inputs:   uvarint n, then n (name str, rank uvarint <= 8, rank dims svarint; -1 = dynamic)
//	outputs:  as inputs
//	nodes:    uvarint n, in topological order, each
//	  name str, op str, uvarint ni + ni input names str ("" = absent),
//	  uvarint no + no output names str,
//	  uvarint na + na attributes sorted by name: name str, tag uint8, value:
//	    0 int svarint, 1 int64 svarint, 2 float32 (4 bytes), 3 float64
//	    (8 bytes), 4 string str, 5 []int (uvarint n + n svarint),
//	    6 []float32 (uvarint n + n*4 bytes), 7 tensor (rank uvarint <= 8,
//	    rank dims uvarint, then the values as float32)
//
// The graph's parameters are the tensor records (sorted by name). Versions
// 1 and 2 carry no graph: ReadModel refuses them with ErrWeightsOnly, and
// ReadPacked still reads all four versions as weight records.
//
// Version 4 is version 3 with the whole payload compressed: the header as
// above (version = 4, count as in version 3, length and CRC-32 of the
// stored payload), then
//
//	payload:
//	  rawLen uint64    bytes of the version 3 payload (<= maxModelRaw)
//	  data             raw DEFLATE (RFC 1951) of that payload
//
// Deflating the records, not only the graph, removes what they repeat: the
// parameter names (also in the graph section), shapes and half-float
// values with few distinct bits; Huffman-coded indices pass through at
// their size. WriteModel writes version 4 when it is smaller than version
// 3, which is every model measured (resnet20 at 30 % of its parameters,
// clustered: 63,540 -> 61,602 bytes).
const (
	packVersion3 = 3
	packVersion4 = 4
	kindFloat16  = 3
	maxGraphRaw  = 64 << 20
	// maxModelRaw caps a version 4 file's declared payload; inflation
	// stops there, whatever the header says.
	maxModelRaw = 4 << 30
)

// Attribute tags of the graph section.
const (
	attrInt = iota
	attrInt64
	attrFloat32
	attrFloat64
	attrString
	attrInts
	attrFloats
	attrTensor
)

// ErrWeightsOnly is returned by ReadModel for a version 1 or 2 file, which
// holds weights but no graph (restore it onto its model, `eval --packed`).
var ErrWeightsOnly = errors.New("weight-only packed file (version 1 or 2) holds no graph")

// IsPacked reports whether b starts with the packed-file magic.
func IsPacked(b []byte) bool {
	return len(b) >= len(packMagic) && string(b[:len(packMagic)]) == packMagic
}

// WriteModel writes g as a self-contained packed file (version 3 or 4): its graph,
// metadata and every parameter, the layers of r (which must come from
// clustering g's current parameters; nil = none) as codebooks and indices
// (see WritePacked for the index coding), other parameters as float16
// where that loses nothing (see PackOptions.Float16Params), else float32.
// It returns the bytes written. It errors like WritePacked, and on an
// attribute of a type the format cannot hold. The file is version 4 (the
// payload deflated) when that is smaller, else version 3.
func WriteModel(w io.Writer, g *graph.Graph, r *Result, opt PackOptions) (int64, error) {
	b, err := encodeModel(g, r, opt)
	if err != nil {
		return 0, err
	}
	if v4 := deflateModel(b); v4 != nil && len(v4) < len(b) {
		b = v4
	}
	n, err := w.Write(b)
	if err != nil {
		return int64(n), fmt.Errorf("cluster: pack: %w", err)
	}
	return int64(n), nil
}

// encodeModel is g as a version 3 file.
func encodeModel(g *graph.Graph, r *Result, opt PackOptions) ([]byte, error) {
	raw, err := encodeGraph(g)
	if err != nil {
		return nil, err
	}
	if len(raw) > maxGraphRaw {
		return nil, fmt.Errorf("cluster: pack: graph section of %d bytes exceeds %d", len(raw), maxGraphRaw)
	}
	var zb bytes.Buffer
	zw, _ := flate.NewWriter(&zb, flate.BestCompression)
	zw.Write(raw)
	zw.Close()
	if zb.Len() > math.MaxUint32 {
		return nil, fmt.Errorf("cluster: pack: compressed graph too large")
	}
	pre := binary.LittleEndian.AppendUint32(nil, uint32(len(raw)))
	pre = binary.LittleEndian.AppendUint32(pre, uint32(zb.Len()))
	pre = append(pre, zb.Bytes()...)
	var v3 bytes.Buffer
	if _, err := writePacked(&v3, g, r, opt, pre); err != nil {
		return nil, err
	}
	return v3.Bytes(), nil
}

// deflateModel turns a version 3 file into version 4 (nil if the payload
// exceeds maxModelRaw).
func deflateModel(v3 []byte) []byte {
	payload := v3[headerSize:]
	if uint64(len(payload)) > maxModelRaw {
		return nil
	}
	body := binary.LittleEndian.AppendUint64(nil, uint64(len(payload)))
	zb := bytes.NewBuffer(body)
	zw, _ := flate.NewWriter(zb, flate.BestCompression)
	zw.Write(payload)
	zw.Close()
	body = zb.Bytes()
	hdr := slices.Clone(v3[:headerSize])
	binary.LittleEndian.PutUint16(hdr[8:], packVersion4)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(body)))
	binary.LittleEndian.PutUint32(hdr[24:], crc32.ChecksumIEEE(body))
	return append(hdr, body...)
}

// inflateModel returns the version 3 payload inside a version 4 payload
// (already checksummed). Memory grows with the bytes inflation actually
// produces, never from the declared length; DEFLATE expands at most about
// 1032:1, so a hostile file of n bytes costs at most about 1 KiB x n.
func inflateModel(body []byte) ([]byte, error) {
	if len(body) < 8 {
		return nil, fmt.Errorf("compressed payload of %d bytes has no length", len(body))
	}
	raw := binary.LittleEndian.Uint64(body)
	if raw > maxModelRaw {
		return nil, fmt.Errorf("compressed payload declares %d bytes, over the %d this build reads", raw, uint64(maxModelRaw))
	}
	zr := flate.NewReader(bytes.NewReader(body[8:]))
	out, err := io.ReadAll(io.LimitReader(zr, int64(raw)+1))
	if err != nil {
		return nil, fmt.Errorf("compressed payload: %w", err)
	}
	if uint64(len(out)) != raw {
		return nil, fmt.Errorf("compressed payload inflates to %d bytes, header declares %d", len(out), raw)
	}
	return out, nil
}

// WriteModelFile writes the self-contained packed model to path atomically
// (see WritePackedFile) and returns the file size.
func WriteModelFile(path string, g *graph.Graph, r *Result, opt PackOptions) (n int64, err error) {
	err = atomicfile.Write(path, func(w io.Writer) error {
		n, err = WriteModel(w, g, r, opt)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cluster: pack %s: %w", path, err)
	}
	return n, nil
}

// ReadModel decodes a self-contained packed file into a graph whose every
// parameter is restored (a clustered weight holds its centroids), and also
// returns the decoded records (Packed.Result gives the weight sharing). It
// errors on everything ReadPacked does, with ErrWeightsOnly (wrapped) for a
// version 1 or 2 file, and on a graph section that is corrupt or does not
// form a valid model (unknown op, a node input nothing produces, shapes that
// do not fit).
func ReadModel(r io.Reader) (*graph.Graph, *Packed, error) {
	p, err := ReadPacked(r)
	if err != nil {
		return nil, nil, err
	}
	if p.Graph == nil {
		return nil, nil, fmt.Errorf("cluster: %w; restore it onto its model (eval --model MODEL.onnx --packed FILE)", ErrWeightsOnly)
	}
	g := p.Graph
	for _, t := range p.Tensors {
		if _, dup := g.Params[t.Name]; dup {
			return nil, nil, fmt.Errorf("cluster: packed tensor %q appears twice", t.Name)
		}
		g.Params[t.Name] = &tensor.Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
	}
	if err := checkModel(g); err != nil {
		return nil, nil, fmt.Errorf("cluster: packed model %q: %w", g.Name, err)
	}
	return g, p, nil
}

// checkModel validates a decoded graph: order, shapes (a panic in a shape
// rule on hostile attributes becomes an error).
func checkModel(g *graph.Graph) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid graph: %v", r)
		}
	}()
	if len(g.Inputs) == 0 || len(g.Outputs) == 0 {
		return errors.New("graph has no inputs or no outputs")
	}
	if err := g.Sort(); err != nil {
		return err
	}
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return err
	}
	for _, o := range g.Outputs {
		if _, ok := shapes[o.Name]; !ok {
			return fmt.Errorf("graph output %q is produced by no node", o.Name)
		}
	}
	return nil
}

// ReadModelFile reads a self-contained packed file from disk (see
// ReadModel).
func ReadModelFile(path string) (*graph.Graph, *Packed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	defer f.Close()
	g, p, err := ReadModel(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, p, nil
}

// f16Exact reports whether every value of d survives float16 exactly.
func f16Exact(d []float32) bool {
	for _, v := range d {
		if math.Float32bits(FromFloat16(Float16(v))) != math.Float32bits(v) {
			return false
		}
	}
	return true
}

// ---- graph section encoding ----

type genc struct{ b []byte }

func (e *genc) uv(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *genc) sv(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *genc) str(s string) {
	e.uv(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *genc) f32(v float32) { e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(v)) }

func (e *genc) values(vs []graph.Value) error {
	e.uv(uint64(len(vs)))
	for _, v := range vs {
		if len(v.Shape) > maxRank {
			return fmt.Errorf("cluster: pack: value %q has rank %d > %d", v.Name, len(v.Shape), maxRank)
		}
		e.str(v.Name)
		e.uv(uint64(len(v.Shape)))
		for _, d := range v.Shape {
			e.sv(int64(d))
		}
	}
	return nil
}

func encodeGraph(g *graph.Graph) ([]byte, error) {
	e := &genc{}
	e.str(g.Name)
	keys := make([]string, 0, len(g.Meta))
	for k := range g.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uv(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(g.Meta[k])
	}
	if err := e.values(g.Inputs); err != nil {
		return nil, err
	}
	if err := e.values(g.Outputs); err != nil {
		return nil, err
	}
	nodes, err := g.Topo()
	if err != nil {
		return nil, fmt.Errorf("cluster: pack: %w", err)
	}
	e.uv(uint64(len(nodes)))
	for _, n := range nodes {
		e.str(n.Name)
		e.str(n.Op)
		e.uv(uint64(len(n.Inputs)))
		for _, s := range n.Inputs {
			e.str(s)
		}
		e.uv(uint64(len(n.Outputs)))
		for _, s := range n.Outputs {
			e.str(s)
		}
		names := make([]string, 0, len(n.Attrs))
		for k := range n.Attrs {
			names = append(names, k)
		}
		slices.Sort(names)
		e.uv(uint64(len(names)))
		for _, k := range names {
			e.str(k)
			if err := e.attr(n.Attrs[k]); err != nil {
				return nil, fmt.Errorf("cluster: pack: node %q attribute %q: %w", n.Name, k, err)
			}
		}
	}
	return e.b, nil
}

func (e *genc) attr(v any) error {
	switch x := v.(type) {
	case int:
		e.b = append(e.b, attrInt)
		e.sv(int64(x))
	case int64:
		e.b = append(e.b, attrInt64)
		e.sv(x)
	case float32:
		e.b = append(e.b, attrFloat32)
		e.f32(x)
	case float64:
		e.b = append(e.b, attrFloat64)
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x))
	case string:
		e.b = append(e.b, attrString)
		e.str(x)
	case []int:
		e.b = append(e.b, attrInts)
		e.uv(uint64(len(x)))
		for _, d := range x {
			e.sv(int64(d))
		}
	case []float32:
		e.b = append(e.b, attrFloats)
		e.uv(uint64(len(x)))
		for _, f := range x {
			e.f32(f)
		}
	case *tensor.Tensor:
		if len(x.Shape) > maxRank {
			return fmt.Errorf("tensor of rank %d > %d", len(x.Shape), maxRank)
		}
		e.b = append(e.b, attrTensor)
		e.uv(uint64(len(x.Shape)))
		for _, d := range x.Shape {
			e.uv(uint64(d))
		}
		for _, f := range x.Data {
			e.f32(f)
		}
	default:
		return fmt.Errorf("value of type %T cannot be stored", v)
	}
	return nil
}

// ---- graph section decoding ----

type gdec struct {
	b   []byte
	off int
	err error
}

var errGraphShort = errors.New("graph section ends early")

func (d *gdec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *gdec) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(errGraphShort)
		return 0
	}
	d.off += n
	return v
}

func (d *gdec) sv() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail(errGraphShort)
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items that each take at least per bytes, bounded
// by what is left of the section, so nothing is allocated for bytes that
// are not there.
func (d *gdec) count(what string, per int) int {
	v := d.uv()
	if d.err == nil && v > uint64((len(d.b)-d.off)/per) {
		d.fail(fmt.Errorf("%s: count %d exceeds what the %d bytes left can hold", what, v, len(d.b)-d.off))
		return 0
	}
	return int(v)
}

func (d *gdec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(errGraphShort)
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *gdec) str() string { return string(d.take(d.count("string", 1))) }

func (d *gdec) u8() byte {
	s := d.take(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (d *gdec) f32() float32 {
	s := d.take(4)
	if s == nil {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(s))
}

func (d *gdec) dim() int {
	v := d.sv()
	if v < -1 || v > math.MaxInt32 {
		d.fail(fmt.Errorf("dimension %d out of range", v))
		return 0
	}
	return int(v)
}

func (d *gdec) values(what string) []graph.Value {
	n := d.count(what, 2)
	var out []graph.Value
	for range n {
		v := graph.Value{Name: d.str()}
		rank := d.uv()
		if rank > maxRank {
			d.fail(fmt.Errorf("%s %q has rank %d > %d", what, v.Name, rank, maxRank))
		}
		if d.err != nil {
			return nil
		}
		v.Shape = make([]int, rank)
		for i := range v.Shape {
			v.Shape[i] = d.dim()
		}
		out = append(out, v)
	}
	return out
}

func decodeGraph(b []byte) (*graph.Graph, error) {
	d := &gdec{b: b}
	g := graph.New(d.str())
	nm := d.count("metadata", 2)
	for range nm {
		k, v := d.str(), d.str()
		if d.err == nil {
			if _, dup := g.Meta[k]; dup {
				d.fail(fmt.Errorf("metadata key %q appears twice", k))
			}
			g.Meta[k] = v
		}
	}
	g.Inputs = d.values("graph input")
	g.Outputs = d.values("graph output")
	nn := d.count("nodes", 5)
	for range nn {
		if d.err != nil {
			break
		}
		n := &graph.Node{Name: d.str(), Op: d.str()}
		ni := d.count("node inputs", 1)
		for range ni {
			n.Inputs = append(n.Inputs, d.str())
		}
		no := d.count("node outputs", 1)
		for range no {
			n.Outputs = append(n.Outputs, d.str())
		}
		na := d.count("node attributes", 2)
		if na > 0 {
			n.Attrs = graph.Attrs{}
		}
		for range na {
			k := d.str()
			v := d.attr()
			if d.err != nil {
				return nil, fmt.Errorf("node %q: %w", n.Name, d.err)
			}
			if _, dup := n.Attrs[k]; dup {
				return nil, fmt.Errorf("node %q: attribute %q appears twice", n.Name, k)
			}
			n.Attrs[k] = v
		}
		g.Nodes = append(g.Nodes, n)
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%d bytes after the last node", len(b)-d.off)
	}
	return g, nil
}

func (d *gdec) attr() any {
	tag := d.u8()
	if d.err != nil {
		return nil
	}
	switch tag {
	case attrInt:
		v := d.sv()
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.fail(fmt.Errorf("int attribute %d out of range", v))
		}
		return int(v)
	case attrInt64:
		return d.sv()
	case attrFloat32:
		return d.f32()
	case attrFloat64:
		s := d.take(8)
		if s == nil {
			return nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(s))
	case attrString:
		return d.str()
	case attrInts:
		n := d.count("ints", 1)
		v := make([]int, 0, n)
		for range n {
			x := d.sv()
			if x < math.MinInt32 || x > math.MaxInt32 {
				d.fail(fmt.Errorf("int attribute %d out of range", x))
			}
			v = append(v, int(x))
		}
		return v
	case attrFloats:
		n := d.count("floats", 4)
		v := make([]float32, 0, n)
		for range n {
			v = append(v, d.f32())
		}
		return v
	case attrTensor:
		rank := d.uv()
		if rank > maxRank {
			d.fail(fmt.Errorf("tensor attribute of rank %d > %d", rank, maxRank))
			return nil
		}
		shape := make([]int, rank)
		n := 1
		for i := range shape {
			dim := d.uv()
			left := uint64(len(d.b)-d.off) / 4
			if dim > 0 && uint64(n) > left/dim {
				d.fail(fmt.Errorf("tensor attribute shape %v exceeds the section", shape[:i]))
				return nil
			}
			shape[i] = int(dim)
			n *= int(dim)
		}
		if d.err != nil {
			return nil
		}
		t := tensor.New(shape...)
		for i := range t.Data {
			t.Data[i] = d.f32()
		}
		return t
	}
	d.fail(fmt.Errorf("unknown attribute tag %d", tag))
	return nil
}

// readGraphSection decodes the leading graph section of a version 3
// payload through d.
func (d *decoder) graphSection() (*graph.Graph, error) {
	hb, err := d.take(8)
	if err != nil {
		return nil, fmt.Errorf("graph section: header: %w", err)
	}
	raw := binary.LittleEndian.Uint32(hb)
	zl := binary.LittleEndian.Uint32(hb[4:])
	if raw > maxGraphRaw {
		return nil, fmt.Errorf("graph section declares %d bytes, more than %d", raw, maxGraphRaw)
	}
	zb, err := d.take(int(zl))
	if err != nil {
		return nil, fmt.Errorf("graph section: compressed graph of %d bytes: %w", zl, err)
	}
	// ReadAll grows with the bytes inflated, capped one past the declared size.
	b, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(zb)), int64(raw)+1))
	if err != nil {
		return nil, fmt.Errorf("graph section: deflate: %w", err)
	}
	if len(b) != int(raw) {
		return nil, fmt.Errorf("graph section inflates to %d bytes or more, header declares %d", len(b), raw)
	}
	g, err := decodeGraph(b)
	if err != nil {
		return nil, fmt.Errorf("graph section: %w", err)
	}
	return g, nil
}
