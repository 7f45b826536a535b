/**
 * Runs a built classifier layer by layer, eagerly, up to its logits, so a
 * proxy can see (and change) every layer's output: NASWOT reads the ReLU
 * codes, fisher adds a probe to each weighted layer's output, synflow
 * rescales the activation where every path of the network passes. tfjs's own
 * `predict` runs the same layers but shows none of that.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { LOGITS_LAYER } from '../model/build.js';

/** One layer of the graph, with where its inputs come from. */
export interface GraphLayer {
  readonly layer: tfl.layers.Layer;
  /** Indices (into `Graph.layers`) of the layers whose outputs it reads, in order. */
  readonly inputs: readonly number[];
  /** The layer's class name (`Conv2D`, `BatchNormalization`, `Activation`, …). */
  readonly kind: string;
  /** Whether every path from the input to the logits passes through this layer's output. */
  readonly cut: boolean;
}

/** A model's layers from its input to its logits layer, in an order where inputs come first. */
export interface Graph {
  readonly layers: readonly GraphLayer[];
}

/** Reads the layer graph of `model` up to the layer named `LOGITS_LAYER` (the last one when absent). */
export function layerGraph(model: tfl.LayersModel): Graph {
  const all = model.layers;
  const index = new Map<tfl.layers.Layer, number>(all.map((l, i) => [l, i]));
  const last = all.findIndex((l) => l.name === LOGITS_LAYER);
  const end = last < 0 ? all.length - 1 : last;
  const raw = all.slice(0, end + 1).map((layer) => {
    const node = layer.inboundNodes[0];
    const inputs = node ? node.inboundLayers.map((l) => index.get(l) as number) : [];
    return { layer, inputs, kind: layer.getClassName() };
  });
  // Paths from the input to each layer and from each layer to the logits (exact, as BigInt).
  const from = raw.map(() => 0n);
  const to = raw.map(() => 0n);
  raw.forEach((l, i) => {
    from[i] = l.inputs.length === 0 ? 1n : l.inputs.reduce((s, j) => s + (from[j] as bigint), 0n);
  });
  to[end] = 1n;
  for (let i = end; i >= 0; i--) for (const j of (raw[i] as (typeof raw)[number]).inputs) to[j] = (to[j] as bigint) + (to[i] as bigint);
  const total = from[end] as bigint;
  return { layers: raw.map((l, i) => ({ ...l, cut: (from[i] as bigint) * (to[i] as bigint) === total })) };
}

/**
 * What a proxy does at each layer while the graph runs: `apply` computes the
 * layer's output from its inputs (default: the layer itself, in inference
 * mode unless `training`); `after` may replace the output.
 */
export interface Visitor {
  readonly training?: boolean;
  apply?(l: GraphLayer, inputs: tf.Tensor[], index: number): tf.Tensor | undefined;
  after?(l: GraphLayer, output: tf.Tensor, index: number): tf.Tensor;
}

/** Runs the graph on `input` and returns the logits. Call inside `tf.tidy` or a gradient function. */
export function runGraph(graph: Graph, input: tf.Tensor, visitor: Visitor = {}): tf.Tensor {
  const values: tf.Tensor[] = [];
  graph.layers.forEach((l, i) => {
    let out: tf.Tensor;
    if (l.inputs.length === 0) out = input;
    else {
      const ins = l.inputs.map((j) => values[j] as tf.Tensor);
      out = visitor.apply?.(l, ins, i) ?? (l.layer.apply(ins.length === 1 ? ins[0]! : ins, { training: visitor.training === true }) as tf.Tensor);
    }
    values[i] = visitor.after ? visitor.after(l, out, i) : out;
  });
  return values[values.length - 1] as tf.Tensor;
}

/** The kernels of a layer that the proxies score: convolution and dense weights (not biases, not batch-norm scales). */
export function kernelsOf(layer: tfl.layers.Layer): tf.Variable[] {
  return layer.trainableWeights.filter((w) => /kernel$/.test(w.originalName)).map((w) => w.read() as tf.Variable);
}
