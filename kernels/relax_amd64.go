//go:build amd64 && !purego

package kernels

// cpuRelax executes one PAUSE instruction (relax_amd64.s), the body of a
// spin-wait loop.
//
//go:noescape
func cpuRelax()
