/**
 * Orchestration overhead of a local search: wall-clock minus the trials' own
 * training time, as a share of the total, with the table evaluator
 * (simulated durations) and with real training in worker processes.
 *
 *   npm run bench:overhead -- [--table CSV] [--out FILE] [--skip-train]
 *
 * overhead = 1 − Σ(trial training seconds) / (wall seconds × workers).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Trial } from '../shared/experiment/model.js';
import { ProcessPoolEvaluator } from '../shared/runner/pool-evaluator.js';
import { runExperiment, submitExperiment } from '../shared/runner/search.js';
import { TableTrialEvaluator } from '../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import type { Evaluator } from '../shared/runner/evaluator.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';

const { values: args } = parseArgs({
  options: {
    table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE ?? '../shared/benchmarks/nb201-cifar10.csv' },
    out: { type: 'string' },
    'skip-train': { type: 'boolean', default: false },
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
  const r = { label, trials: trials.length, workers, wallSeconds: round(wall), trainingSeconds: round(busy), overhead: round(overhead, 4) };
  process.stdout.write(`${label}: ${trials.length} trials on ${workers} workers, wall ${r.wallSeconds} s, training ${r.trainingSeconds} s, overhead ${(overhead * 100).toFixed(2)} %\n`);
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
  const trainSpec = {
    name: 'overhead-train',
    dataset: { source: 'mnist', validation: 0.1, fraction: 0.25 },
    space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32] }, kernel: 3, pool: 'max' }, learningRate: 0.002 },
    epochs: 1,
    budget: { trials: 8 },
    parallel: 2,
    seed: 1,
  };
  const s = parseExperimentSpec(trainSpec);
  results.push(
    await measure(
      'train (MNIST, worker processes)',
      trainSpec,
      (home) => new ProcessPoolEvaluator({ workers: 2, artifacts: join(home, 'artifacts'), data: { ...(s.dataset as { source: "mnist" }), seed: 1 }, seed: 1 }),
      (t) => t.metrics?.train_seconds ?? 0,
    ),
  );
}
if (args.out) writeFileSync(args.out, JSON.stringify({ results }, null, 1) + '\n');
