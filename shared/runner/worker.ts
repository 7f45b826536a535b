/**
 * A training worker process (forked by `ProcessPoolEvaluator`): it
 * initialises a backend once, keeps loaded data sets between trials, trains
 * one trial at a time with the real trainer, and talks to the runner over
 * IPC: `epoch` reports out, `stop` requests in (the trainer checkpoints and
 * returns at the next batch), `done` with the result.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { loadData } from '../data/sources.js';
import type { DataSplits } from '../data/dataset.js';
import { FsArtifactStore } from '../train/ports.js';
import { trainTrial, trialKeys, type TrialSpec } from '../train/trainer.js';

export type ToWorker =
  | { readonly type: 'run'; readonly trial: TrialSpec; readonly artifacts: string; readonly copyCheckpointFrom?: string }
  | { readonly type: 'stop'; readonly trialId: string };

export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string }
  | { readonly type: 'epoch'; readonly trialId: string; readonly epoch: number; readonly metrics: Record<string, number> }
  | { readonly type: 'done'; readonly trialId: string; readonly result: import('../train/trainer.js').TrialResult }
  | { readonly type: 'error'; readonly trialId: string; readonly message: string };

const send = (m: FromWorker) => process.send?.(m);
let backend: BackendInfo | undefined;
const dataCache = new Map<string, DataSplits>();
const aborts = new Map<string, AbortController>();

async function run(msg: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const { trial } = msg;
  const abort = new AbortController();
  aborts.set(trial.id, abort);
  try {
    backend ??= await initBackend((process.env.NASFLOW_BACKEND as BackendChoice | undefined) ?? 'auto');
    const key = JSON.stringify(trial.data);
    let data = dataCache.get(key);
    if (!data) {
      data = loadData(trial.data);
      dataCache.clear(); // one data set at a time keeps memory bounded
      dataCache.set(key, data);
    }
    const store = new FsArtifactStore(msg.artifacts);
    if (msg.copyCheckpointFrom) {
      const bytes = await store.get(trialKeys(msg.copyCheckpointFrom).checkpoint);
      if (bytes && !(await store.get(trialKeys(trial.id).checkpoint))) await store.put(trialKeys(trial.id).checkpoint, bytes);
    }
    const result = await trainTrial(trial, {
      backend,
      store,
      data,
      signal: abort.signal,
      sink: { report: (r) => void send({ type: 'epoch', trialId: trial.id, epoch: r.epoch, metrics: { ...r.metrics } }) },
    });
    send({ type: 'done', trialId: trial.id, result });
  } catch (e) {
    send({ type: 'error', trialId: trial.id, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    aborts.delete(trial.id);
  }
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'run') void run(m);
  else if (m.type === 'stop') aborts.get(m.trialId)?.abort();
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', backend: 'pending' });
