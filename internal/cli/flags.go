package cli

import (
	"flag"
	"strconv"
	"strings"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/pipeline"
)

// dataFlags registers the data-set flags shared by train, eval, prune,
// quantize and compress into a pipeline.DataOptions; validate parses the
// preprocessing flags into it.
type dataFlags struct {
	d    *pipeline.DataOptions
	prep prepFlags
}

func registerData(fs *flag.FlagSet, d *pipeline.DataOptions) *dataFlags {
	fs.StringVar(&d.Spec, "data", "", "data set: fashion-mnist, mnist, sample, a directory of IDX files, an image folder (DIR/train/<class>/..., DIR/test/ or DIR/val/), or a YOLO-format detection folder (DIR/data.yaml, DIR/images/{train,val}, DIR/labels/{train,val}; train and eval)")
	fs.IntVar(&d.TrainLimit, "train-limit", 0, "use only the first N training examples (0: all)")
	fs.IntVar(&d.TestLimit, "test-limit", 0, "use only the first N test examples (0: all)")
	f := &dataFlags{d: d}
	f.prep.register(fs)
	return f
}

func (f *dataFlags) validate() error {
	if f.d.TrainLimit < 0 || f.d.TestLimit < 0 {
		return badInput("--train-limit and --test-limit must be >= 0")
	}
	return f.prep.parse(&f.d.Prep)
}

// prepFlags are the preprocessing flags (--mean, --std, --resize) of every
// command that reads images or writes a model, as given.
type prepFlags struct {
	Mean, Std string
	Resize    string
}

func (p *prepFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.Mean, "mean", "", "per-channel mean of pixels scaled to [0,1] that the model expects (one value or one per channel, or imagenet); default: the model's metadata, else the data set's statistics")
	fs.StringVar(&p.Std, "std", "", "per-channel std, as --mean (e.g. 0.229,0.224,0.225 or imagenet)")
	fs.StringVar(&p.Resize, "resize", "", "how images of another size reach the model's input: bilinear (stretch to H x W, the default) or center-crop[:S] (shorter side to S, default H*8/7, then the centre, as torchvision's Resize(S)+CenterCrop); default: the model's metadata")
}

// parse checks the flags and fills o; --mean and --std go together.
func (p *prepFlags) parse(o *pipeline.PrepOptions) error {
	mean, err := data.ParseStats(p.Mean, "mean")
	if err != nil {
		return badInput("%v", err)
	}
	std, err := data.ParseStats(p.Std, "std")
	if err != nil {
		return badInput("%v", err)
	}
	if (mean == nil) != (std == nil) {
		return badInput("give --mean and --std together")
	}
	if mean != nil && len(mean) != len(std) && len(mean) != 1 && len(std) != 1 {
		return badInput("--mean has %d values but --std %d", len(mean), len(std))
	}
	*o = pipeline.PrepOptions{Mean: mean, Std: std}
	switch r := p.Resize; {
	case r == "":
	case r == data.ResizeBilinear || r == data.ResizeCenterCrop:
		o.Resize = r
	case strings.HasPrefix(r, data.ResizeCenterCrop+":"):
		n, err := strconv.Atoi(strings.TrimPrefix(r, data.ResizeCenterCrop+":"))
		if err != nil || n <= 0 {
			return badInput("--resize %q: want center-crop:S with a positive S", r)
		}
		o.Resize, o.Shorter = data.ResizeCenterCrop, n
	default:
		return badInput("--resize %q: want bilinear, center-crop or center-crop:S", r)
	}
	return nil
}

// registerTune registers the fine-tuning flags shared by prune, quantize and
// compress.
func registerTune(fs *flag.FlagSet, t *pipeline.TuneOptions, defEpochs int) {
	fs.IntVar(&t.Epochs, "finetune-epochs", defEpochs, "fine-tuning epochs after pruning (0: none)")
	fs.Float64Var(&t.LR, "finetune-lr", 0.02, "peak learning rate of fine-tuning (SGD Nesterov, one-cycle)")
	fs.IntVar(&t.Batch, "batch", 128, "mini-batch size")
	fs.Float64Var(&t.WD, "wd", 5e-4, "weight decay")
	fs.StringVar(&t.Augment, "augment", "", "augmentation while fine-tuning: comma list of crop (random crop, pad 2) and flip (horizontal); empty: none")
}
