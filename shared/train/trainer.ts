/**
 * Trains one trial: one frozen architecture at one fidelity (epochs, data
 * fraction). Seeded; reports every epoch to a sink; checkpoints every epoch
 * (and when interrupted) and resumes from the last checkpoint; stops with a
 * FAILED result on a NaN/Inf loss or a model too large for the memory limit;
 * exports the trained model through the artifact store.
 *
 * The loop is written out rather than calling `model.fit`: data stays on the
 * backend as one tensor and batches are gathered there, the per-step work is
 * one `optimizer.minimize`, and the loss is read back only every
 * `checkEvery` steps (see docs/training-performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../rng.js';
import type { Network } from '../space/network.js';
import type { BackendInfo } from '../backend/index.js';
import { permutation, type DataSplits, type Dataset } from '../data/dataset.js';
import { loadData, type DataSpec } from '../data/sources.js';
import { buildModel, logitsModel } from '../model/build.js';
import { measureLatency, modelCost, trainingBytes, type ModelCost } from '../model/cost.js';
import { decodeCheckpoint, encodeCheckpoint, restoreCheckpoint, type TrainingPosition } from './checkpoint.js';
import { inheritWeights } from '../morph/inherit.js';
import { exportModel } from './export.js';
import { encodePredictions } from './predictions.js';
import { makeOptimizer, stepContext, trainStep } from './step.js';
import { trialKeys, type ArtifactStore, type Metrics, type ReportSink } from './ports.js';
import { EventLoopTurns } from './turns.js';

/** One trial, as the trainer receives it. */
export interface TrialSpec {
  readonly id: string;
  readonly network: Network;
  /** Data source, validation share, data fraction (fidelity) and split seed. */
  readonly data: DataSpec;
  /** Fidelity: epochs to train in total (a resumed trial counts the epochs already done). */
  readonly epochs: number;
  /** Seeds the initial weights and the batch order. */
  readonly seed: number;
  /** The trial fails when the estimated training memory exceeds this (default 4 GiB). */
  readonly maxMemoryBytes?: number;
  /** Also measure test accuracy (for the final leaderboard; the search never sees it). */
  readonly evaluateTest?: boolean;
  /**
   * Weight inheritance: without a checkpoint of its own, the trial starts from
   * `parentId`'s weights through a function-preserving transform, at epoch
   * `startEpoch`; if that cannot be done it trains from scratch and says so.
   */
  readonly inherit?: { readonly parentId: string; readonly transform: string; readonly startEpoch: number };
}

export type TrialStatus = 'COMPLETED' | 'FAILED' | 'INTERRUPTED';

export interface TrialResult {
  readonly id: string;
  readonly status: TrialStatus;
  /** Why a trial FAILED: `nan_loss`, `too_large`, or an error message. */
  readonly reason?: string;
  readonly epochsCompleted: number;
  /** Final metrics: the last epoch's, plus params, flops, latency_ms, test_accuracy, peak_rss_bytes, train_seconds. */
  readonly metrics: Metrics;
  readonly backend: string;
  /** Key of the exported `model.json`, when COMPLETED. */
  readonly modelKey?: string;
}

export interface TrainerEnv {
  readonly sink: ReportSink;
  readonly store: ArtifactStore;
  /** Backend that is initialised (see `initBackend`); recorded with the result. */
  readonly backend: BackendInfo;
  /** Preloaded data (saves reloading between trials); otherwise `trial.data` is loaded. */
  readonly data?: DataSplits;
  /**
   * Aborting checkpoints at the next batch boundary and returns INTERRUPTED.
   * The event loop runs at least every `YIELD_MS` (turns.ts) of training, so an abort
   * that arrives as a message (a worker's stop) is seen within a batch.
   */
  readonly signal?: AbortSignal;
  /** Read the loss back every this many steps to catch NaN early (default 50). */
  readonly checkEvery?: number;
  /**
   * Keep the data's device tensors between trials (a worker that trains many
   * trials on one data set copies it to the backend once). Release them with
   * `releaseDeviceData()`.
   */
  readonly cacheDeviceData?: boolean;
}

export const DEFAULT_MAX_MEMORY_BYTES = 4 * 2 ** 30;

/** Artifact keys of a trial. */
export { trialKeys } from './ports.js';

interface DeviceData {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor1D;
  readonly size: number;
}

function toDevice(ds: Dataset): DeviceData {
  return { x: tf.tensor(ds.x, [ds.size, ...ds.shape]), y: tf.tensor1d(ds.y, 'int32'), size: ds.size };
}

const deviceCache = new Map<Dataset, DeviceData>();

/** The data set on the backend: cached across trials when asked, else a fresh copy the caller disposes. */
function onDevice(ds: Dataset, cache: boolean): { data: DeviceData; owned: boolean } {
  if (!cache) return { data: toDevice(ds), owned: true };
  let d = deviceCache.get(ds);
  if (!d) {
    d = toDevice(ds);
    deviceCache.set(ds, d);
  }
  return { data: d, owned: false };
}

/** Frees the device copies kept by `cacheDeviceData` (a worker calls it when its data set changes). */
export function releaseDeviceData(): void {
  for (const d of deviceCache.values()) tf.dispose([d.x, d.y]);
  deviceCache.clear();
}

/**
 * Loss and accuracy of a split, evaluated in batches; with `probs` (size ×
 * classes), also the class probabilities of every example, for ensembles.
 */
function evaluate(net: tfl.LayersModel, data: DeviceData, numClasses: number, probs?: Float32Array, batch = 512): { loss: number; accuracy: number } {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.size; start += batch) {
    const n = Math.min(batch, data.size - start);
    const [l, c] = tf.tidy(() => {
      const xb = tf.slice(data.x, start, n);
      const yb = tf.slice(data.y, start, n);
      const logits = net.predict(xb) as tf.Tensor2D;
      const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(yb, numClasses), logits, undefined, undefined, tf.Reduction.SUM);
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), 'float32'));
      if (probs !== undefined) probs.set(tf.softmax(logits).dataSync(), start * numClasses);
      return [loss.dataSync()[0]!, hits.dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / data.size, accuracy: correct / data.size };
}

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The inheritance note a new position carries over from the last. */
const inheritedOf = (pos: TrainingPosition): Pick<TrainingPosition, 'inherited'> => (pos.inherited ? { inherited: pos.inherited } : {});

/** Metric `inherited` of a trial that was to inherit: 1 when it did, 0 when it trained from scratch. */
const inheritedMetric = (pos: TrainingPosition): Metrics => (pos.inherited ? { inherited: pos.inherited.ok ? 1 : 0 } : {});

/**
 * A trial that inherits starts at its parent's weights, counted as
 * `startEpoch` epochs trained; when they cannot be had it starts from
 * scratch at epoch 0. Either way the position remembers it (a resumed trial
 * reports it too). The calibration sample: the first training examples.
 */
async function inherit(trial: TrialSpec, how: NonNullable<TrialSpec['inherit']>, model: tfl.LayersModel, train: DeviceData, numClasses: number, store: ArtifactStore): Promise<TrainingPosition> {
  const sample = tf.slice(train.x, 0, Math.min(256, train.size));
  try {
    const r = await inheritWeights(store, how.parentId, { model, network: trial.network }, { seed: trial.seed, numClasses, sample });
    const start: TrainingPosition = { epoch: 0, step: 0, lossSum: 0, correct: 0, seen: 0, trainSeconds: 0 };
    if (r.ok) return { ...start, epoch: Math.min(how.startEpoch, trial.epochs - 1), inherited: { ok: true, note: `inherited from ${how.parentId} (${r.transform})` } };
    return { ...start, inherited: { ok: false, note: r.reason } };
  } finally {
    sample.dispose();
  }
}

/**
 * Trains a trial to `trial.epochs` epochs, resuming from its checkpoint when
 * one exists. Never throws for a failing architecture: NaN loss and
 * too-large models come back as FAILED results. Every tensor it creates is
 * disposed before it returns.
 */
export async function trainTrial(trial: TrialSpec, env: TrainerEnv): Promise<TrialResult> {
  const keys = trialKeys(trial.id);
  // Where a trial's time goes besides its training loop (reported as *_seconds metrics).
  const tStart = performance.now();
  const phase = { eval: 0, checkpoint: 0 };
  const splits = env.data ?? loadData(trial.data);
  const numClasses = splits.train.numClasses;
  const net = trial.network;
  const batchSize = net.training.batchSize;
  const base = { id: trial.id, backend: env.backend.name };

  const model = buildModel(net, { shape: splits.train.shape, numClasses }, { seed: trial.seed });
  const logits = logitsModel(model);
  const cost: ModelCost = modelCost(model);
  const costMetrics = { params: cost.params, flops: cost.flops };
  const optimizer = makeOptimizer(net);
  let train: DeviceData | undefined;
  let validation: DeviceData | undefined;
  const cache = env.cacheDeviceData === true;
  try {
    const limit = trial.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
    const need = trainingBytes(cost, batchSize);
    if (need > limit) {
      const reason = `too_large: training needs an estimated ${(need / 2 ** 20).toFixed(0)} MiB at batch ${batchSize}, the limit is ${(limit / 2 ** 20).toFixed(0)} MiB`;
      return { ...base, status: 'FAILED', reason, epochsCompleted: 0, metrics: { ...costMetrics, peak_rss_bytes: peakRss() } };
    }

    let pos: TrainingPosition = { epoch: 0, step: 0, lossSum: 0, correct: 0, seen: 0, trainSeconds: 0 };
    const saved = await env.store.get(keys.checkpoint);
    if (saved !== undefined) {
      const cp = decodeCheckpoint(saved);
      try {
        await restoreCheckpoint(cp, model, optimizer);
      } finally {
        tf.dispose(cp.modelWeights);
        tf.dispose(cp.optimizerWeights.map((w) => w.tensor));
      }
      pos = cp.position;
    }

    train = onDevice(splits.train, cache).data;
    validation = onDevice(splits.validation, cache).data;
    if (saved === undefined && trial.inherit !== undefined) pos = await inherit(trial, trial.inherit, model, train, numClasses, env.store);
    const ctx = stepContext(model, logits, optimizer, numClasses, net.training.weightDecay);
    const checkEvery = env.checkEvery ?? 50;
    const turns = new EventLoopTurns();
    const steps = Math.ceil(train.size / batchSize);
    let last: Metrics = {};
    let valProbs: Float32Array | undefined;

    const checkpoint = async (p: TrainingPosition): Promise<void> => {
      const t = performance.now();
      await env.store.put(keys.checkpoint, await encodeCheckpoint(model, optimizer, p));
      phase.checkpoint += (performance.now() - t) / 1000;
    };
    const setupSeconds = (performance.now() - tStart) / 1000;
    const timings = (trainSeconds: number): Record<string, number> => ({
      setup_seconds: setupSeconds,
      eval_seconds: phase.eval,
      checkpoint_seconds: phase.checkpoint,
      train_seconds: trainSeconds,
      trial_seconds: (performance.now() - tStart) / 1000,
    });

    for (let epoch = pos.epoch; epoch < trial.epochs; epoch++) {
      // The batch order depends only on (seed, epoch), so a resumed epoch replays the same batches.
      const order = permutation(train.size, Rng.seeded(trial.seed * 7919 + epoch));
      const t0 = performance.now();
      let lossSum = tf.scalar(pos.step > 0 ? pos.lossSum : 0);
      let correct = tf.scalar(pos.step > 0 ? pos.correct : 0);
      let seen = pos.step > 0 ? pos.seen : 0;
      const readSums = (): [number, number] => [lossSum.dataSync()[0]!, correct.dataSync()[0]!];
      for (let step = pos.step; step < steps; step++) {
        if (env.signal?.aborted === true) {
          const [l, c] = readSums();
          tf.dispose([lossSum, correct]);
          const trainSeconds = pos.trainSeconds + (performance.now() - t0) / 1000;
          await checkpoint({ epoch, step, lossSum: l, correct: c, seen, trainSeconds, ...inheritedOf(pos) });
          return { ...base, status: 'INTERRUPTED', reason: 'interrupted', epochsCompleted: epoch, metrics: { ...last, ...costMetrics, ...inheritedMetric(pos), peak_rss_bytes: peakRss(), ...timings(trainSeconds) } };
        }
        const n = Math.min(batchSize, train.size - step * batchSize);
        const [newLoss, newCorrect] = tf.tidy(() => {
          const idx = tf.tensor1d(order.subarray(step * batchSize, step * batchSize + n), 'int32');
          const { loss, hits } = trainStep(ctx, tf.gather(train!.x, idx), tf.gather(train!.y, idx));
          return [tf.add(lossSum, tf.mul(loss, n)), tf.add(correct, hits)];
        });
        tf.dispose([lossSum, correct]);
        lossSum = newLoss as tf.Scalar;
        correct = newCorrect as tf.Scalar;
        seen += n;
        if ((step + 1) % checkEvery === 0 || step === steps - 1) {
          // Let the event loop run, so a stop request (an IPC message, a signal) is seen within a few steps.
          await turns.now();
          const [l] = readSums();
          if (!Number.isFinite(l)) {
            tf.dispose([lossSum, correct]);
            return { ...base, status: 'FAILED', reason: `nan_loss: the training loss became ${l} in epoch ${epoch + 1}, step ${step + 1}`, epochsCompleted: epoch, metrics: { ...last, ...costMetrics, peak_rss_bytes: peakRss() } };
          }
        } else if (env.signal !== undefined) {
          // Slow steps (a convolution on wasm, a starved machine) make `checkEvery` steps minutes long:
          // the loop also runs by time, so a stop (the budget's deadline, an interrupt) waits a batch, not an epoch.
          await turns.due();
        }
      }
      const [l, c] = readSums();
      tf.dispose([lossSum, correct]);
      const epochSeconds = (performance.now() - t0) / 1000;
      const tEval = performance.now();
      // The last epoch's validation pass also keeps the class probabilities (stored with the model).
      if (epoch === trial.epochs - 1) valProbs = new Float32Array(validation.size * numClasses);
      const val = evaluate(logits, validation, numClasses, valProbs);
      phase.eval += (performance.now() - tEval) / 1000;
      const trainSeconds = pos.trainSeconds + epochSeconds;
      last = {
        loss: l / seen,
        accuracy: c / seen,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        epoch_seconds: epochSeconds,
        samples_per_sec: (seen - (pos.step > 0 ? pos.seen : 0)) / epochSeconds,
        train_seconds: trainSeconds,
      };
      pos = { epoch: epoch + 1, step: 0, lossSum: 0, correct: 0, seen: 0, trainSeconds, ...inheritedOf(pos) };
      await checkpoint(pos);
      await env.sink.report({ epoch: epoch + 1, metrics: last });
    }

    if (last['val_accuracy'] === undefined) {
      // Resumed from a checkpoint taken after the last epoch (killed before the result was
      // written): nothing was trained in this call, so measure the trained model again.
      valProbs = new Float32Array(validation.size * numClasses);
      const val = evaluate(logits, validation, numClasses, valProbs);
      last = { val_loss: val.loss, val_accuracy: val.accuracy, train_seconds: pos.trainSeconds };
    }
    const tFinal = performance.now();
    const final: Record<string, number> = { ...last, ...costMetrics, latency_ms: measureLatency(model), train_seconds: pos.trainSeconds };
    if (trial.evaluateTest === true && splits.test !== undefined) {
      const test = onDevice(splits.test, cache);
      try {
        const testProbs = new Float32Array(test.data.size * numClasses);
        const r = evaluate(logits, test.data, numClasses, testProbs);
        final['test_loss'] = r.loss;
        final['test_accuracy'] = r.accuracy;
        await env.store.put(keys.testPredictions, encodePredictions({ n: test.data.size, classes: numClasses, probs: testProbs, labels: splits.test.y }));
      } finally {
        if (test.owned) tf.dispose([test.data.x, test.data.y]);
      }
    }
    if (valProbs !== undefined) await env.store.put(keys.validationPredictions, encodePredictions({ n: validation.size, classes: numClasses, probs: valProbs, labels: splits.validation.y }));
    final['peak_rss_bytes'] = peakRss();
    Object.assign(final, inheritedMetric(pos));
    const modelKey = await exportModel(model, env.store, keys.model, {
      trial: trial.id,
      classes: numClasses,
      inputShape: [...splits.train.shape],
      backend: env.backend.name,
    } as Record<string, unknown>);
    final['final_seconds'] = (performance.now() - tFinal) / 1000;
    Object.assign(final, timings(pos.trainSeconds));
    const scratch = pos.inherited?.ok === false ? { reason: `trained from scratch: ${pos.inherited.note}` } : {};
    return { ...base, status: 'COMPLETED', epochsCompleted: pos.epoch, metrics: final, modelKey, ...scratch };
  } finally {
    if (!cache && train !== undefined) tf.dispose([train.x, train.y]);
    if (!cache && validation !== undefined) tf.dispose([validation.x, validation.y]);
    optimizer.dispose();
    model.dispose();
  }
}
