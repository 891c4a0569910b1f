//go:build !amd64 || purego

package kernels

// cpuRelax is a no-op without the assembly: the spin-wait loops then
// poll at full speed between their runtime.Gosched calls.
func cpuRelax() {}
