package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slimgo/slimgo/pipeline"
)

func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{ctx: context.Background(), stdout: &out, stderr: &errb}, &out, &errb
}

// TestParseErrors: every bad flag combination is a bad-input error (exit 2)
// whose message names the flag at fault.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		parse func(*env, []string) error
		args  []string
		want  string
	}{
		{"train no arch or model", wrap(parseTrain), []string{"--data", "sample", "--out", "x.onnx"}, "--arch and --model"},
		{"train both arch and model", wrap(parseTrain), []string{"--arch", "resnet8", "--model", "m.onnx", "--out", "x"}, "exactly one"},
		{"train unknown arch", wrap(parseTrain), []string{"--arch", "resnet9000", "--out", "x"}, "unknown --arch"},
		{"train batch 0", wrap(parseTrain), []string{"--arch", "resnet8", "--out", "x", "--batch", "0"}, "--batch"},
		{"train negative epochs", wrap(parseTrain), []string{"--arch", "resnet8", "--out", "x", "--epochs", "-1"}, "--epochs"},
		{"train no out", wrap(parseTrain), []string{"--arch", "resnet8"}, "--out"},
		{"train bad augment", wrap(parseTrain), []string{"--arch", "resnet8", "--out", "x", "--augment", "rotate"}, "rotate"},
		{"train stray argument", wrap(parseTrain), []string{"--arch", "resnet8", "--out", "x", "extra"}, "unexpected argument"},
		{"train unknown flag", wrap(parseTrain), []string{"--arch", "resnet8", "--out", "x", "--frobnicate"}, "frobnicate"},
		{"eval no model", wrap(parseEval), []string{"--data", "sample"}, "--model"},
		{"prune bad method", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "magic"}, "--method"},
		{"prune uniform ratio 1", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "uniform", "--ratio", "1"}, "--ratio"},
		{"prune target-macs without ddpg", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "slim", "--target-macs", "1000"}, "--target-macs"},
		{"prune target-latency without ddpg", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "slim", "--target-latency", "0.2"}, "--target-latency"},
		{"prune negative target-latency", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg", "--data", "sample", "--target-latency", "-1"}, "--target-latency"},
		{"prune NaN target-latency", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg", "--data", "sample", "--target-latency", "NaN"}, "--target-latency"},
		{"prune target-latency without ort", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg", "--data", "sample", "--target-latency", "0.2", "--no-ort"}, "--no-ort"},
		{"compress keep-latency with slim", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--channel-method", "slim", "--keep-latency", "0.5"}, "keep_latency"},
		{"compress keep-latency 1", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--keep-latency", "1"}, "keep_latency"},
		{"prune ratio 1", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--ratio", "1"}, "--ratio"},
		{"prune layer without K", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "layer"}, "--blocks"},
		{"prune ddpg without data", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg"}, "--data"},
		{"prune ddpg warmup >= episodes", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg", "--data", "sample", "--episodes", "5", "--warmup", "5"}, "--warmup"},
		{"prune bad criterion", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--criterion", "vibes"}, "vibes"},
		{"quantize too many clusters", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--max-clusters", "300"}, "--max-clusters"},
		{"quantize kmeans without K", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--cluster-method", "kmeans"}, "--clusters"},
		{"quantize int8 without data", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--int8"}, "--data"},
		{"quantize int8 bad calibration", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--int8", "--data", "sample", "--calibrate", "entropy"}, "--calibrate"},
		{"quantize int8 bad percentile", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--int8", "--data", "sample", "--calibrate", "percentile", "--percentile", "30"}, "--percentile"},
		{"quantize int8 bad activations", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--int8", "--data", "sample", "--activations", "s16"}, "--activations"},
		{"predict missing input", wrap(parsePredict), []string{"--model", "m", "--out", "o"}, "--input"},
		{"convert fold and unfold", wrap(parseConvert), []string{"--model", "m", "--out", "o", "--fold-bn", "--unfold-bn"}, "exclude"},
		{"compress bad channel method", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--channel-method", "lottery"}, "channel.method"},
		{"compress keep-params 1", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--keep-params", "1"}, "keep_params"},
		{"compress keep-macs with slim", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--channel-method", "slim", "--keep-macs", "0.4"}, "keep_macs"},
		{"prune zero ddpg updates", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--method", "ddpg", "--data", "sample", "--updates", "0"}, "--updates"},
		{"compress bad augment", wrap(parseCompress), []string{"--model", "m", "--out", "o", "--augment", "crop,mixup"}, "mixup"},
		{"prune bad augment", wrap(parsePrune), []string{"--model", "m", "--out", "o", "--augment", "rotate"}, "rotate"},
		{"demo zero epochs", wrap(parseDemo), []string{"--epochs", "0"}, "--epochs"},
		{"quantize negative max-loss", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--max-loss", "-1"}, "--max-loss"},
		{"quantize NaN max-loss", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--max-loss", "NaN"}, "--max-loss"},
		{"quantize max-loss not a number", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--max-loss", "half"}, "max-loss"},
		{"quantize val-size 0", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--val-size", "0"}, "--val-size"},
		{"quantize max-loss without data", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--max-loss", "1"}, "--data"},
		{"quantize max-loss without guard", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--max-loss", "1", "--guard=false"}, "--guard"},
		{"quantize max-loss with int8", wrap(parseQuantize), []string{"--model", "m", "--out", "o", "--data", "sample", "--max-loss", "1", "--int8"}, "--int8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := testEnv()
			err := c.parse(e, c.args)
			var ie inputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want a bad-input error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %q does not mention %q", err, c.want)
			}
		})
	}
}

func wrap[T any](f func(*env, []string) (T, error)) func(*env, []string) error {
	return func(e *env, a []string) error { _, err := f(e, a); return err }
}

// TestParseDefaults: the parsed options carry the documented defaults.
func TestParseDefaults(t *testing.T) {
	e, _, _ := testEnv()
	o, err := parseTrain(e, []string{"--arch", "resnet8", "--out", "m.onnx"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Epochs != 3 || o.Batch != 128 || o.LR != 0.1 || o.Seed != 1 || o.Ckpt != "m.onnx.ckpt" || o.Optimizer != "sgd" {
		t.Fatalf("train defaults %+v", o)
	}
	c, err := parseCompress(e, []string{"--model", "m", "--out", "d", "--episodes", "30", "--blocks", "3"})
	if err != nil {
		t.Fatal(err)
	}
	def := pipeline.DefaultConfig()
	if c.Config.Channel.Episodes != 30 || c.Config.Layer.Blocks != 3 || c.Config.Channel.Warmup != def.Channel.Warmup || c.Config.Sparse.Lambda != def.Sparse.Lambda {
		t.Fatalf("compress flags did not override exactly what was given: %+v", c.Config)
	}
	if c, err = parseCompress(e, []string{"--model", "m", "--out", "d", "--distill", "0"}); err != nil || c.Config.Distill.Weight != 0 || def.Distill.Weight == 0 {
		t.Fatalf("--distill 0 does not turn the default distillation (weight %g) off: %v %+v", def.Distill.Weight, err, c.Config.Distill)
	}
	if c, err = parseCompress(e, []string{"--model", "m", "--out", "d", "--keep-latency", "0.5"}); err != nil || c.Config.Channel.KeepLatency != 0.5 {
		t.Fatalf("--keep-latency 0.5: %v %+v", err, c.Config.Channel)
	}
	if c, err = parseCompress(e, []string{"--model", "m", "--out", "d", "--keep-macs", "0.35"}); err != nil || c.Config.Channel.KeepMACs != 0.35 || c.Config.Channel.KeepParams != def.Channel.KeepParams {
		t.Fatalf("--keep-macs 0.35: %v %+v", err, c.Config.Channel)
	}
}

// TestParseQuantizeGuard: the guard is on by default at 0.5 points on
// 2,000 held-out images, --max-loss and --val-size set it, --guard=false
// and --int8 turn it off.
func TestParseQuantizeGuard(t *testing.T) {
	e, _, _ := testEnv()
	base := []string{"--model", "m", "--out", "o.onnx", "--data", "sample"}
	o, err := parseQuantize(e, base)
	if err != nil || o.Guard == nil || o.Guard.MaxLoss != 0.5 || o.Guard.ValSize != 2000 {
		t.Fatalf("defaults: %v %+v", err, o.Guard)
	}
	if o, err = parseQuantize(e, append(base, "--max-loss", "0", "--val-size", "300")); err != nil || o.Guard == nil || o.Guard.MaxLoss != 0 || o.Guard.ValSize != 300 {
		t.Fatalf("--max-loss 0 --val-size 300: %v %+v", err, o.Guard)
	}
	if o, err = parseQuantize(e, append(base, "--guard=false")); err != nil || o.Guard != nil {
		t.Fatalf("--guard=false: %v %+v", err, o.Guard)
	}
	if o, err = parseQuantize(e, append(base, "--int8")); err != nil || o.Guard != nil || o.Int8 == nil {
		t.Fatalf("--int8: %v %+v", err, o.Guard)
	}
	if msg := slimgoFails(t, append([]string{"quantize", "--max-loss", "-0.5"}, base...)...); !strings.HasPrefix(msg, "slimgo: ") || strings.Count(msg, "\n") != 1 {
		t.Errorf("negative --max-loss: want one slimgo: line, got %q", msg)
	}
}

// The demo's settings are built in code, not parsed, so every shape of them
// a user can ask for must pass compress's own validation.
func TestDemoConfigValid(t *testing.T) {
	e, _, _ := testEnv()
	for _, args := range [][]string{nil, {"--quick"}, {"--episodes", "2"}, {"--episodes", "3", "--quick"}, {"--episodes", "500"}} {
		o, err := parseDemo(e, args)
		if err != nil {
			t.Fatalf("demo %v: %v", args, err)
		}
		c := o.Config
		if err := c.Validate(); err != nil {
			t.Fatalf("demo %v: config %+v invalid: %v", args, c, err)
		}
		if c.Channel.Method != "ddpg" || c.Layer.Blocks < 1 || !c.Quantize.Enabled {
			t.Fatalf("demo %v skips a stage of the method: %+v", args, c)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, ExitInput, "usage"},
		{[]string{"help"}, ExitOK, "commands:"},
		{[]string{"frobnicate"}, ExitInput, `unknown command "frobnicate"`},
		{[]string{"train", "--arch", "nope", "--out", "x"}, ExitInput, "slimgo: train: unknown --arch"},
		{[]string{"info", "--model", "/nonexistent/m.onnx"}, ExitInput, "slimgo: info:"},
		{[]string{"train", "-h"}, ExitOK, "-arch"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := Main(c.args, &out, &errb); code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errb.String())
		}
		if !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errb.String(), c.msg)
		}
		if strings.Contains(errb.String(), "goroutine ") {
			t.Errorf("%v: a panic trace reached the user", c.args)
		}
	}
}
