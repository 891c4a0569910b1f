// Package cli implements slimgo's commands. Each command lives in its own
// file: it declares an options struct, parses its flags into it (parse
// functions are tested separately) and runs. The contract (names, flags, JSON
// keys, exit codes) is ../shared/design/CLI.md, mirrored in docs/cli.md.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/slimgo/slimgo/pipeline"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // anything else went wrong
	ExitInput   = 2 // bad usage or bad input
)

// inputError marks an error caused by the user's flags or files (exit 2);
// it is the pipeline's InputError, so both layers classify alike.
type inputError = pipeline.InputError

// badInput formats a new bad-input error.
func badInput(format string, a ...any) error { return pipeline.BadInput(format, a...) }

// asInput marks an existing error as a bad-input error (nil stays nil).
func asInput(err error) error { return pipeline.AsInput(err) }

// env is what every command receives.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"train", "train or fine-tune a model (optionally with BN sparsity)", runTrain},
		{"eval", "measure a model's test accuracy and speed", runEval},
		{"info", "describe a model: params, MACs, layers, prunable groups", runInfo},
		{"predict", "run a model on a .npy array and write its output as .npy", runPredict},
		{"bench", "time a model's inference on this machine (beside ONNX Runtime with --ort)", runBench},
		{"convert", "read and write back a model (ONNX round trip, --fold-bn for deployment)", runConvert},
		{"prune", "prune channels (slim, ddpg) or residual blocks (layer)", runPrune},
		{"demo", "the main job on the bundled sample: train resnet8, compress it, write a report", runDemo},
		{"compress", "the whole pipeline: sparse training, DDPG channel pruning, layer pruning, quantization, report", runCompress},
		{"quantize", "share weights by clustering (BIRCH + k-means||), write shared ONNX and a packed file", runQuantize},
	}
}

// Main runs slimgo with the given arguments and returns the exit code.
// Panics inside commands are turned into exit 1 with a one-line message.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitInput
		}
		return ExitOK
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "slimgo: unknown command %q (run 'slimgo help')\n", args[0])
		return ExitInput
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "slimgo: %s: internal error: %v\n", cmd.name, r)
			code = ExitFailure
		}
	}()
	err := cmd.run(&env{ctx: ctx, stdout: stdout, stderr: stderr}, args[1:])
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	fmt.Fprintf(stderr, "slimgo: %s: %s\n", cmd.name, msg)
	var ie inputError
	if errors.As(err, &ie) {
		return ExitInput
	}
	return ExitFailure
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "slimgo: compress convolutional networks (sparse training, DDPG channel pruning, layer pruning, clustering quantization)")
	fmt.Fprintln(w, "\nusage: slimgo <command> [flags]   (slimgo <command> -h for the flags)\n\ncommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("slimgo "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning flag errors into bad-input errors and refusing
// stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	// The flag package prints the error and the whole flag listing on a
	// bad flag; keep stderr to the one-line "slimgo: ..." message and show
	// the listing only when it was asked for (-h).
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(out, "usage of %s:\n", fs.Name())
			fs.PrintDefaults()
			return err
		}
		return badInput("%v (run '%s -h' for the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// emit writes the command's summary: one JSON object on stdout with --json,
// else a short human-readable listing.
func emit(e *env, asJSON bool, summary map[string]any) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(summary)
	}
	keys := make([]string, 0, len(summary))
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := summary[k]
		switch x := v.(type) {
		case float64:
			fmt.Fprintf(e.stdout, "%-18s %.6g\n", k, x)
		case map[string]any, []any, []float64, []string, map[string]int, map[string]float64:
			b, _ := json.Marshal(x)
			fmt.Fprintf(e.stdout, "%-18s %s\n", k, b)
		default:
			fmt.Fprintf(e.stdout, "%-18s %v\n", k, x)
		}
	}
	return nil
}

// pipe is the pipeline's view of the environment.
func (e *env) pipe() *pipeline.Env { return pipeline.NewEnv(e.ctx, e.stderr) }
