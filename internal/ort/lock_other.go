//go:build !unix

package ort

// lockFile is a no-op where advisory file locks are not available; concurrent
// first installs are then the caller's problem.
func lockFile(string) (func(), error) { return func() {}, nil }
