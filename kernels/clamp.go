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

// BiasAddClamp sets v[i] = min(max((v[i]+b)+r[i], lo), hi): a bias, a
// residual and a clamping activation (ReLU: lo 0, hi +Inf; none: -Inf,
// +Inf) in one pass, with the sums in the order of a bias pass followed
// by a residual add. r must hold len(v) values. A NaN stays NaN.
func BiasAddClamp(v, r []float32, b, lo, hi float32) {
	r = r[:len(v)]
	n := 0
	if UseAsm && hasAsmKernel && len(v) >= 8 {
		n = len(v) &^ 7
		biasAddClampAVX(&v[0], &r[0], n, b, lo, hi)
	}
	for i := n; i < len(v); i++ {
		v[i] = min(max((v[i]+b)+r[i], lo), hi)
	}
}

// HardSwish sets y[i] = x[i] * min(max(x[i]+3, 0), 6) / 6 (PyTorch's
// order of operations) for i < len(x); y must hold len(x) values and may
// be x. Vector steps of 8 in assembly when UseAsm, bitwise the Go
// expression's results; a NaN stays NaN.
func HardSwish(x, y []float32) {
	y = y[:len(x)]
	n := 0
	if UseAsm && hasAsmKernel && len(x) >= 8 {
		n = len(x) &^ 7
		hardSwishAVX(&x[0], &y[0], n)
	}
	for i := n; i < len(x); i++ {
		v := x[i]
		y[i] = v * min(max(v+3, 0), 6) / 6
	}
}
