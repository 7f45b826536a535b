import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../../shared/backend/index.js';
import { makeDataset, take, type DataSplits } from '../../../shared/data/dataset.js';
import { loadData } from '../../../shared/data/sources.js';
import { buildModel } from '../../../shared/model/build.js';
import { accuracy } from '../../../shared/analysis/ensemble.js';
import { decodeCheckpoint } from '../../../shared/train/checkpoint.js';
import { loadPredictions } from '../../../shared/train/predictions.js';
import { loadExportedModel } from '../../../shared/train/export.js';
import { FsArtifactStore, MemoryArtifactStore, MemoryReportSink } from '../../../shared/train/ports.js';
import { releaseDeviceData, trainTrial, trialKeys, type TrialSpec } from '../../../shared/train/trainer.js';
import { DEFAULT_TRAINING, type ChainNetwork, type Network } from '../../../shared/space/network.js';

let backend: BackendInfo;
let mnist: DataSplits;
/** A small slice of real MNIST: 3,000 training and 1,000 validation images. */
let small: DataSplits;

const mlp: ChainNetwork = {
  kind: 'chain',
  layers: [{ type: 'dense', width: 128, activation: 'relu' }, { type: 'dense', width: 64, activation: 'relu' }],
  training: { ...DEFAULT_TRAINING, batchSize: 64, learningRate: 0.002 },
};

const cnn: ChainNetwork = {
  kind: 'chain',
  layers: [
    { type: 'conv2d', width: 8, kernel: 3, activation: 'relu' },
    { type: 'maxpool', kernel: 2 },
    { type: 'sepconv2d', width: 16, kernel: 3, activation: 'relu', batchNorm: true },
    { type: 'maxpool', kernel: 2 },
  ],
  training: { ...DEFAULT_TRAINING, batchSize: 64, learningRate: 0.003 },
};

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

const trial = (over: Partial<TrialSpec> = {}): TrialSpec => ({
  id: 't1',
  network: mlp,
  data: { source: 'mnist' },
  epochs: 2,
  seed: 5,
  ...over,
});

beforeAll(async () => {
  backend = await initBackend('wasm');
  mnist = loadData({ source: 'mnist', validation: 0.1, seed: 1, fraction: 0.1 });
  small = { name: 'mnist-small', train: take(mnist.train, range(3000)), validation: take(mnist.validation, range(1000)), test: take(mnist.test!, range(2000)) };
}, 60_000);

describe('trainTrial on real MNIST', () => {
  it('an MLP learns MNIST: per-epoch reports, test accuracy, exported model', async () => {
    const sink = new MemoryReportSink();
    const store = new MemoryArtifactStore();
    const r = await trainTrial(trial({ evaluateTest: true }), { sink, store, backend, data: mnist });
    expect(r.status).toBe('COMPLETED');
    expect(r.backend).toBe('wasm');
    expect(r.epochsCompleted).toBe(2);
    expect(sink.reports.map((x) => x.epoch)).toEqual([1, 2]);
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch_seconds']) expect(sink.reports[0]!.metrics[k]).toBeTypeOf('number');
    expect(sink.reports[1]!.metrics['loss']!).toBeLessThan(sink.reports[0]!.metrics['loss']!);
    // 5,400 training images, 2 epochs: well above chance (10%).
    expect(r.metrics['val_accuracy']).toBeGreaterThan(0.9);
    expect(r.metrics['test_accuracy']).toBeGreaterThan(0.9);
    expect(r.metrics['params']).toBe(784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
    expect(r.metrics['latency_ms']).toBeGreaterThan(0);
    expect(r.metrics['peak_rss_bytes']).toBeGreaterThan(1e7);
    expect(r.modelKey).toBe('trials/t1/model/model.json');
    // The class probabilities on validation and test are stored for ensembles, and agree with the metrics.
    const val = (await loadPredictions(store, trialKeys('t1').validationPredictions))!;
    const test = (await loadPredictions(store, trialKeys('t1').testPredictions))!;
    expect([val.n, val.classes]).toEqual([mnist.validation.size, 10]);
    expect(val.labels).toEqual(mnist.validation.y);
    expect(accuracy(val.probs, val.labels, 10)).toBeCloseTo(r.metrics['val_accuracy']!, 6);
    expect(accuracy(test.probs, test.labels, 10)).toBeCloseTo(r.metrics['test_accuracy']!, 6);
  }, 60_000);

  it('a CNN with separable convolution and batch norm trains on wasm with the registered kernels', async () => {
    const r = await trainTrial(trial({ id: 'cnn', network: cnn, epochs: 1 }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend, data: small });
    expect(r.status).toBe('COMPLETED');
    expect(r.metrics['val_accuracy']).toBeGreaterThan(0.6);
  }, 60_000);
});

describe('other networks and data', () => {
  it('a NAS-Bench-201 cell network trains on MNIST images', async () => {
    const net: Network = { kind: 'cell', ops: ['nor_conv_3x3', 'skip_connect', 'nor_conv_1x1', 'avg_pool_3x3', 'none', 'nor_conv_3x3'], channels: 4, cellsPerStage: 1, stages: 2, training: { ...DEFAULT_TRAINING, batchSize: 32, learningRate: 0.01 } };
    const data: DataSplits = { name: 'tiny', train: take(small.train, range(1200)), validation: take(small.validation, range(400)) };
    const r = await trainTrial(trial({ id: 'cell', network: net, epochs: 2 }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend, data });
    expect(r.status).toBe('COMPLETED');
    expect(r.metrics['val_accuracy']).toBeGreaterThan(0.3);
  }, 60_000);

  it('an MLP trains on a user CSV, standardised with training statistics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-csv-'));
    const rows = ['x1,x2,noise,label'];
    for (let i = 0; i < 600; i++) {
      // Two blobs far from the origin: unstandardised they would train poorly at this learning rate.
      const c = i % 2;
      const a = 1000 + (c === 0 ? -3 : 3) + ((i * 7919) % 100) / 50;
      const b = 500 + (c === 0 ? 2 : -2) + ((i * 104729) % 100) / 50;
      rows.push(`${a},${b},${(i * 31) % 17},${c === 0 ? 'no' : 'yes'}`);
    }
    writeFileSync(join(dir, 'blobs.csv'), rows.join('\n'));
    const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 16 }], training: { ...DEFAULT_TRAINING, batchSize: 32, learningRate: 0.01 } };
    const r = await trainTrial(trial({ id: 'csv', network: net, epochs: 3, data: { source: 'csv', path: join(dir, 'blobs.csv'), validation: 0.2, seed: 1 } }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend });
    expect(r.status).toBe('COMPLETED');
    expect(r.metrics['val_accuracy']).toBeGreaterThan(0.95);
  }, 60_000);
});

describe('checkpoints and resume', () => {
  const finalWeights = async (store: MemoryArtifactStore, id: string): Promise<number[]> => {
    const cp = decodeCheckpoint((await store.get(trialKeys(id).checkpoint))!);
    const flat = cp.modelWeights.flatMap((t) => Array.from(t.dataSync()));
    tf.dispose(cp.modelWeights);
    tf.dispose(cp.optimizerWeights.map((w) => w.tensor));
    return flat;
  };

  it('a trial interrupted mid-epoch resumes where it stopped and ends with the same weights', async () => {
    const straight = new MemoryArtifactStore();
    await trainTrial(trial({ id: 'a' }), { sink: new MemoryReportSink(), store: straight, backend, data: small });

    const store = new MemoryArtifactStore();
    let checks = 0;
    // Interrupt at the 60th batch boundary: epoch 2, step 13 (47 batches per epoch).
    const signal = { get aborted() { return ++checks > 60; } } as AbortSignal;
    const sink = new MemoryReportSink();
    const first = await trainTrial(trial({ id: 'a' }), { sink, store, backend, data: small, signal });
    expect(first.status).toBe('INTERRUPTED');
    expect(first.epochsCompleted).toBe(1);
    const cp = decodeCheckpoint((await store.get(trialKeys('a').checkpoint))!);
    expect(cp.position).toMatchObject({ epoch: 1, step: 13 });
    tf.dispose([...cp.modelWeights, ...cp.optimizerWeights.map((w) => w.tensor)]);

    const second = await trainTrial(trial({ id: 'a' }), { sink, store, backend, data: small });
    expect(second.status).toBe('COMPLETED');
    expect(sink.reports.map((x) => x.epoch)).toEqual([1, 2]);
    const want = await finalWeights(straight, 'a');
    const got = await finalWeights(store, 'a');
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-5);
  }, 60_000);

  it('a finished trial asked again does not retrain', async () => {
    const store = new MemoryArtifactStore();
    const first = await trainTrial(trial({ id: 'b', epochs: 1 }), { sink: new MemoryReportSink(), store, backend, data: small });
    const sink = new MemoryReportSink();
    const again = await trainTrial(trial({ id: 'b', epochs: 1 }), { sink, store, backend, data: small });
    expect(again.status).toBe('COMPLETED');
    expect(sink.reports).toEqual([]);
    // Its result still carries the validation metrics (a runner killed after the last checkpoint relies on them).
    expect(again.metrics['val_accuracy']).toBe(first.metrics['val_accuracy']);
    expect(again.metrics['val_loss']).toBe(first.metrics['val_loss']);
  }, 60_000);
});

describe('failures', () => {
  it('a NaN loss fails the trial with a reason', async () => {
    // Features near float32's maximum: the logits overflow to ±Infinity on the first step.
    const x = Float32Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 3e38 : -3e38));
    const y = Int32Array.from({ length: 200 }, (_, i) => i % 2);
    const ds = makeDataset(x, y, [2], 2);
    const data: DataSplits = { name: 'blowup', train: ds, validation: ds };
    const net: ChainNetwork = { kind: 'chain', layers: [{ type: 'dense', width: 8, activation: 'linear' }], training: DEFAULT_TRAINING };
    const r = await trainTrial(trial({ id: 'nan', network: net, epochs: 3 }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend, data, checkEvery: 1 });
    expect(r.status).toBe('FAILED');
    expect(r.reason).toMatch(/^nan_loss/);
  });

  it('a model over the memory limit fails before training', async () => {
    const sink = new MemoryReportSink();
    const r = await trainTrial(trial({ id: 'big', maxMemoryBytes: 1e6 }), { sink, store: new MemoryArtifactStore(), backend, data: small });
    expect(r.status).toBe('FAILED');
    expect(r.reason).toMatch(/^too_large: .* limit is 1 MiB/);
    expect(sink.reports).toEqual([]);
  });
});

describe('export and memory', () => {
  it('the exported model loads with tf.loadLayersModel and predicts like the trained one', async () => {
    const store = new FsArtifactStore(mkdtempSync(join(tmpdir(), 'nasflow-artifacts-')));
    const r = await trainTrial(trial({ id: 'exp', epochs: 1, network: cnn }), { sink: new MemoryReportSink(), store, backend, data: small });
    expect(await store.list('trials/exp/model/')).toEqual(['trials/exp/model/model.json', 'trials/exp/model/weights.bin']);
    const loaded = await loadExportedModel(store, 'trials/exp/model');
    const x = tf.tensor(small.validation.x.subarray(0, 784 * 200), [200, 28, 28, 1]);
    const p = loaded.predict(x) as tf.Tensor;
    const labels = Array.from(tf.argMax(p, 1).dataSync());
    const acc = labels.filter((l, i) => l === small.validation.y[i]).length / 200;
    expect(Math.abs(acc - r.metrics['val_accuracy']!)).toBeLessThan(0.1);
    // The same weights through a model built from scratch give the same probabilities.
    const rebuilt = buildModel(cnn, { shape: [28, 28, 1], numClasses: 10 });
    rebuilt.setWeights(loaded.getWeights());
    const q = rebuilt.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tfl.version_layers).toBeTypeOf('string');
    tf.dispose([x, p, q]);
    loaded.dispose();
    rebuilt.dispose();
  }, 60_000);

  it('no tensors leak across epochs or trials', async () => {
    const data: DataSplits = { name: 'tiny', train: take(small.train, range(1000)), validation: take(small.validation, range(300)) };
    const run = (id: string) => trainTrial(trial({ id, epochs: 2, network: cnn }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend, data });
    await run('warm');
    const before = tf.memory().numTensors;
    await run('m1');
    await run('m2');
    expect(tf.memory().numTensors).toBe(before);
  }, 90_000);

  it('with cacheDeviceData the data goes to the backend once, gives the same result, and is released on request', async () => {
    const data: DataSplits = { name: 'tiny', train: take(small.train, range(600)), validation: take(small.validation, range(200)), test: take(small.validation, range(100)) };
    const run = (id: string, cacheDeviceData: boolean) =>
      trainTrial(trial({ id, epochs: 1, network: cnn, seed: 3, evaluateTest: true }), { sink: new MemoryReportSink(), store: new MemoryArtifactStore(), backend, data, cacheDeviceData });
    const before = tf.memory().numTensors;
    const plain = await run('p', false);
    expect(tf.memory().numTensors).toBe(before);
    const first = await run('c1', true);
    const cached = tf.memory().numTensors;
    expect(cached).toBe(before + 6); // x and y of train, validation and test stay on the backend
    const second = await run('c2', true);
    expect(tf.memory().numTensors).toBe(cached);
    for (const r of [first, second]) {
      expect(r.metrics['val_accuracy']).toBe(plain.metrics['val_accuracy']);
      expect(r.metrics['test_accuracy']).toBe(plain.metrics['test_accuracy']);
    }
    releaseDeviceData();
    expect(tf.memory().numTensors).toBe(before);
  }, 90_000);
});
