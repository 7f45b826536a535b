/**
 * A training worker process (forked by `ProcessPoolEvaluator`): it
 * initialises a backend once, keeps loaded data sets between trials, trains
 * one trial at a time with the real trainer, and talks to the runner over
 * IPC: `epoch` reports out, `stop` requests in (the trainer checkpoints and
 * returns at the next batch), `done` with the result.
 */
import { initBackend, type BackendChoice, type BackendInfo } from '../backend/index.js';
import { loadData } from '../data/sources.js';
import type { Throughput } from '../model/network-cost.js';
import { calibrateThroughput } from '../model/throughput.js';
import type { DataSplits } from '../data/dataset.js';
import { runSupernetJob } from '../oneshot/job.js';
import type { SupernetJob } from '../steps/supernet.js';
import { continueFromParent, FsArtifactStore, type EpochReport } from '../train/ports.js';
import { releaseDeviceData, trainTrial, type TrialSpec } from '../train/trainer.js';

export type ToWorker =
  | { readonly type: 'run'; readonly trial: TrialSpec; readonly artifacts: string; readonly copyCheckpointFrom?: string; readonly supernet?: SupernetJob }
  /** Initialise the backend and load the data now, before the first trial arrives. */
  | { readonly type: 'warm'; readonly data: TrialSpec['data'] }
  | { readonly type: 'stop'; readonly trialId: string };

export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string }
  /** This process's backend, measured once (cost estimates). */
  | { readonly type: 'throughput'; readonly throughput: Throughput }
  | { readonly type: 'epoch'; readonly trialId: string; readonly epoch: number; readonly metrics: Record<string, number> }
  | { readonly type: 'done'; readonly trialId: string; readonly result: import('../train/trainer.js').TrialResult }
  | { readonly type: 'error'; readonly trialId: string; readonly message: string };

const send = (m: FromWorker) => process.send?.(m);
let backend: BackendInfo | undefined;
const dataCache = new Map<string, DataSplits>();
const aborts = new Map<string, AbortController>();

/** The backend, initialised once per process, and measured (a second of probe steps) before its first trial. */
async function ensureBackend(): Promise<BackendInfo> {
  if (!backend) {
    backend = await initBackend((process.env.NASFLOW_BACKEND as BackendChoice | undefined) ?? 'auto');
    send({ type: 'throughput', throughput: calibrateThroughput() });
  }
  return backend;
}

/** The data set, loaded once per process (one at a time keeps memory bounded). */
function ensureData(spec: TrialSpec['data']): DataSplits {
  const key = JSON.stringify(spec);
  let data = dataCache.get(key);
  if (!data) {
    data = loadData(spec);
    dataCache.clear();
    releaseDeviceData();
    dataCache.set(key, data);
  }
  return data;
}

/** Work queued on this process, in order (a warm-up before the first trial). */
let queue: Promise<void> = Promise.resolve();

async function run(msg: Extract<ToWorker, { type: 'run' }>, abort: AbortController): Promise<void> {
  const { trial } = msg;
  try {
    const backend = await ensureBackend();
    const store = new FsArtifactStore(msg.artifacts);
    if (msg.copyCheckpointFrom) await continueFromParent(store, trial.id, msg.copyCheckpointFrom);
    const sink = { report: (r: EpochReport) => void send({ type: 'epoch', trialId: trial.id, epoch: r.epoch, metrics: { ...r.metrics } }) };
    if (msg.supernet) {
      // A one-shot search's supernet: the job kind dispatches here as it does in the trainer container.
      const result = await runSupernetJob(msg.supernet, { backend, store, data: ensureData(msg.supernet.data as TrialSpec['data']), signal: abort.signal, sink });
      send({ type: 'done', trialId: trial.id, result });
      return;
    }
    const data = ensureData(trial.data);
    const result = await trainTrial(trial, {
      backend,
      store,
      data,
      signal: abort.signal,
      cacheDeviceData: true,
      sink,
    });
    send({ type: 'done', trialId: trial.id, result });
  } catch (e) {
    send({ type: 'error', trialId: trial.id, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    aborts.delete(trial.id);
  }
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'run') {
    // Registered at once, so a stop that arrives while the worker is still warming up is not lost.
    const abort = new AbortController();
    aborts.set(m.trial.id, abort);
    queue = queue.then(() => run(m, abort));
  }
  else if (m.type === 'warm') {
    // A failure here (bad data) is reported by the trial that needs the data. The data first:
    // the backend's measurement then tells the pool that this worker is ready for a trial.
    queue = queue.then(async () => {
      try {
        ensureData(m.data);
      } catch {
        /* reported per trial */
      }
      try {
        await ensureBackend();
      } catch {
        /* reported per trial */
      }
    });
  } else if (m.type === 'stop') aborts.get(m.trialId)?.abort();
});
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: the runner decides what stops (it stops this worker's trial, checkpointed).
process.on('SIGINT', () => undefined);
// SIGTERM (to the group, or to this process): the running trial checkpoints at its next batch and reports, then the worker ends.
process.on('SIGTERM', () => {
  for (const a of aborts.values()) a.abort();
  void queue.then(() => (process.connected ? process.disconnect() : process.exit(0)));
});
send({ type: 'ready', backend: 'pending' });
