/**
 * Model builder: a `Network` (the structured form of a frozen architecture)
 * becomes a `tf.LayersModel` that outputs class probabilities. The logits are
 * reachable too (`logitsModel`), so training computes a numerically stable
 * softmax cross-entropy on them while the exported model stays a plain
 * classifier.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SpecError } from '../errors.js';
import { Rng } from '../rng.js';
import type { Activation, CellNetwork, CellOp, ChainLayer, ChainNetwork, Network } from '../space/network.js';
import { CELL_EDGES } from '../space/network.js';

type SymbolicTensor = tfl.SymbolicTensor;

/** What the data looks like: one example's shape (`[784]` or `[28, 28, 1]`) and the class count. */
export interface InputSpec {
  readonly shape: readonly number[];
  readonly numClasses: number;
}

export interface BuildOptions {
  /**
   * Seeds every initializer: the same seed gives the same initial weights.
   * Dropout masks are not seeded (a seeded tfjs dropout repeats one mask every step).
   */
  readonly seed?: number;
}

/**
 * Moving-average momentum of every batch-norm layer: 0.9, as PyTorch's 0.1
 * (and NAS-Bench-201) has it. Keras's 0.99 leaves the moving statistics far
 * from the data after the few hundred steps of a low-fidelity trial, and
 * validation accuracy then measures the statistics, not the architecture.
 */
export const BN_MOMENTUM = 0.9;

/** The name of the layer that produces the logits, just before the softmax. */
export const LOGITS_LAYER = 'logits';

/**
 * A layer that outputs zeros shaped like its input: a NAS-Bench-201 node all of
 * whose incoming edges are `none`. Registered for serialization, so exported
 * models that contain it load with `tf.loadLayersModel` once this module is imported.
 */
export class ZeroLayer extends tfl.layers.Layer {
  static readonly className = 'NasflowZero';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.zerosLike(x);
  }
  override getClassName(): string {
    return ZeroLayer.className;
  }
}
tf.serialization.registerClass(ZeroLayer);

type LayerArgs = Record<string, unknown>;
interface WeightedInternals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { apply(t: tf.Tensor): tf.Tensor } | null;
  strides: number[];
  padding: 'same' | 'valid';
}
type LayerClass = new (args: LayerArgs) => tfl.layers.Layer;

const DenseClass = Object.getPrototypeOf(tfl.layers.dense({ units: 1 })).constructor as LayerClass;
const Conv2DClass = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 })).constructor as LayerClass;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

/*
 * Why the first weighted layer is built from these: tfjs-layers runs Dense and
 * Conv2D through the fused matMul/conv2d ops, whose gradient (a customGrad)
 * computes the gradient of every input eagerly, including that of the model's
 * input, which nothing needs. For an MLP at batch 256 that unused product was
 * a quarter of the step. The unfused ops' gradients are computed only where
 * they lead to a weight. Both classes serialise as the standard `Dense` /
 * `Conv2D` (same class name, same config), so exported models load anywhere.
 */
class InputDense extends DenseClass {
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const self = this as unknown as WeightedInternals;
      let y = tf.matMul(single(inputs) as tf.Tensor2D, self.kernel.read() as tf.Tensor2D) as tf.Tensor;
      if (self.bias !== null) y = tf.add(y, self.bias.read());
      return self.activation === null ? y : self.activation.apply(y);
    });
  }
}

class InputConv2D extends Conv2DClass {
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const self = this as unknown as WeightedInternals;
      const strides = self.strides as [number, number];
      let y = tf.conv2d(single(inputs) as tf.Tensor4D, self.kernel.read() as tf.Tensor4D, strides, self.padding) as tf.Tensor;
      if (self.bias !== null) y = tf.add(y, self.bias.read());
      return self.activation === null ? y : self.activation.apply(y);
    });
  }
}

const BatchNormClass = Object.getPrototypeOf(tfl.layers.batchNormalization({})).constructor as LayerClass;

interface BatchNormInternals {
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
  momentum: number;
  epsilon: number;
  axis: number;
}

/**
 * Batch normalisation in training mode as one op with a hand-written
 * gradient: dx = γ·σ⁻¹/n · (n·dy − Σdy − x̂·Σ(dy·x̂)). tfjs composes it from
 * `moments` and `batchNorm`, whose gradients tile the statistics to the full
 * activation shape and take ≈25 full-size kernels; batch norm was ≈40 % of a
 * NAS-Bench-201 step (docs/training-performance.md). Channels-last only;
 * inference and serialisation are the standard `BatchNormalization`'s.
 */
class TrainingBatchNorm extends BatchNormClass {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as BatchNormInternals;
    const x = single(inputs);
    const rank = x.shape.length;
    const { gamma, beta } = self;
    if (kwargs['training'] !== true || gamma === null || beta === null || (self.axis !== -1 && self.axis !== rank - 1)) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const axes = [...Array(rank - 1).keys()];
      const n = x.size / x.shape[rank - 1]!;
      let mean: tf.Tensor | undefined;
      let variance: tf.Tensor | undefined;
      const bn = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
        const [xi, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
        mean = tf.keep(tf.mean(xi, axes));
        const centred = tf.sub(xi, mean);
        variance = tf.keep(tf.mean(tf.square(centred), axes));
        const rstd = tf.rsqrt(tf.add(variance, self.epsilon));
        const xhat = tf.mul(centred, rstd);
        save([xhat, rstd, gamma]);
        return {
          value: tf.add(tf.mul(xhat, gamma), beta),
          gradFunc: (g: tf.Tensor, saved: tf.Tensor[]) => {
            const [sxhat, srstd, sgamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
            const dbeta = tf.sum(g, axes);
            const dgamma = tf.sum(tf.mul(g, sxhat), axes);
            const inner = tf.sub(tf.sub(tf.mul(g, n), dbeta), tf.mul(sxhat, dgamma));
            const dx = tf.mul(inner, tf.div(tf.mul(sgamma, srstd), n));
            return [dx, dgamma, dbeta];
          },
        };
      });
      const y = bn(x, gamma.read(), beta.read());
      const decay = 1 - self.momentum;
      for (const [variable, value] of [[self.movingMean, mean!], [self.movingVariance, variance!]] as const) {
        tf.tidy(() => {
          const old = variable.read();
          variable.write(tf.sub(old, tf.mul(tf.sub(old, value), decay)));
        });
      }
      tf.dispose([mean!, variance!]);
      return y;
    });
  }
}

/** A batch-norm layer: the standard one, trained through `TrainingBatchNorm` (also the supernet's, `shared/oneshot`). */
export function batchNorm(name: string): tfl.layers.Layer {
  return new TrainingBatchNorm({ momentum: BN_MOMENTUM, name });
}

class Builder {
  private readonly rng: Rng;
  private count = 0;
  /** The model input and what only reshapes it: a layer reading one of these needs no input gradient. */
  readonly inputLike = new Set<SymbolicTensor>();
  constructor(seed: number) {
    this.rng = Rng.seeded(seed);
  }

  /** A unique, readable layer name (stable for a given network, so checkpoints match by name). */
  name(kind: string): string {
    return `${kind}_${this.count++}`;
  }

  init(): ReturnType<typeof tfl.initializers.glorotUniform> {
    return tfl.initializers.glorotUniform({ seed: this.rng.nextU32() % 2147483647 });
  }
}

function flatten(b: Builder, x: SymbolicTensor): SymbolicTensor {
  if (x.shape.length <= 2) return x;
  const y = tfl.layers.flatten({ name: b.name('flatten') }).apply(x) as SymbolicTensor;
  if (b.inputLike.has(x)) b.inputLike.add(y);
  return y;
}

function activate(b: Builder, x: SymbolicTensor, activation: Activation): SymbolicTensor {
  if (activation === 'linear') return x;
  return tfl.layers.activation({ activation, name: b.name(activation) }).apply(x) as SymbolicTensor;
}

/**
 * The sum of `xs`. A tensor that appears k times enters once, scaled by k:
 * tfjs-layers' inference executor (`predict`) disposes a tensor fed twice to
 * one layer while other layers still need it (a cell with two skip edges
 * into a node whose input also feeds the output node failed at its first
 * validation: "Cannot read properties of undefined (reading 'backend')").
 */
function addAll(b: Builder, xs: SymbolicTensor[]): SymbolicTensor {
  const counts = new Map<SymbolicTensor, number>();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  const terms = [...counts].map(([x, k]) => (k === 1 ? x : (tfl.layers.rescaling({ scale: k, offset: 0, name: b.name('scale') }).apply(x) as SymbolicTensor)));
  return terms.length === 1 ? terms[0]! : (tfl.layers.add({ name: b.name('add') }).apply(terms) as SymbolicTensor);
}

function isImage(x: SymbolicTensor): boolean {
  return x.shape.length === 4;
}

function chainLayer(b: Builder, x: SymbolicTensor, layer: ChainLayer, index: number): SymbolicTensor {
  const where = `layers[${index}]`;
  const spatial = (): void => {
    if (!isImage(x)) {
      throw new SpecError([{ path: where, message: `${layer.type} needs an image input, but its input is flat (shape ${JSON.stringify(x.shape)})` }], 'network');
    }
  };
  switch (layer.type) {
    case 'maxpool':
    case 'avgpool': {
      spatial();
      const k = layer.kernel ?? 2;
      const cfg = { poolSize: k, strides: layer.stride ?? k, padding: 'same' as const, name: b.name(layer.type) };
      return (layer.type === 'maxpool' ? tfl.layers.maxPooling2d(cfg) : tfl.layers.averagePooling2d(cfg)).apply(x) as SymbolicTensor;
    }
    case 'batchnorm':
      return batchNorm(b.name('bn')).apply(x) as SymbolicTensor;
    case 'dropout':
      return tfl.layers.dropout({ rate: layer.dropout ?? 0.5, name: b.name('dropout') }).apply(x) as SymbolicTensor;
    case 'dense':
    case 'conv2d':
    case 'sepconv2d':
      return weightedLayer(b, x, layer, where, spatial);
  }
}

function weightedLayer(b: Builder, input: SymbolicTensor, layer: ChainLayer, where: string, spatial: () => void): SymbolicTensor {
  const width = layer.width;
  if (width === undefined || !Number.isInteger(width) || width < 1) {
    throw new SpecError([{ path: `${where}.width`, message: `${layer.type} needs a positive integer width` }], 'network');
  }
  const bn = layer.batchNorm === true;
  const activation = layer.activation ?? 'relu';
  let x = input;
  let y: SymbolicTensor;
  if (layer.type === 'dense') {
    x = flatten(b, x);
    const args = { units: width, useBias: !bn, kernelInitializer: b.init(), name: b.name('dense') };
    y = (b.inputLike.has(x) ? new InputDense(args) : tfl.layers.dense(args)).apply(x) as SymbolicTensor;
  } else {
    spatial();
    const common = { filters: width, kernelSize: layer.kernel ?? 3, strides: layer.stride ?? 1, padding: 'same' as const, useBias: !bn };
    const convArgs = { ...common, kernelInitializer: b.init(), name: b.name('conv') };
    y = (layer.type === 'conv2d'
      ? b.inputLike.has(x) ? new InputConv2D(convArgs) : tfl.layers.conv2d(convArgs)
      : tfl.layers.separableConv2d({ ...common, depthwiseInitializer: b.init(), pointwiseInitializer: b.init(), name: b.name('sepconv') })
    ).apply(x) as SymbolicTensor;
  }
  if (bn) y = batchNorm(b.name('bn')).apply(y) as SymbolicTensor;
  y = activate(b, y, activation);
  if (layer.skip === true) {
    let shortcut = x;
    const same = shortcut.shape.length === y.shape.length && shortcut.shape.every((d, i) => d === y.shape[i]);
    if (!same) {
      shortcut = (layer.type === 'dense'
        ? tfl.layers.dense({ units: width, useBias: false, kernelInitializer: b.init(), name: b.name('proj') })
        : tfl.layers.conv2d({ filters: width, kernelSize: 1, strides: layer.stride ?? 1, padding: 'same', useBias: false, kernelInitializer: b.init(), name: b.name('proj') })
      ).apply(shortcut) as SymbolicTensor;
    }
    y = addAll(b, [y, shortcut]);
  }
  if ((layer.dropout ?? 0) > 0) {
    y = tfl.layers.dropout({ rate: layer.dropout!, name: b.name('dropout') }).apply(y) as SymbolicTensor;
  }
  return y;
}

function buildChain(b: Builder, net: ChainNetwork, input: SymbolicTensor): SymbolicTensor {
  let x = input;
  net.layers.forEach((layer, i) => {
    x = chainLayer(b, x, layer, i);
  });
  return flatten(b, x);
}

/** NAS-Bench-201's ReLU → Conv → BN. */
function reluConvBn(b: Builder, x: SymbolicTensor, channels: number, kernel: number, stride: number): SymbolicTensor {
  const r = tfl.layers.activation({ activation: 'relu', name: b.name('relu') }).apply(x) as SymbolicTensor;
  const c = tfl.layers.conv2d({ filters: channels, kernelSize: kernel, strides: stride, padding: 'same', useBias: false, kernelInitializer: b.init(), name: b.name('conv') }).apply(r) as SymbolicTensor;
  return batchNorm(b.name('bn')).apply(c) as SymbolicTensor;
}

function cellOp(b: Builder, op: CellOp, x: SymbolicTensor, channels: number): SymbolicTensor | undefined {
  switch (op) {
    case 'none':
      return undefined;
    case 'skip_connect':
      return x;
    case 'nor_conv_1x1':
      return reluConvBn(b, x, channels, 1, 1);
    case 'nor_conv_3x3':
      return reluConvBn(b, x, channels, 3, 1);
    case 'avg_pool_3x3':
      return tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: b.name('avgpool') }).apply(x) as SymbolicTensor;
  }
}

/** One cell: node j is the sum of op(i→j)(node i) over i < j; the cell's output is node 3. */
function cell(b: Builder, ops: readonly CellOp[], x: SymbolicTensor, channels: number): SymbolicTensor {
  const nodes: SymbolicTensor[] = [x];
  for (let j = 1; j <= 3; j++) {
    const terms: SymbolicTensor[] = [];
    CELL_EDGES.forEach((edge, e) => {
      const [to, from] = edge.split('<-').map(Number) as [number, number];
      if (to !== j) return;
      const out = cellOp(b, ops[e]!, nodes[from]!, channels);
      if (out !== undefined) terms.push(out);
    });
    nodes.push(terms.length === 0 ? (new ZeroLayer({ name: b.name('zero') }).apply(x) as SymbolicTensor) : addAll(b, terms));
  }
  return nodes[3]!;
}

/** NAS-Bench-201's residual reduction block: channels × 2, resolution / 2. */
function reduction(b: Builder, x: SymbolicTensor, channels: number): SymbolicTensor {
  const a = reluConvBn(b, x, channels, 3, 2);
  const main = reluConvBn(b, a, channels, 3, 1);
  const pooled = tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: b.name('avgpool') }).apply(x) as SymbolicTensor;
  const short = tfl.layers.conv2d({ filters: channels, kernelSize: 1, useBias: false, kernelInitializer: b.init(), name: b.name('conv') }).apply(pooled) as SymbolicTensor;
  return addAll(b, [main, short]);
}

function buildCell(b: Builder, net: CellNetwork, input: SymbolicTensor): SymbolicTensor {
  if (!isImage(input)) {
    throw new SpecError([{ path: 'space.kind', message: `a cell network needs image input, got shape ${JSON.stringify(input.shape)}` }], 'network');
  }
  if (net.ops.length !== CELL_EDGES.length) {
    throw new SpecError([{ path: 'ops', message: `a cell has ${CELL_EDGES.length} edges, got ${net.ops.length} ops` }], 'network');
  }
  let channels = net.channels;
  let x = new InputConv2D({ filters: channels, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: b.init(), name: b.name('stem') }).apply(input) as SymbolicTensor;
  x = batchNorm(b.name('bn')).apply(x) as SymbolicTensor;
  for (let s = 0; s < net.stages; s++) {
    if (s > 0) {
      channels *= 2;
      x = reduction(b, x, channels);
    }
    for (let i = 0; i < net.cellsPerStage; i++) x = cell(b, net.ops, x, channels);
  }
  x = batchNorm(b.name('bn')).apply(x) as SymbolicTensor;
  x = tfl.layers.activation({ activation: 'relu', name: b.name('relu') }).apply(x) as SymbolicTensor;
  return tfl.layers.globalAveragePooling2d({ name: b.name('gap') }).apply(x) as SymbolicTensor;
}

/** Builds the classifier for a network. Layer names are deterministic, so weights can be restored by name. */
export function buildModel(net: Network, input: InputSpec, options: BuildOptions = {}): tfl.LayersModel {
  const b = new Builder(options.seed ?? 0);
  const x = tfl.input({ shape: [...input.shape], name: 'input' });
  b.inputLike.add(x);
  const features = net.kind === 'chain' ? buildChain(b, net, x) : buildCell(b, net, x);
  const logits = tfl.layers.dense({ units: input.numClasses, kernelInitializer: b.init(), name: LOGITS_LAYER }).apply(features) as SymbolicTensor;
  const probs = tfl.layers.activation({ activation: 'softmax', name: 'probs' }).apply(logits) as SymbolicTensor;
  return tfl.model({ inputs: x, outputs: probs, name: net.kind === 'chain' ? 'chain' : 'cell' });
}

/** A model sharing `model`'s layers (and weights) that outputs the logits instead of probabilities. */
export function logitsModel(model: tfl.LayersModel): tfl.LayersModel {
  const layer = model.getLayer(LOGITS_LAYER);
  return tfl.model({ inputs: model.inputs, outputs: layer.output as SymbolicTensor });
}
