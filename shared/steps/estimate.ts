/**
 * A trial's estimated training time when no evaluator is at hand (a cold
 * Lambda): a table search knows its simulated seconds per epoch; a trained
 * search learns from its finished trials, as the local worker pool does.
 */
import type { Trial } from '../experiment/model.js';
import type { ExperimentSpec } from '../spec/experiment.js';

/** Before any trial finished, a trained epoch is guessed at 30 s (the worker pool's default). */
export const INITIAL_SECONDS_PER_EPOCH = 30;

/** Seconds per epoch: the table's setting, or the slowest of the last 8 completed trials. */
export function secondsPerEpoch(spec: ExperimentSpec, trials: readonly Trial[]): number {
  const d = spec.dataset;
  if (d.source === 'table') return d.secondsPerEpoch ?? 0.01;
  const byId = new Map(trials.map((t) => [t.id, t]));
  const rates = trials
    .filter((t) => t.state === 'COMPLETED' && t.cost?.hours !== undefined)
    .sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0))
    .map((t) => {
      const epochs = t.fidelity - (t.parentId ? (byId.get(t.parentId)?.fidelity ?? 0) : 0);
      return epochs > 0 ? ((t.cost?.hours as number) * 3600) / epochs : NaN;
    })
    .filter((r) => Number.isFinite(r) && r > 0);
  return rates.length ? Math.max(...rates.slice(-8)) : INITIAL_SECONDS_PER_EPOCH;
}

/** `estimateSeconds(epochs)` for the steps, from the spec and the stored trials. */
export function estimatorFor(spec: ExperimentSpec, trials: readonly Trial[]): (epochs: number) => number {
  const s = secondsPerEpoch(spec, trials);
  return (epochs) => epochs * s;
}
