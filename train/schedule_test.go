package train

import (
	"math"
	"testing"
)

func TestSchedules(t *testing.T) {
	type pt struct {
		step int
		want float64
	}
	for _, tc := range []struct {
		name  string
		s     Schedule
		total int
		pts   []pt
	}{
		{"constant", Constant(0.3), 10, []pt{{0, 0.3}, {9, 0.3}}},
		{"step", StepDecay(1, []int{3, 6}, 0.1), 10, []pt{{0, 1}, {2, 1}, {3, 0.1}, {5, 0.1}, {6, 0.01}, {9, 0.01}}},
		// warm-up lr*(s+1)/w for s < w; then cos from lr at step w to minLR at total-1.
		{"cosine warm-up", CosineWarmup(1, 0, 4), 15, []pt{{0, 0.25}, {1, 0.5}, {3, 1}, {4, 1}, {9, 0.5}, {14, 0}}},
		{"cosine min", CosineWarmup(2, 0.2, 0), 11, []pt{{0, 2}, {5, 1.1}, {10, 0.2}}},
		// PyTorch 1.13 OneCycleLR(max_lr=0.1, total_steps=100), defaults.
		{"onecycle torch", OneCycle(0.1, 0.3, 25, 1e4), 100, []pt{{0, 0.0040000000000000036}, {1, 0.004281378056590748},
			{10, 0.029516394846410082}, {29, 0.1}, {30, 0.09994965352845243}, {50, 0.0793893450575732}, {99, 4e-07}}},
		// OneCycleLR(max_lr=0.5, total_steps=37, pct_start=0.25): a fractional phase end.
		{"onecycle torch fractional", OneCycle(0.5, 0.25, 25, 1e4), 37, []pt{{0, 0.020000000000000018}, {3, 0.16030039687954722},
			{8, 0.4989132614175403}, {9, 0.49909937573814306}, {20, 0.3095654095971998}, {36, 2e-06}}},
		// The momentum PyTorch 1.13's OneCycleLR sets in those two runs (cycle_momentum default on).
		{"onecycle momentum torch", OneCycleMomentum(0.85, 0.95, 0.3), 100, []pt{{0, 0.95}, {1, 0.9497068978577179},
			{10, 0.9234204220349895}, {29, 0.85}, {30, 0.8500503466729342}, {50, 0.8706107373853763}, {99, 0.95}}},
		{"onecycle momentum torch fractional", OneCycleMomentum(0.85, 0.95, 0.25), 37, []pt{{0, 0.95}, {3, 0.9207707506500943},
			{8, 0.8502264038713457}, {9, 0.8501801255728737}, {20, 0.8880870704288417}, {36, 0.95}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.pts {
				if got := tc.s(p.step, tc.total); math.Abs(got-p.want) > 1e-12 {
					t.Errorf("step %d: %.15g, want %.15g", p.step, got, p.want)
				}
			}
		})
	}
}

func TestScheduleConfig(t *testing.T) {
	s, err := ScheduleConfig{Name: "step", LR: 1}.Build(4, 10) // milestones at epochs 2 and 3
	if err != nil {
		t.Fatal(err)
	}
	for step, want := range map[int]float64{19: 1, 20: 0.1, 29: 0.1, 30: 0.01} {
		if got := s(step, 40); math.Abs(got-want) > 1e-12 {
			t.Errorf("step schedule at %d: %g, want %g", step, got, want)
		}
	}
	s, err = ScheduleConfig{Name: "onecycle", LR: 1, WarmupEpochs: 1}.Build(4, 10) // peak at step 9
	if err != nil {
		t.Fatal(err)
	}
	if got := s(9, 40); got != 1 {
		t.Errorf("onecycle peak %g at step 9", got)
	}
	for _, bad := range []ScheduleConfig{{Name: "linear", LR: 1}, {Name: "cosine", LR: 0}, {Name: "cosine", LR: 1, WarmupEpochs: 9}} {
		if _, err := bad.Build(4, 10); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestPlanDrivesMomentum: a Plan built with momentum cycling sets the
// one-cycle rate (scaled) and PyTorch's momentum cycle on any optimizer
// through the Optimizer interface; without cycling it leaves momentum.
func TestPlanDrivesMomentum(t *testing.T) {
	sc := ScheduleConfig{Name: ScheduleOneCycle, LR: 0.1}
	p, err := sc.Plan(2, 50, true)
	if err != nil {
		t.Fatal(err)
	}
	lr, mom := OneCycle(0.1, 0.3, 25, 1e4), OneCycleMomentum(0.85, 0.95, 0.3)
	for _, step := range []int{0, 29, 60, 99} {
		h := p.At(step, 0.5)
		if h.LR != lr(step, 100)*0.5 || !h.HasMomentum || h.Momentum != mom(step, 100) {
			t.Errorf("step %d: %+v, want lr %g momentum %g", step, h, lr(step, 100)*0.5, mom(step, 100))
		}
		sgd, adam := &SGD{Momentum: 0.9}, NewAdam(1)
		h.Apply(sgd)
		h.Apply(adam)
		if sgd.LR != h.LR || sgd.Momentum != h.Momentum || adam.LR != h.LR || adam.Beta1 != h.Momentum {
			t.Errorf("step %d: Apply gave SGD %g/%g, Adam %g/%g", step, sgd.LR, sgd.Momentum, adam.LR, adam.Beta1)
		}
	}
	p, err = sc.Plan(2, 50, false)
	if err != nil {
		t.Fatal(err)
	}
	sgd := &SGD{Momentum: 0.9}
	p.At(10, 1).Apply(sgd)
	if sgd.Momentum != 0.9 || sgd.LR != lr(10, 100) {
		t.Errorf("without cycling: lr %g momentum %g", sgd.LR, sgd.Momentum)
	}
}
