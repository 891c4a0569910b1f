package cluster

import (
	"errors"
	"fmt"
	"slices"
)

// Canonical, length-limited Huffman coding of centroid indices: the third
// stage of Deep Compression (Han et al. 2016). A code is described by one
// code length per symbol (0 = the symbol does not occur); codes are assigned
// canonically (shorter codes first, ties by symbol value), so the lengths
// alone define the code and are all the file stores.
//
// Bit order: codes are emitted into the same LSB-first bit stream as the
// fixed-width indices, first code bit first (so a code's bits appear
// reversed in the integer read LSB-first; the decoder indexes its table
// with the reversed code).

// maxCodeLen bounds every code length. 15 keeps each length in 4 bits in
// the file and the decoding table at most 2^15 entries; K <= 256 symbols
// always fit (256 <= 2^15). The bound costs at most a small fraction of a
// bit per weight, and only on distributions with clusters rarer than about
// 1 in 1000 weights (measured in TestHuffmanLengthLimit).
const maxCodeLen = 15

// huffmanLengths returns optimal code lengths for the symbol frequencies
// freq under the constraint that no length exceeds maxLen, using the
// package-merge algorithm (optimal for length-limited prefix codes). Symbols
// with frequency 0 get length 0. A single used symbol gets length 1 (the
// code "0"; "1" stays unassigned). It panics if more than 2^maxLen symbols
// are used or maxLen is outside 1..maxCodeLen (programmer errors: callers
// pass at most MaxK symbols and maxCodeLen).
func huffmanLengths(freq []uint64, maxLen int) []uint8 {
	if maxLen < 1 || maxLen > maxCodeLen {
		panic(fmt.Sprintf("cluster: huffman: max code length %d outside 1..%d", maxLen, maxCodeLen))
	}
	lengths := make([]uint8, len(freq))
	var used []int
	for s, f := range freq {
		if f > 0 {
			used = append(used, s)
		}
	}
	m := len(used)
	switch {
	case m == 0:
		return lengths
	case m == 1:
		lengths[used[0]] = 1
		return lengths
	case m > 1<<maxLen:
		panic(fmt.Sprintf("cluster: huffman: %d symbols cannot be coded in %d bits", m, maxLen))
	}
	slices.SortStableFunc(used, func(a, b int) int {
		switch {
		case freq[a] < freq[b]:
			return -1
		case freq[a] > freq[b]:
			return 1
		}
		return 0
	})
	// Nodes are leaves (sym >= 0) or packages of two nodes of the list one
	// level deeper (sym < 0, children a and b).
	type node struct {
		w    uint64
		sym  int
		a, b int
	}
	nodes := make([]node, 0, m*(2*maxLen+1))
	leaves := make([]int, m)
	for i, s := range used {
		leaves[i] = len(nodes)
		nodes = append(nodes, node{w: freq[s], sym: s})
	}
	list := slices.Clone(leaves)
	for range maxLen - 1 {
		// Package adjacent pairs of the deeper list, then merge the packages
		// with the leaves by weight (leaves first on ties, deterministic).
		pk := make([]int, 0, len(list)/2)
		for i := 0; i+1 < len(list); i += 2 {
			pk = append(pk, len(nodes))
			nodes = append(nodes, node{w: nodes[list[i]].w + nodes[list[i+1]].w, sym: -1, a: list[i], b: list[i+1]})
		}
		merged := make([]int, 0, len(leaves)+len(pk))
		i, j := 0, 0
		for i < len(leaves) || j < len(pk) {
			if j == len(pk) || (i < len(leaves) && nodes[leaves[i]].w <= nodes[pk[j]].w) {
				merged = append(merged, leaves[i])
				i++
			} else {
				merged = append(merged, pk[j])
				j++
			}
		}
		list = merged
	}
	// The 2m-2 cheapest items of the top list form the solution: a
	// symbol's code length is the number of its leaf occurrences in them.
	var count func(int)
	count = func(i int) {
		if nodes[i].sym >= 0 {
			lengths[nodes[i].sym]++
			return
		}
		count(nodes[i].a)
		count(nodes[i].b)
	}
	for _, it := range list[:2*m-2] {
		count(it)
	}
	return lengths
}

// canonicalCodes returns the canonical code of every symbol (MSB-first
// value of lengths[s] bits; 0 for unused symbols). lengths must satisfy the
// Kraft inequality (checkLengths).
func canonicalCodes(lengths []uint8) []uint32 {
	var count [maxCodeLen + 1]uint32
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	var next [maxCodeLen + 2]uint32
	for l := 1; l <= maxCodeLen; l++ {
		next[l+1] = (next[l] + count[l]) << 1
	}
	codes := make([]uint32, len(lengths))
	for s, l := range lengths {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// reverseBits returns the low n bits of c in reverse order.
func reverseBits(c uint32, n int) uint32 {
	var r uint32
	for range n {
		r = r<<1 | c&1
		c >>= 1
	}
	return r
}

// huffmanBits is the length in bits of idx coded with lengths.
func huffmanBits(freq []uint64, lengths []uint8) uint64 {
	var b uint64
	for s, f := range freq {
		b += f * uint64(lengths[s])
	}
	return b
}

// appendHuffman appends idx coded with the canonical code of lengths (every
// index must have a nonzero length), LSB first, the last byte zero-padded.
func appendHuffman(dst []byte, idx []uint8, lengths []uint8) []byte {
	codes := canonicalCodes(lengths)
	rev := make([]uint32, len(codes))
	for s, c := range codes {
		rev[s] = reverseBits(c, int(lengths[s]))
	}
	var acc uint64
	nacc := 0
	for _, v := range idx {
		acc |= uint64(rev[v]) << nacc
		nacc += int(lengths[v])
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

// checkLengths validates decoded code lengths (each 0..maxCodeLen): at
// least one symbol has a code, and the code is complete (Kraft sum exactly
// 1), except for the single-symbol code of length 1. It returns the longest
// length. Over-subscribed codes (not prefix-free) and incomplete ones (an
// unassigned bit pattern that a corrupt stream could hit, and that a writer
// never produces) are errors.
func checkLengths(lengths []uint8) (int, error) {
	var kraft uint64
	used, longest := 0, 0
	for s, l := range lengths {
		if l > maxCodeLen {
			return 0, fmt.Errorf("symbol %d has code length %d > %d", s, l, maxCodeLen)
		}
		if l == 0 {
			continue
		}
		used++
		longest = max(longest, int(l))
		kraft += 1 << (maxCodeLen - l)
	}
	switch {
	case used == 0:
		return 0, errors.New("no symbol has a code (all code lengths are 0)")
	case kraft > 1<<maxCodeLen:
		return 0, fmt.Errorf("code lengths are over-subscribed (Kraft sum %d/%d > 1)", kraft, 1<<maxCodeLen)
	case used == 1 && longest == 1:
		return 1, nil
	case kraft < 1<<maxCodeLen:
		return 0, fmt.Errorf("code lengths are incomplete (Kraft sum %d/%d < 1)", kraft, 1<<maxCodeLen)
	}
	return longest, nil
}

// decodeHuffman decodes exactly len(dst) symbols from src with the code of
// lengths into dst. It errors on invalid lengths (checkLengths), a bit
// pattern that is no code, a stream that ends before len(dst) symbols, a
// stream with bytes beyond the last code, or nonzero padding bits after it.
// Work is bounded by len(dst) table lookups; the table has 2^longest
// entries (at most 2^15).
func decodeHuffman(src []byte, lengths []uint8, dst []uint8) error {
	longest, err := checkLengths(lengths)
	if err != nil {
		return err
	}
	// Entry: symbol<<4 | length; 0 marks a pattern with no code.
	table := make([]uint16, 1<<longest)
	codes := canonicalCodes(lengths)
	for s, l := range lengths {
		if l == 0 {
			continue
		}
		for j := int(reverseBits(codes[s], int(l))); j < len(table); j += 1 << l {
			table[j] = uint16(s)<<4 | uint16(l)
		}
	}
	mask := uint64(len(table) - 1)
	avail := uint64(len(src)) * 8
	var acc, used uint64
	nacc, pos := 0, 0
	for i := range dst {
		for nacc <= 56 && pos < len(src) {
			acc |= uint64(src[pos]) << nacc
			pos++
			nacc += 8
		}
		// Past the end the peek sees zero bits; a code that needs them is
		// caught by the length check below.
		e := table[acc&mask]
		if e == 0 {
			return fmt.Errorf("symbol %d: bit pattern at stream bit %d is no code", i, used)
		}
		l := uint64(e & 15)
		if used+l > avail {
			return fmt.Errorf("bitstream of %d bytes ends after %d of %d symbols", len(src), i, len(dst))
		}
		s := int(e >> 4)
		if s >= len(lengths) { // cannot happen with a table built above
			return fmt.Errorf("symbol %d decodes to %d >= K=%d", i, s, len(lengths))
		}
		dst[i] = uint8(s)
		acc >>= l
		nacc -= int(l)
		used += l
	}
	if want := (used + 7) / 8; want != uint64(len(src)) {
		return fmt.Errorf("bitstream has %d bytes, its %d symbols take %d", len(src), len(dst), want)
	}
	if r := used % 8; r != 0 && src[len(src)-1]>>r != 0 {
		return fmt.Errorf("bitstream padding bits after the last symbol are not zero")
	}
	return nil
}
