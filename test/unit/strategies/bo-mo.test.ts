/**
 * Bayesian optimisation with two objectives on the NAS-Bench-201 cell:
 * reproducibility, restore, no repeats, the op-count features, and search
 * quality on a synthetic accuracy × latency problem whose true front is
 * computed exactly by enumerating every distinct network.
 */
import { describe, expect, it } from 'vitest';
import { hvScale } from '../../../shared/bench/harness.js';
import { hypervolume } from '../../../shared/objectives/pareto.js';
import type { Objective } from '../../../shared/objectives/objectives.js';
import { Space, type Architecture } from '../../../shared/space/space.js';
import { cellOpCounts } from '../../../shared/strategies/bo.js';
import { ehvi2d } from '../../../shared/strategies/gp.js';
import { Rng } from '../../../shared/rng.js';
import { createStrategy, restoreStrategy, type Strategy } from '../../../shared/strategies/index.js';

const cell = Space.fromSpec({ kind: 'cell' });
const objectives: Objective[] = [
  { metric: 'acc', goal: 'max' },
  { metric: 'lat', goal: 'min' },
];
const OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];
const arch = (s: string): Architecture => cell.parseArchitecture({ values: Object.fromEntries(cell.decisions.map((d, i) => [d.name, s.split(',')[i]])) });

/**
 * A synthetic accuracy × latency problem with the table's shape: latency is
 * additive in the ops a network runs (plus a fixed stem), accuracy grows with
 * convolutions with diminishing returns; the network that computes nothing
 * is fastest and useless.
 */
function measure(a: Architecture): [number, number] {
  const c = cellOpCounts(cell, a) as number[];
  const [, skip, c1, c3, pool] = c as [number, number, number, number, number];
  const expr = cell.key(a);
  const zero = c[0] === 6 || (skip + c1 + c3 + pool === 0);
  const acc = zero ? 10 : 80 + 6 * (1 - Math.exp(-0.8 * c3)) + 3 * (1 - Math.exp(-c1)) + 0.5 * Math.min(pool, 1) + 0.3 * Math.min(skip, 2) + (expr.length % 7) * 0.05;
  const lat = 1 + 0.1 * skip + 0.6 * c1 + 6 * c3 + 1.4 * pool;
  return [acc, lat];
}

function run(s: Strategy, steps: number): { keys: string[]; points: [number, number][] } {
  const keys: string[] = [];
  const points: [number, number][] = [];
  for (let i = 0; i < steps; i++) {
    const p = s.ask(1);
    if (p === 'exhausted') break;
    const a = p[0] as Architecture;
    const [acc, lat] = measure(a);
    keys.push(cell.key(a));
    points.push([acc, lat]);
    s.tell({ arch: a, status: 'completed', values: [acc, lat] });
  }
  return { keys, points };
}

describe('exact two-objective expected hypervolume improvement', () => {
  const ref = [3, 3];
  it('is the plain improvement when there is no uncertainty (hand-computed)', () => {
    // Front {(1, 2), (2, 1)}: HV = 4 + 1·… = (3−1)(3−2) + (3−2)(2−1) = 3. A point at (0, 0) dominates the box: HV 9, gain 6.
    expect(ehvi2d([[1, 2], [2, 1]], ref, [0, 0], [0, 0])).toBeCloseTo(6, 12);
    // (1.5, 1.5) adds the square between the two points: 0.5 × 0.5.
    expect(ehvi2d([[1, 2], [2, 1]], ref, [1.5, 1.5], [1e-12, 1e-12])).toBeCloseTo(0.25, 9);
    // A dominated point adds nothing; an empty front leaves the whole box to the point.
    expect(ehvi2d([[1, 2], [2, 1]], ref, [2.5, 2.5], [0, 0])).toBe(0);
    expect(ehvi2d([], ref, [1, 2], [0, 0])).toBeCloseTo(2, 12);
    // A front point outside the reference box bounds nothing.
    expect(ehvi2d([[4, 0]], ref, [1, 2], [0, 0])).toBeCloseTo(2, 12);
  });

  it('matches a Monte Carlo estimate of E[HV(front ∪ {Y}) − HV(front)]', () => {
    const rng = Rng.seeded(7);
    const front = [[-1.2, 1.1], [-0.4, 0.3], [0.2, -0.5], [1.3, -1.4]];
    const hv0 = hypervolume(front, ref);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    for (const [mean, sd] of [[[0, 0], [0.5, 0.8]], [[-1.5, 1.5], [0.3, 0.3]], [[2, 2], [1, 1]]] as [number[], number[]][]) {
      let sum = 0;
      const N = 200_000;
      for (let i = 0; i < N; i++) sum += hypervolume([...front, [(mean[0] as number) + (sd[0] as number) * gauss(), (mean[1] as number) + (sd[1] as number) * gauss()]], ref) - hv0;
      const exact = ehvi2d(front, ref, mean, sd);
      expect(exact).toBeGreaterThan(0);
      expect(Math.abs(exact - sum / N)).toBeLessThan(0.01 * Math.max(exact, 0.05));
    }
  });
});

describe('op-count features', () => {
  it('count the ops a cell runs, edges into dead nodes as none (hand-checked cells)', () => {
    // x + x: three skips reach the output, the other edges are none.
    expect(cellOpCounts(cell, arch('none,skip_connect,none,skip_connect,none,skip_connect'))).toEqual([3, 3, 0, 0, 0]);
    // A convolution into node 1, which feeds nothing, is pruned: the identity network.
    expect(cellOpCounts(cell, { values: { ...arch('none,none,none,skip_connect,none,none').values, '1<-0': 'nor_conv_3x3' } })).toEqual([5, 1, 0, 0, 0]);
    // The same convolution feeding the output through node 1 runs.
    expect(cellOpCounts(cell, arch('nor_conv_3x3,none,none,skip_connect,skip_connect,none'))).toEqual([3, 2, 0, 1, 0]);
    // Every op of the best NAS-Bench-201 cell runs.
    expect(cellOpCounts(cell, arch('nor_conv_3x3,nor_conv_3x3,nor_conv_3x3,skip_connect,nor_conv_3x3,nor_conv_1x1'))).toEqual([0, 1, 1, 4, 0]);
    expect(cellOpCounts(Space.fromSpec({ kind: 'chain', depth: { int: [1, 2] }, layer: { type: { choice: ['dense'] }, width: { choice: [8] } } }), { values: {} })).toBeUndefined();
    expect(OPS).toEqual(cell.decisions[0]?.domain.type === 'choice' ? cell.decisions[0].domain.values : []);
  });
});

describe('bo with two objectives', () => {
  it('same seed → same proposals; another seed → others', () => {
    const a = run(createStrategy('bo', { space: cell, objectives, seed: 4 }), 25).keys;
    const b = run(createStrategy('bo', { space: cell, objectives, seed: 4 }), 25).keys;
    const c = run(createStrategy('bo', { space: cell, objectives, seed: 5 }), 25).keys;
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('snapshot → restore → identical next proposals (with an infeasible and a failed trial)', () => {
    const ctx = { space: cell, objectives, seed: 8 };
    const warm = createStrategy('bo', ctx);
    const history: Architecture[] = [];
    const tell = (s: Strategy, a: Architecture, i: number) =>
      i === 12 ? s.tell({ arch: a, status: 'failed' }) : s.tell({ arch: a, status: 'completed', values: measure(a), feasible: i !== 5 });
    for (let i = 0; i < 24; i++) {
      const a = (warm.ask(1) as Architecture[])[0] as Architecture;
      history.push(a);
      tell(warm, a, i);
    }
    const cold = restoreStrategy(JSON.parse(JSON.stringify(warm.toJSON())), ctx);
    history.forEach((a, i) => tell(cold, a, i));
    expect(run(cold, 8).keys).toEqual(run(warm, 8).keys);
  });

  it('never repeats a network, nor proposes a pending one, in batches', () => {
    const s = createStrategy('bo', { space: cell, objectives, seed: 2 });
    run(s, 15);
    const pending = s.ask(3);
    expect(pending).not.toBe('exhausted');
    const more = s.ask(4, pending as Architecture[]);
    const keys = [...(pending as Architecture[]), ...(more as Architecture[])].map((a) => cell.key(a));
    expect(new Set(keys).size).toBe(7);
  });

  it('gets close to the exact front, both ends included, and beats random search', () => {
    const all = [...cell.enumerate()].map((a) => measure(a));
    const scale = hvScale(all.map((p) => p[0]), all.map((p) => p[1]));
    const regret = (pts: [number, number][]) => scale.regret(pts.map(([a, l]) => scale.point(a, l)));
    const bo: number[] = [];
    const random: number[] = [];
    let cheapEnd = 0;
    // Twelve seeds: single seeds differ a lot (0.0004 to 0.02 after 60 trials).
    for (let seed = 1; seed <= 12; seed++) {
      const found = run(createStrategy('bo', { space: cell, objectives, seed }), 60).points;
      bo.push(regret(found));
      random.push(regret(run(createStrategy('random', { space: cell, objectives, seed }), 60).points));
      // The cheapest useful networks (the identity and its like, ≤ 1.2 ms at ≥ 80 %) are an end of the front.
      if (found.some(([acc, lat]) => acc >= 80 && lat <= 1.2)) cheapEnd++;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Measured: 0.0046 (random search 0.052); docs/multi-objective.md.
    expect(mean(bo)).toBeLessThan(0.006);
    expect(mean(bo)).toBeLessThan(mean(random) / 4);
    // Not always: bo finds that end in 7 of the 12 seeds within 60 trials (docs/multi-objective.md).
    expect(cheapEnd).toBeGreaterThanOrEqual(6);
  });
});
