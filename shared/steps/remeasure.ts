/**
 * Re-measurement (issue 14.2, `remeasure` in the spec): with a noisy
 * objective the strategy may propose an architecture it was already told
 * of (`shared/strategies/noise.ts` decides when). The trial that measures
 * it again is an ordinary trial — budget reserved, counted, recorded — of
 * the same architecture with a new seed: real training seeds each trial by
 * its own seq; a table draws the next of the row's recorded seeds
 * (`Trial.replicate`). Its result is told to the strategy like a first one.
 */
import type { Trial } from '../experiment/model.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import { fidelityOf } from '../spec/experiment.js';
import { REMEASURE_DEFAULTS, type RemeasureSettings } from '../strategies/noise.js';

/**
 * The re-measure settings of a spec, or undefined when it never re-measures:
 * `remeasure` given (true or its settings), or a table with a noisy column
 * unless `remeasure: false`; only with one objective and one fidelity.
 */
export function remeasureSettings(spec: ExperimentSpec): RemeasureSettings | undefined {
  const r = spec.remeasure;
  const noisyTable = spec.dataset.source === 'table' && spec.dataset.noisy !== undefined && Object.keys(spec.dataset.noisy).length > 0;
  if (r === false || (r === undefined && !noisyTable)) return undefined;
  if (spec.objectives.length !== 1 || fidelityOf(spec).rungs.length !== 1) return undefined;
  return { ...REMEASURE_DEFAULTS, ...(typeof r === 'object' ? r : {}) };
}

/**
 * A new trial of `hash` measures it again when an earlier trial of it was
 * not a promotion's: `{ of, n }` — the seq of its first measurement and this
 * measurement's number (2 for the first re-measure). Undefined for a first
 * measurement.
 */
export function replicateOf(trials: Iterable<Trial>, hash: string): Trial['replicate'] {
  let first: Trial | undefined;
  let count = 0;
  for (const t of trials) {
    if (t.hash !== hash || t.parentId !== undefined) continue;
    count++;
    if (!first || t.seq < first.seq) first = t;
  }
  return first ? { of: first.seq, n: count + 1 } : undefined;
}
