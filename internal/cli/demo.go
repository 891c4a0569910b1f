package cli

import "github.com/slimgo/slimgo/pipeline"

func parseDemo(e *env, args []string) (*pipeline.DemoOptions, error) {
	o := &pipeline.DemoOptions{}
	fs := newFlags("demo", e.stderr)
	fs.StringVar(&o.Out, "out", "slimgo-demo", "output directory (rerunning resumes)")
	fs.IntVar(&o.Epochs, "epochs", 8, "epochs to train the resnet8 baseline on the bundled sample")
	fs.IntVar(&o.Episodes, "episodes", 40, "DDPG episodes")
	fs.BoolVar(&o.Quick, "quick", false, "tiny settings (a fraction of the sample, few episodes): a smoke test of every stage")
	fs.BoolVar(&o.NoORT, "no-ort", false, "do not measure ONNX Runtime speed")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
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
