package kernels

import "fmt"

// ActKind selects the activation BiasAct applies.
type ActKind int

const (
	ActIdentity  ActKind = iota // x
	ActRelu                     // max(x, 0)
	ActLeakyRelu                // x if x >= 0, else Alpha*x
	ActClip                     // min(max(x, Min), Max)
)

// Act is an activation with its parameters (Alpha for ActLeakyRelu, Min
// and Max for ActClip; ignored otherwise).
type Act struct {
	Kind     ActKind
	Alpha    float32
	Min, Max float32
}

// BiasAct computes y = act(y + bias[c]) in place, with y laid out as
// [N, C, hw] (NCHW activations with hw = H*W; a dense layer's [N, C] output
// uses hw = 1) and C = len(bias). With bias nil only the activation is
// applied, to every element. It returns an error when len(y) is not a
// multiple of len(bias)*hw, hw < 1, or the activation kind is unknown.
// The fused pass reads and writes y once, instead of once per op.
func BiasAct(y, bias []float32, hw int, act Act) error {
	if act.Kind < ActIdentity || act.Kind > ActClip {
		return fmt.Errorf("kernels.BiasAct: unknown activation kind %d", act.Kind)
	}
	if bias == nil {
		actInPlace(y, 0, act)
		return nil
	}
	c := len(bias)
	if hw < 1 || c == 0 || len(y)%(c*hw) != 0 {
		return fmt.Errorf("kernels.BiasAct: y has %d elements, not a multiple of len(bias)=%d times hw=%d", len(y), c, hw)
	}
	for base := 0; base < len(y); base += c * hw {
		for ch, b := range bias {
			actInPlace(y[base+ch*hw:base+(ch+1)*hw], b, act)
		}
	}
	return nil
}

// actInPlace sets v[i] = act(v[i] + b).
func actInPlace(v []float32, b float32, act Act) {
	switch act.Kind {
	case ActIdentity:
		if b != 0 {
			for i := range v {
				v[i] += b
			}
		}
	case ActRelu:
		for i, x := range v {
			x += b
			if x < 0 {
				x = 0
			}
			v[i] = x
		}
	case ActLeakyRelu:
		for i, x := range v {
			x += b
			if x < 0 {
				x *= act.Alpha
			}
			v[i] = x
		}
	case ActClip:
		for i, x := range v {
			v[i] = min(max(x+b, act.Min), act.Max)
		}
	}
}
