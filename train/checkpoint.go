package train

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/tensor"
)

// Checkpoint file layout (little endian):
//
//	magic   [8]byte  "SLIMGOCK"
//	version uint32   CheckpointVersion
//	length  uint64   payload bytes
//	crc     uint32   CRC-32 (Castagnoli) of the payload
//	payload          encoding/gob of Checkpoint
//
// A file whose magic, version, length or checksum does not match is reported
// as corrupt and never half-loaded.
const (
	checkpointMagic   = "SLIMGOCK"
	CheckpointVersion = 1
	// CheckpointFile is the name Fit writes in Options.CheckpointDir; the
	// one before it is kept as CheckpointFile + ".prev".
	CheckpointFile = "train.ckpt"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checkpoint is the full training state Fit needs to continue a run exactly.
type Checkpoint struct {
	Epoch   int // 0-based epoch to run next
	Step    int // steps of that epoch already done (0 at an epoch boundary)
	Global  int // optimizer steps done in the whole run
	LRScale float64
	Retries int // NaN retries used so far
	Params  map[string]*tensor.Tensor
	Opt     OptimizerState
	Result  Result // finished epochs
	// Partial sums of the epoch in progress (Step > 0).
	PartLoss, PartPenalty float64
	PartCorrect, PartSeen int
	// Run identity: resuming with different settings is an error.
	Seed                 uint64
	Epochs, Batch, Train int
}

// WriteCheckpoint writes c to path atomically (internal/atomicfile: a
// temporary file in the same directory, fsynced, renamed over path). An
// existing path is first renamed to path+".prev". A crash at any point
// leaves a complete checkpoint at path or at path+".prev", which
// LoadLatestCheckpoint falls back to.
func WriteCheckpoint(path string, c *Checkpoint) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		return fmt.Errorf("train: encoding checkpoint: %w", err)
	}
	var head [24]byte
	copy(head[:8], checkpointMagic)
	binary.LittleEndian.PutUint32(head[8:], CheckpointVersion)
	binary.LittleEndian.PutUint64(head[12:], uint64(payload.Len()))
	binary.LittleEndian.PutUint32(head[20:], crc32.Checksum(payload.Bytes(), crcTable))

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("train: checkpoint directory: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".prev"); err != nil {
			return fmt.Errorf("train: keeping previous checkpoint: %w", err)
		}
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		if _, err := w.Write(head[:]); err != nil {
			return err
		}
		_, err := w.Write(payload.Bytes())
		return err
	})
	if err != nil {
		return fmt.Errorf("train: writing checkpoint %s: %w", path, err)
	}
	return nil
}

// ErrCorruptCheckpoint is wrapped by ReadCheckpoint's errors for a file that
// exists but is not a complete, intact checkpoint.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint")

// ReadCheckpoint reads and verifies a checkpoint file. A damaged file gives
// an error wrapping ErrCorruptCheckpoint and naming the file and the fault.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return decodeCheckpoint(b, path)
}

// decodeCheckpoint is ReadCheckpoint on the file's bytes b; path names the
// file in errors.
func decodeCheckpoint(b []byte, path string) (*Checkpoint, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("train: %s: %w: %s", path, ErrCorruptCheckpoint, fmt.Sprintf(format, a...))
	}
	if len(b) < 24 || string(b[:8]) != checkpointMagic {
		return nil, bad("not a slimgo checkpoint (bad header)")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != CheckpointVersion {
		return nil, bad("version %d, this build reads version %d", v, CheckpointVersion)
	}
	n := binary.LittleEndian.Uint64(b[12:])
	if n != uint64(len(b)-24) {
		return nil, bad("payload is %d bytes, the header says %d (truncated?)", len(b)-24, n)
	}
	payload := b[24:]
	if got, want := crc32.Checksum(payload, crcTable), binary.LittleEndian.Uint32(b[20:]); got != want {
		return nil, bad("checksum %08x, expected %08x", got, want)
	}
	c := new(Checkpoint)
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(c); err != nil && err != io.EOF {
		return nil, bad("decoding: %v", err)
	}
	for k, t := range c.Params {
		if t == nil || !shapeHolds(t.Shape, len(t.Data)) {
			return nil, bad("parameter %q is malformed", k)
		}
	}
	return c, nil
}

// LoadLatestCheckpoint reads dir/train.ckpt, falling back to
// dir/train.ckpt.prev when the first is missing or corrupt. It returns the
// checkpoint, the file it came from and, in warnings, what was wrong with a
// skipped file. With neither file present it returns (nil, "", nil, nil)
// wrapped as os.ErrNotExist in err; with both unreadable it errors.
func LoadLatestCheckpoint(dir string) (c *Checkpoint, used string, warnings []error, err error) {
	p := filepath.Join(dir, CheckpointFile)
	missing := 0
	for _, path := range []string{p, p + ".prev"} {
		c, err := ReadCheckpoint(path)
		if err == nil {
			return c, path, warnings, nil
		}
		if errors.Is(err, os.ErrNotExist) {
			missing++
			continue
		}
		warnings = append(warnings, err)
	}
	if missing == 2 {
		return nil, "", nil, fmt.Errorf("train: no checkpoint in %s: %w", dir, os.ErrNotExist)
	}
	return nil, "", warnings, fmt.Errorf("train: no usable checkpoint in %s: %w", dir, errors.Join(warnings...))
}

// shapeHolds reports whether shape has no negative dimension and exactly n
// elements (tensor.Size panics on a negative one, and a product of hostile
// dimensions could overflow).
func shapeHolds(shape []int, n int) bool {
	size := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && size > math.MaxInt/d) {
			return false
		}
		size *= d
	}
	return size == n
}
