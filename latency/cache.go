package latency

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/slimgo/slimgo/internal/atomicfile"
	"github.com/slimgo/slimgo/internal/ort"
)

// CacheVersion changes when the entries' meaning changes (the timing
// settings, the one-layer models), so old caches are not reused.
const CacheVersion = 1

// DefaultCacheDir is where tables are cached: $SLIMGO_LATENCY_CACHE when
// set, else slimgo/latency under the user cache directory
// (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux), else under the
// temporary directory.
func DefaultCacheDir() string {
	if d := os.Getenv("SLIMGO_LATENCY_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "slimgo", "latency")
	}
	return filepath.Join(os.TempDir(), "slimgo-latency")
}

// Machine describes what the entries depend on: CPU model and count, OS
// and architecture, host name, the onnxruntime-node version and the
// cache version. Its hash names the cache file.
func Machine() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		"cpu": cpuModel(), "cpus": fmt.Sprint(runtime.NumCPU()), "os": runtime.GOOS, "arch": runtime.GOARCH,
		"host": host, "onnxruntime": ort.Version(), "version": fmt.Sprint(CacheVersion), "threads": "1",
	}
}

// cpuModel is /proc/cpuinfo's first "model name", "" elsewhere.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cache is one machine's file of entries: shape key -> milliseconds.
type cache struct {
	path    string
	Machine map[string]string  `json:"machine"`
	Entries map[string]float64 `json:"entries"`
}

// openCache reads (or starts) this machine's cache file in dir. An
// unreadable or damaged file is started afresh (its entries are measured
// again).
func openCache(dir string) (*cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("latency: cache directory: %w", err)
	}
	m := Machine()
	b, _ := json.Marshal(m)
	h := sha256.Sum256(b)
	c := &cache{path: filepath.Join(dir, "lut-"+hex.EncodeToString(h[:])[:16]+".json"), Machine: m}
	c.Entries = readEntries(c.path)
	return c, nil
}

func readEntries(path string) map[string]float64 {
	var old cache
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &old) == nil && old.Entries != nil {
		return old.Entries
	}
	return map[string]float64{}
}

// save writes the entries atomically, merged with what another process
// may have added to the file meanwhile.
func (c *cache) save() error {
	for k, v := range readEntries(c.path) {
		if _, ok := c.Entries[k]; !ok {
			c.Entries[k] = v
		}
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(c.path, append(b, '\n')); err != nil {
		return fmt.Errorf("latency: writing the cache: %w", err)
	}
	return nil
}
