// Package ort runs ONNX models with ONNX Runtime, for tests that prove
// slimgo's exported models load and compute what slimgo computes. It drives
// the Node.js harness in tools/ort (npm onnxruntime-node, CPU), installing
// its node_modules on first use with `npm install --ignore-scripts` when
// missing; only the npm registry is needed for that.
package ort

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/slimgo/slimgo/npy"
	"github.com/slimgo/slimgo/tensor"
)

// Dir returns the harness directory: $SLIMGO_ORT_DIR if set, else tools/ort
// of the source tree this package was built from.
func Dir() string {
	if d := os.Getenv("SLIMGO_ORT_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tools", "ort")
}

// Available reports whether node is on PATH. Tests skip ONNX Runtime checks
// only when it is not; a failing install or run is an error, not a skip.
func Available() bool {
	_, err := exec.LookPath("node")
	return err == nil
}

var (
	installMu  sync.Mutex
	installErr error
	installed  bool
)

// Install makes sure tools/ort/node_modules holds onnxruntime-node, running
// `npm install --ignore-scripts` (under a file lock shared with other test
// processes) when it does not.
func Install() error {
	installMu.Lock()
	defer installMu.Unlock()
	if installed {
		return installErr
	}
	installed = true
	installErr = install(Dir())
	return installErr
}

func install(dir string) error {
	marker := filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	unlock, err := lockFile(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return fmt.Errorf("ort: locking %s: %w", dir, err)
	}
	defer unlock()
	if _, err := os.Stat(marker); err == nil {
		return nil // another process installed it while we waited
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("ort: %s has no node_modules and npm is not installed: %w", dir, err)
	}
	cmd := exec.Command(npm, "install", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ort: npm install --ignore-scripts in %s failed: %v\n%s", dir, err, out)
	}
	if _, err := os.Stat(marker); err != nil {
		return fmt.Errorf("ort: npm install in %s did not install onnxruntime-node", dir)
	}
	return nil
}

// Result is what the harness reports about one run.
type Result struct {
	Input  string  `json:"input"`  // name of the model input fed
	Output string  `json:"output"` // name of the model output returned
	Shape  []int   `json:"shape"`
	Ms     float64 `json:"ms"` // median wall time of one session.run, milliseconds
	// With TimeOptions (run.js --timing): the fastest and the median timed
	// run, how many timed runs there were and the intra-op threads used.
	BestMs   float64 `json:"best_ms,omitempty"`
	MedianMs float64 `json:"median_ms,omitempty"`
	Runs     int     `json:"runs,omitempty"`
	Threads  int     `json:"threads,omitempty"`
	// Outputs lists every model output with --all-outputs (RunAll).
	Outputs []OutputFile `json:"outputs,omitempty"`
}

// OutputFile is one model output written by run.js --all-outputs.
type OutputFile struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
}

// Installed reports, without installing anything, whether node and the
// onnxruntime-node package in Dir() are there; the error says what is
// missing and how to install it.
func Installed() error {
	if !Available() {
		return errors.New("ONNX Runtime needs node, which is not installed (run scripts/setup-peers.sh after installing nodejs and npm)")
	}
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return fmt.Errorf("ONNX Runtime (npm onnxruntime-node) is not installed in %s: run scripts/setup-peers.sh, or npm install --ignore-scripts there", Dir())
	}
	return nil
}

// TimeOptions configure Time: Threads intra-op threads (inter-op 1),
// Warmup untimed runs, then timed runs until both Runs have run and MinMs
// milliseconds have gone by.
type TimeOptions struct {
	Threads int
	Warmup  int
	Runs    int
	MinMs   float64
}

// Time runs model on the .npy file in like RunFiles, in run.js's timing
// mode, and returns its report with BestMs and MedianMs set.
func Time(model, in, out string, o TimeOptions) (Result, error) {
	return runHarness(model, in, out, "--repeat", fmt.Sprint(max(o.Runs, 1)), "--timing",
		"--threads", fmt.Sprint(max(o.Threads, 1)), "--warmup", fmt.Sprint(max(o.Warmup, 0)),
		"--min-ms", fmt.Sprint(max(o.MinMs, 0)))
}

// RunFiles runs model (an .onnx path) on the float32 .npy file in, writes the
// first output to out (.npy) and returns the harness's report. repeat >= 1
// runs the session that many times for timing.
func RunFiles(model, in, out string, repeat int) (Result, error) {
	return runHarness(model, in, out, "--repeat", fmt.Sprint(max(repeat, 1)))
}

// runHarness runs run.js on one model with the given options.
func runHarness(model, in, out string, opts ...string) (Result, error) {
	if !Available() {
		return Result{}, errors.New("ort: node is not installed")
	}
	if err := Install(); err != nil {
		return Result{}, err
	}
	cmd := exec.Command("node", append([]string{filepath.Join(Dir(), "run.js"), model, in, out}, opts...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("ort: running %s: %v: %s", model, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return Result{}, fmt.Errorf("ort: bad harness output %q: %w", stdout.String(), err)
	}
	return r, nil
}

// Job is one model run for RunBatch.
type Job struct {
	Model string         // .onnx path
	X     *tensor.Tensor // input fed to the model's first input
}

// RunBatch runs every job in a single ONNX Runtime process (saving its
// start-up per model) and returns each job's first output, in order.
func RunBatch(jobs []Job) ([]*tensor.Tensor, error) {
	if !Available() {
		return nil, errors.New("ort: node is not installed")
	}
	if err := Install(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "slimgo-ort")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{filepath.Join(Dir(), "run.js")}
	for i, j := range jobs {
		in := filepath.Join(dir, fmt.Sprintf("in%d.npy", i))
		if err := npy.WriteFile(in, j.X); err != nil {
			return nil, err
		}
		args = append(args, j.Model, in, filepath.Join(dir, fmt.Sprintf("out%d.npy", i)))
	}
	cmd := exec.Command("node", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ort: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	outs := make([]*tensor.Tensor, len(jobs))
	for i := range jobs {
		if outs[i], err = npy.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.npy", i))); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// Run runs model (an .onnx path) on the .npy file in and returns the model's
// first output.
func Run(model, in string) (*tensor.Tensor, error) {
	dir, err := os.MkdirTemp("", "slimgo-ort")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.npy")
	if _, err := RunFiles(model, in, out, 1); err != nil {
		return nil, err
	}
	return npy.ReadFile(out)
}

// RunAll runs model on x (fed to its first input) and returns every output
// by name.
func RunAll(model string, x *tensor.Tensor) (map[string]*tensor.Tensor, error) {
	dir, in, err := tempInput(x)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r, err := runHarness(model, in, filepath.Join(dir, "out.npy"), "--all-outputs")
	if err != nil {
		return nil, err
	}
	if len(r.Outputs) == 0 {
		return nil, fmt.Errorf("ort: %s: the harness listed no outputs (is tools/ort/run.js older than --all-outputs?)", model)
	}
	outs := map[string]*tensor.Tensor{}
	for _, o := range r.Outputs {
		if outs[o.Name], err = npy.ReadFile(o.File); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// RunTensor runs model on x (written to a temporary .npy) and returns the
// first output.
func RunTensor(model string, x *tensor.Tensor) (*tensor.Tensor, error) {
	dir, in, err := tempInput(x)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return Run(model, in)
}

// tempInput writes x to in.npy in a new temporary directory, which the
// caller removes (also on error, when dir is not "").
func tempInput(x *tensor.Tensor) (dir, in string, err error) {
	if dir, err = os.MkdirTemp("", "slimgo-ort"); err != nil {
		return "", "", err
	}
	in = filepath.Join(dir, "in.npy")
	if err = npy.WriteFile(in, x); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, in, nil
}

// TimeJob is one model for TimeMany: its .onnx path and the .npy input it
// is fed (several jobs may share an input file).
type TimeJob struct {
	Model string
	In    string
}

// TimeMany times every job in one ONNX Runtime process (run.js's timing
// mode with several MODEL IN OUT triples), saving the runtime's start-up
// per model, and returns each job's report in order, BestMs and MedianMs
// set. Outputs go to out (one file, overwritten by each job).
func TimeMany(jobs []TimeJob, out string, o TimeOptions) ([]Result, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	if !Available() {
		return nil, errors.New("ort: node is not installed")
	}
	if err := Install(); err != nil {
		return nil, err
	}
	args := []string{filepath.Join(Dir(), "run.js")}
	for _, j := range jobs {
		args = append(args, j.Model, j.In, out)
	}
	args = append(args, "--repeat", fmt.Sprint(max(o.Runs, 1)), "--timing", "--threads", fmt.Sprint(max(o.Threads, 1)),
		"--warmup", fmt.Sprint(max(o.Warmup, 0)), "--min-ms", fmt.Sprint(max(o.MinMs, 0)))
	cmd := exec.Command("node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ort: timing %d models: %v: %s", len(jobs), err, bytes.TrimSpace(stderr.Bytes()))
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if len(lines) != len(jobs) {
		return nil, fmt.Errorf("ort: timing %d models, the harness reported %d", len(jobs), len(lines))
	}
	res := make([]Result, len(jobs))
	for i, l := range lines {
		if err := json.Unmarshal(l, &res[i]); err != nil {
			return nil, fmt.Errorf("ort: bad harness output %q: %w", l, err)
		}
		if !(res[i].BestMs > 0) {
			return nil, fmt.Errorf("ort: %s: the harness's report %s lacks the timing", jobs[i].Model, l)
		}
	}
	return res, nil
}

// Version returns the onnxruntime-node version installed in Dir() (from
// its package.json), "" when it cannot be read.
func Version() string {
	b, err := os.ReadFile(filepath.Join(Dir(), "node_modules", "onnxruntime-node", "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}
