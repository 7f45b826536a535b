/**
 * What the real-data benches share (bench/ensemble.ts, bench/importance.ts):
 * a case's search run as a user runs it — the built CLI, its SQLite store,
 * real training — into the case's own home, or the search already stored
 * there (`--reuse`); and the results written as JSON with the machine's
 * load beside them; and the spaces their cases search.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Experiment, Trial } from '../shared/experiment/model.js';
import { listAllTrials } from '../shared/store/experiment-store.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';

/** The repository's root (the benches run from source with tsx). */
export const ROOT = resolve(import.meta.dirname, '..');

/** The image cases' chain space: the MNIST example's, with separable convolutions too. */
export const IMAGE_SPACE = {
  kind: 'chain',
  depth: { int: [2, 3] },
  layer: { type: { choice: ['conv2d', 'sepconv2d', 'dense'] }, width: { choice: [16, 32, 64] }, kernel: { choice: [3, 5] }, activation: { choice: ['relu', 'swish'] }, pool: 'max', batchNorm: { choice: [true, false] } },
  learningRate: { float: [0.0007, 0.004], log: true },
  batchSize: 64,
  optimizer: 'adam',
};

/** The CSV cases' space: MLPs of one to three dense layers. */
export const MLP_SPACE = {
  kind: 'chain',
  depth: { int: [1, 3] },
  layer: { type: 'dense', width: { choice: [16, 32, 64] }, activation: { choice: ['relu', 'tanh'] }, batchNorm: { choice: [false, true] } },
  learningRate: { float: [0.0003, 0.03], log: true },
  batchSize: 32,
  optimizer: 'adam',
};

/** A case's stored search: its newest experiment, that experiment's trials, and the seconds the search took (0-ish when reused). */
export interface StoredSearch {
  readonly exp: Experiment;
  readonly trials: Trial[];
  readonly searchSeconds: number;
}

/**
 * Runs `nasflow search` on `spec()` into `home` — unless `reuse` and a store
 * is there already — then hands the stored search to `use` while its store
 * is open. `spec` is only called when a search runs (a case may write its
 * data files there).
 */
export async function searchCase<T>(home: string, spec: () => object, reuse: boolean, use: (search: StoredSearch) => Promise<T> | T): Promise<T> {
  mkdirSync(home, { recursive: true });
  const t0 = performance.now();
  if (!reuse || !existsSync(join(home, 'nasflow.db'))) {
    const specFile = join(home, 'spec.json');
    writeFileSync(specFile, JSON.stringify(spec(), null, 1));
    execFileSync(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'search', specFile, '--home', home], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const searchSeconds = (performance.now() - t0) / 1000;
  const store = new SqliteExperimentStore(join(home, 'nasflow.db'));
  try {
    const [exp] = await store.listExperiments({ limit: 1 });
    if (!exp) throw new Error(`${home}: no experiment stored`);
    return await use({ exp, trials: await listAllTrials(store, exp.id), searchSeconds });
  } finally {
    await store.close();
  }
}

/** Writes a bench's results to `out` as JSON, with when, the load average and the cores; says where on stderr. */
export function writeResults(out: string, results: readonly object[]): void {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(resolve(out), JSON.stringify({ generatedAt: new Date().toISOString(), loadavg: loadavg(), cpus: cpus().length, results }, null, 1) + '\n');
  process.stderr.write(`wrote ${resolve(out)}\n`);
}
