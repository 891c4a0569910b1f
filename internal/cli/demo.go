package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/train"
)

type demoOptions struct {
	Out      string
	Epochs   int
	Episodes int
	Quick    bool
	NoORT    bool
	Seed     uint64
	JSON     bool
	// cfg is demoConfig of the options above, validated by parseDemo.
	cfg compressConfig
}

func parseDemo(e *env, args []string) (*demoOptions, error) {
	o := &demoOptions{}
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
	o.cfg = demoConfig(o)
	if err := o.cfg.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// demoConfig is the compress configuration of the demo: every stage, sized
// for the 6,000-image bundled sample and well under five minutes on 2 cores.
// An epoch of the sample is only 47 steps, so the fine-tunings run 8/8/2
// epochs: with 4/4/1 the delivered resnet8 lost 3.0 and 1.8 points (seeds 1,
// 2), with 8/8/2 0.2 and 0.7, for about 20 s more (bench/compress/README.md,
// "The demo's fine-tuning budget").
func demoConfig(o *demoOptions) compressConfig {
	c := defaultCompressConfig()
	c.Seed = o.Seed
	c.Sparse.Epochs, c.Sparse.Lambda, c.Sparse.LR = 2, 5e-3, 0.05
	ch := &c.Channel
	ch.Episodes, ch.Warmup, ch.ValSize, ch.CalibBatches, ch.FinetuneEpochs = o.Episodes, o.Episodes/4, 1000, 4, 8
	c.Layer.Blocks, c.Layer.FinetuneEpochs = 1, 8
	c.Quantize.FinetuneEpochs = 2
	if o.Quick {
		c.Sparse.Epochs = 1
		ch.Episodes, ch.Warmup, ch.ValSize, ch.CalibBatches, ch.FinetuneEpochs = 6, 2, 200, 1, 1
		c.Layer.FinetuneEpochs, c.Quantize.FinetuneEpochs = 1, 1
	}
	return c
}

func runDemo(e *env, args []string) error {
	o, err := parseDemo(e, args)
	if err != nil {
		return err
	}
	if err := checkOutputDir(o.Out); err != nil {
		return err
	}
	df := dataFlags{Spec: "sample"}
	if o.Quick {
		df.TrainLimit, df.TestLimit = 1500, 400
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(o.Out, "baseline.resnet8.onnx")
	if _, err := os.Stat(base); err != nil {
		fmt.Fprintf(e.stderr, "demo: training resnet8 on the bundled Fashion-MNIST sample for %d epochs\n", o.Epochs)
		trainSet, testSet, err := df.load(e, nil)
		if err != nil {
			return err
		}
		g, err := nn.Build("resnet8", []int{trainSet.C, trainSet.H, trainSet.W}, len(trainSet.Classes), o.Seed)
		if err != nil {
			return err
		}
		ckpt := base + ".ckpt"
		_, err = train.Fit(g, trainSet, testSet, train.Options{Epochs: o.Epochs, Batch: 128, Optimizer: train.OptSGD, LR: 0.1,
			Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Schedule: train.ScheduleOneCycle, Seed: o.Seed, Progress: e.stderr,
			CheckpointDir: ckpt, Resume: true, Context: e.ctx})
		if err != nil {
			return err
		}
		stampData(g, trainSet)
		if err := onnx.WriteFile(base, g, onnx.WriteOptions{}); err != nil {
			return err
		}
		os.RemoveAll(ckpt)
	} else {
		fmt.Fprintf(e.stderr, "demo: reusing the baseline %s\n", base)
	}
	co := &compressOptions{Model: base, Data: df, Out: o.Out, NoORT: o.NoORT, JSON: o.JSON, cfg: o.cfg}
	sum, err := compress(e, co)
	if err != nil {
		return err
	}
	m, err := summaryMap(sum, o.JSON)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "\n%s\n\nThe report is %s; the compressed model is %s (runs in ONNX Runtime) and %s (bit-packed).\n",
		sum.Headline(), sum.Report, filepath.Join(o.Out, fileShared), filepath.Join(o.Out, filePacked))
	return emit(e, o.JSON, m)
}
