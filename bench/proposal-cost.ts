/**
 * Proposal cost: milliseconds per `ask(1)` (plus the `tell` of its result)
 * for each strategy with 300 and with 5,000 finished trials of history, on
 * the NAS-Bench-201 table. Usage:
 *   npm run bench:proposal -- --table CSV [--objective COL] [--strategies a,b] [--histories 300,5000] [--repeats 50] [--out FILE]
 * When Debian's python3-optuna is installed, Optuna's multivariate TPE is
 * measured right after, on the same histories (bench/optuna_proposal_cost.py),
 * and the JSON gives the default strategy's ratio to it.
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { benchSpace } from '../shared/bench/harness.js';
import { BenchTable, TableEvaluator } from '../shared/bench/table.js';
import { Rng } from '../shared/rng.js';
import { createStrategy, DEFAULT_STRATEGY, STRATEGY_NAMES } from '../shared/strategies/index.js';

const { values: args } = parseArgs({
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
    objective: { type: 'string', default: 'val_acc_200ep' },
    strategies: { type: 'string', default: STRATEGY_NAMES.join(',') },
    histories: { type: 'string', default: '300,5000' },
    repeats: { type: 'string', default: '50' },
    out: { type: 'string' },
  },
});
if (!args.table) {
  process.stderr.write('bench:proposal: --table CSV is required (or set NASFLOW_BENCH_TABLE)\n');
  process.exit(2);
}
const table = BenchTable.load(args.table);
const space = benchSpace();
const evaluator = new TableEvaluator(table, space, { metrics: { y: args.objective as string } });
const histories = (args.histories as string).split(',').map(Number);
const repeats = Number(args.repeats);
const results: Record<string, Record<string, { medianMs: number; meanMs: number }>> = {};
for (const name of (args.strategies as string).split(',')) {
  results[name] = {};
  for (const h of histories) {
    const strategy = createStrategy(name, { space, objectives: [{ metric: 'y', goal: 'max' }], seed: 1 });
    const rng = Rng.seeded(7);
    // History: h distinct random architectures with their table values.
    const seen = new Set<string>();
    while (seen.size < h) {
      const a = space.sample(rng);
      const k = space.key(a);
      if (seen.has(k)) continue;
      seen.add(k);
      strategy.tell({ arch: a, status: 'completed', values: [evaluator.evaluate(a, rng).metrics.y as number] });
    }
    strategy.ask(1); // warm caches (enumeration, hyperparameters) outside the timing
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      const p = strategy.ask(1);
      if (p === 'exhausted') break;
      const arch = p[0]!;
      const y = evaluator.evaluate(arch, rng).metrics.y as number;
      strategy.tell({ arch, status: 'completed', values: [y] });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? NaN;
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    results[name][h] = { medianMs: Math.round(median * 1000) / 1000, meanMs: Math.round(mean * 1000) / 1000 };
    process.stdout.write(`${name.padEnd(10)} history ${String(h).padStart(5)}: median ${median.toFixed(2)} ms, mean ${mean.toFixed(2)} ms per proposal\n`);
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
const report = { default: DEFAULT_STRATEGY, repeats, results, optunaTpeMultivariate: optuna, ratioToOptuna: ratios };
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 1) + '\n');
