package cluster_test

import (
	"fmt"

	"github.com/slimgo/slimgo/cluster"
)

func ExampleSorted1D_Exact() {
	s, _ := cluster.NewSorted1D([]float32{1, 2, 3, 10, 11, 12, 30})
	r, _ := s.Exact(3)
	fmt.Printf("%v %.6g\n", r.Centroids, r.Inertia)
	// Output: [2 11 30] 4
}

func ExampleBirch1D() {
	// T = 1: {0, 0.5, 1} fit one entry (radius 0.41), 5 starts another.
	t, _ := cluster.Birch1D([]float32{0, 0.5, 1, 5, 5.5}, cluster.BirchOptions{Threshold: 1})
	for _, cf := range t.Leaves() {
		fmt.Println(cf.N, cf.Centroid())
	}
	// Output:
	// 3 [0.5]
	// 2 [5.25]
}
