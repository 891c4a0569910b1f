package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig feeds arbitrary bytes to the compress config loader: it must
// either accept them or return a bad-input error (exit 2), never panic;
// validating whatever it accepted must not panic either, and the accepted
// config must hash and flatten for the report.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("seed: 3\nbatch: 64\nchannel:\n  method: slim\n  keep_params: 0.5\n"))
	f.Add([]byte(`{"sparse": {"epochs": 2, "lambda": 1e-4}, "quantize": {"clusters": 16}}`))
	f.Add([]byte("channel:\n  episodez: 4\n"))
	f.Add([]byte("seed: [1, 2\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("layer: {blocks: -1, score: mean}\nquantize: {method: exact, max_clusters: 300}\n"))
	f.Add([]byte("---\nseed: 1\n---\nseed: 2\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		if err := LoadConfig(p, &c); err != nil {
			var ie InputError
			if !errors.As(err, &ie) {
				t.Fatalf("config error is not bad input: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			var ie InputError
			if !errors.As(err, &ie) {
				t.Fatalf("validation error is not bad input: %v", err)
			}
			return
		}
		if c.hash() == "" || c.settings() == nil {
			t.Fatalf("accepted config does not hash or flatten: %+v", c)
		}
	})
}
