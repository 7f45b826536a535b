/**
 * Multi-fidelity pays? Cost (epochs) to reach the regret full-fidelity search
 * has after 100 trials, per strategy and scheduler, on NAS-Bench-201 with its
 * 12- and 200-epoch columns. Usage:
 *   npm run bench:fidelity -- --table CSV [--strategies random,evolution,bo] \
 *     [--schedulers none,asha,hyperband,sh,median] [--eta 3] [--seeds 50] \
 *     [--tell first|last] [--resume] [--out FILE]
 * A scheduler may carry its own eta: `asha@8`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFidelityBench, type FidelityBenchReport } from '../shared/bench/fidelity.js';
import { BenchTable } from '../shared/bench/table.js';
import type { TellPolicy } from '../shared/schedulers/index.js';

const { values: args } = parseArgs({
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
    strategies: { type: 'string', default: 'random,evolution,local,bo' },
    schedulers: { type: 'string', default: 'none,asha,hyperband,sh,median' },
    eta: { type: 'string', default: '3' },
    seeds: { type: 'string', default: '50' },
    trials: { type: 'string', default: '100' },
    tell: { type: 'string', default: 'first' },
    resume: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
if (!args.table) {
  process.stderr.write('bench:fidelity: --table CSV is required (or set NASFLOW_BENCH_TABLE)\n');
  process.exit(2);
}
if (args.tell !== 'first' && args.tell !== 'last') {
  process.stderr.write(`bench:fidelity: --tell must be first or last, got ${args.tell}\n`);
  process.exit(2);
}
const schedulers: Record<string, unknown> = {};
for (const label of (args.schedulers as string).split(',')) {
  const [name, eta] = label.split('@') as [string, string | undefined];
  schedulers[label] = name === 'none' ? { scheduler: 'none', max: 200 } : { scheduler: name, resource: 'epochs', rungs: [12, 200], eta: Number(eta ?? args.eta) };
}
const t0 = performance.now();
const report = runFidelityBench({
  table: BenchTable.load(args.table),
  strategies: (args.strategies as string).split(','),
  schedulers,
  seeds: Number(args.seeds),
  referenceTrials: Number(args.trials),
  tell: args.tell as TellPolicy,
  resume: args.resume as boolean,
  onProgress: (s, l, seed) => {
    if (seed === Number(args.seeds) - 1) process.stderr.write(`${s} + ${l}: ${seed + 1} seeds (${((performance.now() - t0) / 1000).toFixed(0)}s)\n`);
  },
});
process.stdout.write(render(report));
if (args.out) {
  writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`wrote ${args.out}\n`);
}

function render(r: FidelityBenchReport): string {
  const lines = [`cost (epochs) to reach full fidelity's ${r.referenceTrials}-trial regret on ${r.objective}, ${r.seeds} seeds, tell=${r.tell}${r.resume ? ', promotions resume' : ''}`];
  lines.push(`${'strategy'.padEnd(10)} ${'scheduler'.padEnd(12)} ${'target'.padStart(7)} ${'cost'.padStart(7)} ${'ratio'.padStart(6)}  regret@${Object.keys(Object.values(r.strategies)[0]?.schedulers ?? {}).length ? Object.keys(Object.values(Object.values(r.strategies)[0]!.schedulers)[0]!.meanRegretAt).join('/') : ''}  evals`);
  for (const [s, st] of Object.entries(r.strategies)) {
    for (const [l, sc] of Object.entries(st.schedulers)) {
      const at = Object.values(sc.meanRegretAt).map((v) => (v === null ? '-' : v.toFixed(3))).join(' ');
      const ev = Object.entries(sc.evaluations).map(([f, n]) => `${n}@${f}`).join(' ');
      lines.push(`${s.padEnd(10)} ${l.padEnd(12)} ${st.reference.regret.toFixed(3).padStart(7)} ${String(sc.costToReach ?? '>max').padStart(7)} ${(sc.costRatio === null ? '-' : sc.costRatio.toFixed(3)).padStart(6)}  ${at}  ${ev}`);
    }
    lines.push(`${s.padEnd(10)} best: ${st.best ? `${st.best.scheduler} at ${st.best.costRatio.toFixed(3)} of full fidelity's cost (${st.best.costRatio <= 1 / 3 ? 'goal ≤ 1/3 met' : 'goal ≤ 1/3 missed'})` : 'none reaches the target'}`);
  }
  return lines.join('\n') + '\n';
}
