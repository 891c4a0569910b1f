package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/optim"
)

// detCkpt writes and reads FitDetector's per-epoch checkpoints (the
// Checkpoint format of Fit, with the shuffling stream and the detector's
// epoch figures).
type detCkpt struct {
	g   *graph.Graph
	o   optim.Optimizer
	src *rand.PCG
	opt *DetectOptions
	set *data.DetDataset
}

// identity is the run's Checkpoint identity (a resume with other settings
// is an error).
func (c *detCkpt) identity() Checkpoint {
	return Checkpoint{Seed: c.opt.Seed, Epochs: c.opt.Epochs, Batch: c.opt.Batch, Train: c.set.Len(), LRScale: 1}
}

// resume returns the first epoch to run and the finished epochs' figures:
// 0 and nil without Resume or without a checkpoint. Errors: Resume without
// CheckpointDir, a checkpoint of another run or model, both files corrupt.
func (c *detCkpt) resume() (int, []DetectEpoch, error) {
	if !c.opt.Resume {
		return 0, nil, nil
	}
	if c.opt.CheckpointDir == "" {
		return 0, nil, fmt.Errorf("train: Resume needs a CheckpointDir")
	}
	ck, used, warns, err := LoadLatestCheckpoint(c.opt.CheckpointDir)
	if errors.Is(err, os.ErrNotExist) && len(warns) == 0 {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	st := c.identity()
	if err := resumeFrom(c.g, c.o, &st, ck, used); err != nil {
		return 0, nil, err
	}
	if err := c.src.UnmarshalBinary(ck.RNG); err != nil {
		return 0, nil, fmt.Errorf("train: checkpoint %s: shuffling state: %w", used, err)
	}
	if ck.Epoch < 0 || ck.Epoch > c.opt.Epochs || len(ck.Det) != ck.Epoch {
		return 0, nil, fmt.Errorf("train: checkpoint %s: epoch %d of %d with %d epochs' figures", used, ck.Epoch, c.opt.Epochs, len(ck.Det))
	}
	if c.opt.Log != nil {
		fmt.Fprintf(c.opt.Log, "resuming from %s after epoch %d\n", used, ck.Epoch)
	}
	return ck.Epoch, ck.Det, nil
}

// save writes the state after epochs finished epochs (nothing without a
// CheckpointDir).
func (c *detCkpt) save(epochs int, hist []DetectEpoch) error {
	if c.opt.CheckpointDir == "" {
		return nil
	}
	rng, err := c.src.MarshalBinary()
	if err != nil {
		return err
	}
	ck := c.identity()
	ck.Epoch, ck.Params, ck.Opt, ck.RNG, ck.Det = epochs, c.g.Params, c.o.State(), rng, hist
	return WriteCheckpoint(filepath.Join(c.opt.CheckpointDir, CheckpointFile), &ck)
}
