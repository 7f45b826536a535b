/**
 * How close the cost estimate comes to the measured cost, trial by trial:
 * real searches (worker processes, real training) on MNIST, Fashion-MNIST
 * (small data fractions) and the 142-row CSV of examples/, each driven as
 * `nasflow search` drives it — the pool's workers measure their backend,
 * the budget check and every reservation use the cost model, which learns
 * from each finished epoch and trial. For every trial it prints the estimate
 * the search made when it proposed the trial, the seconds it was charged, and
 * measured / estimated (the goal: within a factor of 2).
 *
 *   npm run bench:estimate -- [--out FILE] [--trials N] [--workers N] [--cases mnist,fashion-mnist,csv]
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { DataSpec } from '../shared/data/sources.js';
import type { Architecture } from '../shared/space/space.js';
import type { EvalHooks, EvalJob, EvalOutcome, Evaluator } from '../shared/runner/evaluator.js';
import { ProcessPoolEvaluator } from '../shared/runner/pool-evaluator.js';
import { runExperiment } from '../shared/runner/search.js';
import { fidelityOf, parseExperimentSpec } from '../shared/spec/experiment.js';
import { costModelOf, type CostBreakdown, type TrialCostModel } from '../shared/steps/estimate.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';
import { benchArgs, usageError } from './args.js';

const ROOT = resolve(import.meta.dirname, '..');

const { values: args } = benchArgs({
  usage: '  npm run bench:estimate -- [--out FILE] [--trials N] [--workers N] [--cases mnist,fashion-mnist,csv]',
  numbers: ['trials', 'workers'],
  options: {
    out: { type: 'string', default: 'bench-results/estimate.json' },
    trials: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    cases: { type: 'string', default: 'mnist,fashion-mnist,csv' },
  },
});

/** The MNIST example's space: small CNNs and MLP heads. */
const imageSpace = {
  kind: 'chain',
  depth: { int: [2, 3] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d', 'dense'] },
    width: { choice: [16, 32, 64] },
    kernel: { choice: [3, 5] },
    activation: { choice: ['relu', 'swish'] },
    pool: 'max',
    batchNorm: { choice: [true, false] },
  },
  learningRate: { float: [0.0007, 0.004], log: true },
  batchSize: 64,
  optimizer: 'adam',
};

const imageSpec = (source: 'mnist' | 'fashion-mnist') => ({
  name: `estimate-${source}`,
  // 2 % of the training split (1,058 images) and 2 % held out for validation, so a trial takes seconds.
  dataset: { source, fraction: 0.02, validation: 0.02 },
  space: imageSpace,
  fidelity: { scheduler: 'asha', resource: 'epochs', min: 1, max: 3, eta: 3 },
});

const CASES: Record<string, () => Record<string, unknown>> = {
  mnist: () => imageSpec('mnist'),
  'fashion-mnist': () => imageSpec('fashion-mnist'),
  csv: () => ({
    name: 'estimate-csv',
    dataset: { source: 'csv', path: join(ROOT, 'examples/tabular.csv'), validation: 0.2 },
    space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: 'dense', width: { choice: [16, 32, 64] }, activation: { choice: ['relu', 'tanh'] }, batchNorm: { choice: [false, true] } }, learningRate: { float: [0.001, 0.02], log: true }, batchSize: 32, optimizer: 'adam' },
    epochs: 30,
  }),
};

interface Row {
  readonly trial: string;
  readonly epochs: number;
  readonly fidelity: number;
  readonly estimated: number;
  readonly measured: number;
  readonly ratio: number;
  readonly status: string;
  /** The estimate's parts and what the trainer measured of each (seconds). */
  readonly parts: { readonly estimated: CostBreakdown; readonly measured: Record<string, number> };
}

/**
 * The evaluator the search runs, watched: the last estimate asked for each
 * (architecture, epochs, fidelity) — the proposal's — is kept, and set
 * beside the trial's charged seconds when it finishes.
 */
class Watched implements Evaluator {
  readonly rows: Row[] = [];
  private readonly asked = new Map<string, { total: number; parts: CostBreakdown }>();
  constructor(
    private readonly inner: ProcessPoolEvaluator,
    private readonly model: TrialCostModel,
    private readonly hash: (a: Architecture) => string,
  ) {}
  get metrics() {
    return this.inner.metrics;
  }
  estimateSeconds(epochs: number, arch?: Architecture, fidelity?: number): number {
    const s = this.inner.estimateSeconds(epochs, arch, fidelity);
    if (arch) this.asked.set(`${this.hash(arch)}:${epochs}:${fidelity ?? epochs}`, { total: s, parts: this.model.breakdown(epochs, arch, fidelity) });
    return s;
  }
  async run(job: EvalJob, hooks: EvalHooks): Promise<EvalOutcome> {
    const { trial } = job;
    const epochs = trial.fidelity - job.startEpoch;
    const asked = this.asked.get(`${this.hash(trial.arch)}:${epochs}:${trial.fidelity}`) ?? { total: this.inner.estimateSeconds(epochs, trial.arch, trial.fidelity), parts: this.model.breakdown(epochs, trial.arch, trial.fidelity) };
    const out = await this.inner.run(job, hooks);
    const m = out.metrics;
    const own = (k: string) => r3(m[k] ?? 0);
    const measuredParts = {
      // train_seconds is cumulative over a promotion line: this run's loops are the epochs' own.
      train: r3((m['train_seconds'] ?? 0) - (job.parent?.metrics?.['train_seconds'] ?? 0)),
      validation: own('eval_seconds'),
      fixed: r3((m['setup_seconds'] ?? 0) + (m['checkpoint_seconds'] ?? 0) + (m['final_seconds'] ?? 0)),
      overhead: r3(out.seconds - (m['trial_seconds'] ?? out.seconds)),
    };
    const e = asked.parts;
    const estimatedParts = { train: r3(e.train), validation: r3(e.validation), fixed: r3(e.fixed), overhead: r3(e.overhead), total: r3(e.total) };
    this.rows.push({ trial: trial.id.slice(-5), epochs, fidelity: trial.fidelity, estimated: asked.total, measured: out.seconds, ratio: out.seconds / asked.total, status: out.status, parts: { estimated: estimatedParts, measured: measuredParts } });
    return out;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

async function runCase(name: string, trials: number, workers: number) {
  const raw = { ...CASES[name]!(), budget: { trials }, parallel: workers, seed: 3 };
  const spec = parseExperimentSpec(raw);
  const home = mkdtempSync(join(tmpdir(), 'nasflow-estimate-'));
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  const model = costModelOf(spec);
  const pool = new ProcessPoolEvaluator({ workers, artifacts: join(home, 'artifacts'), data: { ...(spec.dataset as DataSpec), seed: spec.seed }, seed: spec.seed, finalEpochs: Math.max(...fidelityOf(spec).rungs), costModel: model });
  const evaluator = new Watched(pool, model, (a) => spec.compiledSpace.hash(a));
  try {
    const t0 = performance.now();
    await pool.calibrated();
    const calibration = (performance.now() - t0) / 1000;
    const cheapestFirstTrial = pool.estimateSeconds(spec.fidelity ? 1 : spec.epochs);
    const exp = await submitExperiment(raw, store, { estimateSeconds: (e) => pool.estimateSeconds(e) });
    await runExperiment(exp.id, { store, evaluator, workers });
    const rows = evaluator.rows;
    const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
    const within = rows.filter((r) => r.ratio >= 0.5 && r.ratio <= 2).length;
    return {
      case: name,
      dataset: spec.dataset,
      workers,
      calibrationSeconds: r3(calibration),
      cheapestFirstTrialEstimate: r3(cheapestFirstTrial),
      trials: rows.map((r) => ({ ...r, estimated: r3(r.estimated), measured: r3(r.measured), ratio: r3(r.ratio) })),
      summary: { n: rows.length, within2x: within, medianRatio: r3(ratios[ratios.length >> 1] ?? NaN), minRatio: r3(ratios[0] ?? NaN), maxRatio: r3(ratios[ratios.length - 1] ?? NaN) },
    };
  } finally {
    await evaluator.close();
    await store.close();
  }
}

const unknownCase = (args.cases as string).split(',').find((name) => !CASES[name]);
if (unknownCase !== undefined) usageError(`--cases: unknown case ${JSON.stringify(unknownCase)} (expected some of ${Object.keys(CASES).join(', ')})`);
const results = [];
for (const name of (args.cases as string).split(',')) {
  const r = await runCase(name, Number(args.trials), Number(args.workers));
  results.push(r);
  process.stdout.write(`\n${name}: calibration ${r.calibrationSeconds} s; the cheapest first-rung trial (submit-time check) estimated at ${r.cheapestFirstTrialEstimate} s\n`);
  process.stdout.write(`  trial  epochs→fid  estimated s  measured s  measured/estimated\n`);
  for (const t of r.trials) {
    const p = t.parts;
    const parts = (['train', 'validation', 'fixed', 'overhead'] as const).map((k) => `${k} ${p.estimated[k].toFixed(2)}/${(p.measured[k] ?? 0).toFixed(2)}`).join(', ');
    process.stdout.write(`  ${t.trial}  ${String(t.epochs).padStart(6)}→${t.fidelity}  ${t.estimated.toFixed(3).padStart(11)}  ${t.measured.toFixed(3).padStart(10)}  ${t.ratio.toFixed(2).padStart(8)}   (est/meas: ${parts})${t.status === 'COMPLETED' ? '' : ` ${t.status}`}\n`);
  }
  const s = r.summary;
  process.stdout.write(`  ${s.within2x}/${s.n} within a factor of 2; ratio median ${s.medianRatio}, range ${s.minRatio}–${s.maxRatio}\n`);
}
const out = resolve(args.out as string);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ when: new Date().toISOString(), results }, null, 1) + '\n');
process.stdout.write(`\nwritten ${out}\n`);
