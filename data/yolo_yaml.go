package data

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DataYAML is what slimgo reads of an ultralytics data.yaml.
type DataYAML struct {
	// Path is the data set's root ("" when absent); Train and Val the
	// image folders of the splits, relative to it ("" when absent).
	Path, Train, Val string
	// Names are the class names by index.
	Names []string
}

// MaxClasses bounds the number of classes a data.yaml or classes.txt may
// declare.
const MaxClasses = 100000

// ParseDataYAML parses an ultralytics data.yaml (name is used in errors).
// names is a YAML list (block or flow, `[a, b]`) or a mapping
// `index: name` whose indices are 0..n-1, each once, in any order; nc,
// when present, must equal the number of names (nc alone names the
// classes "0", "1", ...). path, train and val are optional strings; other
// keys (test, download, ...) are ignored, as ultralytics ignores what it
// does not use. A train or val given as a list of folders is an error
// (one folder per split is supported).
//
// Errors: not YAML, not a mapping, no names and no nc, a bad names entry,
// nc disagreeing with names, more than MaxClasses classes.
func ParseDataYAML(b []byte, name string) (d *DataYAML, err error) {
	defer func() { // the YAML decoder must not take the process down
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%s: unreadable YAML (%v)", name, p)
		}
	}()
	var raw struct {
		Path  yaml.Node `yaml:"path"`
		Train yaml.Node `yaml:"train"`
		Val   yaml.Node `yaml:"val"`
		NC    yaml.Node `yaml:"nc"`
		Names yaml.Node `yaml:"names"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d = &DataYAML{}
	for _, s := range []struct {
		key string
		n   *yaml.Node
		dst *string
	}{{"path", &raw.Path, &d.Path}, {"train", &raw.Train, &d.Train}, {"val", &raw.Val, &d.Val}} {
		if s.n.Kind == 0 || (s.n.Kind == yaml.ScalarNode && s.n.Tag == "!!null") {
			continue
		}
		if s.n.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s:%d: %s must be one folder (a string)", name, s.n.Line, s.key)
		}
		*s.dst = s.n.Value
	}
	if d.Names, err = yamlNames(&raw.Names, name); err != nil {
		return nil, err
	}
	if raw.NC.Kind != 0 {
		nc, err := strconv.Atoi(raw.NC.Value)
		if raw.NC.Kind != yaml.ScalarNode || err != nil || nc <= 0 || nc > MaxClasses {
			return nil, fmt.Errorf("%s:%d: nc %q is not a class count in 1..%d", name, raw.NC.Line, raw.NC.Value, MaxClasses)
		}
		switch {
		case d.Names == nil:
			for i := range nc {
				d.Names = append(d.Names, strconv.Itoa(i))
			}
		case nc != len(d.Names):
			return nil, fmt.Errorf("%s: nc is %d but names lists %d classes", name, nc, len(d.Names))
		}
	}
	if len(d.Names) == 0 {
		return nil, fmt.Errorf("%s: no class names (want a names: list or mapping, or nc)", name)
	}
	return d, nil
}

// yamlNames reads the names node: a sequence of scalars or a mapping of
// indices 0..n-1 to scalars. An absent node gives nil.
func yamlNames(n *yaml.Node, name string) ([]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.SequenceNode:
		if len(n.Content) > MaxClasses {
			return nil, fmt.Errorf("%s:%d: %d names exceed %d", name, n.Line, len(n.Content), MaxClasses)
		}
		out := make([]string, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: names entry %d is not a plain name", name, c.Line, i)
			}
			out[i] = c.Value
		}
		return out, nil
	case yaml.MappingNode:
		k := len(n.Content) / 2
		if k > MaxClasses {
			return nil, fmt.Errorf("%s:%d: %d names exceed %d", name, n.Line, k, MaxClasses)
		}
		out := make([]string, k)
		seen := make([]bool, k)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			idx, err := strconv.Atoi(key.Value)
			if key.Kind != yaml.ScalarNode || err != nil || idx < 0 || idx >= k {
				return nil, fmt.Errorf("%s:%d: names key %q is not a class index in 0..%d", name, key.Line, key.Value, k-1)
			}
			if seen[idx] {
				return nil, fmt.Errorf("%s:%d: class %d named twice", name, key.Line, idx)
			}
			if val.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: name of class %d is not a plain name", name, val.Line, idx)
			}
			seen[idx], out[idx] = true, val.Value
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s:%d: names must be a list or an index: name mapping", name, n.Line)
}

// ParseClassesTxt reads a classes.txt: one class name per line, index =
// line order; blank lines at the end are ignored, blank lines in between
// are an error (they would shift every later index).
func ParseClassesTxt(b []byte, name string) ([]string, error) {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n \t"), "\n")
	if len(lines) > MaxClasses {
		return nil, fmt.Errorf("%s: %d names exceed %d", name, len(lines), MaxClasses)
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
		if lines[i] == "" {
			return nil, fmt.Errorf("%s:%d: empty class name", name, i+1)
		}
	}
	return lines, nil
}
