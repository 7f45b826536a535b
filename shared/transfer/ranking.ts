/**
 * RGPE's ranking losses on bootstrap resamples of the target's observations
 * (shared/transfer/model.ts): how many pairs of a resample's draws each model
 * orders the other way round from the target, and how many a random order
 * would. A resample's loss is a sum over pairs of its draws, so each model's
 * misranked pairs of observations are found once and a resample counts each
 * observation by how often it was drawn: the same integers as pair-by-pair
 * counting over the draws, in about a third of the work (a resample of n
 * draws holds about 0.63·n distinct observations) and without re-sorting.
 */
import type { Rng } from '../rng.js';

/** Per resample: each model's ranking loss, and the expected loss of a random order. */
export interface ResampleLosses {
  /** `losses[m][b]`: misranked ordered pairs of draws of resample `b` by model `m`. */
  readonly losses: Float64Array[];
  /** `chance[b]`: pairs of draws of resample `b` with different target values (a random order's expected loss). */
  readonly chance: Float64Array;
}

/**
 * Ranking losses of models' predictions `preds` (one array per model, over
 * the n observations) against target values `y` on `resamples` bootstrap
 * resamples, each n draws `rng.int(n)` in turn.
 */
export function resampleLosses(preds: readonly Float64Array[], y: Float64Array, rng: Rng, resamples: number): ResampleLosses {
  const n = y.length;
  const misranked = preds.map((p) => {
    const M = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) M[i * n + j] = (p[i] as number) < (p[j] as number) !== (y[i] as number) < (y[j] as number) ? 1 : 0;
    return M;
  });
  // Tied target values (the copula gives ties one value) form groups: a random order's loss counts pairs across groups.
  const groupOf = new Map<number, number>();
  const group = Int32Array.from(y, (v) => {
    const g = groupOf.get(v);
    if (g !== undefined) return g;
    groupOf.set(v, groupOf.size);
    return groupOf.size - 1;
  });
  const perGroup = new Float64Array(groupOf.size);
  const losses = preds.map(() => new Float64Array(resamples));
  const chance = new Float64Array(resamples);
  const count = new Int32Array(n);
  const drawn = new Int32Array(n);
  for (let b = 0; b < resamples; b++) {
    count.fill(0);
    for (let i = 0; i < n; i++) {
      const j = rng.int(n);
      count[j] = (count[j] as number) + 1;
    }
    let d = 0;
    for (let i = 0; i < n; i++) if ((count[i] as number) > 0) drawn[d++] = i;
    misranked.forEach((M, m) => ((losses[m] as Float64Array)[b] = weightedPairs(M, n, count, drawn, d)));
    chance[b] = pairsAcrossGroups(group, perGroup, n, count, drawn, d);
  }
  return { losses, chance };
}

/** Σ over ordered pairs of drawn observations (i, j) of count[i]·count[j]·M[i, j]; `drawn[0..d)` are those drawn at least once. */
function weightedPairs(M: Uint8Array, n: number, count: Int32Array, drawn: Int32Array, d: number): number {
  let loss = 0;
  for (let a = 0; a < d; a++) {
    const i = drawn[a] as number;
    const row = i * n;
    let s = 0;
    for (let b = 0; b < d; b++) {
      const j = drawn[b] as number;
      s += (count[j] as number) * (M[row + j] as number);
    }
    loss += (count[i] as number) * s;
  }
  return loss;
}

/** Unordered pairs of the n draws in different tie groups: (n² − Σ_g C_g²) / 2, C_g the draws in group g. */
function pairsAcrossGroups(group: Int32Array, perGroup: Float64Array, n: number, count: Int32Array, drawn: Int32Array, d: number): number {
  perGroup.fill(0);
  for (let a = 0; a < d; a++) {
    const i = drawn[a] as number;
    const g = group[i] as number;
    perGroup[g] = (perGroup[g] as number) + (count[i] as number);
  }
  let same = 0;
  for (const c of perGroup) same += c * c;
  return (n * n - same) / 2;
}
