package pipeline

import (
	"strings"
	"testing"

	"github.com/slimgo/slimgo/nn"
)

// TestLoadChecksClasses: every command that reads data for a model (here
// through DataOptions.load, train and test reads alike) refuses a model
// whose output width is not the data set's class count, as bad input.
func TestLoadChecksClasses(t *testing.T) {
	g, err := nn.Build("resnet8", []int{1, 28, 28}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, testOnly := range []bool{false, true} {
		d := DataOptions{Spec: "sample", TrainLimit: 64, TestLimit: 64, TestOnly: testOnly}
		_, _, err := d.load(NewEnv(nil, nil), g)
		if !IsInput(err) || !strings.Contains(err.Error(), "does not match the 10 classes") {
			t.Errorf("TestOnly %v: err = %v, want bad input naming the 10 classes", testOnly, err)
		}
	}
}
