package prune_test

import (
	"fmt"

	"github.com/slimgo/slimgo/nn"
	"github.com/slimgo/slimgo/prune"
)

// Channel groups of the built-in resnet8, then a 50% network-slimming cut
// with channel counts kept at multiples of 8.
func Example() {
	g, err := nn.Build("resnet8", []int{3, 32, 32}, 10, 1)
	if err != nil {
		panic(err)
	}
	groups, err := prune.Groups(g)
	if err != nil {
		panic(err)
	}
	fmt.Print(groups[3].Details(), "\n")
	plan, err := prune.SlimPlan(g, groups, 0.5, prune.Options{RoundTo: 8})
	if err != nil {
		panic(err)
	}
	small, err := prune.Apply(g, plan)
	if err != nil {
		panic(err)
	}
	before, _ := g.ComputeStats()
	after, _ := small.ComputeStats()
	fmt.Println(after.Params < before.Params, after.MACs < before.MACs)
	// Output:
	// group 3 (32 ch): out s2.b0.conv2 [Conv W axis0], s2.b0.bn2 [BN], out s2.b0.down.conv [Conv W axis0], s2.b0.down.bn [BN], in s3.b0.conv1 [Conv W axis1], in s3.b0.down.conv [Conv W axis1]
	// true true
}
