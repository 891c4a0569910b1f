package train

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/internal/ckpt"
	"github.com/slimgo/slimgo/tensor"
)

// Checkpoint files use the framing of internal/ckpt (magic "SLIMGOCK",
// version CheckpointVersion, payload length, CRC-32C) around an
// encoding/gob of Checkpoint. A file whose magic, version, length or
// checksum does not match is reported as corrupt and never half-loaded.
const (
	CheckpointVersion = 1
	// CheckpointFile is the name Fit writes in Options.CheckpointDir; the
	// one before it is kept as CheckpointFile + ".prev".
	CheckpointFile = "train.ckpt"
)

var checkpointFormat = ckpt.Format{Magic: "SLIMGOCK", Version: CheckpointVersion, Name: "slimgo checkpoint"}

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
	// FitDetector's: the shuffling stream (rand.PCG's binary form) and
	// the finished epochs' figures.
	RNG []byte
	Det []DetectEpoch
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
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("train: checkpoint directory: %w", err)
	}
	if err := checkpointFormat.Write(path, payload.Bytes()); err != nil {
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
	payload, err := checkpointFormat.Unframe(b)
	if err != nil {
		return nil, bad("%v", err)
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
	used, warnings = ckpt.Latest(filepath.Join(dir, CheckpointFile), func(path string) error {
		var err error
		c, err = ReadCheckpoint(path)
		return err
	})
	switch {
	case used != "":
		return c, used, warnings, nil
	case len(warnings) == 0:
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
