/**
 * Cost-to-regret benchmark for multi-fidelity scheduling on a table with
 * two fidelities (NAS-Bench-201: `val_acc_12ep` at 12 epochs, `val_acc_200ep`
 * at 200). Each (strategy, scheduler, seed) is the product's search
 * (`simulateSearch`: the search steps on a simulated clock, one second per
 * epoch) with a compute budget of `maxCost` epochs, on `workers` workers.
 *
 * - Cost: each evaluation costs its fidelity in epochs (12 or 200). A
 *   promotion is charged in full by default, because the table's 200-epoch
 *   runs are separate trainings (their own learning-rate schedule), not
 *   continuations of the 12-epoch ones; `resume: true` charges only the
 *   extra epochs, as a checkpoint-resuming trainer would.
 * - Regret: on the objective column, of the incumbent = the best result at
 *   the highest rung that has any result (before the first full-fidelity
 *   result, the best low-fidelity one).
 * - Reference: full fidelity (`none`) with the same strategy after
 *   `referenceTrials` trials (cost referenceTrials × max). For each
 *   scheduler, `costToReach` is the first cost (on a grid of `step` epochs)
 *   at which the mean regret over seeds is at most the reference regret.
 */
import { parseFidelitySpec, type FidelitySpec, type TellPolicy } from '../schedulers/index.js';
import { benchSpace, benchSpec, round, simulateSearch } from './harness.js';
import type { BenchTable } from './table.js';

export interface FidelityBenchOptions {
  readonly table: BenchTable;
  /** Objective column (maximised), default `val_acc_200ep`. */
  readonly objective?: string;
  /** Column per fidelity in epochs, default { 12: 'val_acc_12ep', 200: 'val_acc_200ep' }. */
  readonly columns?: Readonly<Record<number, string>>;
  readonly strategies: readonly string[];
  /** Label → raw fidelity section (parsed here; its rungs must be fidelities in `columns`). */
  readonly schedulers: Readonly<Record<string, unknown>>;
  readonly seeds: number;
  /** Seeds run are firstSeed .. firstSeed + seeds − 1 (default 0): fresh seeds check a choice made on others. */
  readonly firstSeed?: number;
  /** Full-fidelity trials that set the target regret (default 100). */
  readonly referenceTrials?: number;
  /** Cost each run goes to (default referenceTrials × the top fidelity). */
  readonly maxCost?: number;
  /** Cost grid step in epochs (default 10). */
  readonly step?: number;
  readonly tell?: TellPolicy;
  readonly resume?: boolean;
  /** Options passed to every strategy. */
  readonly strategyOptions?: Readonly<Record<string, unknown>>;
  /** Trials running at once (default 1). */
  readonly workers?: number;
  readonly onProgress?: (strategy: string, scheduler: string, seed: number) => void;
}

export interface SchedulerResult {
  readonly spec: FidelitySpec;
  /** First cost at which the mean regret ≤ the reference regret; null if never within maxCost. */
  readonly costToReach: number | null;
  /** costToReach / the full-fidelity search's own costToReach. */
  readonly costRatio: number | null;
  /** Mean regret at selected costs. */
  readonly meanRegretAt: Record<string, number | null>;
  /** Mean evaluations per run at each fidelity. */
  readonly evaluations: Record<string, number>;
  /** Cost-to-regret curve: [cost, mean regret] at each grid point where it changes. */
  readonly curve: readonly (readonly [number, number])[];
}

export interface FidelityBenchReport {
  readonly objective: string;
  readonly optimum: number;
  readonly seeds: number;
  readonly firstSeed: number;
  readonly referenceTrials: number;
  readonly maxCost: number;
  readonly tell: TellPolicy;
  readonly resume: boolean;
  readonly workers: number;
  readonly strategies: Record<
    string,
    {
      /** Full-fidelity regret after referenceTrials trials, and the cost at which it first reaches it. */
      readonly reference: { readonly regret: number; readonly cost: number };
      readonly best: { readonly scheduler: string; readonly costRatio: number } | null;
      readonly schedulers: Record<string, SchedulerResult>;
    }
  >;
}

/** One run: (cost after each evaluation, regret after it) plus evaluation counts. */
interface Run {
  readonly costs: number[];
  readonly regrets: number[];
  readonly counts: Record<string, number>;
}

export async function runFidelityBench(o: FidelityBenchOptions): Promise<FidelityBenchReport> {
  const space = benchSpace();
  const objective = o.objective ?? 'val_acc_200ep';
  const columns = o.columns ?? { 12: 'val_acc_12ep', 200: 'val_acc_200ep' };
  const byFidelity = new Map(Object.entries(columns).map(([f, c]) => [Number(f), o.table.column(c)]));
  const truth = o.table.column(objective);
  const optimum = Math.max(...truth);
  const top = Math.max(...byFidelity.keys());
  const referenceTrials = o.referenceTrials ?? 100;
  const maxCost = o.maxCost ?? referenceTrials * top;
  const step = o.step ?? 10;
  const tell = o.tell ?? 'first';
  const workers = o.workers ?? 1;
  const raws: Record<string, Record<string, unknown>> = Object.fromEntries(Object.entries(o.schedulers).map(([label, raw]) => [label, { ...(raw as object), tell }]));
  const specs = Object.fromEntries(Object.entries(raws).map(([label, raw]) => [label, parseFidelitySpec(raw, ['schedulers', label])]));
  // The target is full-fidelity search's regret: run it whether or not it was asked for.
  if (!Object.values(specs).some((s) => s.scheduler === 'none')) {
    raws['none'] = { scheduler: 'none', max: top, tell };
    specs['none'] = parseFidelitySpec(raws['none']);
  }
  const grid = Array.from({ length: Math.floor(maxCost / step) }, (_, i) => (i + 1) * step);
  const report: FidelityBenchReport = { objective, optimum, seeds: o.seeds, firstSeed: o.firstSeed ?? 0, referenceTrials, maxCost, tell, resume: o.resume ?? false, workers, strategies: {} };

  const metrics = (f: number) => ({ y: columns[f] as string });
  const simulate = async (strategyName: string, label: string, spec: FidelitySpec, seed: number): Promise<Run> => {
    for (const r of spec.rungs) if (!byFidelity.has(r)) throw new Error(`fidelity ${r} has no column (columns: ${JSON.stringify(columns)})`);
    const lower = Object.fromEntries(Object.keys(columns).map(Number).filter((f) => f !== spec.max).map((f) => [f, metrics(f)]));
    const raw = benchSpec(
      o.table,
      { metrics: metrics(spec.max), objectives: [{ metric: 'y', goal: 'max' }], strategy: strategyName, seed, strategyOptions: o.strategyOptions, workers },
      { dataset: { fidelities: lower }, epochs: spec.max, fidelity: raws[label], budget: { hours: maxCost / 3600 } },
    );
    const bestAt = spec.rungs.map(() => ({ score: -Infinity, truth: -Infinity }));
    const run: Run = { costs: [], regrets: [], counts: {} };
    let cost = 0;
    await simulateSearch(o.table, raw, {
      workers,
      resume: o.resume ?? false,
      onFinished: (t) => {
        // One simulated second per epoch: a trial's settled seconds are its cost in epochs.
        cost += (t.cost?.hours ?? 0) * 3600;
        const value = t.values?.[0] ?? -Infinity;
        const fidelityReached = t.curve?.[t.curve.length - 1]?.epoch ?? t.fidelity;
        run.counts[fidelityReached] = (run.counts[fidelityReached] ?? 0) + 1;
        const rungReached = spec.rungs.indexOf(fidelityReached);
        const slot = bestAt[rungReached < 0 ? 0 : rungReached] as { score: number; truth: number };
        if (value > slot.score) {
          slot.score = value;
          slot.truth = truth[o.table.row(space.archStr(t.arch)) as number] as number;
        }
        const incumbent = bestAt.findLast((b) => b.score > -Infinity)?.truth ?? -Infinity;
        run.costs.push(Math.round(cost * 1e6) / 1e6);
        run.regrets.push(optimum - incumbent);
        // At the top rung the incumbent only improves: once at the optimum, the rest of the run changes nothing.
        return (bestAt[bestAt.length - 1] as { truth: number }).truth >= optimum;
      },
    });
    return run;
  };

  /** Mean regret over runs at each grid cost (null where some run has no result yet). */
  const meanCurve = (runs: readonly Run[]): (number | null)[] => {
    const idx = runs.map(() => -1);
    return grid.map((c) => {
      let sum = 0;
      for (const [k, r] of runs.entries()) {
        let i = idx[k] as number;
        while (i + 1 < r.costs.length && (r.costs[i + 1] as number) <= c) i++;
        idx[k] = i;
        if (i < 0) return null;
        sum += r.regrets[i] as number;
      }
      return sum / runs.length;
    });
  };
  const firstReach = (curve: readonly (number | null)[], target: number): number | null => {
    const i = curve.findIndex((v) => v !== null && v <= target + 1e-9);
    return i < 0 ? null : (grid[i] as number);
  };

  const noneLabel = Object.keys(specs).find((l) => specs[l]?.scheduler === 'none');
  for (const name of o.strategies) {
    const curves: Record<string, (number | null)[]> = {};
    const runsBy: Record<string, Run[]> = {};
    for (const [label, spec] of Object.entries(specs)) {
      const runs: Run[] = [];
      const first = o.firstSeed ?? 0;
      for (let seed = 0; seed < o.seeds; seed++) {
        runs.push(await simulate(name, label, spec, first + seed));
        o.onProgress?.(name, label, seed);
      }
      runsBy[label] = runs;
      curves[label] = meanCurve(runs);
    }
    const refCurve = noneLabel ? (curves[noneLabel] as (number | null)[]) : undefined;
    const refCost = referenceTrials * top;
    const refIdx = grid.findLastIndex((g) => g <= refCost);
    const refRegret = refCurve && refIdx >= 0 ? (refCurve[refIdx] ?? null) : null;
    const refReach = refRegret === null || !refCurve ? null : firstReach(refCurve, refRegret);
    const schedulers: Record<string, SchedulerResult> = {};
    let best: { scheduler: string; costRatio: number } | null = null;
    for (const [label, spec] of Object.entries(specs)) {
      const curve = curves[label] as (number | null)[];
      const costToReach = refRegret === null ? null : firstReach(curve, refRegret);
      const costRatio = costToReach === null || !refReach ? null : round(costToReach / refReach, 4);
      const at: Record<string, number | null> = {};
      for (const c of [Math.round(refCost / 6), Math.round(refCost / 3), Math.round(refCost / 2), refCost]) {
        const i = grid.findIndex((g) => g >= c);
        at[c] = i < 0 || curve[i] === null ? null : round(curve[i] as number, 4);
      }
      const runs = runsBy[label] as Run[];
      const evaluations: Record<string, number> = {};
      for (const r of runs) for (const [f, n] of Object.entries(r.counts)) evaluations[f] = (evaluations[f] ?? 0) + n / runs.length;
      for (const f of Object.keys(evaluations)) evaluations[f] = round(evaluations[f] as number, 1);
      const points: [number, number][] = [];
      curve.forEach((v, i) => {
        if (v !== null && (points.length === 0 || (points[points.length - 1] as [number, number])[1] !== round(v, 4))) points.push([grid[i] as number, round(v, 4)]);
      });
      schedulers[label] = { spec, costToReach, costRatio, meanRegretAt: at, evaluations, curve: points };
      if (spec.scheduler !== 'none' && costRatio !== null && (!best || costRatio < best.costRatio)) best = { scheduler: label, costRatio };
    }
    report.strategies[name] = { reference: { regret: round(refRegret ?? NaN, 4), cost: refReach ?? NaN }, best, schedulers };
  }
  return report;
}
