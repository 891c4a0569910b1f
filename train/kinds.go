package train

import "fmt"

// OptimizerKind names an optimizer Fit can build (Options.Optimizer). The
// zero value is SGD.
type OptimizerKind string

// The optimizers of Options.Optimizer.
const (
	OptSGD   OptimizerKind = "sgd"   // SGD with Options.Momentum, optionally Nesterov
	OptAdam  OptimizerKind = "adam"  // Adam, weight decay as L2 in the gradient
	OptAdamW OptimizerKind = "adamw" // Adam with decoupled weight decay
)

// ParseOptimizer returns the optimizer named s ("" is SGD); it errors on
// an unknown name.
func ParseOptimizer(s string) (OptimizerKind, error) {
	k := OptimizerKind(s)
	switch k {
	case "":
		return OptSGD, nil
	case OptSGD, OptAdam, OptAdamW:
		return k, nil
	}
	return "", fmt.Errorf("train: unknown optimizer %q (want sgd or adam)", s)
}

// isAdam reports whether k is one of the Adam forms.
func (k OptimizerKind) isAdam() bool { return k == OptAdam || k == OptAdamW }

// ScheduleKind names a learning-rate schedule (Options.Schedule,
// ScheduleConfig.Name). The zero value is one-cycle.
type ScheduleKind string

// The learning-rate schedules.
const (
	ScheduleOneCycle ScheduleKind = "onecycle" // PyTorch's OneCycleLR (OneCycle)
	ScheduleCosine   ScheduleKind = "cosine"   // linear warm-up, then half cosine (CosineWarmup)
	ScheduleStep     ScheduleKind = "step"     // multiply by Gamma at milestones (StepDecay)
	ScheduleConstant ScheduleKind = "constant" // one rate (Constant)
)

// ParseSchedule returns the schedule named s ("" is one-cycle); it errors
// on an unknown name.
func ParseSchedule(s string) (ScheduleKind, error) {
	k := ScheduleKind(s)
	switch k {
	case "":
		return ScheduleOneCycle, nil
	case ScheduleOneCycle, ScheduleCosine, ScheduleStep, ScheduleConstant:
		return k, nil
	}
	return "", fmt.Errorf("train: unknown learning-rate schedule %q (want onecycle, cosine, step or constant)", s)
}

// ProgressMode says how Fit prints progress (Options.ProgressMode). The
// zero value is ProgressAuto.
type ProgressMode string

// The progress modes.
const (
	ProgressAuto  ProgressMode = "auto"  // in place on a terminal, else lines
	ProgressBar   ProgressMode = "bar"   // always rewritten in place with \r
	ProgressLines ProgressMode = "lines" // one line per tenth of an epoch
)

// ParseProgressMode returns the progress mode named s ("" is auto); it
// errors on an unknown name.
func ParseProgressMode(s string) (ProgressMode, error) {
	m := ProgressMode(s)
	switch m {
	case "":
		return ProgressAuto, nil
	case ProgressAuto, ProgressBar, ProgressLines:
		return m, nil
	}
	return "", fmt.Errorf("train: unknown progress mode %q (want auto, bar or lines)", s)
}
