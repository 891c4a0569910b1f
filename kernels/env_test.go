package kernels

import (
	"os"
	"os/exec"
	"testing"
)

// TestNoAsmEnv re-runs this test binary with SLIMGO_NOASM=1 and checks the
// package starts with UseAsm false there (the child branch below).
func TestNoAsmEnv(t *testing.T) {
	if os.Getenv("SLIMGO_NOASM_CHILD") == "1" {
		if UseAsm {
			t.Fatal("UseAsm is true although SLIMGO_NOASM=1")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoAsmEnv$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SLIMGO_NOASM=1", "SLIMGO_NOASM_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with SLIMGO_NOASM=1 failed: %v\n%s", err, out)
	}
	if os.Getenv("SLIMGO_NOASM") != "1" && UseAsm != AsmAvailable() {
		t.Fatalf("UseAsm = %v by default, want AsmAvailable() = %v", UseAsm, AsmAvailable())
	}
}
