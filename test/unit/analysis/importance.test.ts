/**
 * Decision importance on synthetic objectives whose important decisions are
 * known: functional ANOVA must rank them first and give the rest little.
 */
import { describe, expect, it } from 'vitest';
import { fanova } from '../../../shared/analysis/fanova.js';
import { searchInsights } from '../../../shared/analysis/importance.js';
import type { Trial } from '../../../shared/experiment/model.js';
import { Rng } from '../../../shared/rng.js';
import { Space } from '../../../shared/space/space.js';

describe('fanova', () => {
  it('gives all the importance to the one feature the target depends on', () => {
    // Arrange: y = 10·x0 on three uniform features.
    const rng = Rng.seeded(1);
    const x = Array.from({ length: 120 }, () => Float64Array.from([rng.next(), rng.next(), rng.int(4)]));
    const y = x.map((r) => 10 * r[0]!);
    // Act
    const f = fanova(x, y, [{ kind: 'numeric', low: 0, high: 1 }, { kind: 'numeric', low: 0, high: 1 }, { kind: 'categorical', levels: 4 }], { trees: 16 });
    // Assert
    expect(f.importance[0]).toBeGreaterThan(0.95);
    expect(f.importance.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    // The partial dependence follows the line: low at 0.1, high at 0.9.
    expect(f.partialDependence(0, 0.1)).toBeLessThan(2);
    expect(f.partialDependence(0, 0.9)).toBeGreaterThan(8);
  });

  it('splits the variance of an additive function in proportion to each term', () => {
    // y = 3·[level == 2] + x0: variance of the first term 9·(1/4)(3/4) = 1.69, of the second 1/12 = 0.083.
    const rng = Rng.seeded(2);
    const x = Array.from({ length: 300 }, () => Float64Array.from([rng.next(), rng.int(4)]));
    const y = x.map((r) => 3 * (r[1] === 2 ? 1 : 0) + r[0]!);
    const f = fanova(x, y, [{ kind: 'numeric', low: 0, high: 1 }, { kind: 'categorical', levels: 4 }], { trees: 32 });
    expect(f.importance[1]).toBeGreaterThan(0.9);
    expect(f.importance[1]! / f.importance[0]!).toBeGreaterThan(10);
    expect(f.importance[1]! / f.importance[0]!).toBeLessThan(40);
    expect(f.mainEffectShare.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.9);
  });
});

describe('searchInsights', () => {
  const trial = (space: Space, seq: number, arch: Trial['arch'], value: number): Trial => ({
    id: `e/t${seq}`,
    experimentId: 'e',
    seq,
    arch,
    hash: space.hash(arch),
    state: 'COMPLETED',
    fidelity: 3,
    metrics: { val_accuracy: value },
    values: [value],
    createdAt: '2025-01-01T00:00:00.000Z',
  });

  it('ranks the edge that decides a cell first and shows which operation helps on it', () => {
    // Arrange: an objective that only the op on edge 3<-0 moves (conv 3×3 +0.1, none −0.1), with small noise.
    const space = Space.fromSpec({ kind: 'cell', channels: 16, cellsPerStage: 5, stages: 3 });
    const rng = Rng.seeded(3);
    const trials = Array.from({ length: 150 }, (_, i) => {
      const arch = space.sample(rng);
      const op = arch.values['3<-0'];
      return trial(space, i + 1, arch, 0.8 + (op === 'nor_conv_3x3' ? 0.1 : op === 'none' ? -0.1 : 0) + 0.005 * rng.normal());
    });
    // Act
    const r = searchInsights(space, trials, [{ metric: 'val_accuracy', goal: 'max' }], { trees: 32 })!;
    // Assert
    const ranked = Object.keys(r.importance);
    expect(ranked[0]).toBe('3<-0');
    expect(r.importance['3<-0']).toBeGreaterThan(0.8);
    expect(Object.values(r.importance).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    const e = r.cellEffects!;
    const row = e.effect[e.edges.indexOf('3<-0')]!;
    expect(row[e.ops.indexOf('nor_conv_3x3')]).toBeGreaterThan(0.05);
    expect(row[e.ops.indexOf('none')]).toBeLessThan(-0.05);
  });

  it('handles decisions inactive in some trials (a layer beyond the depth) and numeric decisions', () => {
    // Arrange: the objective follows the log learning rate only.
    const space = Space.fromSpec({ kind: 'chain', depth: { int: [1, 3] }, layer: { type: 'dense', width: { choice: [16, 32, 64] } }, learningRate: { float: [0.0001, 0.1], log: true } });
    const rng = Rng.seeded(4);
    const trials = Array.from({ length: 100 }, (_, i) => {
      const arch = space.sample(rng);
      const lr = arch.values['learningRate'] as number;
      return trial(space, i + 1, arch, 0.5 + 0.1 * Math.log10(lr));
    });
    // Act
    const r = searchInsights(space, trials, [{ metric: 'val_accuracy', goal: 'max' }], { trees: 32 })!;
    // Assert
    expect(Object.keys(r.importance)[0]).toBe('learningRate');
    expect(r.importance['learningRate']).toBeGreaterThan(0.9);
    expect(r.importance).toHaveProperty(['layers.2.width']);
    expect(r.dependence['layers.2.width']!.some((p) => p.value === null)).toBe(true);
    const lr = r.dependence['learningRate']!;
    expect(lr[0]!.mean).toBeLessThan(lr[lr.length - 1]!.mean);
  });

  it('says nothing with too few trials or a constant objective', () => {
    const space = Space.fromSpec({ kind: 'cell', channels: 16, cellsPerStage: 5, stages: 3 });
    const rng = Rng.seeded(5);
    const few = Array.from({ length: 4 }, (_, i) => trial(space, i + 1, space.sample(rng), i));
    const flat = Array.from({ length: 20 }, (_, i) => trial(space, i + 1, space.sample(rng), 0.5));
    expect(searchInsights(space, few, [{ metric: 'val_accuracy', goal: 'max' }])).toBeUndefined();
    expect(searchInsights(space, flat, [{ metric: 'val_accuracy', goal: 'max' }])).toBeUndefined();
  });
});
