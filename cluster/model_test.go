package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// modelGraph is the clustered test graph with metadata and attributes of
// every kind the graph section stores.
func modelGraph(t testing.TB) (*graph.Graph, *Result) {
	g, r := packedGraph(t)
	g.Meta["slimgo.mean"] = "0.5,0.5,0.5"
	g.Meta["slimgo.classes"] = "cat,dog"
	tt := tensor.New(2)
	tt.Data[0], tt.Data[1] = 1.5, -2
	g.Node("conv").Attrs = graph.Attrs{"pads": []int{1, 1, 1, 1}, "strides": []int{1, 1}, "x.f": []float32{0.25},
		"x.s": "same", "x.i64": int64(-3), "x.f64": 0.125, "x.t": tt}
	g.Node("conv2").Attrs = graph.Attrs{"pads": []int{1, 1, 1, 1}}
	g.Node("bn").Attrs = graph.Attrs{"epsilon": float32(1e-5)}
	return g, r
}

func TestModelRoundTrip(t *testing.T) {
	for _, opt := range []PackOptions{{}, {Float16Codebook: true, NoEntropy: true}, {Float16Params: true}} {
		g, r := modelGraph(t)
		var buf bytes.Buffer
		n, err := WriteModel(&buf, g, r, opt)
		if err != nil {
			t.Fatal(err)
		}
		v3, err := encodeModel(g, r, opt)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) || !IsPacked(buf.Bytes()) || binary.LittleEndian.Uint16(buf.Bytes()[8:]) != 4 || buf.Len() >= len(v3) {
			t.Fatalf("%+v: wrote %d bytes (version 3: %d), returned %d, header % x", opt, buf.Len(), len(v3), n, buf.Bytes()[:12])
		}
		back, p, err := ReadModel(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%+v: %v", opt, err)
		}
		if back.Name != g.Name || !reflect.DeepEqual(back.Meta, g.Meta) || !reflect.DeepEqual(back.Inputs, g.Inputs) || !reflect.DeepEqual(back.Outputs, g.Outputs) {
			t.Fatalf("%+v: graph header differs: %+v", opt, back)
		}
		if len(back.Nodes) != len(g.Nodes) {
			t.Fatalf("%d nodes, want %d", len(back.Nodes), len(g.Nodes))
		}
		for _, want := range g.Nodes {
			got := back.Node(want.Name)
			if got == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: node %q = %+v, want %+v", opt, want.Name, got, want)
			}
		}
		clustered := map[string]bool{}
		for _, l := range p.Result().Layers {
			clustered[l.Param] = true
		}
		for name, w := range g.Params {
			q := back.Params[name]
			if q == nil || !tensor.SameShape(q.Shape, w.Shape) {
				t.Fatalf("param %q missing or reshaped", name)
			}
			for i, v := range w.Data {
				want := v
				if opt.Float16Params && !clustered[name] || opt.Float16Codebook && clustered[name] {
					want = FromFloat16(Float16(v))
				}
				if q.Data[i] != want {
					t.Fatalf("%+v: param %q[%d] = %g, want %g", opt, name, i, q.Data[i], want)
				}
			}
		}
		if len(back.Params) != len(g.Params) || len(clustered) != len(r.Layers) {
			t.Fatalf("%d params (want %d), %d clustered (want %d)", len(back.Params), len(g.Params), len(clustered), len(r.Layers))
		}
	}
}

// TestModelFloat16Exact: without Float16Params a parameter is stored as
// float16 only when every value round-trips, so bn.var (all 1) is and the
// random biases are not.
func TestModelFloat16Exact(t *testing.T) {
	g, r := modelGraph(t)
	buf, err := encodeModel(g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.Params["bn.var"].Data[0] = 1 + 1.0/4096 // not a half float
	f32, err := encodeModel(g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := len(f32) - len(buf); d != 2*16 {
		t.Errorf("a non-half bn.var costs %d more bytes, want 32 (16 values float32 instead of float16)", d)
	}
}

func TestReadModelWeightsOnly(t *testing.T) {
	g, r := packedGraph(t)
	var buf bytes.Buffer
	if _, err := WritePacked(&buf, g, r, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadModel(bytes.NewReader(buf.Bytes()))
	if !errors.Is(err, ErrWeightsOnly) || !strings.Contains(err.Error(), "--packed") {
		t.Fatalf("weight-only file: %v", err)
	}
	// and ReadPacked reads a version 3 file's weights, which Apply puts
	// onto the graph.
	v3, err := encodeModel(g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range [][]byte{v3, deflateModel(v3)} {
		p, err := ReadPacked(bytes.NewReader(f))
		if err != nil || p.Version != int(binary.LittleEndian.Uint16(f[8:])) || p.Graph == nil {
			t.Fatalf("ReadPacked of a self-contained file: %v", err)
		}
		if err := p.Apply(testGraph(9)); err != nil {
			t.Fatal(err)
		}
	}
}

// refile rewrites the header's length and CRC over payload.
func refile(b []byte, payload []byte) []byte {
	out := append([]byte(nil), b[:headerSize]...)
	binary.LittleEndian.PutUint64(out[16:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(out[24:], crc32.ChecksumIEEE(payload))
	return append(out, payload...)
}

func TestReadModelCorrupt(t *testing.T) {
	g, r := modelGraph(t)
	good, err := encodeModel(g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	payload := good[headerSize:]
	zl := int(binary.LittleEndian.Uint32(payload[4:]))
	flip := append([]byte(nil), good...)
	flip[len(flip)-3] ^= 0x40
	badRaw := append([]byte(nil), payload...)
	binary.LittleEndian.PutUint32(badRaw, binary.LittleEndian.Uint32(payload)+1)
	badZ := append([]byte(nil), payload...)
	badZ[8+zl/2] ^= 0xff
	hugeRaw := append([]byte(nil), payload...)
	binary.LittleEndian.PutUint32(hugeRaw, math.MaxUint32)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"truncated", string(good[:len(good)-10]), "truncated"},
		{"header only", string(good[:20]), "truncated"},
		{"bit flip", string(flip), "checksum"},
		{"graph size", string(refile(good, badRaw)), "graph section"},
		{"deflate", string(refile(good, badZ)), "graph section"},
		{"huge graph", string(refile(good, hugeRaw)), "more than"},
		{"graph cut", string(refile(good, payload[:8+zl-1])), "graph section"},
		{"no records", string(refile(good, payload[:8+zl])), "record 0"},
	} {
		_, _, err := ReadModel(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// TestReadModelV4Corrupt: a version 4 file whose compressed payload is cut,
// corrupt, or declares another or an absurd length is refused with a
// message (the checksum is made valid, so inflation itself is tested).
func TestReadModelV4Corrupt(t *testing.T) {
	g, r := modelGraph(t)
	v3, err := encodeModel(g, r, PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := deflateModel(v3)
	if _, _, err := ReadModel(bytes.NewReader(good)); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	payload := good[headerSize:]
	with := func(f func(p []byte) []byte) string {
		return string(refile(good, f(append([]byte(nil), payload...))))
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no length", with(func(p []byte) []byte { return p[:5] }), "no length"},
		{"cut", with(func(p []byte) []byte { return p[:len(p)/2] }), "compressed payload"},
		{"garbage", with(func(p []byte) []byte { p[12] ^= 0xff; p[13] ^= 0x5a; return p }), "compressed payload"},
		{"longer", with(func(p []byte) []byte { binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)+1); return p }), "declares"},
		{"shorter", with(func(p []byte) []byte { binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)-1); return p }), "inflates to"},
		{"absurd", with(func(p []byte) []byte { binary.LittleEndian.PutUint64(p, math.MaxUint64); return p }), "over the"},
	} {
		_, _, err := ReadModel(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// FuzzReadModelV4 fuzzes the compressed payload of a version 4 file
// behind a valid header and checksum: nothing panics, and what reads is a
// model checkPacked accepts.
func FuzzReadModelV4(f *testing.F) {
	g, r := modelGraph(f)
	for _, o := range []PackOptions{{}, {Float16Params: true}} {
		b, _ := encodeModel(g, r, o)
		f.Add(deflateModel(b)[headerSize:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var hdr [headerSize]byte
		copy(hdr[:], packMagic)
		binary.LittleEndian.PutUint16(hdr[8:], packVersion4)
		binary.LittleEndian.PutUint32(hdr[12:], 8)
		file := refile(hdr[:], payload)
		_, p, err := ReadModel(bytes.NewReader(file))
		if err != nil {
			return
		}
		checkPacked(t, p, 1032*len(file)+64)
	})
}

// FuzzReadModel fuzzes the version 3 payload behind a valid header and
// checksum: no input panics or allocates beyond what it holds, and a model
// that reads is ordered and its tensors hold their shapes.
func FuzzReadModel(f *testing.F) {
	g, r := modelGraph(f)
	for _, o := range []PackOptions{{}, {Float16Codebook: true, NoEntropy: true}, {Float16Params: true}} {
		b, _ := encodeModel(g, r, o)
		f.Add(b[headerSize:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var hdr [headerSize]byte
		copy(hdr[:], packMagic)
		binary.LittleEndian.PutUint16(hdr[8:], packVersion3)
		binary.LittleEndian.PutUint32(hdr[12:], 8)
		file := refile(hdr[:], payload)
		back, p, err := ReadModel(bytes.NewReader(file))
		if err != nil {
			return
		}
		checkPacked(t, p, len(file))
		if _, err := back.Topo(); err != nil {
			t.Fatalf("a model that reads has no order: %v", err)
		}
	})
}

// FuzzDecodeGraph fuzzes the graph section as inflated (FuzzReadModel
// rarely gets through DEFLATE): decoding never panics, and a graph that
// decodes, given the test graph's parameters, is validated by checkModel
// without a panic escaping.
func FuzzDecodeGraph(f *testing.F) {
	g, _ := modelGraph(f)
	raw, err := encodeGraph(g)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		dg, err := decodeGraph(b)
		if err != nil {
			return
		}
		for k, p := range g.Params {
			dg.Params[k] = p
		}
		if checkModel(dg) == nil {
			if _, err := encodeGraph(dg); err != nil {
				t.Fatalf("a valid decoded graph does not encode: %v", err)
			}
		}
	})
}
