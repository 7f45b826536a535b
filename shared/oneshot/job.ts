/**
 * Runs a supernet job (`shared/steps/supernet.ts`): loads the data (the
 * job's fraction of the training split), trains the supernet from its
 * checkpoint on, searches the one-shot scores and returns a trial result
 * whose metrics hold the finalists. What every driver calls: the worker
 * pool locally, the trainer container on AWS Batch.
 */
import type { BackendInfo } from '../backend/index.js';
import type { DataSplits } from '../data/dataset.js';
import { loadData, type DataSpec } from '../data/sources.js';
import { Space } from '../space/space.js';
import type { SupernetJob } from '../steps/supernet.js';
import { trialKeys, type ArtifactStore, type ReportSink } from '../train/ports.js';
import type { TrialResult } from '../train/trainer.js';
import { encodeFinalists } from './finalists.js';
import { runOneShot } from './oneshot.js';

export interface SupernetJobEnv {
  readonly store: ArtifactStore;
  readonly backend: BackendInfo;
  /** Each supernet epoch as a report (`loss`, `epoch_seconds`). */
  readonly sink: ReportSink;
  /** The job's data, preloaded (a worker's cache); else loaded from `job.data`. */
  readonly data?: DataSplits;
  /** Aborting stops at the next batch (while scoring: the next candidate): INTERRUPTED, to resume from the last epoch's checkpoint. */
  readonly signal?: AbortSignal;
}

/** Trains the supernet of `job` (resuming) and searches it; never throws for a failing run. */
export async function runSupernetJob(job: SupernetJob, env: SupernetJobEnv): Promise<TrialResult> {
  const base = { id: job.id, backend: env.backend.name };
  try {
    const space = Space.fromSpec(job.space);
    const spec = job.data as unknown as DataSpec;
    const data = env.data ?? loadData(spec);
    const r = await runOneShot(
      space,
      data,
      { supernetEpochs: job.epochs, candidates: job.candidates, finalists: job.finalists, seed: job.seed, ...(job.sampling ? { sampling: job.sampling } : {}), ...(job.warmupEpochs !== undefined ? { warmupEpochs: job.warmupEpochs } : {}), ...(job.schedule ? { schedule: job.schedule } : {}), ...(job.calibrationBatches !== undefined ? { calibrationBatches: job.calibrationBatches } : {}) },
      {
        checkpoint: { store: env.store, key: trialKeys(job.id).checkpoint },
        ...(env.signal ? { signal: env.signal } : {}),
        onEpoch: (epoch, loss, seconds) => env.sink.report({ epoch, metrics: { loss, epoch_seconds: seconds } }),
      },
    );
    const timing = { supernet_seconds: r.supernetSeconds, search_seconds: r.searchSeconds, train_seconds: r.supernetSeconds };
    if (r.interrupted) return { ...base, status: 'INTERRUPTED', reason: 'interrupted', epochsCompleted: r.epochsDone, metrics: timing };
    return {
      ...base,
      status: 'COMPLETED',
      epochsCompleted: r.epochsDone,
      metrics: { ...encodeFinalists(space, r.finalists), 'oneshot.scored': r.scored, 'oneshot.collapsed': r.collapsed ? 1 : 0, ...timing },
    };
  } catch (e) {
    return { ...base, status: 'FAILED', reason: `error: ${(e as Error).message}`, epochsCompleted: 0, metrics: {} };
  }
}
