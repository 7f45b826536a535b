/**
 * Transfer against cold, seed by seed (issue 17's goals): for each seed the
 * cold default strategy, the same warm-started from a related source (the
 * source column searched first, as `nasflow bench --transfer-from`) and from
 * the same source with its values permuted (`--transfer-shuffle`), run one
 * after another, so each seed's searches share the machine's state and the
 * differences can be paired; and a fourth arm, cold again with the seed
 * shifted by 1000 (`cold2`): a search that merely starts elsewhere, whose
 * difference to cold is the noise floor of the no-harm comparison. Writes
 * per-seed regrets, each arm's mean, each other arm's mean difference to
 * cold with its standard error over seeds, and the sources' final weights.
 *
 *   npm run bench:transfer -- --table CSV [--objective val_acc_200ep] [--source val_acc_12ep] [--seeds 50] [--first-seed 50] [--trials 100] [--source-trials 200] [--arms cold,related,shuffled,cold2] [--out FILE]
 *
 * `--arms` runs some of the arms (cold always: the others are paired with it).
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchSpace, benchSpec, simulateSearch } from '../shared/bench/harness.js';
import { BenchTable } from '../shared/bench/table.js';
import { MemoryExperimentStore } from '../shared/store/memory.js';
import { DEFAULT_STRATEGY } from '../shared/strategies/index.js';
import { SOURCE_ID, transferSource } from '../shared/transfer/bench.js';
import { benchArgs, usageError } from './args.js';

const { values: args } = benchArgs({
  usage: [
    '  npm run bench:transfer -- --table CSV [--objective val_acc_200ep] [--source val_acc_12ep] [--seeds 50] [--first-seed 50] [--trials 100]',
    '                           [--source-trials 200] [--budgets 10,25,50,100] [--arms cold,related,shuffled,cold2] [--out FILE]',
  ].join('\n'),
  numbers: ['seeds', 'first-seed', 'trials', 'source-trials'],
  numberLists: ['budgets'],
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
    objective: { type: 'string', default: 'val_acc_200ep' },
    source: { type: 'string', default: 'val_acc_12ep' },
    seeds: { type: 'string', default: '50' },
    'first-seed': { type: 'string', default: '50' },
    trials: { type: 'string', default: '100' },
    'source-trials': { type: 'string', default: '200' },
    budgets: { type: 'string', default: '10,25,50,100' },
    arms: { type: 'string', default: 'cold,related,shuffled,cold2' },
    out: { type: 'string' },
  },
});
if (!args.table) {
  usageError('--table CSV is required (or set NASFLOW_BENCH_TABLE)');
}
const table = BenchTable.load(args.table);
const space = benchSpace();
const objective = args.objective as string;
const truth = table.column(objective);
const optimum = Math.max(...truth);
const budgets = (args.budgets as string).split(',').map(Number);
const trials = Number(args.trials);
const first = Number(args['first-seed']);
const seeds = Number(args.seeds);
const source = (shuffle: boolean) => transferSource({ table, column: args.source as string, trials: Number(args['source-trials']), shuffle, workers: 1 });
const ARMS = { cold: undefined, related: source(false), shuffled: source(true), cold2: undefined } as const;
/** The seed shift of the `cold2` arm. */
const SHIFT = 1000;
type Arm = keyof typeof ARMS;
const chosen = new Set(['cold', ...(args.arms as string).split(',')]);
const unknown = [...chosen].filter((a) => !(a in ARMS));
if (unknown.length) {
  usageError(`--arms: unknown ${unknown.join(', ')} (expected some of ${Object.keys(ARMS).join(', ')})`);
}
const arms = (Object.keys(ARMS) as Arm[]).filter((a) => chosen.has(a));

interface SeedRun {
  seed: number;
  /** Regret at each budget. */
  regret: number[];
  /** The ensemble's weights at the search's last refit point (warm arms). */
  weights?: unknown;
}
const runs: Record<Arm, SeedRun[]> = { cold: [], related: [], shuffled: [], cold2: [] };
const load = [loadavg()[0] as number];
for (let seed = first; seed < first + seeds; seed++) {
  for (const arm of arms) {
    const store = new MemoryExperimentStore();
    const warmStart = await ARMS[arm]?.(seed, store);
    const raw = benchSpec(table, { metrics: { y: objective }, objectives: [{ metric: 'y', goal: 'max' }], strategy: DEFAULT_STRATEGY, seed: arm === 'cold2' ? seed + SHIFT : seed, workers: 1 }, { budget: { trials }, ...(warmStart ? { warmStart } : {}) });
    const run = await simulateSearch(table, raw, { workers: 1, store, id: 'target' });
    let bestSeen = -Infinity;
    let bestTrue = -Infinity;
    const regret: number[] = [];
    for (const [i, t] of run.trials.entries()) {
      const seen = t.values?.[0] ?? -Infinity;
      if (seen > bestSeen) {
        bestSeen = seen;
        bestTrue = truth[table.row(space.archStr(t.arch)) as number] as number;
      }
      if (budgets.includes(i + 1)) regret.push(round(optimum - bestTrue));
    }
    while (regret.length < budgets.length) regret.push(round(optimum - bestTrue));
    const state = (await store.getExperiment('target'))?.strategyState as { strategy?: { transfer?: unknown } } | undefined;
    runs[arm].push({ seed, regret, ...(warmStart ? { weights: state?.strategy?.transfer ?? null } : {}) });
  }
  process.stderr.write(`seed ${seed}: ${arms.map((a) => `${a} ${runs[a].at(-1)?.regret.join('/')}`).join('  ')}\n`);
}
load.push(loadavg()[0] as number);

const meanRegret = (arm: Arm) => Object.fromEntries(budgets.map((b, i) => [b, round(mean(runs[arm].map((r) => r.regret[i] as number)))]));
/** Mean over seeds of (arm − cold) at each budget, its standard error, and the ratio of the means. */
const vsCold = (arm: Arm) =>
  Object.fromEntries(
    budgets.map((b, i) => {
      const d = runs[arm].map((r, k) => (r.regret[i] as number) - ((runs.cold[k] as SeedRun).regret[i] as number));
      const m = mean(d);
      const sd = Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, d.length - 1));
      const cold = mean(runs.cold.map((r) => r.regret[i] as number));
      return [b, { diff: round(m), se: round(sd / Math.sqrt(d.length)), ratio: cold > 0 ? round(mean(runs[arm].map((r) => r.regret[i] as number)) / cold, 3) : null }];
    }),
  );
const report = {
  table: args.table,
  objective,
  source: args.source,
  sourceTrials: Number(args['source-trials']),
  seeds,
  firstSeed: first,
  trials,
  budgets,
  loadAverage: load.map((x) => round(x, 2)),
  arms,
  meanRegret: Object.fromEntries(arms.map((a) => [a, meanRegret(a)])) as Record<Arm, Record<number, number>>,
  vsCold: Object.fromEntries(arms.filter((a) => a !== 'cold').map((a) => [a, vsCold(a)])) as Record<Exclude<Arm, 'cold'>, Record<number, { diff: number; se: number; ratio: number | null }>>,
  cold2SeedShift: SHIFT,
  sourceId: SOURCE_ID,
  runs,
};
for (const arm of arms) process.stdout.write(`${arm.padEnd(9)} ${budgets.map((b) => `${b}: ${report.meanRegret[arm][b]}`).join('  ')}\n`);
for (const arm of arms.filter((a) => a !== 'cold') as Exclude<Arm, 'cold'>[]) process.stdout.write(`${arm} − cold  ${budgets.map((b) => { const v = report.vsCold[arm][b] as { diff: number; se: number; ratio: number | null }; return `${b}: ${v.diff} ± ${v.se} (×${v.ratio})`; }).join('  ')}\n`);
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 1) + '\n');

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
}
function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
