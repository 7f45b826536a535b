/**
 * One optimisation step, shared by the trainer and the throughput benchmark so
 * that what is measured is what trains.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Network } from '../space/network.js';

/** Builds the optimizer a network's training hyperparameters name. `sgd` is SGD with momentum 0.9. */
export function makeOptimizer(net: Network): tf.Optimizer {
  const { optimizer, learningRate } = net.training;
  switch (optimizer) {
    case 'adam':
      return tf.train.adam(learningRate);
    case 'sgd':
      return tf.train.momentum(learningRate, 0.9);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate);
  }
}

/** L2 penalty ½·λ·Σw² over the kernels (not biases, not batch-norm parameters). */
function l2Penalty(model: tfl.LayersModel, weightDecay: number): tf.Scalar | undefined {
  if (weightDecay <= 0) return undefined;
  const kernels = model.trainableWeights.filter((w) => /kernel/.test(w.originalName));
  if (kernels.length === 0) return undefined;
  return tf.mul(0.5 * weightDecay, tf.addN(kernels.map((w) => tf.sum(tf.square(w.read()))))) as tf.Scalar;
}

export interface StepContext {
  /** The model whose weights train (for the penalty). */
  readonly model: tfl.LayersModel;
  /** The same layers, outputting logits. */
  readonly logits: tfl.LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly numClasses: number;
  readonly weightDecay: number;
  /** The variables to train, in a fixed order (optimizer slots are matched by position). */
  readonly vars: tf.Variable[];
}

export function stepContext(model: tfl.LayersModel, logits: tfl.LayersModel, optimizer: tf.Optimizer, numClasses: number, weightDecay: number): StepContext {
  return { model, logits, optimizer, numClasses, weightDecay, vars: model.trainableWeights.map((w) => w.read() as tf.Variable) };
}

/**
 * Trains on one batch: `x` the examples, `y` int32 class indices. Returns the
 * batch's mean loss and its number of correct predictions as new scalars
 * (the caller disposes them); nothing is read back to the CPU.
 */
export function trainStep(ctx: StepContext, x: tf.Tensor, y: tf.Tensor1D): { loss: tf.Scalar; hits: tf.Scalar } {
  let hits: tf.Scalar | undefined;
  const loss = tf.tidy(() =>
    ctx.optimizer.minimize(() => {
      const out = ctx.logits.apply(x, { training: true }) as tf.Tensor2D;
      hits = tf.keep(tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(out, 1), y), 'float32')));
      const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, ctx.numClasses), out) as tf.Scalar;
      const penalty = l2Penalty(ctx.model, ctx.weightDecay);
      return penalty === undefined ? ce : tf.add(ce, penalty);
    }, true, ctx.vars)!,
  );
  // `hits` escaped minimize's scope through tf.keep, which no enclosing tidy
  // would undo: hand back an ordinary tensor instead.
  const counted = tf.clone(hits!);
  hits!.dispose();
  return { loss, hits: counted };
}
