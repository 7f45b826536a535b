/**
 * Noise-aware incumbents (issue 14.2): with a noisy objective the leaderboard's
 * rank 1 (the search's recommendation) is the best noise-aware estimate, not
 * the best single reading, and the re-measure rule measures again the
 * architecture whose next reading is worth most.
 */
import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { leaderboard } from '../../../shared/report/report.js';
import { estimateAll, fitNoise, recommended, remeasureChoice, REMEASURE_DEFAULTS } from '../../../shared/strategies/noise.js';

/** Measurements by architecture: A consistently good, B one lucky reading, C twice, the rest once. */
const GROUPS: Record<string, number[]> = {
  A: [91.8, 91.4, 91.6],
  B: [91.7],
  C: [91.0, 91.4],
  D: [91.3],
  E: [91.1],
  F: [91.0],
  G: [90.9],
  H: [90.8],
  I: [90.7],
  J: [90.5],
  K: [89.0],
};

/** The groups as trials of one search, the re-measures after the first readings (as a search makes them). */
function trials(groups: Record<string, number[]>): Trial[] {
  const out: Trial[] = [];
  const rounds = Math.max(...Object.values(groups).map((g) => g.length));
  for (let r = 0; r < rounds; r++) {
    for (const [hash, values] of Object.entries(groups)) {
      if (r >= values.length) continue;
      const seq = out.length + 1;
      out.push({ id: `e-t${seq}`, experimentId: 'e', seq, arch: { values: { name: hash } }, hash, state: 'COMPLETED', fidelity: 200, values: [values[r] as number], metrics: { val_accuracy: values[r] as number }, createdAt: new Date(seq * 1000).toISOString() });
    }
  }
  return out;
}

const objectives = [{ metric: 'val_accuracy', goal: 'max' as const }];

describe('noise-aware recommendation', () => {
  it('ranks a consistently good architecture above a lucky single reading, and shows mean ± sd and n', () => {
    const board = leaderboard(trials(GROUPS), objectives);
    // Best single reading (B, 91.7) beats A's latest (91.6): that was rank 1 before.
    expect(board[0]?.hash).toBe('A');
    expect(board[1]?.hash).toBe('B');
    const a = board[0]?.measurements;
    expect(a?.n).toBe(3);
    expect(a?.mean).toBeCloseTo(91.6, 9);
    expect(a?.sd).toBeCloseTo(0.2, 9);
    // Shrunk towards the contenders' mean (the winner's curse), less for more measurements.
    expect(a?.estimate).toBeLessThan(91.6);
    expect(board[1]?.measurements).toBeUndefined();
    expect(board.find((e) => e.hash === 'C')?.measurements).toMatchObject({ n: 2, mean: 91.2 });
  });

  it('minimising: the same ranking with the values negated', () => {
    const neg = Object.fromEntries(Object.entries(GROUPS).map(([k, v]) => [k, v.map((x) => -x)]));
    const board = leaderboard(trials(neg), [{ metric: 'val_accuracy', goal: 'min' }]);
    expect(board[0]?.hash).toBe('A');
    expect(board[0]?.measurements?.mean).toBeCloseTo(-91.6, 9);
  });

  it('without repeated measurements it is the best reading (a search without noise ranks as before)', () => {
    const single = Object.fromEntries(Object.entries(GROUPS).map(([k, v]) => [k, [v[v.length - 1] as number]]));
    const board = leaderboard(trials(single), objectives);
    expect(board.map((e) => e.hash).slice(0, 4)).toEqual(['B', 'A', 'C', 'D']);
    expect(fitNoise(Object.values(single)).noise).toBeUndefined();
  });

  it('pools the noise over the repeated architectures and re-measures the lucky reading first', () => {
    const groups = Object.values(GROUPS);
    const { model, measurements } = estimateAll(groups);
    // (0.04 + 0.04 + 0 + 0.04 + 0.04) / 3 degrees of freedom.
    expect(model.noise).toBeCloseTo(0.16 / 3, 9);
    expect(model.dof).toBe(3);
    expect(recommended(measurements)).toBe(0);
    // B is close to A with one reading: one more of it is worth most; K is no contender.
    expect(remeasureChoice(groups, REMEASURE_DEFAULTS)).toBe(1);
    // Not while it is being measured, nor past the cap.
    expect(remeasureChoice(groups, REMEASURE_DEFAULTS, (i) => i === 1)).not.toBe(1);
    expect(remeasureChoice(groups, { ...REMEASURE_DEFAULTS, measurements: 1 })).toBeUndefined();
    // Its second reading is ordinary: A stays the recommendation.
    const after = [...groups];
    after[1] = [91.7, 91.3];
    expect(recommended(estimateAll(after).measurements)).toBe(0);
  });

  it('learns the noise first: before any repeat, the incumbent with one reading is measured again', () => {
    const single = [[91.7], [91.6], [91.0]];
    expect(remeasureChoice(single, REMEASURE_DEFAULTS)).toBe(0);
    expect(remeasureChoice([[91.7]], REMEASURE_DEFAULTS)).toBeUndefined();
  });
});
