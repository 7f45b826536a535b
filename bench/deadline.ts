/**
 * What a wall-clock deadline costs a search: NAS-Bench-201 searches under
 * `budget: { minutes: 10 }` (2 workers, ASHA over 12 and 200 epochs, the
 * finishing phase on), driven by the product's loop on a simulated clock
 * (the table evaluator at `secondsPerEpoch` 1 and 2: a rung-0 trial 12 or
 * 24 s, a promotion 188 or 376 s more). Per search: trials, trials stopped
 * at the deadline and the worker seconds they took, full-fidelity results,
 * rank 1, when the search ended, moves passed over
 * (shared/steps/affordable.ts). docs/finishing.md quotes it.
 *
 *   npx tsx bench/deadline.ts [--seeds 10] [--first-seed 0] [--table CSV] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Trial } from '../shared/experiment/model.js';
import { buildReport } from '../shared/report/report.js';
import { SimulatedClock } from '../shared/runner/clock.js';
import { runExperiment } from '../shared/runner/search.js';
import { TableTrialEvaluator } from '../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { MemoryExperimentStore } from '../shared/store/memory.js';
import { benchArgs } from './args.js';

const { values: args } = benchArgs({
  usage: '  npx tsx bench/deadline.ts [--seeds 10] [--first-seed 0] [--table CSV] [--out FILE]',
  options: { seeds: { type: 'string', default: '10' }, 'first-seed': { type: 'string', default: '0' }, out: { type: 'string' }, table: { type: 'string' } },
  numbers: ['seeds', 'first-seed'],
});
const TABLE = resolve(args.table ?? resolve(import.meta.dirname, '../../shared/benchmarks/nb201-cifar10.csv'));
const T0 = Date.parse('2026-01-01T00:00:00Z');

const rows: Record<string, unknown>[] = [];
for (const secondsPerEpoch of [1, 2]) {
  const mine: { stopped: number; stoppedSeconds: number; trials: number; full: number; rank1: number; end: number; skipped: number }[] = [];
  for (let seed = Number(args['first-seed']); seed < Number(args['first-seed']) + Number(args.seeds); seed++) {
    const raw = {
      name: 'deadline',
      dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { 12: { val_accuracy: 'val_acc_12ep' } }, secondsPerEpoch },
      space: { kind: 'cell' },
      fidelity: { scheduler: 'asha', rungs: [12, 200], eta: 3 },
      budget: { minutes: 10 },
      parallel: 2,
      seed,
    };
    const spec = parseExperimentSpec(raw);
    const clock = new SimulatedClock(T0);
    const store = new MemoryExperimentStore();
    const exp = await submitExperiment(raw, store);
    const done = await runExperiment(exp.id, { store, evaluator: new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed, { clock }), workers: 2, now: () => clock.now() });
    const trials: Trial[] = (await store.listTrials(exp.id)).trials;
    const stopped = trials.filter((t) => t.state === 'STOPPED');
    const first = buildReport(done, trials).leaderboard[0];
    const row = {
      secondsPerEpoch,
      seed,
      trials: trials.length,
      stopped: stopped.length,
      stoppedSeconds: stopped.reduce((s, t) => s + (t.cost?.hours ?? 0) * 3600, 0),
      full: trials.filter((t) => t.state === 'COMPLETED' && t.fidelity === 200).length,
      rank1: first?.values[0] ?? NaN,
      rank1Full: first?.fullFidelity ?? false,
      end: (Date.parse(done.finishedAt as string) - T0) / 1000,
      reason: done.reason,
      skipped: (done.strategyState as { skipped?: number } | undefined)?.skipped ?? 0,
    };
    rows.push(row);
    mine.push(row);
  }
  const mean = (f: (r: (typeof mine)[number]) => number) => (mine.reduce((s, r) => s + f(r), 0) / mine.length).toFixed(2);
  console.log(`secondsPerEpoch ${secondsPerEpoch}: trials ${mean((r) => r.trials)}, stopped at the deadline ${mean((r) => r.stopped)} (${mean((r) => r.stoppedSeconds)} worker-s), full fidelity ${mean((r) => r.full)}, rank 1 ${mean((r) => r.rank1)}, ended at ${mean((r) => r.end)} s, moves passed over ${mean((r) => r.skipped)}`);
}
if (args.out) writeFileSync(args.out, JSON.stringify(rows, null, 1) + '\n');
