package train

import (
	"reflect"
	"testing"

	"github.com/slimgo/slimgo/engine"
)

// TestSnapshotReusesBuffers: a snapshot taken into the previous one's
// buffers (the run's end-of-epoch copy) equals a fresh one, parameters,
// optimizer state and checkpoint alike, for SGD and Adam, writes into the
// old buffers, and restores the model and optimizer it was taken from.
func TestSnapshotReusesBuffers(t *testing.T) {
	set := separable(16, 1)
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7}
	x, labels := set.Batch(idx, nil, nil, nil)
	b := Batch{X: x, Labels: labels, Index: idx}
	for _, o := range []Optimizer{&SGD{Momentum: 0.9}, NewAdam(0.01)} {
		g := mlp(4, 1)
		exec, err := engine.New(g)
		if err != nil {
			t.Fatal(err)
		}
		s := &stepper{g: g, exec: exec, loss: CrossEntropy{}, optim: o}
		ck := &Checkpoint{Epoch: 1, Result: Result{Epochs: []EpochStats{{Epoch: 1}}}}
		stepOnce := func() {
			if r, err := s.step(b, Hyper{LR: 0.1}); err != nil || r.Bad != "" {
				t.Fatalf("step: %v %q", err, r.Bad)
			}
		}
		stepOnce()
		prev := snapshot(g, o, ck, nil)
		old := &prev.params["fc1.w"][0]
		stepOnce()
		ck.Epoch = 2
		ck.Result.Epochs = append(ck.Result.Epochs, EpochStats{Epoch: 2})
		want := snapshot(g, o, ck, nil)
		got := snapshot(g, o, ck, prev)
		if got != prev || &got.params["fc1.w"][0] != old {
			t.Errorf("%T: the snapshot did not reuse the previous one's buffers", o)
		}
		if !reflect.DeepEqual(got.params, want.params) || !reflect.DeepEqual(got.opt, want.opt) || !reflect.DeepEqual(got.ck, want.ck) {
			t.Fatalf("%T: the reused snapshot differs from a fresh one", o)
		}
		wantParams := flatParams(g)
		stepOnce()
		restore(g, o, ck, got)
		if !reflect.DeepEqual(flatParams(g), wantParams) || !reflect.DeepEqual(o.State(), want.opt) {
			t.Errorf("%T: restore did not bring back the snapshot", o)
		}
	}
}
