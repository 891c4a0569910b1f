package tensor

import (
	"math"
	"math/rand/v2"
)

// NewRNG returns a deterministic random source for a seed. slimgo passes
// random sources explicitly; there is no package-level generator.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// FillNormal fills t with N(mean, std^2) samples from rng.
func (t *Tensor) FillNormal(rng *rand.Rand, mean, std float64) {
	for i := range t.Data {
		t.Data[i] = float32(mean + std*rng.NormFloat64())
	}
}

// FillUniform fills t with samples from U[lo, hi).
func (t *Tensor) FillUniform(rng *rand.Rand, lo, hi float64) {
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
}

// KaimingNormal fills a weight with He initialisation for ReLU networks:
// N(0, 2/fanIn) scaled by gain^2/2 (gain sqrt(2) gives the classic form).
func (t *Tensor) KaimingNormal(rng *rand.Rand, fanIn int, gain float64) {
	t.FillNormal(rng, 0, gain/math.Sqrt(float64(fanIn)))
}

// KaimingUniform fills a weight as PyTorch's default Conv/Linear init does:
// U(-b, b) with b = gain*sqrt(3/fanIn).
func (t *Tensor) KaimingUniform(rng *rand.Rand, fanIn int, gain float64) {
	b := gain * math.Sqrt(3/float64(fanIn))
	t.FillUniform(rng, -b, b)
}
