import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFidelityBench } from '../../../shared/bench/fidelity.js';
import { BenchTable } from '../../../shared/bench/table.js';

const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

describe('cost-to-regret benchmark on NAS-Bench-201', () => {
  const table = BenchTable.load(TABLE);
  const run = (resume: boolean) =>
    runFidelityBench({
      table,
      strategies: ['random'],
      schedulers: { none: { scheduler: 'none', max: 200 }, sh: { scheduler: 'sh', rungs: [12, 200], eta: 3 }, median: { scheduler: 'median', rungs: [12, 200] } },
      seeds: 4,
      referenceTrials: 20,
      resume,
    });

  it('charges each evaluation its fidelity and measures the reference at referenceTrials full trials', async () => {
    const r = (await run(false)).strategies.random!;
    const none = r.schedulers.none!;
    // 20 trials × 200 epochs = 4000: exactly 20 full evaluations per run.
    expect(none.evaluations).toEqual({ 200: 20 });
    expect(r.reference.cost).toBeLessThanOrEqual(4000);
    expect(none.meanRegretAt['4000']).toBe(r.reference.regret);
    // SH with eta 3 over two rungs: 3 at 12 epochs for each 1 at 200, cost 3·12 + 200 = 236 per bracket.
    const sh = r.schedulers.sh!;
    // The budget pays for 16 brackets (3776) and the 17th's three 12-epoch trials (3812); its promotion, estimated
    // at its 188 extra epochs, still fits, and is cut at the budget's end.
    expect(sh.evaluations).toEqual({ 12: 3 * 17, 200: 17 });
    // The mean regret curve never rises (the incumbent only improves once at the top rung).
    for (const res of Object.values(r.schedulers)) {
      const top = res.curve.filter(([c]) => c >= 1000).map(([, v]) => v);
      expect(top.every((v, i) => i === 0 || v <= (top[i - 1] as number))).toBe(true);
    }
  });

  it('charges promotions only their extra epochs when they resume', async () => {
    const full = (await run(false)).strategies.random!.schedulers.sh!;
    const resumed = (await run(true)).strategies.random!.schedulers.sh!;
    // 3·12 + 188 = 224 per bracket: 17 brackets (3808), the 18th's three 12-epoch trials (3844), and no promotion
    // (188 epochs do not fit in 156): no trial starts that the budget cannot pay for.
    expect(resumed.evaluations).toEqual({ 12: 3 * 18, 200: 17 });
    expect(resumed.evaluations['12']).toBeGreaterThan(full.evaluations['12'] as number);
  });

  it('runs the full-fidelity reference even when it is not among the schedulers asked for', async () => {
    const r = (await runFidelityBench({ table, strategies: ['random'], schedulers: { sh: { scheduler: 'sh', rungs: [12, 200], eta: 3 } }, seeds: 3, referenceTrials: 10 })).strategies.random!;
    expect(Number.isFinite(r.reference.regret)).toBe(true);
    expect(r.schedulers.none!.evaluations).toEqual({ 200: 10 });
    expect(r.schedulers.sh!.costRatio).not.toBeNull();
  });

  it('firstSeed runs other seeds: two one-seed runs average to the two-seed run', async () => {
    const bench = async (seeds: number, firstSeed: number) =>
      (await runFidelityBench({ table, strategies: ['random'], schedulers: { sh: { scheduler: 'sh', rungs: [12, 200], eta: 3 } }, seeds, firstSeed, referenceTrials: 10 })).strategies.random!.schedulers;
    const both = await bench(2, 0);
    const a = await bench(1, 0);
    const b = await bench(1, 1);
    for (const label of ['none', 'sh']) {
      const last = (r: typeof both) => r[label]!.meanRegretAt['2000'] as number;
      expect(last(both)).toBeCloseTo((last(a) + last(b)) / 2, 3);
    }
    expect((await bench(1, 1)).none!.meanRegretAt['2000']).not.toBeUndefined();
  });
});
