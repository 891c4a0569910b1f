package data_test

import (
	"fmt"

	"github.com/slimgo/slimgo/data"
)

// Load the Fashion-MNIST sample bundled in the binary, first 100 training
// and 50 test examples.
func ExampleLoad() {
	train, test, err := data.Load("sample", data.LoadOptions{TrainLimit: 100, TestLimit: 50})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(train.Name, train.Len(), test.Len(), train.C, train.H, train.W)
	fmt.Println(train.Classes[0], "/", train.Classes[9], train.Mean, train.Std)
	// Output:
	// fashion-mnist 100 50 1 28 28
	// T-shirt/top / Ankle boot [0.286] [0.353]
}
