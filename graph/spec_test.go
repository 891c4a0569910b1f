package graph

import (
	"slices"
	"testing"
)

// TestSpecs checks that every canonical op constant has one complete spec.
func TestSpecs(t *testing.T) {
	ops := []string{OpConv, OpBN, OpRelu, OpLeakyRelu, OpClip, OpSigmoid, OpSilu, OpHardSigmoid, OpHardSwish,
		OpAdd, OpMul, OpConcat, OpMaxPool, OpAveragePool, OpGlobalAvg, OpFlatten, OpReshape, OpGemm, OpResize,
		OpDropout, OpIdentity, OpExp, OpPow, OpSub, OpDiv, OpTranspose, OpSlice, OpSplit, OpSoftmax}
	slices.Sort(ops)
	if got := Specs(); !slices.Equal(got, ops) {
		t.Fatalf("Specs() = %v, want %v", got, ops)
	}
	for _, op := range ops {
		s := Spec(op)
		if s.Name != op || s.Shape == nil || s.Coupling == CoupleNone {
			t.Errorf("%s: incomplete spec %+v", op, s)
		}
	}
	if Spec("NoSuchOp") != nil || CouplingOf("NoSuchOp") != CoupleNone {
		t.Error("unknown op has a spec")
	}
	if !IsBuffer(OpBN, 3) || !IsBuffer(OpBN, 4) || IsBuffer(OpBN, 2) || IsBuffer(OpConv, 3) {
		t.Error("IsBuffer: only BatchNormalization's mean and var are buffers")
	}
}

func TestCheckAttrs(t *testing.T) {
	n := &Node{Name: "c", Op: OpConv, Attrs: Attrs{"group": 2, "auto_pad": "VALID"}}
	if err := Spec(OpConv).CheckAttrs(n, "auto_pad"); err != nil {
		t.Fatal(err)
	}
	if err := Spec(OpConv).CheckAttrs(n); err == nil || err.Error() != `node "c" (Conv): attribute auto_pad is not supported` {
		t.Fatalf("err = %v", err)
	}
}
