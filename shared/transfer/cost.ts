/**
 * What a source architecture costs the target search, for the zero-shot
 * order (shared/transfer/model.ts): a warm start under a wall-clock budget
 * should not open with a network the budget affords one of. A 5-minute
 * Fashion-MNIST search warm-started from an MNIST search began with the
 * source's best, a three-convolution network at 5 minutes an epoch, which
 * held one of the two workers to the deadline. The source's trials measured
 * what each architecture's epoch takes (same machine, same kind of data
 * assumed: the source's seconds stand for the target's); the target's budget
 * says how many worker-seconds there are.
 */
import type { Trial } from '../experiment/model.js';
import { fidelityOf, type ExperimentSpec } from '../spec/experiment.js';
import { warmUpShareSeconds } from '../spec/warm-up-share.js';

/** Seconds one training epoch of `trial` took: the mean of its curve's `epoch_seconds`, else `train_seconds` over its epochs; undefined when not measured (a table). */
export function epochSecondsOf(trial: Trial): number | undefined {
  const measured = (trial.curve ?? []).map((e) => e.metrics['epoch_seconds']).filter((s): s is number => typeof s === 'number' && Number.isFinite(s) && s > 0);
  if (measured.length) return measured.reduce((a, b) => a + b, 0) / measured.length;
  const total = trial.metrics?.['train_seconds'];
  return typeof total === 'number' && Number.isFinite(total) && total > 0 && trial.fidelity > 0 ? total / trial.fidelity : undefined;
}

/**
 * The most seconds per epoch an architecture may take for the budget of
 * `spec` on `slots` workers to afford a warm-up's worth of trials of it at the first rung
 * (`warmUpShareSeconds` of the whole budget, so a resumed search picks the
 * same zero-shot trials, over the first rung's epochs). Undefined without a
 * time or money budget (any cost is affordable then).
 */
export function maxEpochSeconds(spec: Pick<ExperimentSpec, 'budget' | 'parallel' | 'instance' | 'fidelity' | 'epochs'>, slots?: number): number | undefined {
  const share = warmUpShareSeconds(spec, slots !== undefined ? { slots } : {});
  return share === undefined ? undefined : share / (fidelityOf(spec).rungs[0] as number);
}
