/**
 * A stop reaches a training trial within a batch, not an epoch. A worker's
 * stop (the budget's deadline, the scheduler, an interrupt) arrives as a
 * message, seen only when the trainer lets the event loop run; that was every
 * `checkEvery` (50) steps, minutes of convolution on wasm under load, so a
 * search overran `budget.minutes` by that much. Here the loss check is put
 * out of reach (`checkEvery` 10,000) and the abort comes from a timer, as a
 * message would: the trial stops mid-epoch, checkpointed where it stopped,
 * and a resume trains on from there. Real training on a slice of MNIST.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../shared/backend/index.js';
import type { DataSplits } from '../../shared/data/dataset.js';
import { loadData } from '../../shared/data/sources.js';
import { DEFAULT_TRAINING, type ChainNetwork } from '../../shared/space/network.js';
import { decodeCheckpoint } from '../../shared/train/checkpoint.js';
import { MemoryArtifactStore, MemoryReportSink } from '../../shared/train/ports.js';
import { trainTrial, trialKeys, type TrialSpec } from '../../shared/train/trainer.js';

let backend: BackendInfo;
let data: DataSplits;

// One small convolution: steps of some milliseconds on wasm, an epoch of a few hundred of them.
const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'conv2d', width: 8, kernel: 3, activation: 'relu' }, { type: 'maxpool', kernel: 2 }], training: { ...DEFAULT_TRAINING, batchSize: 32, learningRate: 0.003 } };
const trial: TrialSpec = { id: 'slow', network: net, data: { source: 'mnist' }, epochs: 2, seed: 3 };

beforeAll(async () => {
  backend = await initBackend('wasm');
  data = loadData({ source: 'mnist', validation: 0.1, seed: 1, fraction: 0.08 });
}, 60_000);

describe('a stop is seen within a batch', () => {
  it('aborted by a timer during the second epoch: INTERRUPTED mid-epoch, checkpointed there, and resumed from there', async () => {
    const store = new MemoryArtifactStore();
    const abort = new AbortController();
    // The stop is sent when the first epoch ends; it lands at the trainer's next turn of the event loop.
    const sink = new MemoryReportSink();
    const report = sink.report.bind(sink);
    sink.report = (r) => {
      if (r.epoch === 1) setTimeout(() => abort.abort(), 0);
      return report(r);
    };
    const steps = Math.ceil(data.train.size / 32);
    const r = await trainTrial(trial, { backend, store, data, sink, signal: abort.signal, checkEvery: 10_000 });
    expect(r.status).toBe('INTERRUPTED');
    expect(r.epochsCompleted).toBe(1);
    const pos = decodeCheckpoint((await store.get(trialKeys('slow').checkpoint))!).position;
    expect(pos.epoch).toBe(1);
    // Stopped within a few steps of the second epoch's first turn of the event loop (at most 100 ms of training), far from its end.
    expect(pos.step).toBeGreaterThan(0);
    expect(pos.step).toBeLessThan(steps / 2);

    const resumed = new MemoryReportSink();
    const done = await trainTrial(trial, { backend, store, data, sink: resumed, checkEvery: 10_000 });
    expect(done.status).toBe('COMPLETED');
    expect(resumed.reports.map((x) => x.epoch)).toEqual([2]);
  }, 120_000);
});
