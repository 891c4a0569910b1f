package cli

import (
	"flag"
	"fmt"

	"github.com/slimgo/slimgo/pipeline"
)

func parseDemo(e *env, args []string) (*pipeline.DemoOptions, error) {
	o := &pipeline.DemoOptions{}
	fs := newFlags("demo", e.stderr)
	fs.StringVar(&o.Out, "out", "slimgo-demo", "output directory (rerunning resumes; --task detect: slimgo-demo-detect, rerunning starts afresh)")
	fs.IntVar(&o.Epochs, "epochs", 8, fmt.Sprintf("epochs to train the resnet8 baseline on the bundled sample (--task detect: yolo-s, default %d)", pipeline.DetectDemoEpochs))
	fs.StringVar(&o.Task, "task", "classify", "classify (resnet8, the whole compression pipeline) or detect (yolo-s on the generated detection sample, checked in ONNX Runtime)")
	fs.IntVar(&o.Episodes, "episodes", 40, "DDPG episodes")
	fs.BoolVar(&o.Quick, "quick", false, "tiny settings (a fraction of the sample, few episodes; --task detect: 240/60 images): a smoke test of every stage")
	fs.BoolVar(&o.NoORT, "no-ort", false, "do not measure ONNX Runtime speed (--task detect: skip the ONNX Runtime check)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch o.Task {
	case "classify":
	case "detect":
		if !given["epochs"] {
			o.Epochs = pipeline.DetectDemoEpochs
		}
		if !given["out"] {
			o.Out = "slimgo-demo-detect"
		}
	default:
		return nil, badInput("--task must be classify or detect, got %q", o.Task)
	}
	if o.Epochs < 1 || o.Episodes < 2 {
		return nil, badInput("--epochs must be >= 1 and --episodes >= 2")
	}
	// Checked here, before the baseline's training, not after it.
	o.Config = pipeline.DemoConfig(o)
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}
func runDemo(e *env, args []string) error {
	o, err := parseDemo(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Demo(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
