/**
 * The benchmark harness behind `nasflow bench`: runs strategies for many
 * seeds against a table and measures regret, hit rate, hypervolume regret
 * and proposal cost. Regret is always measured on the objective column; in
 * noisy mode the search sees one per-seed draw per evaluation and "best
 * found" is the architecture with the best draw.
 */
import { hypervolume } from '../objectives/pareto.js';
import { Rng } from '../rng.js';
import { Space } from '../space/space.js';
import { createStrategy, DEFAULT_STRATEGY, type Strategy } from '../strategies/index.js';
import { BenchTable, TableEvaluator } from './table.js';

export interface BenchOptions {
  readonly table: BenchTable;
  /** Objective column, maximised (single-objective mode). */
  readonly objective?: string;
  /** Seeds column for noisy mode. */
  readonly noisy?: string;
  /** Two objectives: [maximised column, minimised column] (hypervolume mode). */
  readonly objectives?: readonly [string, string];
  readonly strategies: readonly string[];
  readonly seeds: number;
  readonly trials: number;
  readonly budgets: readonly number[];
  /** `distinct` treats isomorphic cells as separate arms (as the table records them); default `merge`. */
  readonly isomorphism?: 'merge' | 'distinct';
  /** Options passed to every strategy (for experiments with non-default settings). */
  readonly strategyOptions?: Readonly<Record<string, unknown>>;
  /** Called after each (strategy, seed) run. */
  readonly onProgress?: (strategy: string, seed: number) => void;
}

export interface BudgetStats {
  meanRegret: number;
  hitRate: number;
}
export interface StrategyStats {
  byBudget: Record<string, BudgetStats | { hvRegret: number }>;
  msPerProposal: number;
}
export interface BenchReport {
  optimum: number;
  default: string;
  objective?: string;
  objectives?: readonly string[];
  noisy?: string;
  isomorphism: 'merge' | 'distinct';
  seeds: number;
  trials: number;
  strategies: Record<string, StrategyStats>;
}

/** The cell space every NAS-Bench-201 table is over. */
export function benchSpace(isomorphism: 'merge' | 'distinct' = 'merge'): Space {
  return Space.fromSpec({ kind: 'cell', isomorphism });
}

export function runBench(o: BenchOptions): BenchReport {
  const space = benchSpace(o.isomorphism);
  const budgets = o.budgets.filter((b) => b <= o.trials);
  const report: BenchReport = {
    optimum: 0,
    default: DEFAULT_STRATEGY,
    seeds: o.seeds,
    trials: o.trials,
    strategies: {},
    ...(o.objectives ? { objectives: o.objectives } : { objective: o.objective as string }),
    ...(o.noisy ? { noisy: o.noisy } : {}),
    isomorphism: o.isomorphism ?? 'merge',
  };
  if (o.objectives) return runHv(o, space, budgets, report);
  const objective = o.objective as string;
  const evaluator = new TableEvaluator(o.table, space, { metrics: { y: objective }, ...(o.noisy ? { noisy: { y: o.noisy } } : {}) });
  const truth = o.table.column(objective);
  const optimum = Math.max(...truth);
  report.optimum = optimum;
  for (const name of o.strategies) {
    const regrets = budgets.map(() => [] as number[]);
    let askMs = 0;
    let asks = 0;
    for (let seed = 0; seed < o.seeds; seed++) {
      const strategy = createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed, ...(o.strategyOptions ? { options: o.strategyOptions } : {}) });
      const noise = Rng.seeded(1000 + seed);
      let bestSeen = -Infinity;
      let bestTrue = -Infinity;
      let bi = 0;
      for (let t = 1; t <= o.trials; t++) {
        const t0 = performance.now();
        const a = strategy.ask(1);
        askMs += performance.now() - t0;
        asks++;
        if (a === 'exhausted') {
          for (; bi < budgets.length; bi++) (regrets[bi] as number[]).push(optimum - bestTrue);
          break;
        }
        const arch = a[0]!;
        const r = evaluator.evaluate(arch, noise);
        const seen = r.metrics.y as number;
        if (seen > bestSeen) {
          bestSeen = seen;
          bestTrue = truth[r.row] as number;
        }
        const t1 = performance.now();
        strategy.tell({ arch, status: 'completed', values: [seen] });
        askMs += performance.now() - t1;
        while (bi < budgets.length && budgets[bi] === t) (regrets[bi++] as number[]).push(optimum - bestTrue);
      }
      o.onProgress?.(name, seed);
    }
    const byBudget: Record<string, BudgetStats> = {};
    budgets.forEach((b, i) => {
      const rs = regrets[i] as number[];
      byBudget[b] = { meanRegret: round(mean(rs), 4), hitRate: round(rs.filter((r) => r <= 1e-9).length / rs.length, 4) };
    });
    report.strategies[name] = { byBudget, msPerProposal: round(askMs / asks, 3) };
  }
  return report;
}

/**
 * Normalised hypervolume as the peer's script defines it: accuracy (maximised)
 * and latency (minimised) each scaled to [0, 1] by their minimum and maximum
 * over all the values given (the whole table), oriented so 0 is best,
 * reference point (1, 1).
 */
export interface HvScale {
  /** HV of all the values given: the table's true front. */
  readonly optimum: number;
  /** One measured (accuracy, latency) in the normalised space. */
  point(acc: number, lat: number): [number, number];
  /** `optimum` minus the HV of these normalised points. */
  regret(points: readonly (readonly number[])[]): number;
}

export function hvScale(acc: ArrayLike<number>, lat: ArrayLike<number>): HvScale {
  const a = Array.from(acc);
  const l = Array.from(lat);
  const [amin, amax, lmin, lmax] = [Math.min(...a), Math.max(...a), Math.min(...l), Math.max(...l)];
  const point = (x: number, y: number): [number, number] => [(amax - x) / (amax - amin), (y - lmin) / (lmax - lmin)];
  const optimum = hypervolume(a.map((x, i) => point(x, l[i] as number)), [1, 1]);
  return { optimum, point, regret: (points) => optimum - hypervolume(points, [1, 1]) };
}

/** Normalised hypervolume regret (`hvScale`) per budget. */
function runHv(o: BenchOptions, space: Space, budgets: readonly number[], report: BenchReport): BenchReport {
  const [accCol, latCol] = o.objectives as readonly [string, string];
  const acc = o.table.column(accCol);
  const lat = o.table.column(latCol);
  const scale = hvScale(acc, lat);
  report.optimum = scale.optimum;
  const evaluator = new TableEvaluator(o.table, space, { metrics: { acc: accCol, lat: latCol } });
  const objectives = [
    { metric: 'acc', goal: 'max' as const },
    { metric: 'lat', goal: 'min' as const },
  ];
  for (const name of o.strategies) {
    const regs = budgets.map(() => [] as number[]);
    let askMs = 0;
    let asks = 0;
    for (let seed = 0; seed < o.seeds; seed++) {
      const strategy: Strategy = createStrategy(name, { space, objectives, seed, ...(o.strategyOptions ? { options: o.strategyOptions } : {}) });
      const rng = Rng.seeded(1000 + seed);
      const seen: [number, number][] = [];
      let bi = 0;
      for (let t = 1; t <= o.trials; t++) {
        const t0 = performance.now();
        const a = strategy.ask(1);
        askMs += performance.now() - t0;
        asks++;
        if (a === 'exhausted') break;
        const arch = a[0]!;
        const r = evaluator.evaluate(arch, rng);
        seen.push(scale.point(acc[r.row] as number, lat[r.row] as number));
        const t1 = performance.now();
        strategy.tell({ arch, status: 'completed', values: [r.metrics.acc as number, r.metrics.lat as number] });
        askMs += performance.now() - t1;
        while (bi < budgets.length && budgets[bi] === t) (regs[bi++] as number[]).push(scale.regret(seen));
      }
      for (; bi < budgets.length; bi++) (regs[bi] as number[]).push(scale.regret(seen));
      o.onProgress?.(name, seed);
    }
    const byBudget: Record<string, { hvRegret: number }> = {};
    budgets.forEach((b, i) => (byBudget[b] = { hvRegret: round(mean(regs[i] as number[]), 5) }));
    report.strategies[name] = { byBudget, msPerProposal: round(askMs / asks, 3) };
  }
  return report;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
