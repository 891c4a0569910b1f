package cli

import (
	"fmt"
	"sort"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/onnx"
	"github.com/slimgo/slimgo/prune"
)

type infoOptions struct {
	Model   string
	Verbose bool
	JSON    bool
}

func parseInfo(e *env, args []string) (*infoOptions, error) {
	o := &infoOptions{}
	fs := newFlags("info", e.stderr)
	fs.StringVar(&o.Model, "model", "", "ONNX model (required)")
	fs.BoolVar(&o.Verbose, "v", false, "also list every layer and every prunable group")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if o.Model == "" {
		return nil, badInput("--model is required")
	}
	return o, nil
}

func runInfo(e *env, args []string) error {
	o, err := parseInfo(e, args)
	if err != nil {
		return err
	}
	g, err := loadModel(o.Model)
	if err != nil {
		return err
	}
	st, err := g.ComputeStats()
	if err != nil {
		return asInput(err)
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
	if o.Verbose && !o.JSON {
		for _, n := range st.Nodes {
			fmt.Fprintf(e.stderr, "%-28s %-20s out %-18v params %-8d MACs %d\n", n.Name, n.Op, n.Out, n.Params, n.MACs)
		}
		for _, grp := range groups {
			fmt.Fprintln(e.stderr, grp.Details())
		}
	}
	return emit(e, o.JSON, summary)
}
