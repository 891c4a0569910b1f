// Package train trains a graph.Graph with the engine: losses, optimizers
// with per-parameter state, learning-rate schedules, extra loss terms such
// as the BN-gamma L1 penalty of network slimming, and Fit, a loop with
// progress output, evaluation, NaN recovery and atomic, checksummed,
// exactly resumable checkpoints.
//
// Fit is assembled from typed parts, each usable and testable alone:
//
//   - Loss (loss.go, distill.go): CrossEntropy{Smoothing}, or
//     Distillation{Weight, Temp, Teacher} whose TeacherSource is the
//     teacher's cached logits of the training set or the teacher run on
//     every (augmented) Batch;
//   - Optimizer (optim.go): SGD (momentum, Nesterov) and Adam/AdamW behind
//     one interface, with exportable state for checkpoints;
//   - Plan (schedule.go): the rate Schedule and, with momentum cycling, the
//     momentum Schedule of a run; Plan.At gives a step's Hyper, which
//     Hyper.Apply sets through the Optimizer interface;
//   - the step function (step.go): forward, loss, backward, regularisers
//     and update, reporting a non-finite loss, gradient or weight for the
//     loop's rollback to the last good state (state.go);
//   - the run (fit.go): batching from (Seed, epoch, step) streams, epochs,
//     evaluation (eval.go), stops and checkpoints (checkpoint.go, framed by
//     internal/ckpt).
//
// Options (options.go) names its choices with typed constants
// (OptimizerKind, ScheduleKind, ProgressMode, kinds.go); strings such as
// flag values parse with ParseOptimizer, ParseSchedule and
// ParseProgressMode.
package train
