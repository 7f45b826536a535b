/**
 * A stop reaches a training supernet within a batch, not an epoch. A stop
 * (a worker's stop message, SIGTERM in the trainer container, a deadline)
 * is seen only when the training loop lets the event loop run; the supernet
 * loop did so every 20 steps, so with fewer steps per epoch, or slow ones
 * (a FairNAS batch on wasm under load: seconds each), the stop waited for
 * the epoch's end. Here the stop comes from a timer, as a message would,
 * a quarter into the second epoch of a small supernet on a slice of real
 * MNIST: the job ends INTERRUPTED within the bound, its first epoch's
 * checkpoint kept, and the rerun trains the second epoch and finishes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../../shared/backend/index.js';
import type { DataSplits } from '../../../shared/data/dataset.js';
import { loadData } from '../../../shared/data/sources.js';
import { runSupernetJob } from '../../../shared/oneshot/job.js';
import type { SupernetJob } from '../../../shared/steps/supernet.js';
import { MemoryArtifactStore, MemoryReportSink, trialKeys } from '../../../shared/train/ports.js';

/** How long after the stop request the job may still run (about a batch here; generous for a loaded machine). */
const BOUND_MS = 2000;

// 8 batches of 32 per epoch (FairNAS: 5 paths each, about half a second a batch here): fewer than the old loop's 20 steps between turns of the event loop.
const BATCHES = 8;
const data = { source: 'mnist' as const, fraction: (BATCHES * 32) / 59_700, validation: 0.005, seed: 3 };
const job: SupernetJob = { id: 'sn', kind: 'supernet', space: { kind: 'cell', channels: 8, stages: 2, cellsPerStage: 1, batchSize: 32 }, data, epochs: 2, candidates: 3, finalists: 1, sampling: 'fair', seed: 1 };

let backend: BackendInfo;
let splits: DataSplits;

beforeAll(async () => {
  backend = await initBackend('wasm');
  splits = loadData(data);
}, 60_000);

/** The epochs done that a supernet checkpoint records (its header). */
function checkpointEpoch(bytes: Uint8Array): number {
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  return (JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as { epoch: number }).epoch;
}

describe('a stop is seen by a training supernet within a batch', () => {
  it('stopped a quarter into epoch 2: INTERRUPTED within the bound, epoch 1 checkpointed, and the rerun trains epoch 2 only', async () => {
    const store = new MemoryArtifactStore();
    const abort = new AbortController();
    let requestedAt = Infinity;
    let epochMs = 0;
    const sink = new MemoryReportSink();
    const report = sink.report.bind(sink);
    sink.report = (r) => {
      if (r.epoch === 1) {
        epochMs = (r.metrics['epoch_seconds'] ?? 0) * 1000;
        // The request is made at a moment of the clock; the job sees it at its next turn of the event loop.
        requestedAt = performance.now() + epochMs / 4;
        setTimeout(() => abort.abort(), epochMs / 4);
      }
      return report(r);
    };
    const r = await runSupernetJob(job, { backend, store, data: splits, sink, signal: abort.signal });
    const delayMs = performance.now() - requestedAt;
    console.log(`supernet stop: ${delayMs.toFixed(0)} ms after the request (epoch 1: ${epochMs.toFixed(0)} ms, ${(epochMs / BATCHES).toFixed(0)} ms a batch)`);
    expect(r.status).toBe('INTERRUPTED');
    expect(r.epochsCompleted).toBe(1);
    expect(delayMs).toBeLessThan(BOUND_MS);
    expect(checkpointEpoch((await store.get(trialKeys('sn').checkpoint))!)).toBe(1);

    const resumed = new MemoryReportSink();
    const done = await runSupernetJob(job, { backend, store, data: splits, sink: resumed });
    expect(done.status).toBe('COMPLETED');
    expect(resumed.reports.map((x) => x.epoch)).toEqual([2]);
    expect(done.epochsCompleted).toBe(2);
    expect(done.metrics['oneshot.scored']).toBe(3);
  }, 120_000);

  it('stopped while it scores candidates: INTERRUPTED within the bound, its epochs kept (a rerun scores again)', async () => {
    const store = new MemoryArtifactStore();
    const abort = new AbortController();
    let requestedAt = Infinity;
    const sink = new MemoryReportSink();
    const report = sink.report.bind(sink);
    sink.report = (r) => {
      // The last epoch's report: the scoring of 2,000 candidates starts next.
      requestedAt = performance.now() + 300;
      setTimeout(() => abort.abort(), 300);
      return report(r);
    };
    const r = await runSupernetJob({ ...job, id: 'score', epochs: 1, sampling: 'uniform', candidates: 2000 }, { backend, store, data: splits, sink, signal: abort.signal });
    const delayMs = performance.now() - requestedAt;
    console.log(`supernet stop while scoring: ${delayMs.toFixed(0)} ms after the request`);
    expect(r.status).toBe('INTERRUPTED');
    expect(r.epochsCompleted).toBe(1);
    expect(delayMs).toBeLessThan(BOUND_MS);
    expect(checkpointEpoch((await store.get(trialKeys('score').checkpoint))!)).toBe(1);
  }, 120_000);
});
