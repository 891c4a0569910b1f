package kernels

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBiasActMatchesNaive checks every activation kind, with and without
// bias, against an index-by-index computation.
func TestBiasActMatchesNaive(t *testing.T) {
	naive := func(x float32, act Act) float32 {
		switch act.Kind {
		case ActRelu:
			if x > 0 {
				return x
			}
			return 0
		case ActLeakyRelu:
			if x >= 0 {
				return x
			}
			return act.Alpha * x
		case ActClip:
			if x < act.Min {
				return act.Min
			}
			if x > act.Max {
				return act.Max
			}
		}
		return x
	}
	acts := []struct {
		name string
		act  Act
	}{
		{"identity", Act{Kind: ActIdentity}},
		{"relu", Act{Kind: ActRelu}},
		{"leaky", Act{Kind: ActLeakyRelu, Alpha: 0.1}},
		{"clip06", Act{Kind: ActClip, Min: 0, Max: 0.6}},
	}
	for ai, a := range acts {
		for _, geo := range []struct {
			name     string
			n, c, hw int
			noBias   bool
		}{{"nchw", 3, 4, 5, false}, {"dense", 2, 7, 1, false}, {"nobias", 2, 3, 4, true}} {
			t.Run(a.name+"/"+geo.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(ai), 13))
				y := randSlice(r, geo.n*geo.c*geo.hw)
				var bias []float32
				if !geo.noBias {
					bias = randSlice(r, geo.c)
				}
				want := make([]float32, len(y))
				for i, v := range y {
					if bias != nil {
						v += bias[(i/geo.hw)%geo.c]
					}
					want[i] = naive(v, a.act)
				}
				if err := BiasAct(y, bias, geo.hw, a.act); err != nil {
					t.Fatal(err)
				}
				for i := range y {
					if y[i] != want[i] {
						t.Fatalf("y[%d] = %v, want %v", i, y[i], want[i])
					}
				}
			})
		}
	}
}

// TestBiasActErrors checks bad layouts and kinds are errors.
func TestBiasActErrors(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"not_multiple", "not a multiple", BiasAct(make([]float32, 10), make([]float32, 3), 1, Act{})},
		{"zero_hw", "not a multiple", BiasAct(make([]float32, 6), make([]float32, 3), 0, Act{})},
		{"bad_kind", "unknown activation", BiasAct(make([]float32, 6), nil, 1, Act{Kind: 99})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
}
