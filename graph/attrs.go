package graph

import (
	"maps"
	"slices"

	"github.com/slimgo/slimgo/tensor"
)

// Attrs holds a node's attributes. Values are int, []int, float32,
// []float32, string or *tensor.Tensor; the getters convert between int and
// float forms where that is lossless and return the default when absent.
type Attrs map[string]any

// Clone copies the map and its slices.
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	c := maps.Clone(a)
	for k, v := range c {
		switch x := v.(type) {
		case []int:
			c[k] = slices.Clone(x)
		case []float32:
			c[k] = slices.Clone(x)
		}
	}
	return c
}

// Int returns attribute name as an int.
func (a Attrs) Int(name string, def int) int {
	switch v := a[name].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float32:
		return int(v)
	}
	return def
}

// Float returns attribute name as a float32.
func (a Attrs) Float(name string, def float32) float32 {
	switch v := a[name].(type) {
	case float32:
		return v
	case float64:
		return float32(v)
	case int:
		return float32(v)
	}
	return def
}

// Ints returns attribute name as []int (a copy), or def.
func (a Attrs) Ints(name string, def []int) []int {
	switch v := a[name].(type) {
	case []int:
		return slices.Clone(v)
	case int:
		return []int{v}
	}
	return def
}

// Floats returns attribute name as []float32, or def.
func (a Attrs) Floats(name string, def []float32) []float32 {
	if v, ok := a[name].([]float32); ok {
		return slices.Clone(v)
	}
	return def
}

// String returns attribute name as a string, or def.
func (a Attrs) String(name string, def string) string {
	if v, ok := a[name].(string); ok {
		return v
	}
	return def
}

// Tensor returns a tensor attribute, or nil.
func (a Attrs) Tensor(name string) *tensor.Tensor {
	t, _ := a[name].(*tensor.Tensor)
	return t
}
