package cluster

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// packedGraph returns a clustered test graph and its result.
func packedGraph(t testing.TB) (*graph.Graph, *Result) {
	g := testGraph(3)
	r, err := QuantizeGraph(g, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return g, r
}

func TestPackedRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  PackOptions
	}{
		{"float32-codebook", PackOptions{}},
		{"float16-codebook", PackOptions{Float16Codebook: true}},
		{"float32-codebook-fixed", PackOptions{NoEntropy: true}},
		{"float16-codebook-fixed", PackOptions{Float16Codebook: true, NoEntropy: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, r := packedGraph(t)
			var buf bytes.Buffer
			n, err := WritePacked(&buf, g, r, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Fatalf("WritePacked returned %d, wrote %d bytes", n, buf.Len())
			}
			p, err := ReadPacked(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			stats, err := PackStats(r, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			huff := 0
			for _, st := range stats {
				if st.Coding == CodingHuffman {
					huff++
				}
				pt := findTensor(p, st.Param)
				if pt == nil || pt.Coding != st.Coding || pt.IndexBytes != st.IndexBytes {
					t.Errorf("layer %s: file says %+v, PackStats %+v", st.Param, pt, st)
				}
			}
			if tc.opt.NoEntropy && huff > 0 {
				t.Errorf("NoEntropy: %d layers Huffman-coded", huff)
			}
			if !tc.opt.NoEntropy && huff == 0 {
				t.Errorf("no layer of the test graph was Huffman-coded")
			}
			if wantV := map[bool]int{false: 1, true: 2}[huff > 0]; p.Version != wantV || int(binary.LittleEndian.Uint16(buf.Bytes()[8:])) != wantV {
				t.Errorf("file version %d, want %d (%d Huffman layers)", p.Version, wantV, huff)
			}
			fresh := testGraph(77) // same structure, other values
			if err := p.Apply(fresh); err != nil {
				t.Fatal(err)
			}
			for name, want := range g.Params {
				got := fresh.Params[name]
				l := r.Layer(name)
				for i, v := range want.Data {
					w := v
					if l != nil && tc.opt.Float16Codebook {
						w = FromFloat16(Float16(v))
					}
					if got.Data[i] != w {
						t.Fatalf("%s[%d]: restored %g want %g", name, i, got.Data[i], w)
					}
				}
			}
			pr := p.Result()
			if len(pr.Layers) != len(r.Layers) {
				t.Fatalf("file holds %d clustered layers, want %d", len(pr.Layers), len(r.Layers))
			}
			for _, l := range pr.Layers {
				o := r.Layer(l.Param)
				if o == nil || !slices.Equal(l.Indices, o.Indices) || l.K != o.K || !slices.Equal(l.Shape, o.Shape) {
					t.Errorf("layer %s differs after the round trip", l.Param)
				}
			}
		})
	}
}

// TestPackedSize checks the byte count against the format's arithmetic and
// against the float32 size on a layer big enough to matter.
func TestPackedSize(t *testing.T) {
	g := graph.New("s")
	w := tensor.New(256, 300)
	copy(w.Data, laplace(rand.New(rand.NewPCG(51, 52)), w.Len(), 0.05))
	g.Params["fc.w"] = w
	g.Params["fc.b"] = tensor.New(256)
	g.Nodes = []*graph.Node{{Name: "fc", Op: graph.OpGemm, Inputs: []string{"x", "fc.w", "fc.b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}}}
	r, err := QuantizeGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Layers[0]
	for _, f16 := range []bool{false, true} {
		var buf bytes.Buffer
		n, err := WritePacked(&buf, g, r, PackOptions{Float16Codebook: f16, NoEntropy: true})
		if err != nil {
			t.Fatal(err)
		}
		cb := 4
		if f16 {
			cb = 2
		}
		bias := 2 + len("fc.b") + 1 + 4 + 1 + 4*256
		weight := 2 + len("fc.w") + 1 + 8 + 1 + 1 + 2 + 1 + cb*l.K + (w.Len()*storedBits(l.K)+7)/8
		if want := int64(headerSize + bias + weight); n != want {
			t.Errorf("f16=%v: %d bytes, format arithmetic says %d", f16, n, want)
		}
		float := int64(4 * (w.Len() + 256))
		t.Logf("f16=%v K=%d: %d bytes packed vs %d float32 (%.2fx)", f16, l.K, n, float, float64(float)/float64(n))
		if ratio := float64(float) / float64(n); ratio < 32/float64(l.IndexBits)*0.9 {
			t.Errorf("compression %.2fx, want about 32/%d", ratio, l.IndexBits)
		}
	}
	// Without a result everything is float32.
	var buf bytes.Buffer
	n, _ := WritePacked(&buf, g, nil, PackOptions{})
	if want := int64(headerSize + 2 + 4 + 1 + 4 + 1 + 4*256 + 2 + 4 + 1 + 8 + 1 + 4*w.Len()); n != want {
		t.Errorf("all-float file %d bytes, want %d", n, want)
	}
}

func TestBitPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for bits := 1; bits <= 8; bits++ {
		for _, n := range []int{0, 1, 7, 8, 9, 1000} {
			k := 1 << bits
			idx := make([]uint8, n)
			for i := range idx {
				idx[i] = uint8(rng.IntN(k))
			}
			b := appendPacked(nil, idx, bits)
			if len(b) != packedLen(n, bits) {
				t.Fatalf("bits %d n %d: %d bytes, want %d", bits, n, len(b), packedLen(n, bits))
			}
			// Decode through a crafted clustered record.
			rec := craftRecord("w", []uint32{uint32(n)}, 1, cbFloat32, k, bits, make([]byte, 4*k), b)
			p, err := ReadPacked(bytes.NewReader(craftFile(1, rec)))
			if err != nil {
				t.Fatalf("bits %d n %d: %v", bits, n, err)
			}
			if got := p.Tensors[0].Indices; !slices.Equal(got, idx) && !(n == 0 && len(got) == 0) {
				t.Fatalf("bits %d n %d: indices differ", bits, n)
			}
		}
	}
}

// craftRecord builds one record by hand (kind 1 = clustered with the given
// fields, kind 0 = float with payload as the values).
func craftRecord(name string, dims []uint32, kind byte, cbt byte, k, bits int, codebook, payload []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(dims)))
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint32(b, d)
	}
	b = append(b, kind)
	if kind == kindClustered {
		b = append(b, cbt)
		b = binary.LittleEndian.AppendUint16(b, uint16(k))
		b = append(b, byte(bits))
		b = append(b, codebook...)
	}
	return append(b, payload...)
}

// craftFile wraps a payload in a valid version-2 header.
func craftFile(count uint32, payload []byte) []byte { return craftFileV(packVersion, count, payload) }

// craftHuffRecord builds a kind-2 record by hand: float32 codebook of K
// zeros, code lengths packed as nibbles, the stream length and the stream.
func craftHuffRecord(name string, dims []uint32, lengths []uint8, stream []byte) []byte {
	b := craftRecord(name, dims, kindHuffman, cbFloat32, 0, 0, nil, nil)
	b = append(b, cbFloat32)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(lengths)))
	b = append(b, make([]byte, 4*len(lengths))...)
	b = appendLengths(b, lengths)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(stream)))
	return append(b, stream...)
}

func findTensor(p *Packed, name string) *PackedTensor {
	for i := range p.Tensors {
		if p.Tensors[i].Name == name {
			return &p.Tensors[i]
		}
	}
	return nil
}

// craftFileV wraps a payload in a valid header of the given version.
func craftFileV(version uint16, count uint32, payload []byte) []byte {
	h := make([]byte, headerSize)
	copy(h, packMagic)
	binary.LittleEndian.PutUint16(h[8:], version)
	binary.LittleEndian.PutUint32(h[12:], count)
	binary.LittleEndian.PutUint64(h[16:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(h[24:], crc32.ChecksumIEEE(payload))
	return append(h, payload...)
}

func TestReadPackedCorrupt(t *testing.T) {
	g, r := packedGraph(t)
	var buf bytes.Buffer
	if _, err := WritePacked(&buf, g, r, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	huge := []uint32{1 << 31, 1 << 31}
	abc := []uint8{1, 2, 2} // codes a=0, b=10, c=11
	hmod := func(b []byte, f func([]byte)) []byte { f(b); return b }
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short-header", good[:20], "truncated"},
		{"bad-magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), "not a slimgo packed file"},
		{"bad-version", mod(func(b []byte) []byte { b[8] = 9; return b }), "version 9"},
		{"checksum", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "checksum"},
		{"truncated-payload", good[:len(good)-10], "truncated"},
		{"trailing", append(slices.Clone(good), 0), "after the declared"},
		{"absurd-length", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<62); return b }), "truncated"},
		{"max-length", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], math.MaxUint64); return b }), "absurd"},
		{"count-too-big", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1000); return b }), "past the end"},
		{"count-too-small", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1); return b }), "bytes after record"},
		{"absurd-shape-float", craftFile(1, craftRecord("w", huge, kindFloat, 0, 0, 0, nil, make([]byte, 64))), "more values than"},
		{"absurd-shape-clustered", craftFile(1, craftRecord("w", huge, kindClustered, cbFloat32, 2, 1, make([]byte, 8), nil)), "more values than"},
		{"float-short", craftFile(1, craftRecord("w", []uint32{100}, kindFloat, 0, 0, 0, nil, make([]byte, 396))), "past the end"},
		{"rank", craftFile(1, craftRecord("w", make([]uint32, 9), kindFloat, 0, 0, 0, nil, nil)), "rank 9"},
		{"kind", craftFile(1, craftRecord("w", []uint32{1}, 7, 0, 0, 0, nil, nil)), "unknown record kind"},
		{"K0", craftFile(1, craftRecord("w", []uint32{4}, kindClustered, cbFloat32, 0, 1, nil, []byte{0})), "K=0"},
		{"K257", craftFile(1, craftRecord("w", []uint32{4}, kindClustered, cbFloat32, 257, 9, nil, nil)), "K=257"},
		{"bits", craftFile(1, craftRecord("w", []uint32{4}, kindClustered, cbFloat32, 4, 3, make([]byte, 16), []byte{0, 0})), "3-bit indices for K=4"},
		{"codebook-type", craftFile(1, craftRecord("w", []uint32{4}, kindClustered, 5, 2, 1, make([]byte, 8), []byte{0})), "codebook type"},
		{"index-range", craftFile(1, craftRecord("w", []uint32{2}, kindClustered, cbFloat32, 3, 2, make([]byte, 12), []byte{0x0d})), "index 1 is 3"},
		{"indices-short", craftFile(1, craftRecord("w", []uint32{100}, kindClustered, cbFloat32, 2, 1, make([]byte, 8), make([]byte, 12))), "past the end"},
		{"fixed-padding-bits", craftFile(1, craftRecord("w", []uint32{3}, kindClustered, cbFloat32, 2, 1, make([]byte, 8), []byte{0x08})), "padding bits"},
		{"huffman-in-version-1", craftFileV(1, 1, craftHuffRecord("w", []uint32{2}, abc, []byte{0x00})), "version 1 file"},
		{"huffman-over-subscribed", craftFile(1, craftHuffRecord("w", []uint32{2}, []uint8{1, 1, 1}, []byte{0x00})), "over-subscribed"},
		{"huffman-incomplete", craftFile(1, craftHuffRecord("w", []uint32{2}, []uint8{1, 2, 0}, []byte{0x00})), "incomplete"},
		{"huffman-no-codes", craftFile(1, craftHuffRecord("w", []uint32{2}, []uint8{0, 0, 0}, []byte{0x00})), "all code lengths are 0"},
		{"huffman-odd-nibble", craftFile(1, hmod(craftHuffRecord("w", []uint32{2}, abc, []byte{0x00}), func(b []byte) { b[len(b)-10] |= 0x30 })), "nibble"},
		{"huffman-K0", craftFile(1, craftHuffRecord("w", []uint32{2}, nil, []byte{0x00})), "K=0"},
		{"huffman-codebook-type", craftFile(1, hmod(craftHuffRecord("w", []uint32{2}, abc, []byte{0x00}), func(b []byte) { b[2+1+1+4+1] = 9 })), "codebook type"},
		{"huffman-lengths-short", craftFile(1, craftHuffRecord("w", []uint32{2}, abc, nil)[:2+1+1+4+1+1+2+12+1]), "code lengths"},
		{"huffman-streamlen-past-end", craftFile(1, hmod(craftHuffRecord("w", []uint32{2}, abc, []byte{0x00}), func(b []byte) { b[len(b)-9] = 2 })), "past the end"},
		{"huffman-streamlen-absurd", craftFile(1, hmod(craftHuffRecord("w", []uint32{2}, abc, []byte{0x00}), func(b []byte) { b[len(b)-2] = 0xff })), "past the end"},
		{"huffman-stream-too-small-for-n", craftFile(1, craftHuffRecord("w", []uint32{100}, abc, []byte{0, 0})), "cannot hold 100 indices"},
		{"huffman-truncated-bitstream", craftFile(1, craftHuffRecord("w", []uint32{5}, abc, []byte{0xff})), "ends after 4 of 5"},
		{"huffman-trailing-garbage-bits", craftFile(1, craftHuffRecord("w", []uint32{3}, abc, []byte{0x80})), "padding"},
		{"huffman-trailing-byte", craftFile(1, craftHuffRecord("w", []uint32{8}, abc, []byte{0, 0})), "take 1"},
		{"huffman-unassigned-pattern", craftFile(1, craftHuffRecord("w", []uint32{3}, []uint8{0, 1}, []byte{0x02})), "no code"},
		{"huffman-short-shape", craftFile(1, craftHuffRecord("w", []uint32{2}, abc, []byte{0x1c})), "padding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPacked(bytes.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPackedApplyMismatch(t *testing.T) {
	g, r := packedGraph(t)
	var buf bytes.Buffer
	WritePacked(&buf, g, r, PackOptions{})
	p, err := ReadPacked(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*graph.Graph)
		want   string
	}{
		{"missing-in-file", func(g *graph.Graph) { g.Params["extra"] = tensor.New(2) }, "missing from the packed file"},
		{"missing-in-graph", func(g *graph.Graph) { delete(g.Params, "fc.b") }, "not a parameter"},
		{"shape", func(g *graph.Graph) { g.Params["fc.w"] = tensor.New(16, 10) }, "shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := testGraph(8)
			tc.change(h)
			before := h.Clone()
			err := p.Apply(h)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			for k, v := range before.Params {
				if tensor.MaxAbsDiff(v, h.Params[k]) != 0 {
					t.Fatalf("graph changed by a failed Apply (%s)", k)
				}
			}
		})
	}
	// A result that does not match the graph is refused by the writer.
	bad := *r
	bad.Layers = slices.Clone(r.Layers)
	bad.Layers[0].Indices = bad.Layers[0].Indices[:3]
	if _, err := WritePacked(&bytes.Buffer{}, g, &bad, PackOptions{}); err == nil || !strings.Contains(err.Error(), "indices") {
		t.Errorf("mismatched result: %v", err)
	}
}

func TestWritePackedFile(t *testing.T) {
	g, r := packedGraph(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.slimpack")
	os.WriteFile(path, []byte("old"), 0o644)
	n, err := WritePackedFile(path, g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != n {
		t.Fatalf("file size %v (err %v), WritePackedFile said %d", st.Size(), err, n)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	p, err := ReadPackedFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := testGraph(4)
	if err := p.Apply(h); err != nil {
		t.Fatal(err)
	}
	if tensor.MaxAbsDiff(h.Params["conv.w"], g.Params["conv.w"]) != 0 {
		t.Error("file round trip changed conv.w")
	}
	if _, err := WritePackedFile(filepath.Join(dir, "no/such/dir/x"), g, r, PackOptions{}); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if _, err := ReadPackedFile(filepath.Join(dir, "absent")); err == nil {
		t.Error("reading a missing file succeeded")
	}
}

func TestFloat16(t *testing.T) {
	// Every half value converts to float32 and back unchanged (NaNs stay NaN).
	for h := range 1 << 16 {
		f := FromFloat16(uint16(h))
		if f != f {
			if g := FromFloat16(Float16(f)); g == g {
				t.Fatalf("NaN %04x lost", h)
			}
			continue
		}
		if back := Float16(f); back != uint16(h) {
			t.Fatalf("half %04x -> %g -> %04x", h, f, back)
		}
	}
	// Random floats round to the nearest half (ties to even).
	rng := rand.New(rand.NewPCG(55, 56))
	for range 200000 {
		f := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-8)))
		h := Float16(f)
		got := float64(FromFloat16(h))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 {
				continue
			}
			alt := float64(FromFloat16(nb))
			if math.Signbit(alt) != math.Signbit(got) && got != 0 {
				continue
			}
			if math.Abs(alt-float64(f)) < math.Abs(got-float64(f)) {
				t.Fatalf("Float16(%g)=%g but %g is nearer", f, got, alt)
			}
		}
	}
	for _, tc := range []struct {
		f    float32
		want uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00}, {float32(math.Inf(-1)), 0xfc00}, {5.960464477539063e-08, 0x0001}, {2.9e-08, 0x0000}, {3.0e-08, 0x0001}} {
		if got := Float16(tc.f); got != tc.want {
			t.Errorf("Float16(%g)=%04x want %04x", tc.f, got, tc.want)
		}
	}
}

func FuzzReadPacked(f *testing.F) {
	g, r := packedGraph(f)
	for _, o := range []PackOptions{{}, {Float16Codebook: true}, {NoEntropy: true}, {Float16Codebook: true, NoEntropy: true}} {
		var buf bytes.Buffer
		WritePacked(&buf, g, r, o)
		f.Add(buf.Bytes())
	}
	f.Add(craftFile(1, craftRecord("w", []uint32{3}, kindClustered, cbFloat16, 3, 2, make([]byte, 6), []byte{0x24})))
	f.Add(craftFile(1, craftHuffRecord("w", []uint32{4}, []uint8{1, 2, 2}, []byte{0x1c})))
	f.Add(craftFile(1, craftHuffRecord("w", []uint32{3}, []uint8{0, 1}, []byte{0x00})))
	f.Add([]byte(packMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadPacked(bytes.NewReader(b))
		if err != nil {
			return
		}
		checkPacked(t, p, len(b))
	})
}

// checkPacked asserts the invariants of a successfully decoded file of
// fileLen bytes: values match shapes, indices are < K and expand to the
// values, and every tensor took at least one bit per value of the file.
func checkPacked(t *testing.T, p *Packed, fileLen int) {
	for _, tt := range p.Tensors {
		n := tensor.Size(tt.Shape)
		if len(tt.Data) != n {
			t.Fatalf("tensor %q: %d values for shape %v", tt.Name, len(tt.Data), tt.Shape)
		}
		if n > 8*fileLen {
			t.Fatalf("tensor %q: %d values from a %d-byte file", tt.Name, n, fileLen)
		}
		if tt.Coding == CodingNone {
			if tt.Indices != nil || tt.Codebook != nil || tt.IndexBytes != 0 {
				t.Fatalf("float tensor %q has clustering fields", tt.Name)
			}
			continue
		}
		if tt.Coding == CodingHuffman && p.Version < 2 {
			t.Fatalf("tensor %q: Huffman-coded in a version %d file", tt.Name, p.Version)
		}
		if len(tt.Indices) != n || tt.IndexBytes < 1 {
			t.Fatalf("tensor %q: %d indices for %d values, %d index bytes", tt.Name, len(tt.Indices), n, tt.IndexBytes)
		}
		for i, j := range tt.Indices {
			if int(j) >= len(tt.Codebook) || math.Float32bits(tt.Data[i]) != math.Float32bits(tt.Codebook[j]) {
				t.Fatalf("tensor %q value %d: index %d of K=%d, value %g", tt.Name, i, j, len(tt.Codebook), tt.Data[i])
			}
		}
	}
}

// FuzzReadPackedPayload fuzzes the record parser behind a valid header and
// checksum (FuzzReadPacked rarely gets past the CRC).
func FuzzReadPackedPayload(f *testing.F) {
	g, r := packedGraph(f)
	for _, o := range []PackOptions{{}, {NoEntropy: true}} {
		var buf bytes.Buffer
		WritePacked(&buf, g, r, o)
		f.Add(uint32(8), buf.Bytes()[headerSize:])
	}
	// A Laplace layer with K=60, Huffman-coded with code lengths 4 to 13.
	lg := gemmGraph(4, 2000, laplace(rand.New(rand.NewPCG(75, 76)), 8000, 1))
	lr, _ := QuantizeGraph(lg, Options{FixedK: 60, Seed: 1})
	var lb bytes.Buffer
	WritePacked(&lb, lg, lr, PackOptions{Float16Codebook: true})
	f.Add(uint32(2), lb.Bytes()[headerSize:])
	f.Add(uint32(1), craftRecord("w", []uint32{3}, kindClustered, cbFloat16, 3, 2, make([]byte, 6), []byte{0x24}))
	f.Add(uint32(1), craftHuffRecord("w", []uint32{4}, []uint8{1, 2, 2}, []byte{0x1c}))
	f.Add(uint32(1), craftHuffRecord("w", []uint32{3}, []uint8{0, 1}, []byte{0x00}))
	f.Fuzz(func(t *testing.T, count uint32, payload []byte) {
		file := craftFile(count%64, payload)
		p, err := ReadPacked(bytes.NewReader(file))
		if err != nil {
			return
		}
		checkPacked(t, p, len(file))
	})
}

// gemmGraph is a one-layer graph with a [rows, cols] weight filled by fill.
func gemmGraph(rows, cols int, fill []float32) *graph.Graph {
	g := graph.New("e")
	w := tensor.New(rows, cols)
	copy(w.Data, fill)
	g.Params["fc.w"] = w
	g.Params["fc.b"] = tensor.New(rows)
	g.Nodes = []*graph.Node{{Name: "fc", Op: graph.OpGemm, Inputs: []string{"x", "fc.w", "fc.b"}, Outputs: []string{"y"}, Attrs: graph.Attrs{"transB": 1}}}
	return g
}

// TestPackedEntropyLaplace: on a Laplace layer clustered with K = 20..30
// the cluster sizes are far from uniform, so the Huffman-coded indices are
// strictly smaller than ceil(log2 K) bits, above the empirical entropy and
// below entropy + 1 bit (Huffman's bound; the length limit is not reached
// here). The file restores exactly the weights of the fixed-width file.
func TestPackedEntropyLaplace(t *testing.T) {
	const rows, cols = 64, 576 // 36864 weights, a 64x64x3x3 conv's worth
	xs := laplace(rand.New(rand.NewPCG(71, 72)), rows*cols, 0.05)
	for _, k := range []int{20, 24, 30} {
		t.Run("K"+string(rune('0'+k/10))+string(rune('0'+k%10)), func(t *testing.T) {
			g := gemmGraph(rows, cols, xs)
			r, err := QuantizeGraph(g, Options{FixedK: k, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			l := r.Layers[0]
			if l.K != k {
				t.Fatalf("K=%d, want %d", l.K, k)
			}
			st, err := PackStats(r, PackOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := st[0]
			n := float64(len(l.Indices))
			freq := make([]float64, k)
			for _, j := range l.Indices {
				freq[j]++
			}
			var h float64
			for _, f := range freq {
				if f > 0 {
					h -= f / n * math.Log2(f/n)
				}
			}
			streamBits := 8 * float64(s.HuffmanBytes-(k+1)/2-8)
			t.Logf("K=%d n=%d: fixed %d bits (%d bytes), Huffman %.3f bits/weight (%d bytes incl. %d-byte code table and length), entropy %.3f",
				k, len(l.Indices), storedBits(k), s.FixedBytes, s.IndexBitsPerWeight(), s.HuffmanBytes, (k+1)/2+8, h)
			if s.Coding != CodingHuffman || s.IndexBytes != s.HuffmanBytes || s.HuffmanBytes >= s.FixedBytes {
				t.Fatalf("Huffman not chosen or not smaller: %+v", s)
			}
			if bpw := s.IndexBitsPerWeight(); bpw >= float64(storedBits(k)) {
				t.Errorf("%.3f bits per weight, not below the fixed %d", bpw, storedBits(k))
			}
			if streamBits < h*n || streamBits >= (h+1)*n+8 {
				t.Errorf("stream %.0f bits, want within [H n, (H+1) n] = [%.0f, %.0f]", streamBits, h*n, (h+1)*n)
			}
			var fixed, huff bytes.Buffer
			if _, err := WritePacked(&fixed, g, r, PackOptions{NoEntropy: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := WritePacked(&huff, g, r, PackOptions{}); err != nil {
				t.Fatal(err)
			}
			// The index sections are the only difference between the files.
			if d := fixed.Len() - huff.Len(); d != s.FixedBytes-s.HuffmanBytes {
				t.Errorf("files differ by %d bytes, PackStats says %d", d, s.FixedBytes-s.HuffmanBytes)
			}
			pf, err := ReadPacked(&fixed)
			if err != nil {
				t.Fatal(err)
			}
			ph, err := ReadPacked(&huff)
			if err != nil {
				t.Fatal(err)
			}
			if pf.Version != 1 || ph.Version != 2 {
				t.Errorf("versions %d and %d, want 1 and 2", pf.Version, ph.Version)
			}
			a, b := findTensor(pf, "fc.w"), findTensor(ph, "fc.w")
			if !slices.Equal(a.Data, b.Data) || !slices.Equal(a.Indices, b.Indices) || !slices.Equal(b.Indices, l.Indices) {
				t.Error("Huffman file restores other weights than the fixed-width file")
			}
		})
	}
}

// TestPackStatsChoice: the writer stores each layer with the smaller of the
// two codings (fixed width on ties), the file's index sections are exactly
// the sizes PackStats reports, and the weights come back unchanged.
func TestPackStatsChoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	layer := func(name string, k, n int, draw func() int) LayerResult {
		l := LayerResult{Param: name, Shape: []int{n}, K: k, Codebook: make([]float32, k), Indices: make([]uint8, n)}
		for i := range l.Codebook {
			l.Codebook[i] = float32(i) - 0.5
		}
		for i := range l.Indices {
			l.Indices[i] = uint8(draw())
		}
		return l
	}
	for _, tc := range []struct {
		name string
		l    LayerResult
		want IndexCoding // CodingNone: either is fine, only the minimum is checked
	}{
		{"uniform-16", layer("w", 16, 4096, func() int { return rng.IntN(16) }), CodingFixed},
		{"uniform-256", layer("w", 256, 4096, func() int { return rng.IntN(256) }), CodingFixed},
		{"K1", layer("w", 1, 500, func() int { return 0 }), CodingFixed},
		{"one-weight", layer("w", 8, 1, func() int { return 3 }), CodingFixed},
		{"tiny-skewed", layer("w", 4, 12, func() int { return rng.IntN(4) / 3 }), CodingNone},
		{"single-symbol-used", layer("w", 200, 4000, func() int { return 7 }), CodingHuffman},
		{"two-symbols-of-256", layer("w", 256, 2000, func() int { return 255 * rng.IntN(2) }), CodingHuffman},
		{"skewed-256", layer("w", 256, 20000, func() int { return min(255, int(rng.ExpFloat64()*6)) }), CodingHuffman},
		{"geometric-3", layer("w", 3, 3000, func() int { return min(2, int(rng.ExpFloat64())) }), CodingHuffman},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.New("c")
			w := tensor.New(len(tc.l.Indices))
			tc.l.Expand(w.Data)
			g.Params["w"] = w
			r := &Result{Layers: []LayerResult{tc.l}}
			st, err := PackStats(r, PackOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := st[0]
			if s.HuffmanBytes <= 0 || s.FixedBytes != 1+(len(tc.l.Indices)*storedBits(tc.l.K)+7)/8 {
				t.Fatalf("sizes %+v", s)
			}
			if s.IndexBytes != min(s.FixedBytes, s.HuffmanBytes) || (s.Coding == CodingHuffman) != (s.HuffmanBytes < s.FixedBytes) {
				t.Fatalf("chose %v with %d bytes; fixed %d, Huffman %d", s.Coding, s.IndexBytes, s.FixedBytes, s.HuffmanBytes)
			}
			if tc.want != CodingNone && s.Coding != tc.want {
				t.Errorf("chose %v, want %v (fixed %d, Huffman %d bytes)", s.Coding, tc.want, s.FixedBytes, s.HuffmanBytes)
			}
			var buf bytes.Buffer
			if _, err := WritePacked(&buf, g, r, PackOptions{}); err != nil {
				t.Fatal(err)
			}
			p, err := ReadPacked(&buf)
			if err != nil {
				t.Fatal(err)
			}
			pt := p.Tensors[0]
			if pt.Coding != s.Coding || pt.IndexBytes != s.IndexBytes || !slices.Equal(pt.Indices, tc.l.Indices) || !slices.Equal(pt.Data, w.Data) {
				t.Errorf("file: %v %d bytes, indices equal %v; want %v %d bytes", pt.Coding, pt.IndexBytes, slices.Equal(pt.Indices, tc.l.Indices), s.Coding, s.IndexBytes)
			}
			nst, _ := PackStats(r, PackOptions{NoEntropy: true})
			if nst[0].Coding != CodingFixed || nst[0].HuffmanBytes != 0 || nst[0].IndexBytes != s.FixedBytes {
				t.Errorf("NoEntropy stats %+v", nst[0])
			}
		})
	}
	for c, want := range map[IndexCoding]string{CodingNone: "float", CodingFixed: "fixed", CodingHuffman: "huffman", 7: "IndexCoding(7)"} {
		if c.String() != want {
			t.Errorf("IndexCoding %d prints %q, want %q", int(c), c.String(), want)
		}
	}
	bad := &Result{Layers: []LayerResult{{Param: "w", Codebook: []float32{1, 2}, Indices: []uint8{0, 2}}}}
	if _, err := PackStats(bad, PackOptions{}); err == nil || !strings.Contains(err.Error(), "index 1 is 2") {
		t.Errorf("index >= K: %v", err)
	}
}
