package rl

import (
	"bytes"
	"encoding/gob"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/slimgo/slimgo/internal/ckpt"
)

// searchCheckpoint runs a short search that checkpoints every 2 episodes
// and returns the agent config, the checkpoint path and the finished run.
func searchCheckpoint(t testing.TB) (Config, string, *SearchResult) {
	t.Helper()
	cfg := Config{StateDim: 4, Hidden: 8, Batch: 4, Seed: 3}
	ag, err := NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(t.TempDir(), "ddpg.ckpt")
	res, err := Search(toyEnv{target: []float64{0.2, 0.6}}, ag, SearchOptions{Episodes: 6, Warmup: 2, Checkpoint: ck, Every: 2})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ck, res
}

// encodeState wraps a search state in the checkpoint framing (internal/ckpt).
func encodeState(t testing.TB, st *searchState) []byte {
	t.Helper()
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(st); err != nil {
		t.Fatal(err)
	}
	return frame(body.Bytes())
}

func frame(body []byte) []byte { return searchFormat.Frame(body) }

func decodeState(t *testing.T, path string) searchState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st searchState
	if err := gob.NewDecoder(bytes.NewReader(b[ckpt.HeaderSize:])).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLoadSearchRejectsDamage: each damaged checkpoint is refused with an
// error wrapping ErrCorruptCheckpoint, and the agent is left as it was.
func TestLoadSearchRejectsDamage(t *testing.T) {
	cfg, ck, _ := searchCheckpoint(t)
	good, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(st *searchState)) []byte {
		st := decodeState(t, ck)
		f(&st)
		return encodeState(t, &st)
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)-3] ^= 1
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("NOT-A-CKPT!!"), good[12:]...)},
		{"truncated", good[:len(good)/2]},
		{"bit flip", flip},
		{"garbage body", frame([]byte("not gob at all"))},
		{"version 2", ckpt.Format{Magic: searchFormat.Magic, Version: 2}.Frame(good[ckpt.HeaderSize:])},
		{"actor tensor missing", mutate(func(st *searchState) {
			for k := range st.Actor {
				delete(st.Actor, k)
				break
			}
		})},
		{"critic tensor short", mutate(func(st *searchState) {
			for k := range st.Critic {
				st.Critic[k] = st.Critic[k][:1]
			}
		})},
		{"NaN weight", mutate(func(st *searchState) {
			for k := range st.ActorT {
				st.ActorT[k][0] = float32(nan())
			}
		})},
		{"replay capacity", mutate(func(st *searchState) { st.Replay.Cap = 0 })},
		{"replay position", mutate(func(st *searchState) { st.Replay.Next = st.Replay.Cap + 5 })},
		{"replay state size", mutate(func(st *searchState) { st.Replay.Items[0].S = []float64{1} })},
		{"replay NaN reward", mutate(func(st *searchState) { st.Replay.Items[1].R = nan() })},
		{"optimizer kind", mutate(func(st *searchState) { st.ActorO = st.ActorO[:3] })},
		{"random state", mutate(func(st *searchState) { st.RNG = []byte{1, 2} })},
		{"episode numbering", mutate(func(st *searchState) { st.Episodes[1].N = 7 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c")
			if err := os.WriteFile(p, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			ag, _ := NewAgent(cfg)
			before := ag.actor.params()
			res := &SearchResult{}
			err := loadSearch(p, ag, res)
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("err = %v, want ErrCorruptCheckpoint", err)
			}
			if !reflect.DeepEqual(before, ag.actor.params()) || len(res.Episodes) != 0 || ag.Replay.Len() != 0 {
				t.Errorf("a refused checkpoint changed the agent or result")
			}
		})
	}
}

func nan() float64 {
	var z float64
	return z / z
}

// TestSearchSkipsCorruptCheckpoint: with the newest checkpoint damaged the
// resume falls back to the previous one (reported in Skipped) and still
// ends with the episodes of an uninterrupted search; with both damaged it
// starts afresh and again ends the same.
func TestSearchSkipsCorruptCheckpoint(t *testing.T) {
	cfg, ck, want := searchCheckpoint(t)
	if _, err := os.Stat(ck + ".prev"); err != nil {
		t.Fatalf("no previous checkpoint kept: %v", err)
	}
	for _, tc := range []struct {
		name     string
		damage   []string
		resumed  int
		skipped  int
		episodes int
	}{
		{"newest damaged", []string{ck}, 4, 1, 8},
		{"both damaged", []string{ck, ck + ".prev"}, 0, 2, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.damage {
				if err := os.WriteFile(p, []byte("damaged"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Recreate the reference: 6 episodes, then extend to 8 both ways.
			full, _ := NewAgent(cfg)
			ref, err := Search(toyEnv{target: []float64{0.2, 0.6}}, full, SearchOptions{Episodes: tc.episodes, Warmup: 2})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Episodes {
				if !reflect.DeepEqual(ref.Episodes[i].Actions, want.Episodes[i].Actions) {
					t.Fatalf("reference run is not reproducible at episode %d", i)
				}
			}
			ag, _ := NewAgent(cfg)
			got, err := Search(toyEnv{target: []float64{0.2, 0.6}}, ag, SearchOptions{Episodes: tc.episodes, Warmup: 2, Checkpoint: ck, Every: 2, Resume: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.Resumed != tc.resumed || len(got.Skipped) != tc.skipped {
				t.Fatalf("resumed %d episodes, skipped %v; want %d resumed, %d skipped", got.Resumed, got.Skipped, tc.resumed, tc.skipped)
			}
			for _, e := range got.Skipped {
				if !errors.Is(e, ErrCorruptCheckpoint) {
					t.Errorf("skipped error %v does not wrap ErrCorruptCheckpoint", e)
				}
			}
			for i := range ref.Episodes {
				if !reflect.DeepEqual(got.Episodes[i].Actions, ref.Episodes[i].Actions) || got.Episodes[i].Reward != ref.Episodes[i].Reward {
					t.Fatalf("episode %d: %v, uninterrupted %v", i, got.Episodes[i].Actions, ref.Episodes[i].Actions)
				}
			}
		})
	}
}

// FuzzLoadSearch feeds arbitrary checkpoint files to loadSearch: no panic,
// every failure wraps ErrCorruptCheckpoint, and an accepted checkpoint
// leaves an agent that can act and learn. The body is encoding/gob behind a
// CRC-32; gob is not hardened against forged input (a forged map length
// allocates gigabytes), so the fuzzer gets whole files, where the CRC
// stops damage before gob runs; TestLoadSearchRejectsDamage covers
// well-formed bodies that do not fit the agent.
func FuzzLoadSearch(f *testing.F) {
	cfg, ck, _ := searchCheckpoint(f)
	good, err := os.ReadFile(ck)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(frame([]byte("\x03\x04\x00\x01")))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		p := filepath.Join(dir, "c")
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		ag, _ := NewAgent(cfg)
		res := &SearchResult{}
		if err := loadSearch(p, ag, res); err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("error %v does not wrap ErrCorruptCheckpoint", err)
			}
			return
		}
		if _, err := ag.Explore(make([]float64, cfg.StateDim), 0); err != nil {
			t.Fatalf("accepted checkpoint, then Explore: %v", err)
		}
		if ag.Replay.Len() > 0 {
			if _, _, err := ag.Update(); err != nil {
				t.Fatalf("accepted checkpoint, then Update: %v", err)
			}
		}
	})
}
