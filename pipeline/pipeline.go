// Package pipeline is slimgo as a library: every command's work (train,
// eval, info, predict, bench, convert, prune, quantize, compress, demo) behind one
// call that takes an options struct and returns the command's summary, so a
// Go program can compress a model without the command line. The command
// line (internal/cli) only turns flags into these options.
//
// compress runs its stages (original, sparse, channel, layer, quantized) as
// values of one interface, Stage, checkpointing after each in DIR/state.json.
// Errors caused by the caller's files or options are InputErrors (the CLI's
// exit status 2); see IsInput.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/slimgo/slimgo/cluster"
	"github.com/slimgo/slimgo/prune"
)

// Env is what every call runs in: a context that stops long work (training
// and the DDPG search checkpoint and return when it is cancelled) and a
// writer for progress lines.
type Env struct {
	Ctx context.Context
	Log io.Writer
}

// NewEnv returns an Env; nil arguments mean context.Background() and
// io.Discard.
func NewEnv(ctx context.Context, log io.Writer) *Env {
	if ctx == nil {
		ctx = context.Background()
	}
	if log == nil {
		log = io.Discard
	}
	return &Env{Ctx: ctx, Log: log}
}

// InputError marks an error caused by the caller's options or files (an
// unreadable or corrupt model, a shape mismatch, a bad setting).
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// BadInput formats a new InputError.
func BadInput(format string, a ...any) error {
	return InputError{fmt.Errorf(format, a...)}
}

// AsInput marks err as an InputError (nil stays nil).
func AsInput(err error) error {
	if err == nil || IsInput(err) {
		return err
	}
	return InputError{err}
}

// IsInput reports whether err is (or wraps) an InputError.
func IsInput(err error) bool {
	var ie InputError
	return errors.As(err, &ie)
}

// DefaultThresholdScale is quantize's default c in the BIRCH threshold
// T = c * std(layer weights).
const DefaultThresholdScale = cluster.DefaultThresholdScale

// ParseCriterion checks a channel-importance name (bn-mean, bn-sum,
// bn-max, l1).
func ParseCriterion(s string) error {
	_, err := prune.ParseCriterion(s)
	return AsInput(err)
}
