/**
 * What a model costs: parameters, FLOPs computed from layer shapes, an
 * estimate of training memory, and measured inference latency.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Static costs of one model, per example. */
export interface ModelCost {
  /** Every weight, trainable or not (batch-norm moving statistics included). */
  readonly params: number;
  readonly trainableParams: number;
  /** Multiply-accumulates of the dense and convolution layers for one example. */
  readonly macs: number;
  /** 2 × `macs`: a multiply and an add each. BN, pooling, additions and activations are not counted (as in most NAS papers). */
  readonly flops: number;
  /** Floats of all layer outputs for one example (what backpropagation keeps). */
  readonly activationsPerExample: number;
}

function dims(shape: tfl.Shape | tfl.Shape[]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  return s.slice(1).map((d) => d ?? 1);
}

function size(s: number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/** Multiply-accumulates of one layer for one example, from its input and output shapes. */
export function layerMacs(layer: tfl.layers.Layer): number {
  const cls = layer.getClassName();
  if (!['Dense', 'Conv2D', 'SeparableConv2D', 'DepthwiseConv2D'].includes(cls)) return 0;
  const input = layer.input;
  const inShape = dims((Array.isArray(input) ? input[0]! : input).shape);
  const outShape = dims(layer.outputShape as tfl.Shape);
  const cfg = layer.getConfig() as { kernelSize?: number | number[]; depthMultiplier?: number };
  if (cls === 'Dense') return inShape[inShape.length - 1]! * outShape[outShape.length - 1]!;
  const k = Array.isArray(cfg.kernelSize) ? cfg.kernelSize : [cfg.kernelSize ?? 1, cfg.kernelSize ?? 1];
  const [ho, wo, cout] = outShape as [number, number, number];
  const cin = inShape[2]!;
  const kk = k[0]! * k[1]!;
  if (cls === 'Conv2D') return ho * wo * cout * kk * cin;
  const m = cfg.depthMultiplier ?? 1;
  const depthwise = ho * wo * cin * m * kk;
  return cls === 'DepthwiseConv2D' ? depthwise : depthwise + ho * wo * cin * m * cout;
}

/** Parameters, MACs/FLOPs and activation size of a built model. */
export function modelCost(model: tfl.LayersModel): ModelCost {
  let macs = 0;
  let activations = 0;
  for (const layer of model.layers) {
    macs += layerMacs(layer);
    if (layer.getClassName() !== 'InputLayer') activations += size(dims(layer.outputShape as tfl.Shape));
  }
  const trainableParams = model.trainableWeights.reduce((n, w) => n + size(w.shape as number[]), 0);
  return { params: model.countParams(), trainableParams, macs, flops: 2 * macs, activationsPerExample: activations };
}

/**
 * Estimated bytes to train at a batch size with Adam: weights, gradients and
 * two moment slots (4 floats per parameter), and for the batch every layer
 * output kept for backpropagation plus its gradient and as much again of
 * scratch (3 floats per activation).
 */
export function trainingBytes(cost: ModelCost, batchSize: number): number {
  return 4 * (4 * cost.params + 3 * batchSize * cost.activationsPerExample);
}

export interface LatencyOptions {
  readonly warmup?: number;
  readonly runs?: number;
}

/** Median milliseconds of a batch-1 prediction (read back to the CPU), after warm-up. */
export function measureLatency(model: tfl.LayersModel, options: LatencyOptions = {}): number {
  const { warmup = 3, runs = 15 } = options;
  const shape = dims(model.inputs[0]!.shape as tfl.Shape);
  const x = tf.zeros([1, ...shape]);
  const times: number[] = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      const y = model.predict(x) as tf.Tensor;
      y.dataSync();
      y.dispose();
      if (i >= warmup) times.push(performance.now() - t0);
    }
  } finally {
    x.dispose();
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}
