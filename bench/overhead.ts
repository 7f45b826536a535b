/**
 * Orchestration overhead of a local search: wall-clock minus the trials' own
 * training time, as a share of the total, with the table evaluator
 * (simulated durations) and with real training in worker processes.
 *
 *   npm run bench:overhead -- [--table CSV] [--out FILE] [--skip-train] [--train-minutes 3]
 *
 * overhead = 1 − Σ(trial training seconds) / (wall seconds × workers).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Trial } from '../shared/experiment/model.js';
import { ProcessPoolEvaluator } from '../shared/runner/pool-evaluator.js';
import { runExperiment } from '../shared/runner/search.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { TableTrialEvaluator } from '../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import type { Evaluator } from '../shared/runner/evaluator.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';
import { benchArgs } from './args.js';

const { values: args } = benchArgs({
  usage: '  npm run bench:overhead -- [--table CSV] [--out FILE] [--skip-train] [--train-minutes 3]',
  numbers: ['train-minutes'],
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE ?? '../shared/benchmarks/nb201-cifar10.csv' },
    out: { type: 'string' },
    'skip-train': { type: 'boolean', default: false },
    /** Wall-clock budget of the real-training search. */
    'train-minutes': { type: 'string', default: '3' },
  },
});

async function measure(label: string, raw: Record<string, unknown>, make: (home: string) => Evaluator, seconds: (t: Trial) => number) {
  const home = mkdtempSync(join(tmpdir(), 'nasflow-overhead-'));
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  const evaluator = make(home);
  const workers = raw.parallel as number;
  const exp = await submitExperiment(raw, store);
  const t0 = performance.now();
  await runExperiment(exp.id, { store, evaluator, workers });
  const wall = (performance.now() - t0) / 1000;
  await evaluator.close();
  const trials = (await store.listTrials(exp.id)).trials;
  await store.close();
  const busy = trials.reduce((s, t) => s + seconds(t), 0);
  const overhead = 1 - busy / (wall * workers);
  // Where the rest went, from the trainer's own phase timers (real training only).
  const sum = (k: string) => round(trials.reduce((s, t) => s + (t.metrics?.[k] ?? 0), 0));
  // train_seconds is cumulative over a line of promotions (a promotion resumes its parent's
  // checkpoint): a trial's own training-loop time is its value minus its parent's.
  const byId = new Map(trials.map((t) => [t.id, t]));
  const ownLoops = round(
    trials.reduce((s, t) => s + Math.max(0, (t.metrics?.train_seconds ?? 0) - (t.parentId ? (byId.get(t.parentId)?.metrics?.train_seconds ?? 0) : 0)), 0),
  );
  const phases = trials.some((t) => t.metrics?.trial_seconds !== undefined)
    ? {
        inTrainer: sum('trial_seconds'),
        trainingLoops: ownLoops,
        setup: sum('setup_seconds'),
        validation: sum('eval_seconds'),
        checkpoints: sum('checkpoint_seconds'),
        finalMeasurements: sum('final_seconds'),
        /** Overhead if only the training loops counted as the trials' own time. */
        strictOverhead: round(1 - ownLoops / (wall * workers), 4),
      }
    : undefined;
  const r = { label, trials: trials.length, workers, wallSeconds: round(wall), trainingSeconds: round(busy), overhead: round(overhead, 4), ...(phases ? { phases } : {}) };
  process.stdout.write(`${label}: ${trials.length} trials on ${workers} workers, wall ${r.wallSeconds} s, training ${r.trainingSeconds} s, overhead ${(overhead * 100).toFixed(2)} %${phases ? ` (${JSON.stringify(phases)})` : ''}\n`);
  return r;
}

function round(x: number, d = 2): number {
  return Math.round(x * 10 ** d) / 10 ** d;
}

const results = [];
const tableSpec = {
  name: 'overhead-table',
  dataset: { source: 'table', path: args.table, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.005 },
  space: { kind: 'cell' },
  epochs: 200,
  budget: { trials: 100 },
  parallel: 2,
  seed: 1,
};
{
  const s = parseExperimentSpec(tableSpec);
  // Each trial "trains" 200 × 5 ms = 1 s.
  results.push(await measure('table (simulated 1 s trials)', tableSpec, () => new TableTrialEvaluator(s.dataset as never, s.compiledSpace, 1), (t) => t.fidelity * 0.005));
}
if (!args['skip-train']) {
  // A small examples/mnist.yaml: full MNIST, ASHA over 1 and 2 epochs, a wall-clock budget
  // (trials still running at the deadline are stopped, so the tail does not idle a worker).
  const trainSpec = {
    name: 'overhead-train',
    dataset: { source: 'mnist', validation: 0.1 },
    space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32] }, kernel: 3, pool: 'max' }, learningRate: 0.002 },
    fidelity: { scheduler: 'asha', resource: 'epochs', min: 1, max: 2, eta: 2 },
    budget: { minutes: Number(args['train-minutes']) },
    parallel: 2,
    seed: 1,
  };
  const s = parseExperimentSpec(trainSpec);
  // "The trial's own time" = its time in the trainer (training loop, per-epoch validation,
  // checkpoints, final test/latency measurement, export); `strict` counts only the training loops.
  const r = await measure(
    'train (MNIST, worker processes)',
    trainSpec,
    (home) => new ProcessPoolEvaluator({ workers: 2, artifacts: join(home, 'artifacts'), data: { ...(s.dataset as { source: 'mnist' }), seed: 1 }, seed: 1, finalEpochs: 2 }),
    (t) => t.metrics?.trial_seconds ?? 0,
  );
  results.push(r);
}
if (args.out) writeFileSync(args.out, JSON.stringify({ results }, null, 1) + '\n');
