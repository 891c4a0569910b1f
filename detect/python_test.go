package detect

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const python = "/usr/bin/python3"

// runPython runs testdata/detect/<script> with /usr/bin/python3 from a
// temporary directory (so no repository folder shadows a module), sends
// req as JSON on stdin and decodes its JSON output into resp. It skips
// when python3 or one of the modules is missing.
func runPython(t *testing.T, script string, modules string, req, resp any) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python)
	}
	dir := t.TempDir()
	chk := exec.Command(python, "-c", "import "+modules)
	chk.Dir = dir
	if err := chk.Run(); err != nil {
		t.Skipf("python3 lacks %s", modules)
	}
	path, err := filepath.Abs(filepath.Join("..", "testdata", "detect", script))
	if err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, path)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("%s: bad output: %v\n%s", script, err, out)
	}
}
