package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/slimgo/slimgo/pipeline"
)

// Compress a model from Go code: train a resnet8 on a slice of the bundled
// Fashion-MNIST sample, then run every stage with small settings. The
// summary holds what `slimgo compress --json` prints.
func ExampleCompress() {
	dir, err := os.MkdirTemp("", "slimgo-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	env := pipeline.NewEnv(nil, nil) // no progress lines
	data := pipeline.DataOptions{Spec: "sample", TrainLimit: 600, TestLimit: 200}
	base := filepath.Join(dir, "base.onnx")
	if _, err := pipeline.Train(env, &pipeline.TrainOptions{Arch: "resnet8", Data: data, Epochs: 1, Batch: 64, LR: 0.1,
		Momentum: 0.9, WD: 5e-4, Optimizer: "sgd", Schedule: "onecycle", Out: base, Ckpt: base + ".ckpt", Seed: 1}); err != nil {
		panic(err)
	}
	cfg := pipeline.DefaultConfig()
	cfg.Sparse.Epochs = 1
	cfg.Channel.Episodes, cfg.Channel.Warmup, cfg.Channel.ValSize = 4, 2, 100
	cfg.Channel.FinetuneEpochs, cfg.Layer.FinetuneEpochs, cfg.Layer.Blocks, cfg.Quantize.FinetuneEpochs = 1, 1, 1, 0
	sum, err := pipeline.Compress(env, &pipeline.CompressOptions{Model: base, Data: data, Out: filepath.Join(dir, "out"), NoORT: true, Config: cfg})
	if err != nil {
		panic(err)
	}
	for _, s := range sum.Stages {
		fmt.Println(s.Name)
	}
	fmt.Println("fewer parameters:", sum.After().Params < sum.Before().Params)
	fmt.Println("fewer bytes:", sum.After().Bytes < sum.Before().Bytes)
	// Output:
	// original
	// sparse
	// channel
	// layer
	// quantized
	// fewer parameters: true
	// fewer bytes: true
}
