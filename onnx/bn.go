package onnx

// BN folding lives in package graph (one rule, shared with the engine);
// these wrappers keep the onnx API.

import "github.com/slimgo/slimgo/graph"

// FoldBN returns a copy of g with every foldable BatchNormalization merged
// into the Conv before it; see graph.FoldBN.
func FoldBN(g *graph.Graph) (*graph.Graph, error) { return graph.FoldBN(g) }

// UnfoldBN returns a copy of g with an identity BatchNormalization after
// every Conv that has none; see graph.UnfoldBN.
func UnfoldBN(g *graph.Graph) (*graph.Graph, error) { return graph.UnfoldBN(g) }
