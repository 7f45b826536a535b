/**
 * SynFlow (Tanaka et al., 2020) as a zero-cost proxy (Abdelfattah et al.,
 * 2021): with every weight replaced by its absolute value, batch
 * normalisation off and an all-ones input, R = Σ logits; the score is
 * Σ θ·∂R/∂θ over the convolution and dense kernels. Data-free.
 *
 * How it is computed here, and why:
 * - Forward mode, no backward pass. With positive weights and input, zero
 *   biases (their initial value) and batch norm off, R is a sum over the
 *   network's paths of the product of the weights on the path, and
 *   Σ θ·∂R/∂θ = Σ over paths of (product × kernels on the path). One forward
 *   pass of two examples computes both: `a` (the activations, input all
 *   ones) and `b` (input zero), where a layer with k kernels maps
 *   b → L(b) + k·L(a). Linear layers (convolutions, dense, pooling, sums;
 *   ReLU passes non-negative values) take the pair as a batch of two; any
 *   other layer (max pooling, tanh, relu6) a first-order difference. This is
 *   two inference passes, no gradient tape: ~3× faster than the backward pass.
 * - A logarithm. On a NAS-Bench-201 network R reaches ~1e45, past float32
 *   (tfjs has no float64). Dividing the pair by a constant s where every
 *   path passes (a cell's output) divides R and the score by s exactly, so
 *   the graph is run with those divisions and the score returned as
 *   ln(synflow) = Σ ln s + ln Σ b: the same ranking, never overflowing. A
 *   network whose output is zero (every path cut by `none`) scores -Infinity.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { kernelsOf, runGraph, type Graph, type GraphLayer } from './graph.js';

/** Layers synflow passes through unchanged: batch norm is off (the reference's `bn=False`), dropout is inference. */
const IDENTITY = new Set(['BatchNormalization', 'Dropout']);
/** Layers linear in their input when biases are zero and the input non-negative. */
const LINEAR = new Set(['Conv2D', 'Dense', 'SeparableConv2D', 'DepthwiseConv2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'Flatten', 'Reshape', 'Add', 'NasflowZero']);
/** Activations that pass non-negative values unchanged. */
const POSITIVE_IDENTITY = new Set(['relu', 'linear']);
/** Step of the first-order difference through a nonlinear layer (relative to activations of order 1). */
const STEP = 1e-2;

function activationOf(layer: tfl.layers.Layer): string {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === 'string' ? a : 'linear';
}

function isLinear(l: GraphLayer): boolean {
  if (l.kind === 'Activation') return POSITIVE_IDENTITY.has(activationOf(l.layer));
  return LINEAR.has(l.kind) && POSITIVE_IDENTITY.has(activationOf(l.layer));
}

/**
 * ln(synflow) of `model` (its layer graph `graph`) for inputs of `shape`
 * (one example's). The model's weights are restored afterwards.
 */
export function synflow(model: tfl.LayersModel, graph: Graph, shape: readonly number[]): number {
  const saved = model.getWeights().map((w) => w.clone());
  const names = model.weights.map((w) => w.originalName);
  try {
    const positive = saved.map((w, i) => (/bias$/.test(names[i] as string) ? tf.zerosLike(w) : tf.abs(w)));
    model.setWeights(positive);
    tf.dispose(positive);
    const kernels = graph.layers.map((l) => kernelsOf(l.layer).length);
    let logScale = 0;
    let zero = false;
    const total = tf.tidy(() => {
      const input = tf.concat([tf.ones([1, ...shape]), tf.zeros([1, ...shape])]);
      const out = runGraph(graph, input, {
        apply: (l, ins, i) => {
          const k = kernels[i] as number;
          let pair: tf.Tensor;
          if (IDENTITY.has(l.kind) || (l.kind === 'Activation' && isLinear(l))) pair = ins[0] as tf.Tensor;
          else if (isLinear(l)) {
            pair = l.layer.apply(ins.length === 1 ? ins[0]! : ins, { training: false }) as tf.Tensor;
            if (k > 0) {
              const [a, b] = tf.split(pair, 2);
              pair = tf.concat([a!, tf.add(b!, tf.mul(a!, k))]);
            }
          } else {
            // First-order difference: [a; a(1 + k·t) + t·b] through the layer.
            const probes = ins.map((x) => {
              const [a, b] = tf.split(x, 2);
              return tf.concat([a!, tf.add(tf.mul(a!, 1 + k * STEP), tf.mul(b!, STEP))]);
            });
            const [la, lp] = tf.split(l.layer.apply(probes.length === 1 ? probes[0]! : probes, { training: false }) as tf.Tensor, 2);
            pair = tf.concat([la!, tf.div(tf.sub(lp!, la!), STEP)]);
          }
          if (!l.cut || zero) return pair;
          const s = tf.max(tf.slice(pair, [0], [1])).dataSync()[0] as number;
          if (s === 0) zero = true;
          if (!(s > 0) || !Number.isFinite(s)) return pair;
          logScale += Math.log(s);
          return tf.div(pair, s);
        },
      });
      return tf.sum(tf.slice(out, [1], [1])).dataSync()[0] as number;
    });
    if (zero || !(total > 0)) return -Infinity;
    return logScale + Math.log(total);
  } finally {
    model.setWeights(saved);
    tf.dispose(saved);
  }
}
