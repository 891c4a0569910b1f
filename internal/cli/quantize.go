package cli

import (
	"flag"
	"strings"

	"github.com/slimgo/slimgo/pipeline"
)

func parseQuantize(e *env, args []string) (*pipeline.QuantizeOptions, error) {
	o := &pipeline.QuantizeOptions{}
	fs := newFlags("quantize", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model to quantize (required)")
	df := registerData(fs, &o.Data)
	fs.Float64Var(&o.Threshold, "threshold", 0, "BIRCH threshold T in weight units (0: derived per layer as --threshold-scale * std)")
	fs.Float64Var(&o.Scale, "threshold-scale", pipeline.DefaultThresholdScale, "c in T = c * std(layer weights) when --threshold is 0")
	fs.IntVar(&o.MaxClusters, "max-clusters", 256, "cap on clusters per layer (<= 256 so an index fits a byte)")
	fs.IntVar(&o.Clusters, "clusters", 0, "fixed clusters per layer, skipping BIRCH (0: BIRCH decides)")
	fs.StringVar(&o.Method, "cluster-method", "birch-kmeans", "birch-kmeans, kmeans (needs --clusters) or exact (1-D optimum)")
	fs.IntVar(&o.MinSize, "min-size", 0, "Conv/Gemm weights with fewer values stay float")
	fs.BoolVar(&o.Float16, "float16-codebook", true, "store codebooks as float16 in the packed file (accuracy is measured with the rounded centroids); --float16-codebook=false keeps float32")
	registerTune(fs, &o.Tune, 0)
	fs.Float64Var(&o.CentroidLR, "centroid-lr", 1e-4, "Adam learning rate of centroid fine-tuning (--finetune-epochs)")
	fs.StringVar(&o.Out, "out", "", "output weight-shared ONNX model (required)")
	fs.StringVar(&o.Packed, "packed", "", "output bit-packed model (default: OUT with extension .slimpack)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	guard := &pipeline.GuardOptions{}
	useGuard := fs.Bool("guard", true, "accuracy guard (needs --data): choose each layer's clusters so that at most --max-loss points are lost on a validation split held out from the training data; --guard=false clusters every layer with the settings given")
	fs.Float64Var(&guard.MaxLoss, "max-loss", pipeline.DefaultMaxLoss, "accuracy guard tolerance P: accuracy points the clustered model (as restored from the .slimpack) may lose on the validation split")
	fs.IntVar(&guard.ValSize, "val-size", pipeline.DefaultGuardValSize, "training images held out as the accuracy guard's validation split (fixed seed; at most half the training set)")
	useInt8 := fs.Bool("int8", false, "write a static int8 QDQ model (ONNX Runtime) to --out instead of clustering; needs --data")
	i8 := &pipeline.Int8Options{}
	fs.StringVar(&i8.Calibrate, "calibrate", "minmax", "with --int8: activation ranges from minmax or percentile")
	fs.Float64Var(&i8.Percentile, "percentile", 99.99, "with --calibrate percentile: keep the [100-P, P] percentiles")
	fs.IntVar(&i8.CalibSize, "calib-size", pipeline.DefaultCalibSize, "with --int8: training images held out for calibration")
	act := fs.String("activations", "u8", "with --int8: activation type u8 (U8S8, fully fused by ONNX Runtime on x86) or s8 (S8S8)")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := guard.Validate(); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["max-loss"] && !*useGuard:
		return nil, badInput("--max-loss needs the guard (drop --guard=false)")
	case set["max-loss"] && o.Data.Spec == "":
		return nil, badInput("--max-loss needs --data (the loss is measured on a split of the training data)")
	case set["max-loss"] && *useInt8:
		return nil, badInput("--max-loss applies to clustering, not --int8")
	}
	if *useGuard && !*useInt8 {
		o.Guard = guard
	}
	if *useInt8 {
		switch *act {
		case "u8":
		case "s8":
			i8.Signed = true
		default:
			return nil, badInput("--activations must be s8 or u8, got %q", *act)
		}
		if o.Data.Spec == "" {
			return nil, badInput("--int8 needs --data (activations are calibrated on the training data)")
		}
		if o.Tune.Epochs > 0 {
			return nil, badInput("--int8 does not fine-tune (--finetune-epochs)")
		}
		if err := i8.Validate(); err != nil {
			return nil, badInput("%v", err)
		}
		o.Int8 = i8
	}
	switch {
	case o.Model == "":
		return nil, badInput("--model is required")
	case o.Out == "":
		return nil, badInput("--out is required")
	case o.Threshold < 0 || o.Scale <= 0:
		return nil, badInput("--threshold must be >= 0 and --threshold-scale > 0")
	case o.MaxClusters < 1 || o.MaxClusters > 256:
		return nil, badInput("--max-clusters must be in [1, 256], got %d", o.MaxClusters)
	case o.Clusters < 0 || o.Clusters > 256:
		return nil, badInput("--clusters must be in [0, 256], got %d", o.Clusters)
	case o.Method != "birch-kmeans" && o.Method != "kmeans" && o.Method != "exact":
		return nil, badInput("--cluster-method must be birch-kmeans, kmeans or exact, got %q", o.Method)
	case o.Method == "kmeans" && o.Clusters == 0:
		return nil, badInput("--cluster-method kmeans needs --clusters K")
	case o.Tune.Epochs > 0 && o.Data.Spec == "":
		return nil, badInput("--finetune-epochs needs --data")
	case o.CentroidLR <= 0:
		return nil, badInput("--centroid-lr must be > 0, got %g", o.CentroidLR)
	}
	o.Tune.LR = o.CentroidLR
	if o.Packed == "" && o.Int8 == nil {
		o.Packed = strings.TrimSuffix(o.Out, ".onnx") + ".slimpack"
	}
	if err := o.Tune.Validate(); err != nil {
		return nil, err
	}
	return o, df.validate()
}
func runQuantize(e *env, args []string) error {
	o, err := parseQuantize(e, args)
	if err != nil {
		return err
	}
	summary, err := pipeline.Quantize(e.pipe(), o)
	if err != nil {
		return err
	}
	return emit(e, o.JSON, summary)
}
