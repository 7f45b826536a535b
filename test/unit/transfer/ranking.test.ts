import { describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.js';
import { Space, type Architecture } from '../../../shared/space/space.js';
import type { FeatureKind } from '../../../shared/strategies/gp.js';
import { resampleLosses } from '../../../shared/transfer/ranking.js';
import { TransferModel } from '../../../shared/transfer/model.js';
import type { SourceTask } from '../../../shared/transfer/source.js';

describe('resample ranking losses', () => {
  it('equal pair-by-pair counting over each resample\'s draws, ties included', () => {
    // Arrange: 40 observations with tied target values and tied predictions (the copula ties equal results; a model may tie too).
    const rng = Rng.seeded(5);
    const n = 40;
    const y = Float64Array.from({ length: n }, () => rng.int(12));
    const preds = [Float64Array.from(y, (v) => v + rng.int(3)), Float64Array.from({ length: n }, () => rng.int(8))];
    // Act
    const fast = resampleLosses(preds, y, Rng.seeded(9), 30);
    // Assert: the same draws, counted over every ordered pair of draws.
    const draws = Rng.seeded(9);
    for (let b = 0; b < 30; b++) {
      const idx = Array.from({ length: n }, () => draws.int(n));
      let chance = 0;
      for (let a = 0; a < n; a++) for (let c = a + 1; c < n; c++) if (y[idx[a]!] !== y[idx[c]!]) chance++;
      expect(fast.chance[b]).toBe(chance);
      preds.forEach((p, m) => {
        let loss = 0;
        for (const i of idx) for (const j of idx) if ((p[i]! < p[j]!) !== (y[i]! < y[j]!)) loss++;
        expect(fast.losses[m]![b]).toBe(loss);
      });
    }
  });
});

describe('source predictions', () => {
  it('remembered ones are what the source model says at each point, whatever the order they were asked in', () => {
    // Arrange: a source over a cell space; two models of it: one asked every point in one order, then again in reverse; the other, new, in reverse only.
    const space = Space.fromSpec({ kind: 'cell' });
    const kinds: FeatureKind[] = space.decisions.map(() => 'categorical');
    const rng = Rng.seeded(2);
    const f = (a: Architecture) => space.encode(a).reduce((s, v, i) => s + v * ((i % 3) + 1), 0);
    const archs = Array.from({ length: 80 }, () => space.sample(rng));
    const source: SourceTask = { experimentId: 's', goal: 'max', observations: archs.map((arch) => ({ arch, status: 'completed', values: [f(arch) + rng.normal()] })) };
    const encode = (a: Architecture, out: Float64Array) => out.set(space.encode(a)) ?? out;
    const points = Array.from({ length: 300 }, () => space.encode(space.sample(rng)));
    const ask = (model: TransferModel, x: Float64Array) => model.predict(x, { mean: 0, variance: 1 }, [0.5, 0.5]);
    const warm = new TransferModel([source], encode, kinds, 0);
    for (const x of points) ask(warm, x);
    // Act
    const again = [...points].reverse().map((x) => ask(warm, x));
    const other = new TransferModel([source], encode, kinds, 0);
    const fresh = [...points].reverse().map((x) => ask(other, x));
    // Assert: identical, and the points differ in what the source says (not one value for all).
    expect(again).toEqual(fresh);
    expect(new Set(fresh.map((p) => p.mean)).size).toBeGreaterThan(20);
  });
});
