import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchSpace, benchSpec, runBench, simulateSearch } from '../../../shared/bench/harness.js';
import { BenchTable } from '../../../shared/bench/table.js';

/** The NAS-Bench-201 table lives beside the repository (../shared/benchmarks), or where NASFLOW_BENCH_TABLE says. */
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

describe('benchmark harness on NAS-Bench-201', () => {
  it('finds the table', () => {
    expect(existsSync(TABLE), `table missing at ${TABLE}; set NASFLOW_BENCH_TABLE`).toBe(true);
  });

  const table = BenchTable.load(TABLE);

  it("measures random search's regret as its exact expectation", async () => {
    // Random search draws distinct networks uniformly without replacement, so
    // the best of k draws from N values v(1) <= ... <= v(N) has
    // E[max] = sum_i v(i) C(i-1, k-1) / C(N, k).
    const space = benchSpace();
    const truth = table.column('val_acc_200ep');
    const values = [...space.enumerate()].map((a) => truth[table.row(space.archStr(a)) as number] as number).sort((a, b) => a - b);
    const N = values.length;
    const optimum = Math.max(...truth);
    const expectedRegret = (k: number) => {
      let logC = 0; // log C(i-1, k-1) / C(N, k), updated as i grows from k
      const lgamma = (n: number) => {
        let s = 0;
        for (let j = 2; j <= n; j++) s += Math.log(j);
        return s;
      };
      const logCNk = lgamma(N) - lgamma(k) - lgamma(N - k);
      let e = 0;
      for (let i = k; i <= N; i++) {
        logC = lgamma(i - 1) - lgamma(k - 1) - lgamma(i - k);
        e += (values[i - 1] as number) * Math.exp(logC - logCNk);
      }
      return optimum - e;
    };
    const seeds = 300;
    const r = await runBench({ table, objective: 'val_acc_200ep', strategies: ['random'], seeds, trials: 50, budgets: [10, 50] });
    for (const k of [10, 50]) {
      const measured = (r.strategies.random!.byBudget[k] as { meanRegret: number }).meanRegret;
      const exact = expectedRegret(k);
      // Regret's spread per run is below 1.5 points at k >= 10, so 3 standard errors of the mean is < 0.26.
      expect(Math.abs(measured - exact)).toBeLessThan((3 * 1.5) / Math.sqrt(seeds));
    }
    expect(r.optimum).toBe(optimum);
    expect(r.default).toBe('bo');
    // 15,000 trials through the search steps: seconds when the machine is free.
  }, 240_000);

  it('reports regret and hit rate per budget, and hypervolume regret for two objectives', async () => {
    const single = await runBench({ table, objective: 'val_acc_200ep', noisy: 'val_acc_200ep_seeds', strategies: ['local'], seeds: 3, trials: 30, budgets: [10, 30, 500] });
    const byBudget = single.strategies.local!.byBudget;
    expect(Object.keys(byBudget)).toEqual(['10', '30']);
    const at30 = byBudget['30'] as { meanRegret: number; hitRate: number };
    // A regret is the optimum minus a value of the table; a hit rate counts the 3 runs at the optimum.
    const worst = single.optimum - Math.min(...table.column('val_acc_200ep'));
    expect(at30.meanRegret).toBeLessThan(worst);
    expect(Number.isInteger(Math.round(at30.hitRate * 3 * 1e4) / 1e4)).toBe(true);
    // Runs at the optimum add nothing to the mean: the others hold all of it.
    expect(at30.meanRegret).toBeLessThanOrEqual((1 - at30.hitRate) * worst + 1e-9);
    if (at30.hitRate === 1) expect(at30.meanRegret).toBe(0);
    expect(at30.meanRegret).toBeLessThanOrEqual((byBudget['10'] as { meanRegret: number }).meanRegret);
    const mo = await runBench({ table, objectives: ['val_acc_200ep', 'latency_ms_pixel3'], strategies: ['evolution'], seeds: 2, trials: 30, budgets: [10, 30] });
    const hv = mo.strategies.evolution!.byBudget;
    expect((hv['30'] as { hvRegret: number }).hvRegret).toBeLessThanOrEqual((hv['10'] as { hvRegret: number }).hvRegret);
    expect(mo.optimum).toBeCloseTo(0.9620957911964997, 9); // the peer's hv_optimum for this table
  });

  it('runs parallel workers on simulated time: the same seeds give the same figures, and results arrive out of proposal order', async () => {
    const o = { table, objective: 'val_acc_200ep', strategies: ['evolution'], seeds: 3, trials: 40, budgets: [20, 40], workers: 3 };
    const a = await runBench(o);
    const b = await runBench(o);
    expect(b.strategies.evolution!.byBudget).toEqual(a.strategies.evolution!.byBudget);
    expect(a.workers).toBe(3);
    const { trials } = await simulateSearch(table, benchSpec(table, { metrics: { y: 'val_acc_200ep' }, objectives: [{ metric: 'y', goal: 'max' }], strategy: 'random', seed: 1, workers: 3 }, { budget: { trials: 30 }, dataset: { fidelities: { 12: { y: 'val_acc_12ep' } } }, epochs: 200, fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 3 } }), { workers: 3 });
    expect(trials).toHaveLength(30);
    // Short trials overtake long ones: the finishing order is not the proposal order.
    expect(trials.map((t) => t.seq)).not.toEqual([...trials.map((t) => t.seq)].sort((x, y) => x - y));
  });

  it('names a missing column and a missing file', () => {
    expect(() => table.requireColumn('val_acc_9000ep')).toThrow(/no column "val_acc_9000ep"/);
    expect(() => BenchTable.load('/nonexistent/table.csv')).toThrow(/cannot read table \/nonexistent\/table.csv: ENOENT/);
  });
});
