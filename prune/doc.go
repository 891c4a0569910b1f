// Package prune removes channels and residual blocks from a graph.Graph for
// real: the returned graph has smaller tensors (fewer parameters and MACs),
// not masks.
//
// # Channel groups
//
// Groups analyses the graph's dataflow and returns the sets of channels that
// must be removed together (the DepGraph idea). A Group lists its Members:
// every tensor axis touched by the group's channels, e.g. the producing
// Conv's filters (W axis 0 and bias), its BatchNormalization, a depthwise
// Conv passing the channels through, and every consumer's input slice (Conv W
// axis 1, the Gemm columns of a flattened map). Channels joined by a
// residual Add fall into one group together with every producer feeding the
// add chain. Concat maps its output channels to its inputs' channels, so the
// consumers of a concatenation appear, at the right offsets, in the groups of
// the concatenated producers.
//
// Every op has a coupling kind in its graph spec (graph.OpSpec.Coupling);
// groups.go has one rule per kind.
// An op without a rule is an error naming the node. Some nodes are barriers:
// Reshape, Concat on an axis other than 1, grouped (non-depthwise)
// convolution, a Conv/BN/Gemm whose weights are not parameters, and a
// flattened map reaching anything but a Gemm or an elementwise op. A barrier
// makes the channels it reads (and the groups they belong to) unprunable.
// The channels of graph inputs and graph outputs are never pruned.
//
// # Importance, selection and surgery
//
// Importance scores a group's channels by BN |gamma| (mean, sum or max over
// the group's BNs) or, for groups without a BN, by the L1 norm of the
// producing filters. KeepByRatio, SlimPlan, SlimPlanParams and PlanByRatios
// turn scores into a Plan (the channel indices each group keeps), and Apply
// performs the surgery on a copy of the graph.
//
// # Layer pruning
//
// Blocks finds residual blocks (an Add of a value x and a conv/BN/activation
// branch computed from x); RemoveBlocks deletes a block's branch so that the
// Add's consumers read x directly, and PlanLayerPrune picks the weakest
// blocks by the BN |gamma| of their 3x3 convolution.
package prune
