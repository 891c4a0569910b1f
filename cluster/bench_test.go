package cluster

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var benchSizes = []int{10_000, 100_000, 1_000_000}

func benchData(n int) []float32 { return laplace(rand.New(rand.NewPCG(uint64(n), 99)), n, 0.05) }

// BenchmarkBirch1D times building the CF-tree (T = 0.2*std) over n weights.
func BenchmarkBirch1D(b *testing.B) {
	for _, n := range benchSizes {
		xs := benchData(n)
		T := DeriveThreshold(xs, DefaultThresholdScale)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Birch1D(xs, BirchOptions{Threshold: T, MaxLeaves: MaxK}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKMeans1D times sorting plus k-means|| and Lloyd with K = 16.
func BenchmarkKMeans1D(b *testing.B) {
	for _, n := range benchSizes {
		xs := benchData(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				s, err := NewSorted1D(xs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.KMeans(KMeansOptions{K: 16, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuantizeValues times the whole per-layer pipeline (BIRCH picks K,
// k-means|| + Lloyd, index assignment).
func BenchmarkQuantizeValues(b *testing.B) {
	for _, n := range benchSizes {
		xs := benchData(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := QuantizeValues(xs, Options{}, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
