/**
 * Trains a supernet by single-path uniform sampling (SPOS, Guo et al. 2020):
 * every step draws a path uniformly and trains that path alone on one batch.
 * Checkpoints (every weight, the optimizer's moments, the epochs done) after
 * every epoch through the artifact store, and resumes from the last one:
 * a supernet killed in epoch 3 of 5 continues with epoch 3, it does not
 * start again. The batch order and the paths of an epoch depend only on
 * (seed, epoch), so a resumed epoch trains what the lost one would have.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { permutation } from '../data/dataset.js';
import { Rng } from '../rng.js';
import type { ArtifactStore } from '../train/ports.js';
import { EventLoopTurns } from '../train/turns.js';
import { PathAdam, trainableOf, type Supernet } from './supernet.js';

/** A split on the backend: examples and int32 labels. */
export interface DeviceSplit {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor1D;
  readonly size: number;
}

export interface SupernetTraining {
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  /**
   * `constant`, or `cosine`: the rate of epoch e is learningRate · ½(1 + cos(π e / epochs)),
   * annealed towards zero by the last epoch as SPOS trains its supernet (default constant).
   */
  readonly schedule?: 'constant' | 'cosine';
  readonly seed: number;
  /** Where the checkpoint is kept (absent: no checkpoint). */
  readonly checkpoint?: { readonly store: ArtifactStore; readonly key: string };
  /** Called after each epoch (and its checkpoint) with the epochs done and the mean training loss. */
  readonly onEpoch?: (epoch: number, loss: number, seconds: number) => Promise<void> | void;
  /**
   * Aborting stops at the next batch; the last epoch's checkpoint stands. The
   * event loop runs at least every `YIELD_MS` of training (as the trainer's
   * does), so an abort that arrives as a message is seen within a batch.
   */
  readonly signal?: AbortSignal;
}

/** What a finished (or interrupted) supernet training did. */
export interface SupernetTrained {
  readonly epochsDone: number;
  /** Epochs this call trained (the rest came from the checkpoint). */
  readonly epochsTrained: number;
  readonly trainSeconds: number;
  readonly interrupted: boolean;
}

interface Header {
  readonly version: 1;
  readonly epoch: number;
  readonly trainSeconds: number;
  readonly steps: Record<string, number>;
  readonly specs: tf.io.WeightsManifestEntry[];
}

/** Position names of every weight: `<layer>#<index>` (stable across processes, unlike tfjs variable names). */
function weightNames(net: Supernet<unknown>): Map<string, tfl.LayerVariable> {
  const out = new Map<string, tfl.LayerVariable>();
  for (const [name, layer] of net.layers) layer.weights.forEach((w, i) => out.set(`${name}#${i}`, w));
  return out;
}

async function saveCheckpoint(net: Supernet<unknown>, opt: PathAdam, epoch: number, trainSeconds: number, store: ArtifactStore, key: string): Promise<void> {
  const weights = weightNames(net);
  const byVar = new Map([...weights].map(([k, w]) => [(w.read() as tf.Variable).name, k]));
  const { tensors, steps } = opt.state();
  const named: Array<{ name: string; tensor: tf.Tensor }> = [...weights].map(([k, w]) => ({ name: k, tensor: w.read() }));
  for (const t of tensors) {
    const [varName, suffix] = [t.name.slice(0, t.name.lastIndexOf('/')), t.name.slice(t.name.lastIndexOf('/'))];
    const k = byVar.get(varName);
    if (k !== undefined) named.push({ name: `adam:${k}${suffix}`, tensor: t.tensor });
  }
  const stepsByKey: Record<string, number> = {};
  for (const [v, t] of Object.entries(steps)) {
    const k = byVar.get(v);
    if (k !== undefined) stepsByKey[k] = t;
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  const header: Header = { version: 1, epoch, trainSeconds, steps: stepsByKey, specs };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + head.length + data.byteLength);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  out.set(new Uint8Array(data), 4 + head.length);
  await store.put(key, out);
}

async function loadCheckpoint(net: Supernet<unknown>, opt: PathAdam, bytes: Uint8Array): Promise<{ epoch: number; trainSeconds: number }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as Header;
  const body = bytes.slice(4 + n);
  const tensors = tf.io.decodeWeights(body.buffer, header.specs);
  try {
    const weights = weightNames(net);
    for (const [k, w] of weights) {
      const t = tensors[k];
      if (t === undefined) throw new Error(`supernet checkpoint lacks weight ${k}: it was written for another space`);
      w.write(t);
    }
    const adam: tf.NamedTensorMap = {};
    const steps: Record<string, number> = {};
    for (const [k, t] of Object.entries(header.steps)) {
      const w = weights.get(k);
      if (!w) continue;
      const m = tensors[`adam:${k}/m`];
      const v = tensors[`adam:${k}/v`];
      if (m === undefined || v === undefined) continue;
      const name = (w.read() as tf.Variable).name;
      adam[`${name}/m`] = m;
      adam[`${name}/v`] = v;
      steps[name] = t;
    }
    opt.restore(adam, steps);
  } finally {
    tf.dispose(Object.values(tensors));
  }
  return { epoch: header.epoch, trainSeconds: header.trainSeconds };
}

/** The learning rate of epoch `epoch` (0-based) under the training's schedule. */
export function learningRateAt(t: Pick<SupernetTraining, 'learningRate' | 'schedule' | 'epochs'>, epoch: number): number {
  return t.schedule === 'cosine' ? (t.learningRate * (1 + Math.cos((Math.PI * epoch) / t.epochs))) / 2 : t.learningRate;
}

/**
 * Trains `net` to `t.epochs` epochs on `train`, continuing from the
 * checkpoint when there is one. Each batch trains the paths `paths` draws:
 * one uniformly sampled path (SPOS), or several whose gradients are summed
 * into one update (FairNAS's strict fairness: every op of every edge once
 * per batch). `paths` is told the epoch, so a warm-up can draw differently.
 */
export async function trainSupernet<P>(net: Supernet<P>, paths: (rng: Rng, epoch: number) => readonly P[], train: DeviceSplit, numClasses: number, t: SupernetTraining): Promise<SupernetTrained> {
  const opt = new PathAdam(t.learningRate);
  try {
    let epoch = 0;
    let trainSeconds = 0;
    const saved = t.checkpoint ? await t.checkpoint.store.get(t.checkpoint.key) : undefined;
    if (saved !== undefined) ({ epoch, trainSeconds } = await loadCheckpoint(net as Supernet<unknown>, opt, saved));
    const first = epoch;
    const steps = Math.ceil(train.size / t.batchSize);
    const vars = trainableOf([...net.layers.values()]);
    const aborted = (): boolean => t.signal?.aborted === true;
    const turns = new EventLoopTurns();
    for (; epoch < t.epochs; epoch++) {
      if (aborted()) return { epochsDone: epoch, epochsTrained: epoch - first, trainSeconds, interrupted: true };
      const t0 = performance.now();
      opt.learningRate = learningRateAt(t, epoch);
      const rng = Rng.seeded(t.seed * 7919 + epoch);
      const order = permutation(train.size, rng);
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        // A partial epoch is not checkpointed: the next run trains this epoch again from its start.
        if (aborted()) return { epochsDone: epoch, epochsTrained: epoch - first, trainSeconds, interrupted: true };
        const drawn = paths(rng, epoch);
        const lo = step * t.batchSize;
        const n = Math.min(t.batchSize, train.size - lo);
        const loss = tf.tidy(() => {
          const idx = tf.tensor1d(order.subarray(lo, lo + n), 'int32');
          const x = tf.gather(train.x, idx);
          const y = tf.oneHot(tf.gather(train.y, idx), numClasses);
          // Variables off the paths get no gradient and are left alone.
          const sum: tf.NamedTensorMap = {};
          let value: tf.Scalar = tf.scalar(0);
          for (const path of drawn) {
            const r = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.logits(x, path, true)) as tf.Scalar, vars);
            for (const [k, g] of Object.entries(r.grads)) sum[k] = sum[k] === undefined ? g : tf.add(sum[k]!, g);
            value = tf.add(value, r.value);
          }
          opt.apply(vars, sum);
          return tf.div(value, drawn.length);
        });
        lossSum += loss.dataSync()[0]! * n;
        loss.dispose();
        await turns.due();
      }
      trainSeconds += (performance.now() - t0) / 1000;
      if (t.checkpoint) await saveCheckpoint(net as Supernet<unknown>, opt, epoch + 1, trainSeconds, t.checkpoint.store, t.checkpoint.key);
      await t.onEpoch?.(epoch + 1, lossSum / train.size, (performance.now() - t0) / 1000);
    }
    return { epochsDone: epoch, epochsTrained: epoch - first, trainSeconds, interrupted: false };
  } finally {
    opt.dispose();
  }
}
