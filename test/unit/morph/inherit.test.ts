import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../../shared/backend/index.js';
import { take, type DataSplits } from '../../../shared/data/dataset.js';
import { loadData } from '../../../shared/data/sources.js';
import { MemoryArtifactStore, MemoryReportSink, putJson } from '../../../shared/train/ports.js';
import { trainTrial, trialKeys, type TrialSpec } from '../../../shared/train/trainer.js';
import { DEFAULT_TRAINING, type ChainNetwork } from '../../../shared/space/network.js';

let backend: BackendInfo;
/** Real Fashion-MNIST, small: 1,500 training and 500 validation images. */
let data: DataSplits;

const parentNet: ChainNetwork = {
  kind: 'chain',
  layers: [
    { type: 'conv2d', width: 4, kernel: 3, activation: 'relu' },
    { type: 'maxpool', kernel: 2 },
    { type: 'conv2d', width: 8, kernel: 3, activation: 'relu', batchNorm: true },
    { type: 'maxpool', kernel: 2 },
  ],
  training: { ...DEFAULT_TRAINING, learningRate: 0.003 },
};
/** The parent with its first layer widened 4 → 8. */
const childNet: ChainNetwork = { ...parentNet, layers: [{ ...parentNet.layers[0]!, width: 8 }, ...parentNet.layers.slice(1)] };
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const spec = (over: Partial<TrialSpec>): TrialSpec => ({ id: 'x', network: parentNet, data: { source: 'fashion-mnist' }, epochs: 2, seed: 3, ...over });

beforeAll(async () => {
  backend = await initBackend('wasm');
  const all = loadData({ source: 'fashion-mnist', validation: 0.1, seed: 1, fraction: 0.05 });
  data = { name: 'fashion-small', train: take(all.train, range(1500)), validation: take(all.validation, range(500)) };
}, 60_000);

/** Trains the parent as `propose` leaves it: its job file and its checkpoint in the store. */
async function trainParent(store: MemoryArtifactStore): Promise<number> {
  await putJson(store, trialKeys('p').trial, { id: 'p', network: parentNet });
  const r = await trainTrial(spec({ id: 'p' }), { sink: new MemoryReportSink(), store, backend, data });
  expect(r.status).toBe('COMPLETED');
  return r.metrics['val_accuracy']!;
}

describe('inherited-weight trials', () => {
  it('a widened child starts from its parent at the parent epochs and reports only the epochs it trains', async () => {
    const store = new MemoryArtifactStore();
    const parentAcc = await trainParent(store);
    const sink = new MemoryReportSink();
    const r = await trainTrial(spec({ id: 'c', network: childNet, epochs: 3, inherit: { parentId: 'p', transform: 'widen', startEpoch: 2 } }), { sink, store, backend, data });
    expect(r.status).toBe('COMPLETED');
    expect(r.reason).toBeUndefined();
    expect(r.metrics['inherited']).toBe(1);
    expect(sink.reports.map((x) => x.epoch)).toEqual([3]);
    // One more epoch from the parent's function: at least about where the parent was.
    expect(r.metrics['val_accuracy']!).toBeGreaterThan(parentAcc - 0.05);
  });

  it('a child whose parent checkpoint is gone trains from scratch, all its epochs, and says so', async () => {
    const store = new MemoryArtifactStore();
    await putJson(store, trialKeys('gone').trial, { id: 'gone', network: parentNet });
    const sink = new MemoryReportSink();
    const r = await trainTrial(spec({ id: 'c2', network: childNet, epochs: 2, inherit: { parentId: 'gone', transform: 'widen', startEpoch: 1 } }), { sink, store, backend, data });
    expect(r.status).toBe('COMPLETED');
    expect(r.metrics['inherited']).toBe(0);
    expect(r.reason).toMatch(/^trained from scratch: the parent gone's checkpoint .* is gone$/);
    expect(sink.reports.map((x) => x.epoch)).toEqual([1, 2]);
  });
});
