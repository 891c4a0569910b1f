//go:build amd64 && !purego

package kernels

// winoInputAVX is WinoPlan.Input's AVX2 body (winograd_amd64.s): ng >= 1
// groups, v pointing at column 0 of V[0], vs the floats between V matrices.
//
//go:noescape
func winoInputAVX(src *float32, wp int, groups *WinoGroup, ng int, v *float32, vs int)

// winoOutputAVX is WinoPlan.Output's AVX2 body (ep nil) and OutputEpi's
// (the epilogue ep applied to every stored row): ng >= 1 groups, masks the
// 9 x 8 int32 lane masks of winoMasks.
//
//go:noescape
func winoOutputAVX(m *float32, ms int, groups *WinoGroup, ng int, dst *float32, ow int, masks *int32, ep *winoEpi)
