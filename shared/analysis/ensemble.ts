/**
 * Ensembles of trained models from their stored predictions: greedy ensemble
 * selection with replacement (Caruana, Niculescu-Mizil, Crew & Ksikes, ICML
 * 2004, as Auto-sklearn and AutoGluon use it) on validation class
 * probabilities, and the measures the report shows for a single model and
 * for the ensemble: accuracy, log loss and expected calibration error.
 */
import type { Predictions } from '../train/predictions.js';

/** What the greedy selection minimises on validation. */
export type SelectionMetric = 'log_loss' | 'error';

export interface SelectionOptions {
  /** Rounds of selection: members are added this many times in all (with replacement). Default 25. */
  readonly rounds?: number;
  /** Default `log_loss`: smoother than the error rate, so it overfits the validation split less. */
  readonly metric?: SelectionMetric;
}

/** The chosen ensemble: candidate indices and their weights (counts / rounds kept), and its validation score. */
export interface Selection {
  /** Indices into the candidates, each once, in the order first chosen. */
  readonly members: readonly number[];
  /** Weights of `members`, summing to 1. */
  readonly weights: readonly number[];
  /** The validation score (of `metric`) of the ensemble, and of each round's ensemble. */
  readonly score: number;
  readonly trace: readonly number[];
}

const EPS = 1e-12;

/** Mean negative log-likelihood of the true labels. */
export function logLoss(probs: Float32Array | Float64Array, labels: Int32Array, classes: number): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) s -= Math.log(Math.max(EPS, probs[i * classes + labels[i]!]!));
  return s / labels.length;
}

/** Index of the largest probability of example `i` (the first on ties). */
function argmax(probs: Float32Array | Float64Array, i: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
  return best;
}

/** Share of examples whose most probable class is the true one. */
export function accuracy(probs: Float32Array | Float64Array, labels: Int32Array, classes: number): number {
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (argmax(probs, i, classes) === labels[i]) hits++;
  return hits / labels.length;
}

/**
 * Expected calibration error (Naeini et al. 2015; Guo et al. 2017): examples
 * binned by their top probability into `bins` equal-width bins of [0, 1];
 * the mean over examples of |accuracy − mean confidence| of their bin.
 * A confidence of exactly 1 falls in the last bin; bin i holds (i/bins, (i+1)/bins].
 */
export function expectedCalibrationError(probs: Float32Array | Float64Array, labels: Int32Array, classes: number, bins = 15): number {
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const top = argmax(probs, i, classes);
    const p = probs[i * classes + top]!;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[b]!++;
    conf[b]! += p;
    if (top === labels[i]) hits[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(hits[b]! - conf[b]!);
  return ece / labels.length;
}

function score(probs: Float64Array, labels: Int32Array, classes: number, metric: SelectionMetric): number {
  return metric === 'log_loss' ? logLoss(probs, labels, classes) : 1 - accuracy(probs, labels, classes);
}

function sameSplit(candidates: readonly Predictions[]): void {
  const [first] = candidates;
  if (!first) throw new RangeError('ensemble selection needs at least one candidate');
  for (const c of candidates) {
    if (c.n !== first.n || c.classes !== first.classes) throw new RangeError(`candidates predict different splits: ${c.n}×${c.classes} against ${first.n}×${first.classes}`);
    for (let i = 0; i < c.n; i++) if (c.labels[i] !== first.labels[i]) throw new RangeError('candidates were evaluated on different examples (their labels differ)');
  }
}

/**
 * Greedy selection with replacement: start from nothing; each round adds the
 * candidate (again, possibly) whose addition gives the averaged probabilities
 * the best validation score (the earliest candidate on ties); the ensemble of
 * the best round is returned, so it is never worse on validation than the
 * best single candidate (round 1 picks exactly that one).
 */
export function selectEnsemble(candidates: readonly Predictions[], options: SelectionOptions = {}): Selection {
  sameSplit(candidates);
  const rounds = options.rounds ?? 25;
  const metric = options.metric ?? 'log_loss';
  const { n, classes, labels } = candidates[0]!;
  const size = n * classes;
  const sum = new Float64Array(size);
  const trial = new Float64Array(size);
  const counts = new Array<number>(candidates.length).fill(0);
  const order: number[] = [];
  const trace: number[] = [];
  let best = { score: Infinity, counts: counts.slice(), round: 0 };
  for (let r = 1; r <= rounds; r++) {
    let pick = -1;
    let pickScore = Infinity;
    candidates.forEach((c, j) => {
      for (let k = 0; k < size; k++) trial[k] = (sum[k]! + c.probs[k]!) / r;
      const s = score(trial, labels, classes, metric);
      if (s < pickScore) {
        pickScore = s;
        pick = j;
      }
    });
    const chosen = candidates[pick]!;
    for (let k = 0; k < size; k++) sum[k]! += chosen.probs[k]!;
    if (counts[pick] === 0) order.push(pick);
    counts[pick]!++;
    trace.push(pickScore);
    if (pickScore < best.score) best = { score: pickScore, counts: counts.slice(), round: r };
  }
  const members = order.filter((j) => best.counts[j]! > 0);
  return { members, weights: members.map((j) => best.counts[j]! / best.round), score: best.score, trace };
}

/** The weighted average of the members' class probabilities (weights summing to 1). */
export function ensembleProbs(members: readonly Predictions[], weights: readonly number[]): Float64Array {
  sameSplit(members);
  const out = new Float64Array(members[0]!.probs.length);
  members.forEach((m, j) => {
    const w = weights[j]!;
    for (let k = 0; k < out.length; k++) out[k]! += w * m.probs[k]!;
  });
  return out;
}

/** Accuracy, log loss and expected calibration error of a set of predictions. */
export interface Quality {
  readonly accuracy: number;
  readonly logLoss: number;
  readonly ece: number;
}

/** The measures of probabilities against labels. */
export function quality(probs: Float32Array | Float64Array, labels: Int32Array, classes: number): Quality {
  return { accuracy: accuracy(probs, labels, classes), logLoss: logLoss(probs, labels, classes), ece: expectedCalibrationError(probs, labels, classes) };
}
