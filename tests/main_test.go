// Package tests drives the slimgo binary as a user does: TestMain builds
// ./cmd/slimgo once with `go build -o` into a temporary directory, and each
// test runs it as a subprocess (GOMAXPROCS=2, so runs are reproducible) and
// checks exit codes, stderr and the files left behind. The tables here are
// the reliability contract of docs/reliability.md: hostile inputs exit 2 with
// one "slimgo: " line and never a panic; interrupted runs resume to the same
// result as uninterrupted ones; the same seed gives the same files.
package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the slimgo binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slimgo-tests")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "slimgo")
	build := exec.Command("go", "build", "-o", bin, "github.com/slimgo/slimgo/cmd/slimgo")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building slimgo: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runTimeout bounds every subprocess: a hang is a failure, not a stuck CI job.
const runTimeout = 3 * time.Minute

// result is what one slimgo run produced.
type result struct {
	code           int
	stdout, stderr string
}

// command returns an exec.Cmd running slimgo in dir with GOMAXPROCS=2 and
// no ambient data directory, so every machine sees the same bundled sample.
func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2", "SLIMGO_DATA="+filepath.Join(dir, "no-such-data-dir"))
	return cmd
}

// run runs slimgo to completion and returns its exit code and output.
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := command(ctx, dir, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("slimgo %s: still running after %v (hang?)\nstderr:\n%s", strings.Join(args, " "), runTimeout, tail(se.String()))
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("slimgo %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: so.String(), stderr: se.String()}
}

// mustRun runs slimgo and fails the test unless it exits 0.
func mustRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := run(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("slimgo %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, tail(r.stderr))
	}
	return r
}

// watched is a slimgo process whose stderr is collected as it arrives.
type watched struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *watched) stderr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// start starts slimgo in the background.
func start(t *testing.T, dir string, args ...string) *watched {
	t.Helper()
	w := &watched{done: make(chan struct{})}
	w.cmd = command(context.Background(), dir, args...)
	w.cmd.Stdout = nil
	w.cmd.Stderr = w
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		w.err = w.cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// waitFor blocks until stderr contains marker, and fails the test if the
// process ends first or the marker does not come within runTimeout.
func (w *watched) waitFor(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for !strings.Contains(w.stderr(), marker) {
		select {
		case <-w.done:
			t.Fatalf("slimgo ended (%v) before printing %q\nstderr:\n%s", w.err, marker, tail(w.stderr()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stderr after %v\nstderr:\n%s", marker, runTimeout, tail(w.stderr()))
		}
	}
}

// signal sends sig and waits for the process to end; it returns the exit
// code (-1 when killed by a signal).
func (w *watched) signal(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(runTimeout):
		t.Fatalf("slimgo did not stop within %v of %v", runTimeout, sig)
	}
	return w.cmd.ProcessState.ExitCode()
}

// tail returns the last lines of a long output for failure messages.
func tail(s string) string {
	const n = 3000
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// noPanic fails the test when output carries a Go panic or goroutine trace.
func noPanic(t *testing.T, what, out string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime error", "internal error"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: output holds %q:\n%s", what, bad, tail(out))
		}
	}
}

// sameFile fails the test unless files a and b hold the same bytes.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Errorf("%s (%d bytes) and %s (%d bytes) differ", a, len(x), b, len(y))
	}
}
