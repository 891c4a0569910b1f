package train

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate for a 0-based optimizer step out of
// total steps. Schedules are pure functions, so a resumed run sees the same
// rates as an uninterrupted one.
type Schedule func(step, total int) float64

// Constant keeps lr for every step.
func Constant(lr float64) Schedule { return func(int, int) float64 { return lr } }

// StepDecay multiplies lr by gamma at every milestone (a step index) reached:
// lr * gamma^(number of milestones <= step), as PyTorch's MultiStepLR.
func StepDecay(lr float64, milestones []int, gamma float64) Schedule {
	ms := append([]int(nil), milestones...)
	return func(step, _ int) float64 {
		r := lr
		for _, m := range ms {
			if step >= m {
				r *= gamma
			}
		}
		return r
	}
}

// CosineWarmup rises linearly from lr/warmup to lr over the first warmup
// steps (step s < warmup gives lr*(s+1)/warmup), then follows a half cosine
// from lr down to minLR, reached at the last step (total-1).
func CosineWarmup(lr, minLR float64, warmup int) Schedule {
	return func(step, total int) float64 {
		if step < warmup {
			return lr * float64(step+1) / float64(warmup)
		}
		span := total - 1 - warmup
		if span <= 0 {
			return lr
		}
		pct := math.Min(1, float64(step-warmup)/float64(span))
		return minLR + (lr-minLR)*0.5*(1+math.Cos(math.Pi*pct))
	}
}

// OneCycle is PyTorch's OneCycleLR with cosine annealing (three_phase off):
// from peak/divFactor it rises along a half cosine to peak at step
// pctStart*total-1, then falls along a half cosine to
// peak/(divFactor*finalDiv) at the last step (total-1). PyTorch's defaults
// are pctStart 0.3, divFactor 25, finalDiv 1e4.
func OneCycle(peak, pctStart, divFactor, finalDiv float64) Schedule {
	initial := peak / divFactor
	return oneCycle(initial, peak, initial/finalDiv, pctStart)
}

// OneCycleMomentum is OneCycleLR's momentum cycle (cycle_momentum on, its
// default): momentum moves against the rate along the same half cosines,
// from maxM at step 0 down to baseM at the peak (step pctStart*total-1) and
// back to maxM at the last step. PyTorch's defaults are 0.85 and 0.95.
func OneCycleMomentum(baseM, maxM, pctStart float64) Schedule {
	return oneCycle(maxM, baseM, maxM, pctStart)
}

// oneCycle is OneCycleLR's two-phase shape: from start at step 0 along a
// half cosine to mid at step pctStart*total-1, then along another to end
// at the last step.
func oneCycle(start, mid, end, pctStart float64) Schedule {
	anneal := func(from, to, pct float64) float64 { return to + (from-to)/2*(math.Cos(math.Pi*pct)+1) }
	return func(step, total int) float64 {
		end1 := pctStart*float64(total) - 1
		end2 := float64(total - 1)
		s := float64(step)
		if s <= end1 {
			if end1 <= 0 {
				return mid
			}
			return anneal(start, mid, s/end1)
		}
		if end2 <= end1 {
			return end
		}
		return anneal(mid, end, math.Min(1, (s-end1)/(end2-end1)))
	}
}

// ScheduleConfig names a schedule and its parameters, in epochs where the
// loop converts them to steps.
type ScheduleConfig struct {
	Name         ScheduleKind // ScheduleOneCycle (default), ScheduleCosine, ScheduleStep, ScheduleConstant
	LR           float64      // base (cosine, step, constant) or peak (onecycle) rate
	WarmupEpochs float64      // cosine: linear warm-up; onecycle: rising phase (default 30% of the run)
	Milestones   []float64    // step: epochs at which the rate is multiplied by Gamma (default 50% and 75%)
	Gamma        float64      // step: factor (default 0.1)
}

// Build returns the schedule for a run of epochs*stepsPerEpoch steps. It
// errors on an unknown name or a bad parameter.
func (c ScheduleConfig) Build(epochs, stepsPerEpoch int) (Schedule, error) {
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		return nil, fmt.Errorf("train: learning rate %g must be positive", c.LR)
	}
	if c.WarmupEpochs < 0 || c.WarmupEpochs > float64(epochs) {
		return nil, fmt.Errorf("train: %g warm-up epochs for a %d-epoch run", c.WarmupEpochs, epochs)
	}
	kind, err := ParseSchedule(string(c.Name))
	if err != nil {
		return nil, err
	}
	switch kind {
	case ScheduleConstant:
		return Constant(c.LR), nil
	case ScheduleStep:
		ms := c.Milestones
		if ms == nil {
			ms = []float64{0.5 * float64(epochs), 0.75 * float64(epochs)}
		}
		steps := make([]int, len(ms))
		for i, m := range ms {
			if m < 0 {
				return nil, fmt.Errorf("train: negative step-schedule milestone %g", m)
			}
			steps[i] = int(math.Round(m * float64(stepsPerEpoch)))
		}
		gamma := c.Gamma
		if gamma == 0 {
			gamma = 0.1
		}
		return StepDecay(c.LR, steps, gamma), nil
	case ScheduleCosine:
		return CosineWarmup(c.LR, 0, int(math.Round(c.WarmupEpochs*float64(stepsPerEpoch)))), nil
	}
	return OneCycle(c.LR, c.oneCyclePct(epochs), 25, 1e4), nil
}

// oneCyclePct is the one-cycle schedule's rising share of a run of epochs:
// WarmupEpochs/epochs, or PyTorch's 30% without warm-up epochs.
func (c ScheduleConfig) oneCyclePct(epochs int) float64 {
	if c.WarmupEpochs > 0 {
		return c.WarmupEpochs / float64(epochs)
	}
	return 0.3
}

// Plan is the hyper-parameter schedule of a whole run, step by step: the
// learning rate and, when Momentum is set (one-cycle SGD with momentum
// cycling), the momentum. Like Schedule it is pure, so a resumed run sets
// the same values as an uninterrupted one.
type Plan struct {
	LR       Schedule
	Momentum Schedule // nil: the optimizer keeps its own momentum
	Total    int      // optimizer steps in the run
}

// Hyper is what a Plan sets on the optimizer before one step.
type Hyper struct {
	LR          float64
	Momentum    float64 // set only when HasMomentum
	HasMomentum bool
}

// At returns the hyper-parameters of the 0-based optimizer step, the rate
// multiplied by lrScale (1, halved by each NaN retry).
func (p Plan) At(step int, lrScale float64) Hyper {
	h := Hyper{LR: p.LR(step, p.Total) * lrScale}
	if p.Momentum != nil {
		h.Momentum, h.HasMomentum = p.Momentum(step, p.Total), true
	}
	return h
}

// Apply sets h on o.
func (h Hyper) Apply(o Optimizer) {
	o.SetLR(h.LR)
	if h.HasMomentum {
		o.SetMomentum(h.Momentum)
	}
}

// Plan returns the Plan of a run of epochs*stepsPerEpoch steps (Build's
// rate); with cycleMomentum the momentum follows OneCycleMomentum(0.85,
// 0.95) along the one-cycle shape, as PyTorch's OneCycleLR does by default.
func (c ScheduleConfig) Plan(epochs, stepsPerEpoch int, cycleMomentum bool) (Plan, error) {
	lr, err := c.Build(epochs, stepsPerEpoch)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{LR: lr, Total: epochs * stepsPerEpoch}
	if cycleMomentum {
		p.Momentum = OneCycleMomentum(0.85, 0.95, c.oneCyclePct(epochs))
	}
	return p, nil
}
