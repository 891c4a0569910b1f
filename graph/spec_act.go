package graph

import "math"

// Element-wise activations on one input X -> Y of X's shape:
//
//	Relu, Sigmoid, Silu (x*sigmoid(x)), Identity
//	LeakyRelu    alpha=0.01
//	Clip         min=-Inf, max=+Inf (float attributes)
//	HardSigmoid  alpha=0.2, beta=0.5: max(0, min(1, alpha*x + beta))
//	HardSwish    x * max(0, min(1, x/6 + 1/2)) (= x * relu6(x+3)/6)
//	Dropout      ratio=0.5 (identity at inference)
//	Exp          e^x
//	Pow          exponent=2 (a float attribute; ONNX's second input, which
//	             must be a constant scalar on import)
func init() {
	unary := func(name string, onnx []string, attrs ...AttrSpec) {
		register(&OpSpec{Name: name, Attrs: attrs, Shape: sameShape, Coupling: CouplePass, ONNX: onnx})
	}
	unary(OpRelu, []string{"Relu"})
	unary(OpSigmoid, []string{"Sigmoid"})
	unary(OpSilu, nil) // no ONNX op: exported as x * Sigmoid(x)
	unary(OpIdentity, []string{"Identity"})
	unary(OpLeakyRelu, []string{"LeakyRelu"}, AttrSpec{"alpha", float32(0.01)})
	unary(OpClip, []string{"Clip"}, AttrSpec{"min", float32(math.Inf(-1))}, AttrSpec{"max", float32(math.Inf(1))})
	unary(OpHardSigmoid, []string{"HardSigmoid"}, AttrSpec{"alpha", float32(0.2)}, AttrSpec{"beta", float32(0.5)})
	unary(OpHardSwish, []string{"HardSwish"})
	unary(OpDropout, []string{"Dropout"}, AttrSpec{"ratio", float32(0.5)})
	unary(OpExp, []string{"Exp"})
	unary(OpPow, []string{"Pow"}, AttrSpec{"exponent", float32(2)})
}
