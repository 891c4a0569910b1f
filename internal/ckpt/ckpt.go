// Package ckpt is the one on-disk framing of slimgo's checkpoints (the
// training loop's and the DDPG search's), so both get the same header,
// version check, checksum and crash-safe replacement:
//
//	magic   [8]byte  Format.Magic, one per kind of checkpoint
//	version uint32   Format.Version (little endian)
//	length  uint64   payload bytes (little endian)
//	crc     uint32   CRC-32 (Castagnoli) of the payload (little endian)
//	payload          whatever the owner encodes (encoding/gob in slimgo)
//
// Write keeps the file it replaces as path+".prev" and writes through
// internal/atomicfile, so a crash at any point leaves a complete checkpoint
// at path or at path+".prev"; Latest reads them in that order. The payload
// is handed back only when every header field and the checksum match, so a
// damaged file is never half-decoded.
package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/slimgo/slimgo/internal/atomicfile"
)

// HeaderSize is the length of the header in front of the payload.
const HeaderSize = 24

// PrevSuffix names the previous checkpoint Write keeps next to path.
const PrevSuffix = ".prev"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Format is one kind of checkpoint: its magic (exactly 8 bytes), the
// payload version this build writes and reads, and a name for errors.
type Format struct {
	Magic   string
	Version uint32
	Name    string // e.g. "slimgo checkpoint": "not a slimgo checkpoint (bad header)"
}

// Frame returns the header followed by payload.
func (f Format) Frame(payload []byte) []byte {
	return append(f.header(payload), payload...)
}

func (f Format) header(payload []byte) []byte {
	if len(f.Magic) != 8 {
		panic(fmt.Sprintf("ckpt: magic %q is not 8 bytes", f.Magic))
	}
	head := make([]byte, HeaderSize, HeaderSize+len(payload))
	copy(head[:8], f.Magic)
	binary.LittleEndian.PutUint32(head[8:], f.Version)
	binary.LittleEndian.PutUint64(head[12:], uint64(len(payload)))
	binary.LittleEndian.PutUint32(head[20:], crc32.Checksum(payload, crcTable))
	return head
}

// Unframe checks the header and checksum of a whole file b and returns its
// payload (a sub-slice of b). The error, when not nil, says what is wrong
// (bad header, other version, truncated, checksum), without the file name:
// callers wrap it with the file and their own corruption sentinel.
func (f Format) Unframe(b []byte) ([]byte, error) {
	if len(b) < HeaderSize || string(b[:8]) != f.Magic {
		return nil, fmt.Errorf("not a %s (bad header)", f.Name)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != f.Version {
		return nil, fmt.Errorf("version %d, this build reads version %d", v, f.Version)
	}
	n := binary.LittleEndian.Uint64(b[12:])
	if n != uint64(len(b)-HeaderSize) {
		return nil, fmt.Errorf("payload is %d bytes, the header says %d (truncated?)", len(b)-HeaderSize, n)
	}
	payload := b[HeaderSize:]
	if got, want := crc32.Checksum(payload, crcTable), binary.LittleEndian.Uint32(b[20:]); got != want {
		return nil, fmt.Errorf("checksum %08x, expected %08x", got, want)
	}
	return payload, nil
}

// Write frames payload and writes it to path atomically (a temporary file
// in the same directory, fsynced, renamed over path; the directory must
// exist). An existing path is first renamed to path+PrevSuffix.
func (f Format) Write(path string, payload []byte) error {
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+PrevSuffix); err != nil {
			return fmt.Errorf("keeping previous checkpoint: %w", err)
		}
	}
	return atomicfile.WriteFile(path, f.Frame(payload))
}

// Latest tries load on path, then on path+PrevSuffix, and returns the file
// that loaded ("" when none did) and the errors of the files that exist
// but failed to load, in that order. A file load reports as missing
// (an error wrapping os.ErrNotExist) is passed over silently.
func Latest(path string, load func(file string) error) (used string, failed []error) {
	for _, p := range []string{path, path + PrevSuffix} {
		err := load(p)
		if err == nil {
			return p, failed
		}
		if !errors.Is(err, os.ErrNotExist) {
			failed = append(failed, err)
		}
	}
	return "", failed
}
