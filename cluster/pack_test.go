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
	}{{"float32-codebook", PackOptions{}}, {"float16-codebook", PackOptions{Float16Codebook: true}}} {
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
		n, err := WritePacked(&buf, g, r, PackOptions{Float16Codebook: f16})
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

// craftFile wraps a payload in a valid header.
func craftFile(count uint32, payload []byte) []byte {
	h := make([]byte, headerSize)
	copy(h, packMagic)
	binary.LittleEndian.PutUint16(h[8:], packVersion)
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
	for _, o := range []PackOptions{{}, {Float16Codebook: true}} {
		var buf bytes.Buffer
		WritePacked(&buf, g, r, o)
		f.Add(buf.Bytes())
	}
	f.Add(craftFile(1, craftRecord("w", []uint32{3}, kindClustered, cbFloat16, 3, 2, make([]byte, 6), []byte{0x24})))
	f.Add([]byte(packMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ReadPacked(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, tt := range p.Tensors {
			if len(tt.Data) != tensor.Size(tt.Shape) {
				t.Fatalf("tensor %q: %d values for shape %v", tt.Name, len(tt.Data), tt.Shape)
			}
			if tt.Indices != nil && len(tt.Indices) != len(tt.Data) {
				t.Fatalf("tensor %q: %d indices for %d values", tt.Name, len(tt.Indices), len(tt.Data))
			}
		}
	})
}

// FuzzReadPackedPayload fuzzes the record parser behind a valid header and
// checksum (FuzzReadPacked rarely gets past the CRC).
func FuzzReadPackedPayload(f *testing.F) {
	g, r := packedGraph(f)
	var buf bytes.Buffer
	WritePacked(&buf, g, r, PackOptions{})
	f.Add(uint32(8), buf.Bytes()[headerSize:])
	f.Add(uint32(1), craftRecord("w", []uint32{3}, kindClustered, cbFloat16, 3, 2, make([]byte, 6), []byte{0x24}))
	f.Fuzz(func(t *testing.T, count uint32, payload []byte) {
		p, err := ReadPacked(bytes.NewReader(craftFile(count%64, payload)))
		if err != nil {
			return
		}
		for _, tt := range p.Tensors {
			if len(tt.Data) != tensor.Size(tt.Shape) {
				t.Fatalf("tensor %q: %d values for shape %v", tt.Name, len(tt.Data), tt.Shape)
			}
		}
	})
}
