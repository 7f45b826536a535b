/**
 * Scores a candidate with the supernet's weights: its validation accuracy
 * along its path, after the batch-norm statistics of that path are
 * recalibrated on training batches. The moving statistics a supernet keeps
 * while training mix every path that went through a layer, and a candidate
 * scored with them measures the mixture, not itself (SPOS recalibrates for
 * the same reason).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BN_MOMENTUM } from '../model/build.js';
import type { Supernet } from './supernet.js';
import type { DeviceSplit } from './train.js';

interface MomentumLayer {
  momentum: number;
}

function isBatchNorm(layer: unknown): boolean {
  return typeof (layer as { momentum?: unknown }).momentum === 'number' && typeof (layer as { getClassName?: () => string }).getClassName === 'function' && (layer as { getClassName: () => string }).getClassName() === 'BatchNormalization';
}

/**
 * Replaces the moving statistics of the batch-norm layers on `path` with
 * their average over `batches` (batch i enters with weight 1/(i+1), so the
 * result is the plain mean over the batches, whatever was there before).
 */
export function recalibrate<P>(net: Supernet<P>, path: P, batches: readonly tf.Tensor[]): void {
  const bns = [...net.layers.values()].filter(isBatchNorm) as unknown as MomentumLayer[];
  try {
    batches.forEach((x, i) => {
      for (const bn of bns) bn.momentum = i / (i + 1);
      tf.tidy(() => {
        net.logits(x, path, true);
      });
    });
  } finally {
    for (const bn of bns) bn.momentum = BN_MOMENTUM;
  }
}

/** Accuracy of `path` on a split (inference mode, moving statistics). */
export function accuracy<P>(net: Supernet<P>, path: P, data: DeviceSplit, batch = 500): number {
  let correct = 0;
  for (let lo = 0; lo < data.size; lo += batch) {
    const n = Math.min(batch, data.size - lo);
    correct += tf.tidy(() => {
      const logits = net.logits(tf.slice(data.x, lo, n), path, false);
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.slice(data.y, lo, n)), 'float32')).dataSync()[0]!;
    });
  }
  return correct / data.size;
}

/** A candidate's one-shot score: validation accuracy along its path after recalibration on `calibration`. */
export function scorePath<P>(net: Supernet<P>, path: P, calibration: readonly tf.Tensor[], validation: DeviceSplit): number {
  recalibrate(net, path, calibration);
  return accuracy(net, path, validation);
}
