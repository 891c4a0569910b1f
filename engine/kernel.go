// Package engine executes a graph.Graph: forward in inference or training
// mode, then backward through the recorded pass, accumulating parameter
// gradients. Each op lives in its own file (op_*.go) with Forward and
// Backward side by side and registers itself in the op table.
package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/slimgo/slimgo/graph"
	"github.com/slimgo/slimgo/tensor"
)

// Ctx is the per-pass context handed to kernels.
type Ctx struct {
	Train bool       // training mode: batch statistics, dropout, state saved for Backward
	RNG   *rand.Rand // randomness for training-mode ops (dropout); never nil in training
	pool  *Pool
	conv  *convScratch // the fused Convs' shared per-worker buffers, or nil
}

// Alloc returns a zeroed tensor of the given shape, recycled from the pass's
// pool when one is set. Tensors from Alloc stay valid until the executor's
// next Run.
func (c *Ctx) Alloc(shape ...int) *tensor.Tensor {
	if c == nil || c.pool == nil {
		return tensor.New(shape...)
	}
	return c.pool.Get(shape...)
}

// allocRaw is Alloc without the zeroing, for kernels that write every
// element of the result: a recycled tensor keeps its old contents.
func (c *Ctx) allocRaw(shape ...int) *tensor.Tensor {
	if c == nil || c.pool == nil {
		return tensor.New(shape...)
	}
	return c.pool.get(false, shape...)
}

// Kernel is the compiled form of one node. A kernel instance runs once per
// pass and may keep in its own fields whatever Backward needs from the last
// training-mode Forward; an executor is therefore not safe for concurrent use.
type Kernel interface {
	// Forward computes the node's outputs from its inputs (parameters included,
	// in the node's input order; absent optional inputs are nil).
	Forward(ctx *Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error)
	// Backward returns d loss / d input for every input with need[i] true
	// (nil elsewhere), given the inputs and outputs of the last Forward and the
	// gradient of each output (nil for an output nothing reads).
	Backward(ctx *Ctx, in, out, gout []*tensor.Tensor, need []bool) ([]*tensor.Tensor, error)
}

// Factory builds a kernel for a node; it may check attributes and errors
// name the node, its op and the attribute at fault.
type Factory func(n *graph.Node) (Kernel, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register adds an op to the table. It panics on a duplicate (a programmer error).
func Register(op string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[op]; dup {
		panic("engine: op registered twice: " + op)
	}
	registry[op] = f
}

// Supported returns the registered op names, sorted.
func Supported() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	var ops []string
	for k := range registry {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

// Compile builds the kernel for one node.
func Compile(n *graph.Node) (Kernel, error) {
	regMu.RLock()
	f := registry[n.Op]
	regMu.RUnlock()
	if n.Op == OpFusedConv {
		f = newFusedConv
	}
	if f == nil {
		return nil, fmt.Errorf("node %q: unsupported op %q", n.Name, n.Op)
	}
	return f(n)
}

// Pool recycles tensors across passes and, for an executor with
// SetRecycle, within one. A request takes the most recently freed buffer
// that holds it without wasting more than half of it, so an inference
// pass writes each new value into memory that was just read (and is
// likely still in L2) instead of the buffer of that exact size from the
// pass before (cold by then: a 224x224 mobilenet_v2's every value has a
// size of its own).
type Pool struct {
	free  []*tensor.Tensor // freed buffers, the most recent last
	used  []*tensor.Tensor
	at    map[*tensor.Tensor]int      // index of a used tensor in used
	owner map[*float32]*tensor.Tensor // used tensors by their first element
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{at: map[*tensor.Tensor]int{}, owner: map[*float32]*tensor.Tensor{}}
}

// Get returns a zeroed tensor of the shape.
func (p *Pool) Get(shape ...int) *tensor.Tensor { return p.get(true, shape...) }

// get returns a tensor of the shape, recycled when a free buffer of
// between n and 2n floats exists (the last one freed first); zero says
// whether a recycled tensor is cleared.
func (p *Pool) get(zero bool, shape ...int) *tensor.Tensor {
	n := tensor.Size(shape)
	var t *tensor.Tensor
	for i := len(p.free) - 1; i >= 0; i-- {
		if c := cap(p.free[i].Data); c >= n && c <= 2*n {
			t = p.free[i]
			p.free = append(p.free[:i], p.free[i+1:]...)
			break
		}
	}
	if t != nil {
		t.Data = t.Data[:n]
		if zero {
			clear(t.Data)
		}
		t.Shape = append(t.Shape[:0], shape...)
	} else {
		t = tensor.New(shape...)
	}
	p.at[t] = len(p.used)
	p.used = append(p.used, t)
	if len(t.Data) > 0 {
		p.owner[&t.Data[0]] = t
	}
	return t
}

// ownerOf returns the used tensor whose buffer t views (nil if none).
func (p *Pool) ownerOf(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || len(t.Data) == 0 {
		return nil
	}
	return p.owner[&t.Data[0]]
}

// release hands the used tensor t back before the next Reset: the next
// get it fits returns it.
func (p *Pool) release(t *tensor.Tensor) {
	i, ok := p.at[t]
	if !ok {
		return
	}
	last := len(p.used) - 1
	p.used[i] = p.used[last]
	p.at[p.used[i]] = i
	p.used = p.used[:last]
	delete(p.at, t)
	if len(t.Data) > 0 {
		delete(p.owner, &t.Data[0])
	}
	p.free = append(p.free, t)
}

// Reset returns every tensor handed out since the last Reset to the pool.
func (p *Pool) Reset() {
	p.free = append(p.free, p.used...)
	p.used = p.used[:0]
	clear(p.at)
	clear(p.owner)
}
