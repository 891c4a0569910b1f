package train

import "testing"

func TestNoDecayParams(t *testing.T) {
	g := convBN(3, 1)
	nd := NoDecayParams(g)
	for name, want := range map[string]bool{"conv.w": false, "fc.w": false, "fc.b": true, "bn.scale": true, "bn.bias": true, "bn.mean": true} {
		if nd[name] != want {
			t.Errorf("NoDecay[%q] = %v, want %v", name, nd[name], want)
		}
	}
}
