//go:build !amd64 || purego

package kernels

// winoInputAVX is never called without the assembly kernels.
func winoInputAVX(src *float32, wp int, groups *WinoGroup, ng int, v *float32, vs int) {
	panic("kernels: winoInputAVX without assembly")
}

// winoOutputAVX is never called without the assembly kernels.
func winoOutputAVX(m *float32, ms int, groups *WinoGroup, ng int, dst *float32, ow int, masks *int32, ep *winoEpi) {
	panic("kernels: winoOutputAVX without assembly")
}
