package train

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/tensor"
)

// FuzzReadCheckpoint feeds arbitrary files to ReadCheckpoint: no panic,
// every failure wraps ErrCorruptCheckpoint, and an accepted checkpoint has
// parameters whose data fit their shapes.
//
// The payload is encoding/gob behind a CRC-32C. gob is not hardened against
// crafted input (a forged map length makes it allocate gigabytes before
// failing), so the guarantee for checkpoints is against damage, which the
// CRC catches before gob runs, not against a forged file with a valid CRC;
// the fuzzer is therefore not given a way to forge the CRC.
func FuzzReadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.ckpt")
	if err := WriteCheckpoint(p, sampleCheckpoint(1)); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("SLIMGOCK"))
	f.Add(good[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		// The bytes go straight to the decoder: a file write per input
		// cost ~10x more than the decoding it tests.
		c, err := decodeCheckpoint(b, "c.ckpt")
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCorruptCheckpoint", err)
			}
			return
		}
		for k, p := range c.Params {
			if p == nil || len(p.Data) != tensor.Size(p.Shape) {
				t.Fatalf("accepted parameter %q is malformed", k)
			}
		}
		if bytes.Equal(b, good) && c.Epoch != 1 {
			t.Fatalf("the seed checkpoint reads back with epoch %d", c.Epoch)
		}
	})
}

// TestReadCheckpointHostileShapes: a checkpoint whose CRC is right but
// whose parameter shapes are negative or do not match their data is
// refused as corrupt, not a panic.
func TestReadCheckpointHostileShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
		n     int
	}{
		{"negative dimension", []int{-38}, 0},
		{"negative pair", []int{-2, -3}, 6},
		{"overflowing product", []int{1 << 62, 1 << 62, 4}, 0},
		{"too few values", []int{2, 3}, 5},
		{"zero dimension with data", []int{0, 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCheckpoint(1)
			c.Params["bad"] = &tensor.Tensor{Shape: tc.shape, Data: make([]float32, tc.n)}
			path := filepath.Join(t.TempDir(), CheckpointFile)
			if err := WriteCheckpoint(path, c); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadCheckpoint(path); !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), `"bad"`) {
				t.Fatalf("err = %v, want a corrupt-checkpoint error naming \"bad\"", err)
			}
		})
	}
	c := sampleCheckpoint(1)
	c.Params["empty"] = &tensor.Tensor{Shape: []int{0, 3}}
	path := filepath.Join(t.TempDir(), CheckpointFile)
	if err := WriteCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCheckpoint(path); err != nil {
		t.Fatalf("an empty [0 3] parameter is valid: %v", err)
	}
}
