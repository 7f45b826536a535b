/**
 * Proposal cost: milliseconds per `ask(1)` (plus the `tell` of its result)
 * for each strategy with 300 and with 5,000 finished trials of history, on
 * the NAS-Bench-201 table. Usage:
 *   npm run bench:proposal -- --table CSV [--objective COL] [--strategies a,b] [--histories 300,5000] [--repeats 50] [--out FILE]
 * `--transfer-trials N` also measures each strategy given the finished trials
 * of an earlier search as its source (issue 17's warm start: N distinct
 * random architectures with their `--source` column values), interleaved
 * ask by ask with the same strategy without one, and reports both.
 * `--constraint "COL <= X"` bounds a device column of the table
 * (`latency_ms_pixel3 <= 6`): the history holds feasible architectures only,
 * and each strategy is also measured proposing through the static pre-flight
 * of a search with that constraint (shared/steps/preflight.ts), interleaved
 * ask by ask with the same strategy without it (issue 15's proposal-cost goal).
 * When Debian's python3-optuna is installed, Optuna's multivariate TPE is
 * measured right after, on the same histories (bench/optuna_proposal_cost.py),
 * and the JSON gives the default strategy's ratio to it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { benchSpace } from '../shared/bench/harness.js';
import { BenchTable, TableEvaluator } from '../shared/bench/table.js';
import { Rng } from '../shared/rng.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import { preflightContext } from '../shared/steps/preflight.js';
import { createStrategy, DEFAULT_STRATEGY, STRATEGY_NAMES } from '../shared/strategies/index.js';
import type { Strategy } from '../shared/strategies/strategy.js';
import type { SourceTask } from '../shared/transfer/source.js';
import { benchArgs, usageError } from './args.js';

const { values: args } = benchArgs({
  usage: [
    '  npm run bench:proposal -- --table CSV [--objective COL] [--strategies a,b] [--histories 300,5000] [--repeats 50] [--out FILE]',
    '                          [--transfer-trials N] [--source COL] [--constraint "COL <= X"]',
  ].join('\n'),
  numbers: ['repeats', 'transfer-trials'],
  numberLists: ['histories'],
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
    objective: { type: 'string', default: 'val_acc_200ep' },
    strategies: { type: 'string', default: STRATEGY_NAMES.join(',') },
    histories: { type: 'string', default: '300,5000' },
    repeats: { type: 'string', default: '50' },
    'transfer-trials': { type: 'string' },
    source: { type: 'string', default: 'val_acc_12ep' },
    constraint: { type: 'string' },
    out: { type: 'string' },
  },
});
if (!args.table) {
  usageError('--table CSV is required (or set NASFLOW_BENCH_TABLE)');
}
const table = BenchTable.load(args.table);
const space = benchSpace();
const evaluator = new TableEvaluator(table, space, { metrics: { y: args.objective as string } });
// The pre-flight of a table search whose constraint bounds a device column (its metric named as the column).
const bounded = args.constraint === undefined ? undefined : /^\s*([\w.]+)/.exec(args.constraint)?.[1];
const preflight =
  bounded === undefined
    ? {}
    : preflightContext(
        parseExperimentSpec({ name: 'proposal-cost', dataset: { source: 'table', path: args.table, metrics: { y: args.objective, [bounded]: bounded } }, space: { kind: 'cell' }, objectives: [{ metric: 'y', goal: 'max' }], constraints: [args.constraint], budget: { trials: 1 } }),
      );
if (bounded !== undefined && !preflight.admissible) {
  usageError(`--constraint must bound a device (latency…) column of the table, got ${JSON.stringify(args.constraint)}`);
}
const admissible = preflight.admissible ?? (() => true);
const histories = (args.histories as string).split(',').map(Number);
const repeats = Number(args.repeats);
const sourceTrials = args['transfer-trials'] === undefined ? 0 : Number(args['transfer-trials']);
const sources: SourceTask[] = [];
if (sourceTrials > 0) {
  const column = new TableEvaluator(table, space, { metrics: { y: args.source as string } });
  const rng = Rng.seeded(11);
  const seen = new Set<string>();
  const observations: SourceTask['observations'][number][] = [];
  while (observations.length < sourceTrials) {
    const a = space.sample(rng);
    if (seen.has(space.key(a))) continue;
    seen.add(space.key(a));
    observations.push({ arch: a, status: 'completed', values: [column.evaluate(a, rng).metrics.y as number] });
  }
  sources.push({ experimentId: 'source', goal: 'max', observations });
}
const results: Record<string, Record<string, { medianMs: number; meanMs: number }>> = {};
for (const name of (args.strategies as string).split(',')) {
  // Without a source, and (--transfer-trials) with one, measured ask by ask in turn.
  const withSources = `${name}+${sourceTrials} source trials`;
  const withPreflight = `${name}+pre-flight`;
  const arms = [name, ...(sources.length ? [withSources] : []), ...(preflight.admissible ? [withPreflight] : [])];
  for (const arm of arms) results[arm] = {};
  for (const h of histories) {
    const rng = Rng.seeded(7);
    const strategies: Strategy[] = arms.map((arm) => createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 1, ...(arm === withSources ? { sources } : {}), ...(arm === withPreflight ? preflight : {}) }));
    // History: h distinct random architectures with their table values (the same for every arm).
    const seen = new Set<string>();
    while (seen.size < h) {
      const a = space.sample(rng);
      const k = space.key(a);
      if (seen.has(k) || !admissible(a)) continue;
      seen.add(k);
      const obs = { arch: a, status: 'completed' as const, values: [evaluator.evaluate(a, rng).metrics.y as number] };
      for (const s of strategies) s.tell(obs);
    }
    for (const s of strategies) s.ask(1); // warm caches (enumeration, hyperparameters, transfer weights) outside the timing
    const times: number[][] = arms.map(() => []);
    for (let i = 0; i < repeats; i++) {
      for (const [j, strategy] of strategies.entries()) {
        const t0 = performance.now();
        const p = strategy.ask(1);
        if (p === 'exhausted') continue;
        const arch = p[0]!;
        const y = evaluator.evaluate(arch, rng).metrics.y as number;
        strategy.tell({ arch, status: 'completed', values: [y] });
        (times[j] as number[]).push(performance.now() - t0);
      }
    }
    arms.forEach((arm, j) => {
      const ts = (times[j] as number[]).sort((a, b) => a - b);
      const median = ts[Math.floor(ts.length / 2)] ?? NaN;
      const mean = ts.reduce((a, b) => a + b, 0) / ts.length;
      (results[arm] as Record<string, { medianMs: number; meanMs: number }>)[h] = { medianMs: Math.round(median * 1000) / 1000, meanMs: Math.round(mean * 1000) / 1000 };
      process.stdout.write(`${arm.padEnd(10)} history ${String(h).padStart(5)}: median ${median.toFixed(2)} ms, mean ${mean.toFixed(2)} ms per proposal\n`);
    });
  }
}
// The peer, side by side in the same run.
let optuna: Record<string, { medianMs: number; meanMs: number }> | null = null;
const py = spawnSync('/usr/bin/python3', ['-W', 'ignore', 'bench/optuna_proposal_cost.py', args.table, '--histories', histories.join(','), '--repeats', String(Math.min(repeats, 30))], {
  encoding: 'utf8',
});
if (py.status === 0) {
  optuna = JSON.parse(py.stdout.trim().split('\n').pop() as string);
  process.stdout.write(py.stdout.trim().split('\n').slice(0, -1).join('\n') + '\n');
} else process.stdout.write('optuna: not measured (needs Debian python3-optuna for /usr/bin/python3)\n');
const ratios: Record<string, { median: number; mean: number }> = {};
const mine = results[DEFAULT_STRATEGY];
if (optuna && mine) {
  for (const h of histories) {
    const o = optuna[h];
    const m = mine[h];
    if (o && m) ratios[h] = { median: Math.round((m.medianMs / o.medianMs) * 1000) / 1000, mean: Math.round((m.meanMs / o.meanMs) * 1000) / 1000 };
  }
  process.stdout.write(`${DEFAULT_STRATEGY} / optuna tpe-multivariate: ${JSON.stringify(ratios)}\n`);
}
const report = { default: DEFAULT_STRATEGY, repeats, ...(sourceTrials ? { sourceTrials, source: args.source } : {}), ...(args.constraint ? { constraint: args.constraint } : {}), loadAverage: loadavg()[0], results, optunaTpeMultivariate: optuna, ratioToOptuna: ratios };
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 1) + '\n');
