/**
 * A training checkpoint as bytes: model weights (trainable and not, in the
 * model's weight order), optimizer slots, and where training stood. Layout: a
 * 4-byte little-endian header length, a JSON header, model weight data, then
 * optimizer weight data (each as `tf.io.encodeWeights` writes it).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Where training stood when the checkpoint was taken. */
export interface TrainingPosition {
  /** Epochs fully trained. */
  readonly epoch: number;
  /** Batches trained in epoch `epoch + 1` (0 at an epoch boundary). */
  readonly step: number;
  /** Running loss sum and correct count of the partial epoch. */
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
  /** Seconds spent training so far, over every run of this trial. */
  readonly trainSeconds: number;
  /** A trial that was to inherit its parent's weights: whether it did, and how (or why not). */
  readonly inherited?: { readonly ok: boolean; readonly note: string };
}

interface Header {
  readonly version: 1;
  readonly position: TrainingPosition;
  readonly model: tf.io.WeightsManifestEntry[];
  readonly modelBytes: number;
  readonly optimizer: tf.io.WeightsManifestEntry[];
}

export interface Checkpoint {
  readonly position: TrainingPosition;
  /** Model weights in `model.weights` order. */
  readonly modelWeights: tf.Tensor[];
  readonly optimizerWeights: Array<{ name: string; tensor: tf.Tensor }>;
}

/** Serialises the model's weights, the optimizer's state and the position. */
export async function encodeCheckpoint(model: tfl.LayersModel, optimizer: tf.Optimizer, position: TrainingPosition): Promise<Uint8Array> {
  const modelTensors = model.weights.map((w, i) => ({ name: `w${i}`, tensor: w.read() }));
  const m = await tf.io.encodeWeights(modelTensors);
  const optTensors = await optimizer.getWeights();
  const o = await tf.io.encodeWeights(optTensors);
  // Optimizers hand out their slots as variables but the iteration count as a new scalar.
  for (const t of optTensors) if (!(t.tensor instanceof tf.Variable)) t.tensor.dispose();
  const mData = new Uint8Array(tf.io.concatenateArrayBuffers(m.data as ArrayBuffer));
  const oData = new Uint8Array(tf.io.concatenateArrayBuffers(o.data as ArrayBuffer));
  const header: Header = { version: 1, position, model: m.specs, modelBytes: mData.byteLength, optimizer: o.specs };
  const hb = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + hb.byteLength + mData.byteLength + oData.byteLength);
  new DataView(out.buffer).setUint32(0, hb.byteLength, true);
  out.set(hb, 4);
  out.set(mData, 4 + hb.byteLength);
  out.set(oData, 4 + hb.byteLength + mData.byteLength);
  return out;
}

/** Parses checkpoint bytes into tensors (the caller disposes them). */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as Header;
  if (header.version !== 1) throw new Error(`unknown checkpoint version ${String(header.version)}`);
  const start = 4 + hl;
  const mData = bytes.slice(start, start + header.modelBytes).buffer;
  const oData = bytes.slice(start + header.modelBytes).buffer;
  const mw = tf.io.decodeWeights(mData, header.model);
  const ow = tf.io.decodeWeights(oData, header.optimizer);
  return {
    position: header.position,
    modelWeights: header.model.map((s) => mw[s.name]!),
    optimizerWeights: header.optimizer.map((s) => ({ name: s.name, tensor: ow[s.name]! })),
  };
}

/** Puts a checkpoint's weights into a freshly built model and optimizer. */
export async function restoreCheckpoint(cp: Checkpoint, model: tfl.LayersModel, optimizer: tf.Optimizer): Promise<void> {
  const weights = model.weights;
  if (weights.length !== cp.modelWeights.length) {
    throw new Error(`checkpoint holds ${cp.modelWeights.length} weights, the model has ${weights.length}`);
  }
  weights.forEach((w, i) => {
    const t = cp.modelWeights[i]!;
    if (t.shape.join() !== w.shape.join()) throw new Error(`checkpoint weight ${i} has shape [${t.shape.join(', ')}], the model's ${w.name} [${w.shape.join(', ')}]`);
    w.write(t);
  });
  await optimizer.setWeights(cp.optimizerWeights);
}
