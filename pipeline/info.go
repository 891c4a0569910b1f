package pipeline

import (
	"fmt"
	"sort"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
)

// InfoOptions configure Info (Verbose lists layers and groups on the log).
type InfoOptions struct {
	Model   string
	Verbose bool
	JSON    bool
}

// Info describes a model: params, MACs, bytes, layers, op histogram,
// prunable groups, residual blocks, input shape and preprocessing; for a
// detector also its task, strides, classes and outputs.
func Info(e *Env, o *InfoOptions) (map[string]any, error) {
	g, err := loadModel(o.Model)
	if err != nil {
		return nil, err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return nil, AsInput(err)
	}
	layers := 0
	for _, n := range st.Nodes {
		if n.Op == graph.OpConv || n.Op == graph.OpGemm {
			layers++
		}
	}
	groups, gerr := prune.Groups(g)
	blocks, berr := prune.Blocks(g)
	summary := map[string]any{
		"params":          st.Params,
		"macs":            st.MACs,
		"bytes":           fileSize(o.Model),
		"layers":          layers,
		"nodes":           len(st.Nodes),
		"ops":             st.Ops,
		"prunable_groups": len(groups),
		"residual_blocks": len(blocks),
		"input":           g.Inputs[0].Shape,
	}
	if gerr != nil {
		summary["prunable_groups_error"] = gerr.Error()
	}
	if berr != nil {
		summary["residual_blocks_error"] = berr.Error()
	}
	var removable []string
	for _, b := range blocks {
		if b.Removable {
			removable = append(removable, b.Name)
		}
	}
	sort.Strings(removable)
	summary["removable_blocks"] = removable
	if p := modelPrep(g); p != nil {
		summary["preprocessing"] = p
	}
	if b, ok := g.Meta[onnx.MetaFileBatch]; ok {
		summary["file_batch"] = b // the file fixed the batch; slimgo runs it at any batch
	}
	if IsDetector(g) {
		detInfo(g, summary)
	}
	if o.Verbose && !o.JSON {
		for _, n := range st.Nodes {
			fmt.Fprintf(e.Log, "%-28s %-20s out %-18v params %-8d MACs %d\n", n.Name, n.Op, n.Out, n.Params, n.MACs)
		}
		for _, grp := range groups {
			fmt.Fprintln(e.Log, grp.Details())
		}
	}
	return summary, nil
}
