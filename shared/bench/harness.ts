/**
 * The benchmark harness behind `nasflow bench`: runs strategies for many
 * seeds against a table and measures regret, hit rate, hypervolume regret
 * and proposal cost. Every run is the product's search — the local driver
 * over the search steps (`runExperiment`) — with the table as its backend
 * and a simulated clock (`simulateSearch`), so what is measured is what
 * `nasflow search` does, parallel workers and asynchronous results included.
 * Regret is always measured on the objective column; in noisy mode the
 * search sees one per-seed draw per evaluation (a re-measure draws another
 * seed) and what is scored is the search's recommendation: rank 1 of its
 * leaderboard, by the noise-aware estimate (shared/strategies/noise.ts).
 */
import type { Trial } from '../experiment/model.js';
import { hypervolume } from '../objectives/pareto.js';
import { SimulatedClock } from '../runner/clock.js';
import { runExperiment, type RunnerEvent } from '../runner/search.js';
import { TableTrialEvaluator } from '../runner/table-evaluator.js';
import { Space } from '../space/space.js';
import { parseExperimentSpec } from '../spec/experiment.js';
import { WarmSearch } from '../steps/warm.js';
import { MemoryExperimentStore } from '../store/memory.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { DEFAULT_STRATEGY } from '../strategies/index.js';
import type { BenchTable } from './table.js';
import { loadScores } from '../proxies/scores.js';
import { leaderboard } from '../report/report.js';

export interface BenchOptions {
  readonly table: BenchTable;
  /** Objective column, maximised (single-objective mode). */
  readonly objective?: string;
  /** Seeds column for noisy mode. */
  readonly noisy?: string;
  /** Noisy mode: the searches' `remeasure` (the spec field); default the product's (on, its defaults). */
  readonly remeasure?: false | { readonly threshold?: number; readonly measurements?: number };
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
  /** Trials running at once (default 1: results in proposal order, the figures of issue 2). */
  readonly workers?: number;
  /**
   * Transfer mode (shared/transfer/bench.ts): before each seed's search, runs
   * its source search into the store the search will use and returns the
   * spec's `warmStart` naming it.
   */
  readonly transfer?: (seed: number, store: ExperimentStore) => Promise<Record<string, unknown>>;
  /** Called after each (strategy, seed) run. */
  readonly onProgress?: (strategy: string, seed: number) => void;
  /** The first seed run (default 0): fresh seeds check a choice made on others. */
  readonly firstSeed?: number;
  /** Precomputed zero-cost proxy scores the searches use (the spec's `proxy:`), from `nasflow proxies --all --scores`. */
  readonly proxyScores?: { readonly file: string; readonly column: string };
}

export interface BudgetStats {
  meanRegret: number;
  hitRate: number;
}
export interface StrategyStats {
  byBudget: Record<string, BudgetStats | { hvRegret: number }>;
  msPerProposal: number;
  /** Noisy mode: the share of all trials that were re-measures of an architecture already measured. */
  remeasureShare?: number;
}
export interface BenchReport {
  optimum: number;
  default: string;
  objective?: string;
  objectives?: readonly string[];
  noisy?: string;
  /** The searches' `remeasure` when not the product's default. */
  remeasure?: false | { readonly threshold?: number; readonly measurements?: number };
  isomorphism: 'merge' | 'distinct';
  seeds: number;
  trials: number;
  workers: number;
  strategies: Record<string, StrategyStats>;
  firstSeed?: number;
  /** The proxy scores used, and what computing them cost (apart: the searches read them precomputed). */
  proxyScores?: { file: string; column: string; msPerArch: number; networks: number };
}

/**
 * The in-memory store of a simulated search. Its leases are read against a
 * stopped clock: one process drives the search and nobody can take it over,
 * so a lease must not lapse because a loaded machine starved the event loop
 * that renews it in real time (a nice'd bench under load failed "does not
 * hold its lease").
 */
function benchStore(): MemoryExperimentStore {
  return new MemoryExperimentStore({ now: () => 0 });
}

/** The cell space every NAS-Bench-201 table is over. */
export function benchSpace(isomorphism: 'merge' | 'distinct' = 'merge'): Space {
  return Space.fromSpec({ kind: 'cell', isomorphism });
}

/** What one simulated search came to. */
export interface SimulatedSearch {
  /** Its trials in the order they finished. */
  readonly trials: readonly Trial[];
  /** Milliseconds in the strategy's ask and tell, and its asks. */
  readonly strategyCost: { readonly ms: number; readonly asks: number };
}

/**
 * One search as `nasflow search` runs it — `raw` is its spec, its dataset a
 * table dataset over `table` — on a simulated clock: an in-memory store, the
 * table evaluator waiting simulated time (durations from the spec's seconds
 * per epoch), `workers` slots. `onFinished` sees each finished trial in order
 * and may end the search there (`true`: a stop request, as a user would make).
 */
export async function simulateSearch(
  table: BenchTable,
  raw: Record<string, unknown>,
  options: { readonly workers: number; readonly resume?: boolean; readonly onFinished?: (trial: Trial) => boolean | void; readonly store?: ExperimentStore; readonly id?: string },
): Promise<SimulatedSearch> {
  const spec = parseExperimentSpec(raw);
  if (spec.dataset.source !== 'table') throw new Error('simulateSearch needs a table dataset');
  // A given store may hold earlier searches (transfer's sources).
  const store: ExperimentStore = options.store ?? benchStore();
  const id = options.id ?? 'bench';
  await store.createExperiment({ id, name: spec.name, spec: raw, state: 'QUEUED', createdAt: new Date(0).toISOString() });
  const clock = new SimulatedClock();
  const evaluator = new TableTrialEvaluator(spec.dataset, spec.compiledSpace, spec.seed, { clock, table, resume: options.resume ?? true });
  const warm = new WarmSearch(id);
  const trials: Trial[] = [];
  let stopped = false;
  const onEvent = async (e: RunnerEvent): Promise<void> => {
    if (e.type !== 'trial-finished') return;
    trials.push(e.trial);
    if (!stopped && options.onFinished?.(e.trial) === true) {
      stopped = true;
      await store.updateExperiment(id, { stopRequestedAt: new Date(clock.now()).toISOString() });
    }
  };
  const done = await runExperiment(id, { store, evaluator, workers: options.workers, now: () => clock.now(), warm, onEvent, owner: 'bench' });
  if (done.state === 'FAILED') throw new Error(`simulated search failed: ${done.reason}`);
  return { trials, strategyCost: { ...(warm.current?.state.strategyCost ?? { ms: 0, asks: 0 }) } };
}

/** The spec of a benchmark search over `table`: metric columns by metric name, the given objectives. */
export function benchSpec(table: BenchTable, o: { readonly metrics: Record<string, string>; readonly objectives: readonly { metric: string; goal: 'max' | 'min' }[]; readonly strategy: string; readonly seed: number; readonly isomorphism?: 'merge' | 'distinct'; readonly strategyOptions?: Readonly<Record<string, unknown>>; readonly workers: number }, over: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'bench',
    dataset: { source: 'table', path: table.path, metrics: o.metrics, secondsPerEpoch: 1, ...((over.dataset as object | undefined) ?? {}) },
    space: { kind: 'cell', isomorphism: o.isomorphism ?? 'merge' },
    objectives: o.objectives,
    strategy: { name: o.strategy, ...(o.strategyOptions ? { options: o.strategyOptions } : {}) },
    seed: o.seed,
    parallel: o.workers,
    epochs: 1,
    ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'dataset')),
  };
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const space = benchSpace(o.isomorphism);
  const budgets = o.budgets.filter((b) => b <= o.trials);
  const workers = o.workers ?? 1;
  const report: BenchReport = {
    optimum: 0,
    default: DEFAULT_STRATEGY,
    seeds: o.seeds,
    trials: o.trials,
    workers,
    strategies: {},
    ...(o.objectives ? { objectives: o.objectives } : { objective: o.objective as string }),
    ...(o.noisy ? { noisy: o.noisy } : {}),
    ...(o.noisy && o.remeasure !== undefined ? { remeasure: o.remeasure } : {}),
    isomorphism: o.isomorphism ?? 'merge',
  };
  if (o.firstSeed) report.firstSeed = o.firstSeed;
  if (o.proxyScores) report.proxyScores = { ...o.proxyScores, ...proxyCost(o.proxyScores.file, o.proxyScores.column) };
  if (o.objectives) return runHv(o, space, budgets, report);
  const objective = o.objective as string;
  const truth = o.table.column(objective);
  const optimum = Math.max(...truth);
  report.optimum = optimum;
  for (const name of o.strategies) {
    const regrets = budgets.map(() => [] as number[]);
    let askMs = 0;
    let asks = 0;
    let remeasures = 0;
    let ranTrials = 0;
    const first = o.firstSeed ?? 0;
    for (let seed = first; seed < first + o.seeds; seed++) {
      const store = benchStore();
      const warmStart = o.transfer ? await o.transfer(seed, store) : undefined;
      const raw = benchSpec(o.table, { metrics: { y: objective }, objectives: [{ metric: 'y', goal: 'max' }], strategy: name, seed, isomorphism: o.isomorphism, strategyOptions: o.strategyOptions, workers }, { budget: { trials: o.trials }, ...(o.noisy ? { dataset: { noisy: { y: o.noisy } } } : {}), ...(o.noisy && o.remeasure !== undefined ? { remeasure: o.remeasure } : {}), ...(o.proxyScores ? { proxy: { scores: o.proxyScores.file, column: o.proxyScores.column } } : {}), ...(warmStart ? { warmStart } : {}) });
      const run = await simulateSearch(o.table, raw, { workers, store });
      askMs += run.strategyCost.ms;
      asks += run.strategyCost.asks;
      // The true value of the search's pick in the first `b` trials: the best seen, or (noisy) its recommendation, the product's rank 1 (a strategy that ran out of architectures keeps its pick for the budgets it did not reach).
      const bestTrue = (b: number): number => {
        if (o.noisy) {
          const top = leaderboard(run.trials.slice(0, b), [{ metric: 'y', goal: 'max' }])[0];
          return top ? (truth[o.table.row(space.archStr(top.arch)) as number] as number) : -Infinity;
        }
        let best: Trial | undefined;
        for (const t of run.trials.slice(0, b)) if ((t.values?.[0] ?? -Infinity) > (best?.values?.[0] ?? -Infinity)) best = t;
        return best ? (truth[o.table.row(space.archStr(best.arch)) as number] as number) : -Infinity;
      };
      budgets.forEach((b, i) => (regrets[i] as number[]).push(optimum - bestTrue(b)));
      remeasures += run.trials.filter((t) => t.replicate).length;
      ranTrials += run.trials.length;
      o.onProgress?.(name, seed);
    }
    const byBudget: Record<string, BudgetStats> = {};
    budgets.forEach((b, i) => {
      const rs = regrets[i] as number[];
      byBudget[b] = { meanRegret: round(mean(rs), 4), hitRate: round(rs.filter((r) => r <= 1e-9).length / rs.length, 4) };
    });
    report.strategies[name] = { byBudget, msPerProposal: round(askMs / (asks || 1), 3), ...(o.noisy ? { remeasureShare: round(remeasures / (ranTrials || 1), 4) } : {}) };
  }
  return report;
}

/** Mean milliseconds per distinct network of a scores file's `<column>_ms` (isomorphic rows repeat their network's). */
function proxyCost(file: string, column: string): { msPerArch: number; networks: number } {
  const ms = loadScores(file, `${column}_ms`);
  const space = benchSpace();
  const seen = new Map<string, number>();
  for (const [arch, v] of ms) seen.set(space.key(space.fromArchStr(arch)), v);
  const values = [...seen.values()];
  return { msPerArch: round(mean(values), 2), networks: values.length };
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
async function runHv(o: BenchOptions, space: Space, budgets: readonly number[], report: BenchReport): Promise<BenchReport> {
  const [accCol, latCol] = o.objectives as readonly [string, string];
  const acc = o.table.column(accCol);
  const lat = o.table.column(latCol);
  const scale = hvScale(acc, lat);
  report.optimum = scale.optimum;
  const objectives = [
    { metric: 'acc', goal: 'max' as const },
    { metric: 'lat', goal: 'min' as const },
  ];
  for (const name of o.strategies) {
    const regs = budgets.map(() => [] as number[]);
    let askMs = 0;
    let asks = 0;
    for (let seed = 0; seed < o.seeds; seed++) {
      const raw = benchSpec(o.table, { metrics: { acc: accCol, lat: latCol }, objectives, strategy: name, seed, isomorphism: o.isomorphism, strategyOptions: o.strategyOptions, workers: report.workers }, { budget: { trials: o.trials } });
      const run = await simulateSearch(o.table, raw, { workers: report.workers });
      askMs += run.strategyCost.ms;
      asks += run.strategyCost.asks;
      const rows = run.trials.map((t) => o.table.row(space.archStr(t.arch)) as number);
      const seen = rows.map((row) => scale.point(acc[row] as number, lat[row] as number));
      budgets.forEach((b, i) => (regs[i] as number[]).push(scale.regret(seen.slice(0, b))));
      o.onProgress?.(name, seed);
    }
    const byBudget: Record<string, { hvRegret: number }> = {};
    budgets.forEach((b, i) => (byBudget[b] = { hvRegret: round(mean(regs[i] as number[]), 5) }));
    report.strategies[name] = { byBudget, msPerProposal: round(askMs / (asks || 1), 3) };
  }
  return report;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
}

/** `x` to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
