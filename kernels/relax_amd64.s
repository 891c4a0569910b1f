//go:build amd64 && !purego

#include "textflag.h"

// func cpuRelax()
// One PAUSE: tells the core this is a spin-wait loop (the sibling
// hyper-thread gets the pipeline, and leaving the loop does not flush it).
TEXT ·cpuRelax(SB), NOSPLIT, $0-0
	PAUSE
	RET
