import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchSpace, runBench } from '../../../shared/bench/harness.js';
import { BenchTable } from '../../../shared/bench/table.js';

/** The NAS-Bench-201 table lives beside the repository (../shared/benchmarks), or where NASFLOW_BENCH_TABLE says. */
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(import.meta.dirname, '../../../../shared/benchmarks/nb201-cifar10.csv');

describe('benchmark harness on NAS-Bench-201', () => {
  it('finds the table', () => {
    expect(existsSync(TABLE), `table missing at ${TABLE}; set NASFLOW_BENCH_TABLE`).toBe(true);
  });

  const table = BenchTable.load(TABLE);

  it("measures random search's regret as its exact expectation", () => {
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
    const r = runBench({ table, objective: 'val_acc_200ep', strategies: ['random'], seeds, trials: 50, budgets: [10, 50] });
    for (const k of [10, 50]) {
      const measured = (r.strategies.random!.byBudget[k] as { meanRegret: number }).meanRegret;
      const exact = expectedRegret(k);
      // Regret's spread per run is below 1.5 points at k >= 10, so 3 standard errors of the mean is < 0.26.
      expect(Math.abs(measured - exact)).toBeLessThan((3 * 1.5) / Math.sqrt(seeds));
    }
    expect(r.optimum).toBe(optimum);
    expect(r.default).toBe('bo');
  });

  it('reports regret and hit rate per budget, and hypervolume regret for two objectives', () => {
    const single = runBench({ table, objective: 'val_acc_200ep', noisy: 'val_acc_200ep_seeds', strategies: ['local'], seeds: 3, trials: 30, budgets: [10, 30, 500] });
    const byBudget = single.strategies.local!.byBudget;
    expect(Object.keys(byBudget)).toEqual(['10', '30']);
    const at30 = byBudget['30'] as { meanRegret: number; hitRate: number };
    expect(at30.meanRegret).toBeGreaterThanOrEqual(0);
    expect(at30.hitRate).toBeGreaterThanOrEqual(0);
    expect(at30.meanRegret).toBeLessThanOrEqual((byBudget['10'] as { meanRegret: number }).meanRegret);
    const mo = runBench({ table, objectives: ['val_acc_200ep', 'latency_ms_pixel3'], strategies: ['evolution'], seeds: 2, trials: 30, budgets: [10, 30] });
    const hv = mo.strategies.evolution!.byBudget;
    expect((hv['30'] as { hvRegret: number }).hvRegret).toBeLessThanOrEqual((hv['10'] as { hvRegret: number }).hvRegret);
    expect(mo.optimum).toBeCloseTo(0.9620957911964997, 9); // the peer's hv_optimum for this table
  });

  it('names a missing column and a missing file', () => {
    expect(() => table.requireColumn('val_acc_9000ep')).toThrow(/no column "val_acc_9000ep"/);
    expect(() => BenchTable.load('/nonexistent/table.csv')).toThrow(/cannot read table \/nonexistent\/table.csv: ENOENT/);
  });
});
