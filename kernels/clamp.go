package kernels

// BiasClamp sets v[i] = min(max(v[i]+b, lo), hi): a bias and a clamping
// activation (ReLU6: lo 0, hi 6) in one pass. A NaN stays NaN. Vector
// steps of 8 in assembly when UseAsm, the rest (and everything on other
// CPUs) in Go; both give the same results.
func BiasClamp(v []float32, b, lo, hi float32) {
	n := 0
	if UseAsm && hasAsmKernel && len(v) >= 8 {
		n = len(v) &^ 7
		biasClampAVX(&v[0], n, b, lo, hi)
	}
	for i := n; i < len(v); i++ {
		v[i] = min(max(v[i]+b, lo), hi)
	}
}
