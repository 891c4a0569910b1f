package pipeline

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := DefaultConfig()
	if err := LoadConfig(write("ok.yaml", "channel:\n  episodes: 7\nquantize:\n  clusters: 16\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Channel.Episodes != 7 || c.Quantize.Clusters != 16 || c.Channel.Warmup != DefaultConfig().Channel.Warmup {
		t.Fatalf("config not overlaid: %+v", c)
	}
	c = DefaultConfig()
	if err := LoadConfig(write("ok.json", `{"layer": {"blocks": 4}}`), &c); err != nil || c.Layer.Blocks != 4 {
		t.Fatalf("JSON config: %v, blocks %d", err, c.Layer.Blocks)
	}
	c = DefaultConfig()
	if err := LoadConfig(write("aug.yaml", "augment: crop,flip\n"), &c); err != nil || c.Augment != "crop,flip" || c.Validate() != nil {
		t.Fatalf("augment key: %v, %q", err, c.Augment)
	}
	c.Augment = "crop,zoom"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "zoom") {
		t.Fatalf("bad augment item accepted: %v", err)
	}
	c = DefaultConfig()
	if err := LoadConfig(write("detect.yaml", "detect: {lr: 1.0e-3, batch: 16}\n"), &c); err != nil || c.Validate() != nil || c.Detect.LR != 1e-3 || c.Detect.Batch != 16 {
		t.Fatalf("detect key: %v, %+v", err, c.Detect)
	}
	if c.Detect.Batch = 1; c.Validate() == nil {
		t.Fatal("detect.batch 1 accepted")
	}
	// Without the key a classifier's config hashes as before it existed.
	if strings.Contains(string(mustJSON(t, DefaultConfig())), "detect") {
		t.Fatal("the default config carries a detect key")
	}
	c = DefaultConfig()
	if err := LoadConfig(write("updates.yaml", "channel:\n  updates: 0\n"), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--updates") {
		t.Fatalf("channel.updates 0 accepted: %v", err)
	}
	if c = DefaultConfig(); c.ddpg().Updates != DefaultDDPGUpdates {
		t.Fatalf("the DDPG settings lose channel.updates: %+v", c.ddpg())
	}
	// An empty augment leaves the hash of configs written before the key
	// existed unchanged, so their runs still resume.
	if d := DefaultConfig(); strings.Contains(string(mustJSON(t, d)), "augment") {
		t.Fatalf("default config serialises augment: %s", mustJSON(t, d))
	}
	for name, body := range map[string]string{
		"unknown.yaml": "channel:\n  episodez: 7\n",
		"bad.yaml":     "channel: [unclosed\n",
		"type.yaml":    "seed: banana\n",
	} {
		c := DefaultConfig()
		err := LoadConfig(write(name, body), &c)
		var ie InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: err %v, want a bad-input error", name, err)
		}
		if name == "unknown.yaml" && (!strings.Contains(err.Error(), "line 2: unknown key episodez") || strings.Contains(err.Error(), "struct")) {
			t.Errorf("unknown key: %v, want the key named, not its Go type", err)
		}
	}
	bad := DefaultConfig()
	bad.Quantize.MinSize = -1
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "min_size") {
		t.Errorf("quantize.min_size -1: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConfigGuardKeys: quantize.guard, max_loss and val_size parse, the
// defaults turn the guard on at 0.5 points, and a negative or NaN
// tolerance or an empty validation split is a bad-input error.
func TestConfigGuardKeys(t *testing.T) {
	if d := DefaultConfig().Quantize; !d.Guard || d.MaxLoss != DefaultMaxLoss || d.ValSize != DefaultGuardValSize || DefaultMaxLoss != 0.5 {
		t.Fatalf("default quantize config %+v: want the guard on at 0.5 points", d)
	}
	p := t.TempDir() + "/g.yaml"
	if err := os.WriteFile(p, []byte("quantize:\n  max_loss: 0.25\n  val_size: 500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := LoadConfig(p, &c); err != nil || c.Quantize.MaxLoss != 0.25 || c.Quantize.ValSize != 500 || !c.Quantize.Guard || c.Validate() != nil {
		t.Fatalf("max_loss/val_size: %v %+v", err, c.Quantize)
	}
	if err := os.WriteFile(p, []byte(`{"quantize": {"guard": false, "max_loss": -1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c = DefaultConfig()
	if err := LoadConfig(p, &c); err != nil || c.Quantize.Guard || c.Validate() != nil {
		t.Fatalf("guard: false (a tolerance it does not use is not checked): %v %+v", err, c.Quantize)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Quantize.MaxLoss = -0.1 },
		func(c *Config) { c.Quantize.MaxLoss = math.NaN() },
		func(c *Config) { c.Quantize.ValSize = 0 },
	} {
		c := DefaultConfig()
		bad(&c)
		var ie InputError
		if err := c.Validate(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "max_loss") {
			t.Errorf("%+v: err %v, want a bad-input error naming max_loss", c.Quantize, err)
		}
	}
}

// TestConfigKeepLatency: channel.keep_latency parses, splits into
// channel.steps like the other budgets, stays out of the serialised config
// (and so of the resume hash) when 0, and is refused outside [0, 1), as
// NaN and without channel.method ddpg.
func TestConfigKeepLatency(t *testing.T) {
	if strings.Contains(string(mustJSON(t, DefaultConfig())), "keep_latency") {
		t.Fatal("the default config serialises keep_latency: older runs' hashes would change")
	}
	p := t.TempDir() + "/l.yaml"
	if err := os.WriteFile(p, []byte("channel:\n  keep_params: 0\n  keep_latency: 0.5\n  steps: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := LoadConfig(p, &c); err != nil || c.Channel.KeepLatency != 0.5 || c.Validate() != nil {
		t.Fatalf("keep_latency 0.5 with 2 steps: %v %+v", err, c.Channel)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Channel.KeepLatency = -0.1 },
		func(c *Config) { c.Channel.KeepLatency = 1 },
		func(c *Config) { c.Channel.KeepLatency = math.NaN() },
		func(c *Config) { c.Channel.KeepLatency, c.Channel.Method = 0.5, "slim" },
	} {
		c := DefaultConfig()
		bad(&c)
		var ie InputError
		if err := c.Validate(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "keep_latency") {
			t.Errorf("%+v: err %v, want a bad-input error naming keep_latency", c.Channel, err)
		}
	}
}
