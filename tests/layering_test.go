package tests

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLayering keeps the dependency rules of docs/project-layout.md: the
// command line goes through the pipeline (it imports none of rl, prune,
// cluster, train), and the DDPG code knows neither training nor data.
func TestLayering(t *testing.T) {
	const mod = "github.com/slimgo/slimgo/"
	for dir, banned := range map[string][]string{
		"internal/cli": {"rl", "prune", "cluster", "train", "engine"},
		"rl":           {"train", "data", "pipeline"},
		"pipeline":     {"internal/cli"},
		"graph":        {"engine", "onnx", "prune", "train"},
		// detect is geometry and scoring only: any package may use it.
		"detect": {"tensor", "graph", "engine", "nn", "data", "train", "onnx", "prune", "rl", "pipeline"},
	} {
		imports := map[string]string{}
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range af.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				imports[strings.TrimPrefix(p, mod)] = filepath.Base(f)
			}
		}
		for _, b := range banned {
			if f, ok := imports[b]; ok {
				t.Errorf("%s imports %s (in %s); see docs/project-layout.md", dir, b, f)
			}
		}
	}
}
