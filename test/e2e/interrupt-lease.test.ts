/**
 * A local search keeps its experiment's lease through a starved event loop.
 * On a 2-core machine under full training load the runner's renewal timer
 * ran late, a step then found the 10-second lease expired and the search
 * ended FAILED, its lease lost to nobody. Here the runner's main loop is
 * blocked (a busy-wait in its progress callback) for longer than that old
 * lease, twice, and the search still ends COMPLETED with exactly the trials
 * of an unblocked run; a lease that another process really took is still
 * lost. The real runner, real SQLite, the NAS-Bench-201 table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExperiment } from '../../shared/runner/search.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';
import { SqliteExperimentStore } from '../../shared/store/sqlite.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');
const RAW = { name: 'starved', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 6 }, parallel: 2, seed: 7 };
/** Longer than the runner's lease before this fix (10 s). */
const STARVED_MS = 11_000;

const dir = mkdtempSync(join(tmpdir(), 'nasflow-starved-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function search(name: string, onFinished?: (n: number, store: SqliteExperimentStore) => Promise<void> | void) {
  const spec = parseExperimentSpec(RAW);
  const store = new SqliteExperimentStore(join(dir, `${name}.db`));
  await store.createExperiment({ id: name, name, spec: RAW, state: 'QUEUED', createdAt: new Date().toISOString() });
  let n = 0;
  const evaluator = new TableTrialEvaluator(spec.dataset as never, spec.compiledSpace, spec.seed);
  const done = await runExperiment(name, { store, evaluator, workers: 2, owner: `test:${process.pid}:${name}`, onEvent: async (e) => void (e.type === 'trial-finished' && (await onFinished?.(++n, store))) });
  const trials = (await store.listTrials(name)).trials.map((t) => [t.seq, t.hash, t.state]);
  const lease = await store.getLease(name);
  await store.close();
  return { done, trials, lease };
}

/** The main thread held, as a starved process is: no timer, no I/O callback runs meanwhile. */
function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* starved */
  }
}

describe('the local runner keeps its lease through a starved event loop', () => {
  it('blocked for longer than the old lease (twice), the search completes with the trials of an unblocked run', async () => {
    const clean = await search('clean');
    expect(clean.done.state).toBe('COMPLETED');
    const starved = await search('blocked', (n) => {
      if (n === 2 || n === 4) busyWait(STARVED_MS);
    });
    expect(starved.done.state, starved.done.reason).toBe('COMPLETED');
    expect(starved.done.spent.trials).toBe(6);
    expect(starved.trials).toEqual(clean.trials);
    expect(starved.lease).toBeUndefined();
  }, 120_000);

  it('a lease another process took over is still lost: the runner writes the experiment no more and leaves it to the new holder', async () => {
    const taken = await search('taken', async (n, store) => {
      // Another process takes the lease over (as after an expiry): this runner must not write on.
      if (n === 2) {
        const { owner } = (await store.getLease('taken'))!;
        await store.releaseLease('taken', owner);
        await store.acquireLease('taken', 'another-host:1:x', 60_000);
      }
    });
    expect(taken.done.state).toBe('RUNNING');
    expect(taken.lease?.owner).toBe('another-host:1:x');
  }, 60_000);
});
