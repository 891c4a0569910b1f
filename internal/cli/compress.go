package cli

import (
	"flag"
	"fmt"

	"github.com/slimgo/slimgo/pipeline"
)

func parseCompress(e *env, args []string) (*pipeline.CompressOptions, error) {
	o := &pipeline.CompressOptions{Config: pipeline.DefaultConfig()}
	var configFile string
	fs := newFlags("compress", e.stderr)
	fs.StringVar(&o.Model, "model", "", "trained ONNX model to compress (required)")
	df := registerData(fs, &o.Data)
	fs.StringVar(&o.Out, "out", "", "output directory (required); rerunning with the same directory resumes")
	fs.StringVar(&configFile, "config", "", "YAML or JSON file with pipeline settings (keys in docs/cli.md)")
	fs.BoolVar(&o.Restart, "restart", false, "discard a previous run in --out and start over")
	fs.BoolVar(&o.NoORT, "no-ort", false, "do not measure ONNX Runtime speed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	// Flags overriding the config file's most used settings.
	c := &o.Config
	seed := fs.Uint64("seed", c.Seed, "random seed")
	sparsity := fs.Float64("sparsity", c.Sparse.Lambda, "L1 coefficient on BN scales during sparse training")
	sparseEpochs := fs.Int("sparse-epochs", c.Sparse.Epochs, "sparse training epochs")
	channel := fs.String("channel-method", c.Channel.Method, "channel pruning: ddpg, slim or none")
	keep := fs.Float64("keep-params", c.Channel.KeepParams, "share of parameters channel pruning keeps (0: DDPG reward mode)")
	keepMACs := fs.Float64("keep-macs", c.Channel.KeepMACs, "share of multiply-accumulates the DDPG search keeps (0: no MAC budget)")
	keepLat := fs.Float64("keep-latency", c.Channel.KeepLatency, "share of the model's batch-1 ONNX Runtime time the DDPG search keeps, through the latency lookup table (0: no latency budget)")
	episodes := fs.Int("episodes", c.Channel.Episodes, "DDPG episodes")
	warmup := fs.Int("warmup", c.Channel.Warmup, "DDPG warm-up episodes")
	b := fs.Float64("b", c.Channel.B, "DDPG accuracy protection b (points)")
	valSize := fs.Int("val-size", c.Channel.ValSize, "DDPG validation examples held out from training data")
	blocks := fs.Int("blocks", c.Layer.Blocks, "residual blocks to remove")
	ftChannel := fs.Int("finetune-epochs", c.Channel.FinetuneEpochs, "fine-tuning epochs after channel pruning")
	ftLayer := fs.Int("layer-finetune-epochs", c.Layer.FinetuneEpochs, "fine-tuning epochs after layer pruning")
	distill := fs.Float64("distill", c.Distill.Weight, "weight of the input model's soft targets in the pruned models' fine-tuning (knowledge distillation; 0: labels only)")
	ftQuant := fs.Int("quant-finetune-epochs", c.Quantize.FinetuneEpochs, "centroid fine-tuning epochs")
	clusters := fs.Int("clusters", c.Quantize.Clusters, "fixed clusters per layer (0: BIRCH decides)")
	batch := fs.Int("batch", c.Batch, "mini-batch size")
	augment := fs.String("augment", c.Augment, "augmentation of the training stages: comma list of crop (pad 2) and flip; empty: none")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if o.Model == "" || o.Out == "" {
		return nil, badInput("--model and --out are required")
	}
	// A detector has its own defaults; the flags' defaults above are the
	// classifiers' and only flags given on the command line apply.
	o.Config = pipeline.DefaultConfigFor(o.Model)
	if configFile != "" {
		if err := pipeline.LoadConfig(configFile, c); err != nil {
			return nil, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "seed":
			c.Seed = *seed
		case "sparsity":
			c.Sparse.Lambda = *sparsity
		case "sparse-epochs":
			c.Sparse.Epochs = *sparseEpochs
		case "channel-method":
			c.Channel.Method = *channel
		case "keep-params":
			c.Channel.KeepParams = *keep
		case "keep-macs":
			c.Channel.KeepMACs = *keepMACs
		case "keep-latency":
			c.Channel.KeepLatency = *keepLat
		case "episodes":
			c.Channel.Episodes = *episodes
		case "warmup":
			c.Channel.Warmup = *warmup
		case "b":
			c.Channel.B = *b
		case "val-size":
			c.Channel.ValSize = *valSize
		case "blocks":
			c.Layer.Blocks = *blocks
		case "finetune-epochs":
			c.Channel.FinetuneEpochs = *ftChannel
		case "layer-finetune-epochs":
			c.Layer.FinetuneEpochs = *ftLayer
		case "distill":
			c.Distill.Weight = *distill
		case "quant-finetune-epochs":
			c.Quantize.FinetuneEpochs = *ftQuant
		case "clusters":
			c.Quantize.Clusters = *clusters
		case "batch":
			c.Batch = *batch
		case "augment":
			c.Augment = *augment
		}
	})
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return o, df.validate()
}

func runCompress(e *env, args []string) error {
	o, err := parseCompress(e, args)
	if err != nil {
		return err
	}
	sum, err := pipeline.Compress(e.pipe(), o)
	if err != nil {
		return err
	}
	m, err := pipeline.SummaryMap(sum, o.JSON)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "\n%s\nreport: %s\n", sum.Headline(), sum.Report)
	return emit(e, o.JSON, m)
}
