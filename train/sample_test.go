package train_test

import (
	"testing"

	"github.com/slimgo/slimgo/data"
	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/train"
)

// TestResnet8LearnsBundledSample: two epochs of resnet8 on 1,500 images of
// the bundled Fashion-MNIST sample make the loss fall and lift test
// accuracy far above chance (10%).
func TestResnet8LearnsBundledSample(t *testing.T) {
	if testing.Short() {
		t.Skip("training run skipped with -short")
	}
	tr, te, err := data.Load("sample", data.LoadOptions{TrainLimit: 1500, TestLimit: 500})
	if err != nil {
		t.Fatal(err)
	}
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := train.Evaluate(g, te, 250)
	if err != nil {
		t.Fatal(err)
	}
	opt := train.DefaultOptions()
	opt.Epochs, opt.Seed = 2, 1
	res, err := train.Fit(g, tr, te, opt)
	if err != nil {
		t.Fatal(err)
	}
	e := res.Epochs
	if !(e[1].TrainLoss < e[0].TrainLoss && res.FinalLoss < before.Loss) {
		t.Fatalf("loss did not fall: untrained %.3f, epoch losses %.3f, %.3f, final test %.3f", before.Loss, e[0].TrainLoss, e[1].TrainLoss, res.FinalLoss)
	}
	if res.FinalAcc < 0.5 {
		t.Fatalf("test accuracy %.1f%% after 2 epochs, want > 50%% (chance 10%%)", 100*res.FinalAcc)
	}
	t.Logf("untrained %.1f%%, after 2 epochs %.1f%%", 100*before.Accuracy, 100*res.FinalAcc)
}
