/**
 * Noise-aware incumbents (issue 14.2): with a noisy objective (real
 * training, where one run's seed is a draw; a table's per-seed column), an
 * architecture's single best reading is a lucky draw as often as a good
 * network. What is ranked instead is an empirical-Bayes estimate of each
 * architecture's true value from all its measurements, and the search may
 * re-measure an architecture (a new seed, a trial of its own) when that is
 * worth more than it costs.
 *
 * The model (normal–normal, every value oriented so larger is better):
 * - a measurement of architecture a is its true value μ_a plus noise of
 *   variance σ², the same for all: σ² is the pooled within-architecture
 *   variance of the architectures measured more than once;
 * - among the contenders — the `CONTENDERS` best means — the true values are
 *   drawn from N(m, τ²), estimated by the method of moments (m: their mean,
 *   τ²: the spread of their means less what the noise explains). Shrinking
 *   towards the contenders, not the whole search, is what removes the
 *   winner's curse at the top: there the spread is mostly noise;
 * - the estimate of a contender is its posterior mean (n·ȳ/σ² + m/τ²) /
 *   (n/σ² + 1/τ²); the rest are ranked below by their means.
 * The re-measure decision is the knowledge gradient of one more measurement
 * of a contender (Frazier, Powell & Dayanik 2008): the expected gain in the
 * value of the recommended architecture. The contender with the largest gain
 * is measured again when that gain exceeds `threshold` × σ (chosen on seeds
 * 0–19 of the shared table, docs/noise.md); until σ is known (fewer than
 * `BOOTSTRAP_DOF` degrees of freedom) the incumbent is measured again if it
 * has one measurement, which is how the noise is learnt.
 */
import { normCdf, normPdf } from './gp.js';

/** How many of the best means the shrinkage prior is estimated from and the recommendation chosen among. */
export const CONTENDERS = 10;
/** Degrees of freedom of the noise estimate before the knowledge gradient decides re-measures. */
export const BOOTSTRAP_DOF = 3;
/** The prior spread of the contenders is at least this share of the noise's (no τ² = 0 collapse on few contenders). */
const MIN_PRIOR_SHARE = 1 / 16;

/** The re-measure rule's settings (the spec's `remeasure`). */
export interface RemeasureSettings {
  /** Re-measure when the knowledge gradient exceeds this many noise standard deviations. */
  readonly threshold: number;
  /** Measurements of one architecture at most. */
  readonly measurements: number;
}

/** Defaults chosen on seeds 0–19 of the shared table (docs/noise.md). */
export const REMEASURE_DEFAULTS: RemeasureSettings = { threshold: 0.002, measurements: 3 };

/** One architecture's measurements, and what the model makes of them. */
export interface Measurement {
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (0 with one measurement). */
  readonly sd: number;
  /** The noise-aware estimate (larger is better): the posterior mean for a contender, the mean otherwise. */
  readonly estimate: number;
  /** Posterior variance of the true value (undefined: the noise is not known yet). */
  readonly variance?: number;
  /** Among the contenders (ranked by `estimate` above every other). */
  readonly contender: boolean;
}

/** The noise model fitted to groups of measurements. */
export interface NoiseModel {
  /** Noise variance σ² (undefined: no architecture was measured twice). */
  readonly noise?: number;
  /** Degrees of freedom behind `noise`. */
  readonly dof: number;
  readonly priorMean: number;
  readonly priorVar: number;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Indices of the `CONTENDERS` best means (stable on ties: earlier first). */
function contenderIndices(means: readonly number[]): number[] {
  return [...means.keys()].sort((a, b) => (means[b] as number) - (means[a] as number) || a - b).slice(0, CONTENDERS);
}

/** σ² pooled over the groups measured more than once, and the contenders' prior. */
export function fitNoise(groups: readonly (readonly number[])[]): NoiseModel {
  let ss = 0;
  let dof = 0;
  for (const g of groups) {
    if (g.length < 2) continue;
    const m = mean(g);
    for (const y of g) ss += (y - m) ** 2;
    dof += g.length - 1;
  }
  const noise = dof > 0 ? ss / dof : undefined;
  const means = groups.map(mean);
  const top = contenderIndices(means);
  const tm = top.map((i) => means[i] as number);
  const priorMean = tm.length ? mean(tm) : 0;
  const spread = tm.length > 1 ? tm.reduce((s, y) => s + (y - priorMean) ** 2, 0) / (tm.length - 1) : 0;
  const explained = noise === undefined ? 0 : mean(top.map((i) => (noise as number) / (groups[i] as readonly number[]).length));
  const priorVar = Math.max(spread - explained, (noise ?? 0) * MIN_PRIOR_SHARE, 1e-12);
  return { ...(noise !== undefined ? { noise } : {}), dof, priorMean, priorVar };
}

/** Posterior variance of a true value after `n` measurements (Infinity without a noise estimate). */
function posteriorVar(model: NoiseModel, n: number): number {
  if (model.noise === undefined) return Infinity;
  return 1 / (1 / model.priorVar + n / Math.max(model.noise, 1e-12));
}

/**
 * Every group's measurement summary and noise-aware estimate (values
 * oriented: larger is better). Without a noise estimate the estimate is the
 * mean, which is today's best observed value for single measurements.
 */
export function estimateAll(groups: readonly (readonly number[])[]): { model: NoiseModel; measurements: Measurement[] } {
  const model = fitNoise(groups);
  const top = new Set(contenderIndices(groups.map(mean)));
  const measurements = groups.map((g, i): Measurement => {
    const n = g.length;
    const m = mean(g);
    const sd = n > 1 ? Math.sqrt(g.reduce((s, y) => s + (y - m) ** 2, 0) / (n - 1)) : 0;
    const contender = top.has(i);
    if (model.noise === undefined || !contender) return { n, mean: m, sd, estimate: m, contender };
    const v = posteriorVar(model, n);
    const estimate = v * ((n * m) / Math.max(model.noise, 1e-12) + model.priorMean / model.priorVar);
    return { n, mean: m, sd, estimate, variance: v, contender };
  });
  return { model, measurements };
}

/** Index of the recommended group: the contender with the best estimate (earliest on ties); undefined for none. */
export function recommended(ms: readonly Measurement[]): number | undefined {
  let best: number | undefined;
  ms.forEach((m, i) => {
    if (!m.contender) return;
    if (best === undefined || m.estimate > (ms[best] as Measurement).estimate) best = i;
  });
  return best;
}

/** E[max(X, 0)] / s for X ~ N(-d, s²): the knowledge gradient's shape (z = -d/s). */
function kgShape(z: number): number {
  return z * normCdf(z) + normPdf(z);
}

/**
 * Which group to measure again, or undefined: the contender (below the
 * measurement cap, not `busy`) whose next measurement has the largest
 * knowledge gradient, if it exceeds `threshold` σ; before the noise is
 * known, the incumbent when it has one measurement.
 */
export function remeasureChoice(groups: readonly (readonly number[])[], settings: RemeasureSettings, busy: (i: number) => boolean = () => false): number | undefined {
  if (groups.length < 2) return undefined;
  const { model, measurements: ms } = estimateAll(groups);
  const inc = recommended(ms);
  if (inc === undefined) return undefined;
  if (model.noise === undefined || model.dof < BOOTSTRAP_DOF) {
    // Learning the noise: the incumbent's single reading is the one most likely to be a lucky draw.
    const m = ms[inc] as Measurement;
    return m.n === 1 && m.n < settings.measurements && !busy(inc) ? inc : undefined;
  }
  let best: number | undefined;
  let bestKg = settings.threshold * Math.sqrt(model.noise);
  const order = [...ms.keys()].filter((i) => (ms[i] as Measurement).contender).sort((a, b) => (ms[b] as Measurement).estimate - (ms[a] as Measurement).estimate);
  const first = order[0] as number;
  const second = order[1];
  for (const i of order) {
    const m = ms[i] as Measurement;
    if (m.n >= settings.measurements || busy(i)) continue;
    const sTilde = Math.sqrt(Math.max(0, posteriorVar(model, m.n) - posteriorVar(model, m.n + 1)));
    if (sTilde <= 0) continue;
    const other = i === first ? (second === undefined ? -Infinity : (ms[second] as Measurement).estimate) : (ms[first] as Measurement).estimate;
    const kg = Number.isFinite(other) ? sTilde * kgShape(-Math.abs(m.estimate - other) / sTilde) : 0;
    if (kg > bestKg) {
      bestKg = kg;
      best = i;
    }
  }
  return best;
}

