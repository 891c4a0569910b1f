package ckpt

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testFormat = Format{Magic: "TESTCKPT", Version: 3, Name: "test checkpoint"}

func TestFrameRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("abc"), 1000)} {
		b := testFormat.Frame(payload)
		if len(b) != HeaderSize+len(payload) {
			t.Fatalf("frame of %d bytes is %d long", len(payload), len(b))
		}
		got, err := testFormat.Unframe(b)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Unframe = %q, %v; want %q", got, err, payload)
		}
	}
}

func TestUnframeFaults(t *testing.T) {
	good := testFormat.Frame([]byte("some payload bytes"))
	flip := bytes.Clone(good)
	flip[len(flip)-2] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a test checkpoint (bad header)"},
		{"other magic", append([]byte("OTHERMAG"), good[8:]...), "bad header"},
		{"other version", Format{Magic: "TESTCKPT", Version: 4}.Frame([]byte("p")), "version 4, this build reads version 3"},
		{"truncated", good[:len(good)-1], "truncated"},
		{"bit flip", flip, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := testFormat.Unframe(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteKeepsPreviousAndLatestFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.ckpt")
	load := func(file string) (string, error) {
		var got string
		used, failed := Latest(file, func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			pl, err := testFormat.Unframe(b)
			got = string(pl)
			return err
		})
		if len(failed) > 0 {
			return used + " " + got, errors.Join(failed...)
		}
		return used + " " + got, nil
	}
	if s, err := load(path); s != " " || err != nil {
		t.Fatalf("no files: %q, %v", s, err)
	}
	for _, p := range []string{"one", "two"} {
		if err := testFormat.Write(path, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := load(path); s != path+" two" || err != nil {
		t.Fatalf("got %q, %v; want the newest", s, err)
	}
	if err := os.WriteFile(path, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := load(path); s != path+PrevSuffix+" one" || err == nil {
		t.Fatalf("got %q, %v; want the previous file and the newest's fault", s, err)
	}
}
