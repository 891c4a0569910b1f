package graph

import (
	"fmt"

	"github.com/slimgo/slimgo/tensor"
)

// Gemm: A[N,K], B[K,M] or [M,K] with transB=1, C[M]? -> Y[N,M]; alpha=1,
// beta=1, transA=0 (1 is not supported). ONNX MatMul with a constant 2-D
// weight imports as Gemm.
func init() {
	register(&OpSpec{
		Name:     OpGemm,
		Attrs:    []AttrSpec{{"alpha", float32(1)}, {"beta", float32(1)}, {"transA", 0}, {"transB", 0}},
		Shape:    gemmShape,
		MACs:     gemmMACs,
		Coupling: CoupleGemm,
		Layer:    gemmLayer,
		ONNX:     []string{"Gemm", "MatMul"},
	})
}

func gemmShape(n *Node, in [][]int) ([][]int, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("inputs %v and %v must be 2-D", a, b)
	}
	if n.Attrs.Int("transA", 0) != 0 {
		return nil, fmt.Errorf("transA=1 is not supported")
	}
	k, m := b[0], b[1]
	if n.Attrs.Int("transB", 0) != 0 {
		k, m = b[1], b[0]
	}
	if a[1] != k {
		return nil, fmt.Errorf("inner sizes differ: %v x %v (transB=%d)", a, b, n.Attrs.Int("transB", 0))
	}
	if len(in) > 2 && in[2] != nil {
		if _, err := Broadcast([]int{a[0], m}, in[2]); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	return [][]int{{a[0], m}}, nil
}

// gemmMACs: one multiply-accumulate per output value and input feature.
func gemmMACs(_ *Node, in [][]int, out []int) int64 {
	return int64(tensor.Size(out)) * int64(in[0][1])
}

// gemmLayer: input features; no spatial extent, stride or kernel.
func gemmLayer(_ *Node, in [][]int) (LayerGeom, error) {
	return LayerGeom{InC: in[0][1], H: 1, W: 1, Stride: 1, Kernel: 1}, nil
}
