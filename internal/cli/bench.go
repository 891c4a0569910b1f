package cli

import (
	"flag"

	"github.com/slimgo/slimgo/pipeline"
)

func parseBench(e *env, args []string) (*pipeline.BenchOptions, error) {
	o := &pipeline.BenchOptions{}
	fs := newFlags("bench", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model or .slimpack (required); an int8 QDQ model only with --ort")
	fs.IntVar(&o.Batch, "batch", 1, "images per inference pass")
	fs.IntVar(&o.Threads, "threads", 0, "threads for slimgo and ONNX Runtime (default: all cores)")
	fs.IntVar(&o.Warmup, "warmup", pipeline.DefaultBenchWarmup, "untimed warm-up passes (at least one runs)")
	fs.IntVar(&o.Passes, "passes", pipeline.DefaultBenchPasses, "timed passes at least; the fastest counts")
	fs.Float64Var(&o.MinSeconds, "min-seconds", pipeline.DefaultBenchMinSeconds, "keep timing each side at least this long")
	fs.BoolVar(&o.ORT, "ort", false, "also time the model in ONNX Runtime (tools/ort; scripts/setup-peers.sh installs it)")
	fs.BoolVar(&o.Layers, "layers", false, "also time each node of slimgo's graph (summary key layers; the ten slowest on stderr)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	threadsSet := false
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { threadsSet = threadsSet || f.Name == "threads" })
	if threadsSet && o.Threads < 1 {
		return nil, badInput("--threads must be >= 1, got %d", o.Threads)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func runBench(e *env, args []string) error {
	o, err := parseBench(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Bench(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
