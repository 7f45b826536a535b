import { describe, expect, it } from 'vitest';
import { feasible, parseConstraint } from '../../../shared/objectives/objectives.js';
import { crowdingDistance, dominates, hypervolume, nondominatedRanks, paretoFront } from '../../../shared/objectives/pareto.js';

describe('Pareto fronts', () => {
  const pts = [
    [1, 5],
    [2, 3],
    [4, 1],
    [3, 4], // dominated by [2, 3]
    [5, 5], // dominated by everything on the front
  ];

  it('finds the non-dominated points', () => {
    expect(dominates([1, 1], [1, 2])).toBe(true);
    expect(dominates([1, 2], [1, 2])).toBe(false);
    expect(paretoFront(pts)).toEqual([0, 1, 2]);
    expect(nondominatedRanks(pts)).toEqual([0, 0, 0, 1, 2]);
  });

  it('gives the extremes infinite crowding distance', () => {
    const d = crowdingDistance([
      [1, 5],
      [2, 3],
      [4, 1],
    ]);
    expect(d[0]).toBe(Infinity);
    expect(d[2]).toBe(Infinity);
    // (4-1)/(4-1) + (5-1)/(5-1) = 2
    expect(d[1]).toBeCloseTo(2);
  });
});

describe('hypervolume', () => {
  it('matches hand-computed areas in 2-D', () => {
    // Reference (6, 6): staircase of (1,5), (2,3), (4,1) covers 5*1 + 4*2 + 2*2 = 17.
    expect(hypervolume([[1, 5], [2, 3], [4, 1], [3, 4]], [6, 6])).toBeCloseTo(17);
    expect(hypervolume([[0, 0]], [1, 1])).toBe(1);
    expect(hypervolume([[2, 2]], [1, 1])).toBe(0);
  });

  it('matches hand-computed volumes in 3-D', () => {
    // Two boxes against (2,2,2): [1,2]^3 (volume 1) and [0,2]x[0,2]x[1.5,2] (volume 2); overlap [1,2]^2x[1.5,2] = 0.5.
    expect(hypervolume([[1, 1, 1], [0, 0, 1.5]], [2, 2, 2])).toBeCloseTo(2.5);
  });
});

describe('constraints', () => {
  it('parses and checks bounds', () => {
    const c = parseConstraint('latency_ms <= 5');
    expect(c).toEqual({ metric: 'latency_ms', op: '<=', bound: 5 });
    expect(feasible({ latency_ms: 4.9 }, [c])).toBe(true);
    expect(feasible({ latency_ms: 5.1 }, [c])).toBe(false);
    expect(feasible({}, [c])).toBe(false);
    expect(() => parseConstraint('params is small')).toThrow(/expected "METRIC <= NUMBER"/);
  });
});
