package pipeline

import (
	"encoding/json"
	"errors"
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
