import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchTable } from '../../../shared/bench/table.js';
import { cellStructure } from '../../../shared/latency/features.js';
import { ranks, ridgePredict, spearman } from '../../../shared/latency/linalg.js';
import { LatencyPredictor } from '../../../shared/latency/predictor.js';
import { evaluateOnTable } from '../../../shared/latency/table-eval.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

describe('rank statistics', () => {
  it('averages tied ranks and computes Spearman by hand', () => {
    expect(Array.from(ranks([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
    // ranks a = 1,2,3,4; b = 2,1,4,3: d² = 1+1+1+1 = 4, ρ = 1 − 6·4/(4·15) = 0.6
    expect(spearman([1, 2, 3, 4], [20, 10, 40, 30])).toBeCloseTo(0.6, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('ridge with no penalty recovers an exact linear relation', () => {
    const x = Float64Array.from([0, 1, 2, 3, 4]);
    const fit = ridgePredict([x], [0, 2, 4], [1, 5, 9], [0]);
    expect(Array.from(fit).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([1, 3, 5, 7, 9]);
  });
});

describe('structural features', () => {
  it('marks an op twice only on edges that reach the output', () => {
    // Edge 1<-0 is a conv, but node 1 feeds node 3 through nothing: pruned in a graph runtime.
    const cells = [
      ['nor_conv_3x3', 'none', 'none', 'skip_connect', 'none', 'none'],
      ['nor_conv_3x3', 'none', 'none', 'none', 'nor_conv_3x3', 'none'],
    ];
    const cols = cellStructure(cells, ['none', 'skip_connect', 'nor_conv_3x3']);
    // Non-constant columns only: the live conv on edge 0 differs between the cells, the all-edges conv on edge 0 does not.
    const liveConvEdge0 = cols.find((c) => c[0] === 0 && c[1] === 1);
    expect(liveConvEdge0).toBeDefined();
    expect(cols.some((c) => c[0] === 1 && c[1] === 1)).toBe(false);
  });

  it('refuses fewer than two measurements', () => {
    const p = new LatencyPredictor([Float64Array.from([0, 1, 2])], [Float64Array.from([1, 2, 4])]);
    expect(() => p.predict([{ row: 0, ms: 1 }])).toThrow(/at least 2/);
    expect(() => new LatencyPredictor([Float64Array.from([0, 1, 2])], [])).toThrow(/--known: expected at least one other device/);
  });
});

describe('leave one device out on NAS-Bench-201', () => {
  it('ranks a held-out device from 10 measurements better than least squares on the same 10', () => {
    const table = BenchTable.load(TABLE);
    const result = evaluateOnTable(table, { target: 'latency_ms_titan_rtx_1', samples: 10, draws: 4, seed: 3 });
    expect(result.known).toEqual(['latency_ms_pixel3', 'latency_ms_raspi4', 'latency_ms_gold_6226']);
    expect(result.spearman.mean).toBeGreaterThan(0.94);
    expect(result.spearman.mean).toBeGreaterThan((result.baseline.leastSquares?.mean ?? 1) + 0.01);
  }, 60_000);

  it('with no other device, ranks from the graph\'s cost (the spec device model): about as well as FLOPs, far from the transfer', () => {
    const table = BenchTable.load(TABLE);
    const result = evaluateOnTable(table, { target: 'latency_ms_pixel3', known: [], samples: 10, draws: 3, seed: 3 });
    expect(result.baseline.leastSquares).toBeNull();
    // docs/latency.md: 0.85 on Pixel 3 over 20 draws (FLOPs alone 0.86).
    expect(result.spearman.mean).toBeGreaterThan(0.7);
    expect(result.spearman.mean).toBeLessThan(0.95);
  }, 60_000);
});
