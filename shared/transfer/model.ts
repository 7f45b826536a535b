/**
 * Transfer in Bayesian optimisation: a ranking-weighted ensemble of per-task
 * surrogates (RGPE, Feurer et al. 2018, "Scalable Meta-Learning for Bayesian
 * Optimization"), plus a zero-shot initial design from the sources' best.
 *
 * - One GP per source, fitted once to its best `SOURCE_TRAIN` observations
 *   (copula-transformed, as bo's own model), with hyperparameters by
 *   marginal likelihood.
 * - Each model's weight is the share of bootstrap resamples of the target's
 *   own observations on which it misranks the fewest pairs; the target's
 *   model is judged by its leave-one-out predictions, so it cannot win by
 *   having seen the points. A source gets weight 0 (guards against negative
 *   transfer) when its median loss is worse than the target model's 95th
 *   percentile (RGPE's rule), or when it ranks the target's observations
 *   better than a random order on fewer than 95 % of the resamples (`CREDIBLE`):
 *   without this second rule a source unrelated to the target still won
 *   about a third of the resamples while the target's own model was young,
 *   and steered trials 10-30 (issue 17's no-harm goal).
 * - The zero-shot trials (the sources' best, proposed first) are what makes a
 *   related source credible at the first refit point: the source predicts
 *   them above the random initial trials, and on a related target they are.
 * - The ensemble's mean is Σ wᵢ μᵢ and its variance Σ wᵢ² σᵢ².
 * - Weights are recomputed at bo's hyperparameter refit points from the
 *   trials told up to that point, with an RNG seeded by the point, so a
 *   rebuilt strategy finds the same weights.
 */
import { Rng } from '../rng.js';
import type { Architecture } from '../space/space.js';
import { fitGp, normQuantile, predict, type FeatureKind, type GpFit } from '../strategies/gp.js';
import type { SourceTask } from './source.js';
import { standardise } from '../stats/standardise.js';
import { resampleLosses } from './ranking.js';

/** Source observations each source's GP is fitted to (its best): the GP is cubic in it, and a prediction quadratic. */
export const SOURCE_TRAIN = 64;
/** Bootstrap resamples of the target's observations behind each weight. */
export const BOOTSTRAPS = 64;
/** Initial-design trials taken from the sources' best (the rest of bo's init stays random). */
export const ZERO_SHOT = 5;
/**
 * A source counts only if it ranks the target's observations better than a
 * random order on at least this share of the bootstrap resamples (a one-sided
 * test at 5 %): a source that merely ties the target's own young model on
 * ranking loss would otherwise keep a share of the weight by chance.
 */
export const CREDIBLE = 0.95;

/** What a search's transfer model says about its sources (kept in the strategy's snapshot; see shared/transfer/provenance.ts). */
export interface TransferProvenance {
  /** Each source's observations (distinct architectures), by experiment id. */
  readonly observations: Readonly<Record<string, number>>;
  /** Trials told at the refit point the weights are from. */
  readonly point?: number;
  /** The ensemble's weights there, by model: `target` and each source's experiment id. */
  readonly weights?: Readonly<Record<string, number>>;
}

/** A prediction of the ensemble at one point (standardised units). */
export interface Prediction {
  readonly mean: number;
  readonly variance: number;
}

interface SourceModel {
  readonly id: string;
  readonly fit: GpFit;
  /** Distinct architectures the source observed. */
  readonly observations: number;
  /** Source architectures, best first (for the zero-shot design and the candidate pool). */
  readonly ranked: readonly Architecture[];
  /** Per ranked architecture: whether the target's budget affords it as a zero-shot trial (shared/transfer/cost.ts). */
  readonly affordable: readonly boolean[];
  /**
   * Its predictions by encoded point: a source's observations never change
   * during a search, so neither does what its model says about a network, and
   * bo's candidate pool (neighbours of the same best trials) and training set
   * repeat from one proposal to the next.
   */
  readonly predictions: Map<string, Prediction>;
}

/** Predictions a source model remembers; past it the memory starts over (a bound for spaces too large to revisit). */
export const PREDICTION_MEMORY = 50_000;

/** The sources' models for one target search (one objective). */
export class TransferModel {
  private readonly models: SourceModel[];
  private readonly weightCache = new Map<number, number[]>();
  private readonly kstar = new Float64Array(SOURCE_TRAIN);
  private readonly v = new Float64Array(SOURCE_TRAIN);

  constructor(
    sources: readonly SourceTask[],
    private readonly encode: (a: Architecture, out: Float64Array) => Float64Array,
    private readonly kinds: readonly FeatureKind[],
    /** The search's seed (the bootstrap's RNG is seeded by it and the refit point). */
    private readonly seed: number,
  ) {
    const dims = kinds.length;
    this.models = [];
    for (const s of sources) {
      const kept = [...s.observations.keys()].filter((i) => s.observations[i]!.values !== undefined && s.observations[i]!.feasible !== false);
      const obs = kept.map((i) => s.observations[i]!);
      if (obs.length < 3) continue;
      const sign = s.goal === 'max' ? 1 : -1;
      const vals = obs.map((o) => sign * (o.values?.[0] as number));
      const order = [...obs.keys()].sort((a, b) => (vals[b] as number) - (vals[a] as number) || a - b);
      const chosen = order.slice(0, SOURCE_TRAIN);
      const n = chosen.length;
      const X = new Float64Array(n * dims);
      chosen.forEach((i, r) => this.encode(obs[i]!.arch, X.subarray(r * dims, (r + 1) * dims)));
      // Normal quantiles of the ranks among all the source's observations (the best has the highest).
      const N = obs.length;
      const y = new Float64Array(n);
      chosen.forEach((_, r) => (y[r] = normQuantile((N - 1 - r + 0.5) / N)));
      standardise(y);
      this.models.push({ id: s.experimentId, fit: fitGp(X, n, kinds, [y]), observations: obs.length, ranked: order.map((i) => obs[i]!.arch), affordable: order.map((i) => affordable(s, kept[i] as number)), predictions: new Map() });
    }
  }

  /** Whether any source has a model. */
  get active(): boolean {
    return this.models.length > 0;
  }

  /**
   * The `k`-th zero-shot trial: the best architecture of source `k` mod the
   * sources (the next source when that one has none) that is not taken and
   * that the target's budget affords (`affordable`); none (bo's random
   * design then) when no such one is left.
   */
  zeroShot(k: number, isNew: (a: Architecture) => boolean): Architecture | undefined {
    if (k >= ZERO_SHOT || !this.models.length) return undefined;
    for (let j = 0; j < this.models.length; j++) {
      const m = this.models[(k + j) % this.models.length] as SourceModel;
      for (const [r, a] of m.ranked.entries()) if (m.affordable[r] && isNew(a)) return a;
    }
    return undefined;
  }

  /** The best `k` architectures of each source whose weight is above zero (candidates for the acquisition). */
  seeds(weights: readonly number[], k: number): Architecture[] {
    return this.models.flatMap((m, j) => ((weights[j + 1] as number) > 0 ? m.ranked.slice(0, k) : []));
  }

  /**
   * Weights [target, source₁, …] at refit point `point` (cached), from the
   * target GP `fit` on its training set (called on a cache miss only).
   */
  weights(point: number, fit: () => GpFit): number[] {
    const hit = this.weightCache.get(point);
    if (hit) return hit;
    const w = this.computeWeights(point, fit());
    this.weightCache.set(point, w);
    return w;
  }

  /** The model names in weight order (for reports): `target`, then each source's experiment id. */
  get names(): string[] {
    return ['target', ...this.models.map((m) => m.id)];
  }

  /** What the snapshot keeps for the report: each source's observations, and the weights at the latest refit point computed (once there is one). */
  provenance(): TransferProvenance {
    const observations = Object.fromEntries(this.models.map((m) => [m.id, m.observations]));
    if (this.weightCache.size === 0) return { observations };
    const point = Math.max(...this.weightCache.keys());
    const w = this.weightCache.get(point) as number[];
    return { observations, point, weights: Object.fromEntries(this.names.map((name, i) => [name, Math.round((w[i] as number) * 1000) / 1000])) };
  }

  private computeWeights(point: number, fit: GpFit): number[] {
    const { n, X, dims } = fit;
    const y = fit.ys[0] as Float64Array;
    const k = this.models.length + 1;
    if (n < 3) return [0, ...this.models.map(() => 1 / (k - 1))];
    const preds: Float64Array[] = [looMeans(fit)];
    for (const m of this.models) preds.push(Float64Array.from({ length: n }, (_, i) => this.sourcePrediction(m, X.subarray(i * dims, (i + 1) * dims)).mean));
    const { losses, chance } = resampleLosses(preds, y, Rng.seeded((this.seed * 1_000_003 + point) >>> 0), BOOTSTRAPS);
    const wins = new Float64Array(k);
    const belowChance = new Float64Array(k);
    for (let b = 0; b < BOOTSTRAPS; b++) {
      let best = Infinity;
      for (let m = 0; m < k; m++) best = Math.min(best, (losses[m] as Float64Array)[b] as number);
      for (let m = 0; m < k; m++) if (((losses[m] as Float64Array)[b] as number) < (chance[b] as number)) belowChance[m] = (belowChance[m] as number) + 1;
      let ties = 0;
      for (let m = 0; m < k; m++) if ((losses[m] as Float64Array)[b] === best) ties++;
      for (let m = 0; m < k; m++) if ((losses[m] as Float64Array)[b] === best) wins[m] = (wins[m] as number) + 1 / ties;
    }
    const target95 = quantile(losses[0] as Float64Array, 0.95);
    const w = Array.from(wins, (x) => x / BOOTSTRAPS);
    for (let m = 1; m < k; m++) if (quantile(losses[m] as Float64Array, 0.5) > target95) w[m] = 0;
    for (let m = 1; m < k; m++) if ((belowChance[m] as number) < CREDIBLE * BOOTSTRAPS) w[m] = 0;
    const sum = w.reduce((a, b) => a + b, 0);
    if (sum <= 0) return [1, ...this.models.map(() => 0)];
    return w.map((x) => x / sum);
  }

  /** Source model `m`'s prediction at encoded point `x` (remembered: see `SourceModel.predictions`). */
  private sourcePrediction(m: SourceModel, x: Float64Array): Prediction {
    const key = x.join(',');
    const hit = m.predictions.get(key);
    if (hit) return hit;
    const p = predict(m.fit, x, this.kinds, this.kstar, this.v, true);
    const out = { mean: p.mean[0] as number, variance: p.variance };
    if (m.predictions.size >= PREDICTION_MEMORY) m.predictions.clear();
    m.predictions.set(key, out);
    return out;
  }

  /** The ensemble at encoded point `x`, given the target model's prediction there (its variance NaN: the mean alone is asked). */
  predict(x: Float64Array, target: Prediction, weights: readonly number[]): Prediction {
    const wt = weights[0] as number;
    let mean = wt * target.mean;
    let variance = wt * wt * target.variance;
    this.models.forEach((m, j) => {
      const w = weights[j + 1] as number;
      if (w <= 0) return;
      const p = this.sourcePrediction(m, x);
      mean += w * p.mean;
      variance += w * w * p.variance;
    });
    return { mean, variance };
  }
}

/** Leave-one-out posterior means of a GP's training points (one output): yᵢ − αᵢ / (K⁻¹)ᵢᵢ. */
function looMeans(fit: GpFit): Float64Array {
  const { n, L } = fit;
  const y = fit.ys[0] as Float64Array;
  const alpha = fit.alpha[0] as Float64Array;
  // diag(K⁻¹) = column sums of squares of L⁻¹ (lower triangular, by forward substitution per column).
  const diag = new Float64Array(n);
  const col = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    col.fill(0);
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let j = c; j < i; j++) s -= (L[i * n + j] as number) * (col[j] as number);
      col[i] = s / (L[i * n + i] as number);
      diag[c] = (diag[c] as number) + (col[i] as number) ** 2;
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (y[i] as number) - (alpha[i] as number) / (diag[i] as number);
  return out;
}

function quantile(xs: Float64Array, q: number): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

/** Whether observation `i` of `s` may be a zero-shot trial: its measured seconds per epoch are within the target's budget (`maxEpochSeconds`), or either is unknown. */
function affordable(s: SourceTask, i: number): boolean {
  const seconds = s.epochSeconds?.[i];
  return s.maxEpochSeconds === undefined || seconds === undefined || seconds <= s.maxEpochSeconds;
}
