package cluster

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refHuffmanCost is the cost sum(freq*len) of an unlimited Huffman code,
// built the textbook way (repeatedly merge the two lightest trees), and the
// depth of its deepest leaf. Used as the optimality reference.
func refHuffmanCost(freq []uint64) (cost uint64, depth int) {
	h := &treeHeap{}
	for _, f := range freq {
		if f > 0 {
			heap.Push(h, [2]uint64{f, 0})
		}
	}
	if h.Len() == 1 {
		return (*h)[0][0], 1
	}
	for h.Len() > 1 {
		a := heap.Pop(h).([2]uint64)
		b := heap.Pop(h).([2]uint64)
		cost += a[0] + b[0] // every merge adds one bit to each leaf below
		heap.Push(h, [2]uint64{a[0] + b[0], max(a[1], b[1]) + 1})
	}
	if h.Len() == 1 {
		depth = int((*h)[0][1])
	}
	return cost, depth
}

type treeHeap [][2]uint64

func (h treeHeap) Len() int           { return len(h) }
func (h treeHeap) Less(i, j int) bool { return h[i][0] < h[j][0] }
func (h treeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *treeHeap) Push(x any)        { *h = append(*h, x.([2]uint64)) }
func (h *treeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// bruteLimitedCost is the optimal cost over all length vectors (1..maxLen
// per used symbol) satisfying Kraft <= 1, by exhaustive search.
func bruteLimitedCost(freq []uint64, maxLen int) uint64 {
	var used []uint64
	for _, f := range freq {
		if f > 0 {
			used = append(used, f)
		}
	}
	best := uint64(math.MaxUint64)
	var rec func(i int, kraft float64, cost uint64)
	rec = func(i int, kraft float64, cost uint64) {
		if kraft > 1+1e-12 || cost >= best {
			return
		}
		if i == len(used) {
			best = cost
			return
		}
		for l := 1; l <= maxLen; l++ {
			rec(i+1, kraft+math.Ldexp(1, -l), cost+used[i]*uint64(l))
		}
	}
	rec(0, 0, 0)
	return best
}

// kraftSum returns sum 2^-len over used symbols as a fraction of 2^15.
func kraftSum(lengths []uint8) uint64 {
	var k uint64
	for _, l := range lengths {
		if l > 0 {
			k += 1 << (maxCodeLen - l)
		}
	}
	return k
}

func fibFreq(m int) []uint64 {
	f := make([]uint64, m)
	a, b := uint64(1), uint64(1)
	for i := range f {
		f[i] = a
		a, b = b, a+b
	}
	return f
}

func TestHuffmanLengthsOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	type tc struct {
		name string
		freq []uint64
	}
	cases := []tc{
		{"two", []uint64{5, 9}},
		{"two-with-gaps", []uint64{0, 3, 0, 0, 1}},
		{"uniform-256", slices.Repeat([]uint64{7}, 256)},
		{"uniform-5", []uint64{1, 1, 1, 1, 1}},
		{"fib-12", fibFreq(12)},
		{"powers", []uint64{1, 1, 2, 4, 8, 16, 32, 64}},
	}
	for i := range 30 {
		m := 2 + rng.IntN(255)
		f := make([]uint64, m)
		for j := range f {
			if rng.IntN(4) > 0 {
				f[j] = uint64(rng.ExpFloat64()*float64(1+rng.IntN(1000))) + 1
			}
		}
		f[0], f[m-1] = 1, 1
		cases = append(cases, tc{"random-" + string(rune('a'+i%26)) + string(rune('0'+i/26)), f})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lengths := huffmanLengths(c.freq, maxCodeLen)
			for s, f := range c.freq {
				if (f == 0) != (lengths[s] == 0) {
					t.Fatalf("symbol %d freq %d got length %d", s, f, lengths[s])
				}
				if lengths[s] > maxCodeLen {
					t.Fatalf("symbol %d length %d > %d", s, lengths[s], maxCodeLen)
				}
			}
			if k := kraftSum(lengths); k != 1<<maxCodeLen {
				t.Fatalf("Kraft sum %d/%d, want a complete code", k, 1<<maxCodeLen)
			}
			want, depth := refHuffmanCost(c.freq)
			got := huffmanBits(c.freq, lengths)
			if depth <= maxCodeLen && got != want {
				t.Fatalf("cost %d, unlimited Huffman %d (depth %d fits the limit)", got, want, depth)
			}
			if got < want {
				t.Fatalf("cost %d below the Huffman optimum %d", got, want)
			}
		})
	}
}

// TestHuffmanLengthLimit: on distributions whose Huffman tree is deeper
// than the limit, package-merge must match the exhaustive optimum of the
// limited problem and stay within the limit.
func TestHuffmanLengthLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, c := range []struct {
		name   string
		freq   []uint64
		maxLen int
	}{
		{"fib-7-limit-3", fibFreq(7), 3},
		{"fib-8-limit-4", fibFreq(8), 4},
		{"fib-6-limit-5", fibFreq(6), 5},
		{"skew-limit-3", []uint64{1000, 1, 1, 1, 1, 1}, 3},
		{"eight-limit-3", []uint64{1, 2, 4, 8, 16, 32, 64, 128}, 3},
		{"random-7-limit-4", func() []uint64 {
			f := make([]uint64, 7)
			for i := range f {
				f[i] = 1 + uint64(rng.IntN(1<<uint(2*i+1)))
			}
			return f
		}(), 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			lengths := huffmanLengths(c.freq, c.maxLen)
			for s, l := range lengths {
				if l < 1 || int(l) > c.maxLen {
					t.Fatalf("symbol %d: length %d outside 1..%d", s, l, c.maxLen)
				}
			}
			if k := kraftSum(lengths); k != 1<<maxCodeLen {
				t.Fatalf("Kraft sum %d/%d", k, 1<<maxCodeLen)
			}
			if got, want := huffmanBits(c.freq, lengths), bruteLimitedCost(c.freq, c.maxLen); got != want {
				t.Fatalf("cost %d, exhaustive optimum %d", got, want)
			}
		})
	}
	// At the real limit: a Fibonacci distribution over 24 symbols has an
	// unlimited Huffman depth of 23.
	f := fibFreq(24)
	_, depth := refHuffmanCost(f)
	if depth <= maxCodeLen {
		t.Fatalf("test distribution has depth %d, want > %d", depth, maxCodeLen)
	}
	lengths := huffmanLengths(f, maxCodeLen)
	if m := slices.Max(lengths); m != maxCodeLen {
		t.Errorf("longest code %d, want exactly the limit %d", m, maxCodeLen)
	}
	unl, _ := refHuffmanCost(f)
	got := huffmanBits(f, lengths)
	var total uint64
	for _, x := range f {
		total += x
	}
	t.Logf("fib-24: limited %.4f bits/symbol vs unlimited %.4f", float64(got)/float64(total), float64(unl)/float64(total))
	if got < unl || float64(got) > 1.01*float64(unl) {
		t.Errorf("limited cost %d vs unlimited %d: want within 1%%", got, unl)
	}
}

// symbolsFrom draws n symbols with the given relative frequencies (exactly
// freq[s] occurrences each, shuffled).
func symbolsFrom(rng *rand.Rand, freq []uint64) []uint8 {
	var out []uint8
	for s, f := range freq {
		for range f {
			out = append(out, uint8(s))
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestHuffmanRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	lap := make([]uint64, 24)
	for s := range lap {
		lap[s] = uint64(2000*math.Exp(-math.Abs(float64(s)-11.5)/2.5)) + 1
	}
	randf := make([]uint64, 100)
	for s := range randf {
		randf[s] = uint64(rng.IntN(50))
	}
	for _, c := range []struct {
		name string
		freq []uint64
	}{
		{"single-symbol", []uint64{0, 0, 37}},
		{"single-symbol-K1", []uint64{500}},
		{"single-occurrence", []uint64{0, 1}},
		{"two-symbols", []uint64{300, 2}},
		{"all-256", slices.Repeat([]uint64{20}, 256)},
		{"all-256-skewed", func() []uint64 {
			f := make([]uint64, 256)
			for s := range f {
				f[s] = 1 + uint64(5000*math.Exp(-float64(s)/8))
			}
			return f
		}()},
		{"laplace-24", lap},
		{"random-100", randf},
		{"fib-20-limited", fibFreq(20)},
		{"fib-24-limited", fibFreq(24)[:22]},
	} {
		t.Run(c.name, func(t *testing.T) {
			idx := symbolsFrom(rng, c.freq)
			lengths := huffmanLengths(c.freq, maxCodeLen)
			enc := appendHuffman(nil, idx, lengths)
			bits := huffmanBits(c.freq, lengths)
			if uint64(len(enc)) != (bits+7)/8 {
				t.Fatalf("%d bytes encoded, cost says %d bits", len(enc), bits)
			}
			got := make([]uint8, len(idx))
			if err := decodeHuffman(enc, lengths, got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, idx) {
				t.Fatal("decoded symbols differ")
			}
			// One symbol more than encoded decodes only if the all-zero
			// code (canonically the first shortest one) fits in the zero
			// padding; otherwise the stream runs out. (The file format
			// fixes the count from the shape, so this is no ambiguity.)
			codes := canonicalCodes(lengths)
			lz := uint64(0)
			for s, l := range lengths {
				if l > 0 && codes[s] == 0 {
					lz = uint64(l)
				}
			}
			fits := 8*uint64(len(enc))-bits >= lz
			if err := decodeHuffman(enc, lengths, make([]uint8, len(idx)+1)); fits != (err == nil) {
				t.Errorf("decoding one symbol too many: error %v, want success %v", err, fits)
			}
			// n-1 symbols decode only if the last code was all zero bits
			// (it becomes padding) and did not start a new byte.
			last := idx[len(idx)-1]
			ll := uint64(lengths[last])
			ok := (bits-ll+7)/8 == uint64(len(enc)) && canonicalCodes(lengths)[last] == 0
			short := make([]uint8, len(idx)-1)
			err := decodeHuffman(enc, lengths, short)
			if ok != (err == nil) {
				t.Errorf("decoding %d of %d symbols: error %v, want success %v", len(short), len(idx), err, ok)
			}
			if err == nil && !slices.Equal(short, idx[:len(short)]) {
				t.Error("decoded prefix differs")
			}
		})
	}
}

func TestCanonicalCodes(t *testing.T) {
	// Lengths (2, 1, 3, 3): canonical codes b=0, a=10, c=110, d=111.
	got := canonicalCodes([]uint8{2, 1, 3, 3})
	if want := []uint32{0b10, 0b0, 0b110, 0b111}; !slices.Equal(got, want) {
		t.Fatalf("codes %b, want %b", got, want)
	}
	// Prefix-freeness on a random complete code.
	lengths := huffmanLengths([]uint64{5, 1, 9, 3, 3, 7, 1, 1, 40, 2}, maxCodeLen)
	codes := canonicalCodes(lengths)
	for a := range codes {
		for b := range codes {
			if a == b || lengths[a] > lengths[b] {
				continue
			}
			if codes[b]>>(lengths[b]-lengths[a]) == codes[a] {
				t.Fatalf("code of %d (%0*b) is a prefix of %d (%0*b)", a, lengths[a], codes[a], b, lengths[b], codes[b])
			}
		}
	}
}

func TestDecodeHuffmanCorrupt(t *testing.T) {
	// Code for (a, b, c) with lengths (1, 2, 2): a=0, b=10, c=11; in the
	// LSB-first stream b is the bit pair 0,1 -> value 0b10 reversed = 0b01.
	abc := []uint8{1, 2, 2}
	for _, c := range []struct {
		name    string
		stream  []byte
		lengths []uint8
		n       int
		want    string
	}{
		{"no-codes", []byte{0}, []uint8{0, 0, 0}, 1, "no symbol has a code"},
		{"over-subscribed", []byte{0}, []uint8{1, 1, 1}, 1, "over-subscribed"},
		{"incomplete", []byte{0}, []uint8{1, 2, 0}, 1, "incomplete"},
		{"single-long", []byte{0}, []uint8{0, 3}, 1, "incomplete"},
		{"length-16", []byte{0}, []uint8{16, 1}, 1, "length 16"},
		{"single-symbol-bad-bit", []byte{0b010}, []uint8{1}, 3, "no code"},
		{"truncated", []byte{0xff}, abc, 5, "ends after 4 of 5"},
		{"truncated-mid-code", []byte{0x00, 0x80}, abc, 16, "ends after 15 of 16"},
		{"empty-stream", nil, abc, 1, "ends after 0 of 1"},
		{"extra-byte", []byte{0x00, 0x00}, abc, 8, "2 bytes"},
		{"padding-bits", []byte{0b1000_0000}, abc, 3, "padding"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := decodeHuffman(c.stream, c.lengths, make([]uint8, c.n))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// The valid counterparts decode.
	got := make([]uint8, 4)
	if err := decodeHuffman([]byte{0b0001_1100}, abc, got); err != nil || !slices.Equal(got, []uint8{0, 0, 2, 1}) {
		t.Fatalf("decoded %v, %v; want [0 0 2 1]", got, err)
	}
}
