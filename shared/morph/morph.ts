/**
 * Applies a function-preserving transform: the child model's weights are set
 * from the trained parent model's so that, before any training, the child
 * computes the parent's function (inference mode; equal to float rounding).
 * Batch norms the transform makes (identity ones) are calibrated on a data
 * sample, so that in training mode, where a batch norm normalises by the
 * batch's statistics, they also start close to the identity.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../rng.js';
import type { Network } from '../space/network.js';
import { walkCell } from './cell.js';
import { walkChain, type Calibration, type WriteWeights } from './chain.js';
import { NotPreservingError, transformName } from './transform.js';

export interface MorphOptions {
  /** Seeds the choice of copied units and the symmetry-breaking noise. */
  readonly seed: number;
  /** Inputs (a batch of training examples) to calibrate new batch norms on; without it they keep unit statistics. */
  readonly sample?: tf.Tensor;
  /** Relative noise on widened units' outgoing weights (default 0.1). */
  readonly noise?: number;
}

/** Writes arrays as a layer's weights. */
const writeWeights: WriteWeights = (layer, arrs) => {
  const ts = arrs.map((a) => tf.tensor(a.data, [...a.shape]));
  layer.setWeights(ts);
  tf.dispose(ts);
};

/**
 * Sets `child`'s weights from `parent`'s. Returns the transform's name;
 * throws `NotPreservingError` when none takes the parent to the child (the
 * child's weights may then be partly written: rebuild it).
 */
export function morphWeights(parent: { model: tfl.LayersModel; network: Network }, child: { model: tfl.LayersModel; network: Network }, options: MorphOptions): string {
  const p = parent.network;
  const c = child.network;
  if (p.kind !== c.kind) throw new NotPreservingError(`a ${p.kind} network cannot become a ${c.kind} one`);
  if (p.kind === 'cell') return transformName(walkCell(p, c as typeof p, { parent: parent.model, child: child.model, write: writeWeights }));
  const inputShape = child.model.inputs[0]!.shape.slice(1) as number[];
  const rng = Rng.seeded(options.seed);
  const { transforms, calibrate } = walkChain(p, c as typeof p, inputShape, { parent: parent.model, child: child.model, write: writeWeights, rng, noise: options.noise ?? 0.1 });
  if (options.sample) for (const cal of calibrate) calibrateIdentity(child.model, cal, options.sample);
  return transformName(transforms);
}

/**
 * Sets an identity batch norm's statistics to its input's on the sample
 * (μ, σ²) and γ = √(σ² + ε), β = μ + offset: in inference mode it is still
 * exactly x + offset, and in training mode on similar batches nearly so.
 */
function calibrateIdentity(model: tfl.LayersModel, cal: Calibration, sample: tf.Tensor): void {
  const eps = (cal.layer.getConfig() as { epsilon?: number }).epsilon ?? 1e-3;
  const probe = tfl.model({ inputs: model.inputs, outputs: cal.layer.input as tfl.SymbolicTensor });
  const [mean, variance] = tf.tidy(() => {
    const x = probe.predict(sample) as tf.Tensor;
    const axes = [...Array(x.rank - 1).keys()];
    const m = tf.moments(x, axes);
    return [m.mean.dataSync() as Float32Array, m.variance.dataSync() as Float32Array];
  });
  const offset = cal.offset ?? new Float32Array(mean!.length);
  const n = mean!.length;
  writeWeights(cal.layer, [
    { shape: [n], data: Float32Array.from(variance!, (v) => Math.sqrt(v + eps)) },
    { shape: [n], data: Float32Array.from(mean!, (m, j) => m + offset[j]!) },
    { shape: [n], data: mean! },
    { shape: [n], data: variance! },
  ]);
}
