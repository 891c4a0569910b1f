package graph

import "testing"

func TestIndex(t *testing.T) {
	g := New("t")
	g.Inputs = []Value{{"x", []int{1, 1}}}
	a := &Node{Name: "a", Op: OpRelu, Inputs: []string{"x"}, Outputs: []string{"y"}}
	b := &Node{Name: "b", Op: OpAdd, Inputs: []string{"y", "y"}, Outputs: []string{"z"}}
	c := &Node{Name: "c", Op: OpGemm, Inputs: []string{"z", "w", ""}, Outputs: []string{"u"}}
	g.Nodes = []*Node{a, b, c}
	g.Outputs = []Value{{"z", nil}, {"u", nil}}
	ix := NewIndex(g, nil)
	tests := []struct {
		name      string
		v         string
		producer  *Node
		consumers int
		readers   int
		output    bool
	}{
		{"input", "x", nil, 1, 1, false},
		{"read twice by one node", "y", a, 2, 2, false},
		{"read and a graph output", "z", b, 1, 2, true},
		{"graph output only", "u", c, 0, 1, true},
		{"absent input is no value", "", nil, 0, 0, false},
	}
	for _, tc := range tests {
		if ix.Producer(tc.v) != tc.producer || len(ix.Consumers(tc.v)) != tc.consumers ||
			ix.Readers(tc.v) != tc.readers || ix.IsOutput(tc.v) != tc.output {
			t.Errorf("%s: producer %v, %d consumers, %d readers, output %v", tc.name,
				ix.Producer(tc.v), len(ix.Consumers(tc.v)), ix.Readers(tc.v), ix.IsOutput(tc.v))
		}
	}
}
