package train_test

import (
	"fmt"

	"github.com/slimgo/slimgo/tensor"
	"github.com/slimgo/slimgo/train"
)

func ExampleSoftmaxCrossEntropy() {
	// Two examples, three classes; the first is classified right.
	// loss = (log(e^2+2) - 2 + log 3) / 2; d/dz = (softmax - onehot) / 2.
	logits := tensor.From([]float32{2, 0, 0, 0, 0, 0}, 2, 3)
	grad := tensor.New(2, 3)
	loss, correct, err := train.SoftmaxCrossEntropy(logits, []int32{0, 2}, grad)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f, correct %d, d/dz[1][2] %.4f\n", loss, correct, grad.Data[5])
	// Output: loss 0.6691, correct 1, d/dz[1][2] -0.3333
}

func ExampleOneCycle() {
	s := train.OneCycle(0.1, 0.3, 25, 1e4)
	for _, step := range []int{0, 29, 99} {
		fmt.Printf("step %d: %.3g\n", step, s(step, 100))
	}
	// Output:
	// step 0: 0.004
	// step 29: 0.1
	// step 99: 4e-07
}

func ExampleAdam() {
	// Adam works on any parameter map, e.g. a DDPG actor's.
	params := map[string]*tensor.Tensor{"w": tensor.From([]float32{1}, 1)}
	grads := map[string]*tensor.Tensor{"w": tensor.From([]float32{4}, 1)}
	opt := train.NewAdam(0.01)
	for range 3 {
		opt.Step(params, grads)
	}
	fmt.Printf("%.4f after %d steps\n", params["w"].Data[0], opt.State().Steps["w"])
	// Output: 0.9700 after 3 steps
}
