package train

import (
	"strings"
	"testing"
)

func TestParseKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string // "" : an error naming the input
	}{
		{"optimizer default", func() (string, error) { k, err := ParseOptimizer(""); return string(k), err }, "sgd"},
		{"optimizer adamw", func() (string, error) { k, err := ParseOptimizer("adamw"); return string(k), err }, "adamw"},
		{"optimizer unknown", func() (string, error) { k, err := ParseOptimizer("rmsprop"); return string(k), err }, ""},
		{"schedule default", func() (string, error) { k, err := ParseSchedule(""); return string(k), err }, "onecycle"},
		{"schedule step", func() (string, error) { k, err := ParseSchedule("step"); return string(k), err }, "step"},
		{"schedule unknown", func() (string, error) { k, err := ParseSchedule("linear"); return string(k), err }, ""},
		{"progress default", func() (string, error) { k, err := ParseProgressMode(""); return string(k), err }, "auto"},
		{"progress lines", func() (string, error) { k, err := ParseProgressMode("lines"); return string(k), err }, "lines"},
		{"progress unknown", func() (string, error) { k, err := ParseProgressMode("fancy"); return string(k), err }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "unknown") {
					t.Errorf("got %q, %v; want an error", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
