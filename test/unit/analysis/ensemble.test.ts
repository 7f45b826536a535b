/**
 * Greedy ensemble selection and calibration error on cases small enough to
 * compute by hand (the arithmetic is in the comments).
 */
import { describe, expect, it } from 'vitest';
import { accuracy, ensembleProbs, expectedCalibrationError, logLoss, selectEnsemble } from '../../../shared/analysis/ensemble.js';
import { decodePredictions, encodePredictions, type Predictions } from '../../../shared/train/predictions.js';

/** Two-class predictions from the probabilities of class 1. */
const binary = (p1: number[], labels: number[]): Predictions => ({
  n: p1.length,
  classes: 2,
  probs: Float32Array.from(p1.flatMap((p) => [1 - p, p])),
  labels: Int32Array.from(labels),
});

const LABELS = [1, 1, 0, 0];
// Each model is wrong on one example (A on the 2nd, B on the 1st, C on the 3rd): error 0.25 apiece.
const A = binary([0.9, 0.45, 0.1, 0.1], LABELS);
const B = binary([0.45, 0.9, 0.1, 0.1], LABELS);
const C = binary([0.6, 0.6, 0.6, 0.1], LABELS);

describe('selectEnsemble', () => {
  it('adds the model that lowers the validation log loss most, with replacement, and keeps the best round', () => {
    // Log losses: A = B = (3·−ln .9 − ln .45)/4 = 0.27865 (0.2786 to 4 places), C = 0.51083.
    // Round 1 picks A (the earlier of a tie). Round 2: A+A 0.27865, A+B (p1 .675,.675,.1,.1) 0.24920, A+C 0.36705 → B.
    // Round 3: +A or +B (p1 .75,.6,.1,.1) 0.25231, +C 0.31927 → A, worse than round 2.
    // Round 4: +B gives A+B again, 0.24920: equal, not better, so round 2's {A, B} stays.
    const s = selectEnsemble([A, B, C], { rounds: 4 });
    expect(s.members).toEqual([0, 1]);
    expect(s.weights).toEqual([0.5, 0.5]);
    expect(s.score).toBeCloseTo(0.2492, 4);
    expect(s.trace.map((v) => Number(v.toFixed(4)))).toEqual([0.2786, 0.2492, 0.2523, 0.2492]);
  });

  it('selects on the error rate when asked: A and B together are right everywhere', () => {
    const s = selectEnsemble([C, A, B], { rounds: 3, metric: 'error' });
    // Round 1: all three err on one example of four; C is first. Round 2: C+A → p1 .75,.525,.35,.1: no error.
    expect(s.members).toEqual([0, 1]);
    expect(s.score).toBe(0);
    expect(accuracy(ensembleProbs([C, A], s.weights), Int32Array.from(LABELS), 2)).toBe(1);
  });

  it('refuses candidates evaluated on different examples', () => {
    expect(() => selectEnsemble([A, binary([0.5, 0.5, 0.5, 0.5], [1, 1, 0, 1])])).toThrow(/different examples/);
    expect(() => selectEnsemble([])).toThrow(/at least one/);
  });
});

describe('calibration and scores', () => {
  // Confidences .8 (right), .7 (wrong), .6 (right), .5 (wrong: a tie goes to class 0, the label is 1).
  const P = binary([0.8, 0.7, 0.4, 0.5], [1, 0, 0, 1]);

  it('expected calibration error: |accuracy − confidence| per bin, weighted by the bin size', () => {
    // Two bins: (0.5, 1] holds .8, .7, .6 with 2 right: |2 − 2.1| = 0.1; (0, 0.5] holds .5, wrong: 0.5. (0.1 + 0.5) / 4 = 0.15.
    expect(expectedCalibrationError(P.probs, P.labels, 2, 2)).toBeCloseTo(0.15, 6);
    // Fifteen bins: each example alone: (.2 + .7 + .4 + .5) / 4 = 0.45.
    expect(expectedCalibrationError(P.probs, P.labels, 2)).toBeCloseTo(0.45, 6);
  });

  it('accuracy and log loss', () => {
    expect(accuracy(P.probs, P.labels, 2)).toBe(0.5);
    expect(logLoss(P.probs, P.labels, 2)).toBeCloseTo(-(Math.log(0.8) + Math.log(0.3) + Math.log(0.6) + Math.log(0.5)) / 4, 6);
  });

  it('a stored prediction set reads back as written', () => {
    const back = decodePredictions(encodePredictions(P));
    expect(back).toEqual(P);
    expect(() => decodePredictions(new Uint8Array(8))).toThrow(/NFP1/);
  });
});
