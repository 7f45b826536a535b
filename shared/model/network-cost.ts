/**
 * What a network costs per example, computed from its description alone —
 * the same layer shapes `buildModel` creates, without building anything
 * (no TensorFlow.js: a Lambda that reserves budget computes it too).
 * `flops` equals `modelCost(buildModel(...)).flops`; `layers` equals the
 * built model's layer count, the number of kernels a step dispatches scales with it.
 */
import { liveNodes } from '../space/cell.js';
import { CELL_EDGES, type CellNetwork, type ChainNetwork, type Network } from '../space/network.js';

/** Per-example costs of a network for one input shape. */
export interface NetworkCost {
  /** 2 × multiply-accumulates of the dense and convolution layers, one example, forward. */
  readonly flops: number;
  /** `flops` by kernel family: matrix products, full convolutions, depthwise convolutions. */
  readonly denseFlops: number;
  readonly convFlops: number;
  readonly depthwiseFlops: number;
  /** Floats written by every layer for one example, forward (what element-wise kernels touch). */
  readonly activations: number;
  /** Layers of the built model, the input and the softmax included. */
  readonly layers: number;
  /** Weights of the built model (`model.countParams()`: batch-norm moving statistics included). */
  readonly params: number;
}

/** One example's shape (`[784]` or `[28, 28, 1]`) and the class count, as `buildModel` takes them. */
export interface NetworkInput {
  readonly shape: readonly number[];
  readonly numClasses: number;
}

type Kind = 'dense' | 'conv' | 'depthwise';

class Tally {
  readonly macs: Record<Kind, number> = { dense: 0, conv: 0, depthwise: 0 };
  activations = 0;
  params = 0;
  layers = 1; // the input layer
  /** A layer that outputs `shape`, does `macs` multiply-accumulates of `kind` and holds `params` weights. */
  add(shape: readonly number[], macs = 0, kind: Kind = 'conv', params = 0): readonly number[] {
    this.layers++;
    this.params += params;
    this.macs[kind] += macs;
    this.activations += shape.reduce((a, b) => a * b, 1);
    return shape;
  }
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Output side of a 'same'-padded window with this stride. */
const same = (n: number, stride: number) => Math.ceil(n / stride);

function flatten(t: Tally, x: readonly number[]): readonly number[] {
  return x.length <= 1 ? x : t.add([size(x)]);
}

function chain(t: Tally, net: ChainNetwork, input: readonly number[]): readonly number[] {
  let x = input;
  for (const layer of net.layers) {
    switch (layer.type) {
      case 'maxpool':
      case 'avgpool': {
        const k = layer.kernel ?? 2;
        const s = layer.stride ?? k;
        x = t.add([same(x[0]!, s), same(x[1]!, s), x[2]!]);
        break;
      }
      case 'batchnorm':
        x = t.add(x, 0, 'conv', 4 * x[x.length - 1]!);
        break;
      case 'dropout':
        x = t.add(x);
        break;
      case 'dense':
      case 'conv2d':
      case 'sepconv2d': {
        const width = layer.width ?? 1;
        // A layer followed by batch norm has no bias (the norm's beta is one).
        const bias = layer.batchNorm === true ? 0 : width;
        let input = x;
        let y: readonly number[];
        if (layer.type === 'dense') {
          input = flatten(t, x);
          y = t.add([width], input[0]! * width, 'dense', input[0]! * width + bias);
        } else {
          const k = layer.kernel ?? 3;
          const s = layer.stride ?? 1;
          const [h, w, cin] = x as [number, number, number];
          const [ho, wo] = [same(h, s), same(w, s)];
          if (layer.type === 'conv2d') y = t.add([ho, wo, width], ho * wo * width * k * k * cin, 'conv', k * k * cin * width + bias);
          else {
            // One layer: a depthwise pass, then a pointwise (1×1) convolution.
            y = t.add([ho, wo, width], ho * wo * cin * width, 'conv', k * k * cin + cin * width + bias);
            t.macs.depthwise += ho * wo * cin * k * k;
          }
        }
        if (layer.batchNorm === true) t.add(y, 0, 'conv', 4 * width);
        if ((layer.activation ?? 'relu') !== 'linear') t.add(y);
        if (layer.skip === true) {
          const sameShape = input.length === y.length && input.every((d, i) => d === y[i]);
          if (!sameShape) t.add(y, layer.type === 'dense' ? input[0]! * width : y[0]! * y[1]! * width * input[2]!, layer.type === 'dense' ? 'dense' : 'conv', layer.type === 'dense' ? input[0]! * width : input[2]! * width);
          t.add(y);
        }
        if ((layer.dropout ?? 0) > 0) t.add(y);
        x = y;
        break;
      }
    }
  }
  return flatten(t, x);
}

function cell(t: Tally, net: CellNetwork, input: readonly number[]): readonly number[] {
  let [h, w] = input as [number, number, number];
  let c = net.channels;
  const conv = (cin: number, cout: number, k: number, stride: number): void => {
    [h, w] = [same(h, stride), same(w, stride)];
    t.add([h, w, cout], h * w * cout * k * k * cin, 'conv', k * k * cin * cout);
  };
  const reluConvBn = (cin: number, cout: number, k: number, stride: number): void => {
    t.add([h, w, cin]);
    conv(cin, cout, k, stride);
    t.add([h, w, cout], 0, 'conv', 4 * cout);
  };
  const live = liveNodes((e) => net.ops[e] === 'none');
  conv(input[2]!, c, 3, 1);
  t.add([h, w, c], 0, 'conv', 4 * c);
  for (let s = 0; s < net.stages; s++) {
    if (s > 0) {
      const [h0, w0, cin] = [h, w, c];
      c *= 2;
      reluConvBn(cin, c, 3, 2);
      reluConvBn(c, c, 3, 1);
      t.add([same(h0, 2), same(w0, 2), cin]); // the shortcut's average pool
      t.add([h, w, c], h * w * c * cin, 'conv', c * cin); // its 1×1 convolution
      t.add([h, w, c]); // the sum
    }
    for (let i = 0; i < net.cellsPerStage; i++) {
      // Which tensor each node is (a skip passes its input's through): the built model adds a tensor fed k times once, rescaled by k.
      const tensorOf = [0];
      let fresh = 1;
      for (let j = 1; j <= 3; j++) {
        // A node that does not reach the cell's output is not part of the built model.
        if (!(live & (1 << j))) continue;
        const uses = new Map<number, number>();
        CELL_EDGES.forEach((edge, e) => {
          const [to, from] = edge.split('<-').map(Number) as [number, number];
          if (to !== j) return;
          const op = net.ops[e];
          if (op === 'none') return;
          let term = tensorOf[from] as number;
          if (op === 'nor_conv_1x1') reluConvBn(c, c, 1, 1);
          else if (op === 'nor_conv_3x3') reluConvBn(c, c, 3, 1);
          else if (op === 'avg_pool_3x3') t.add([h, w, c]);
          if (op !== 'skip_connect') term = fresh++;
          uses.set(term, (uses.get(term) ?? 0) + 1);
        });
        const rescaled = [...uses.values()].filter((k) => k > 1).length;
        for (let k = 0; k < rescaled; k++) t.add([h, w, c]);
        // A node with several distinct terms adds them; with none it is a zero layer.
        if (uses.size !== 1) t.add([h, w, c]);
        tensorOf[j] = uses.size === 1 && rescaled === 0 ? ([...uses.keys()][0] as number) : fresh++;
      }
    }
  }
  t.add([h, w, c], 0, 'conv', 4 * c); // the final batch norm
  t.add([h, w, c]);
  return t.add([c]);
}

/** FLOPs, activations and layer count of `net` built for `input` (see `buildModel`). */
export function networkCost(net: Network, input: NetworkInput): NetworkCost {
  const t = new Tally();
  const features = net.kind === 'chain' ? chain(t, net, input.shape) : cell(t, net, input.shape);
  const logits = t.add([input.numClasses], features[0]! * input.numClasses, 'dense', (features[0]! + 1) * input.numClasses);
  t.add(logits); // softmax
  const { dense, conv, depthwise } = t.macs;
  return { flops: 2 * (dense + conv + depthwise), denseFlops: 2 * dense, convFlops: 2 * conv, depthwiseFlops: 2 * depthwise, activations: t.activations, layers: t.layers, params: t.params };
}

/**
 * Seconds per unit of work of each kernel family on one backend: per layer
 * per batch (dispatch and bookkeeping, whatever the batch), and per example
 * per FLOP (dense, convolution, depthwise) or per activation element.
 */
export interface KernelRates {
  readonly perLayer: number;
  readonly dense: number;
  readonly conv: number;
  readonly depthwise: number;
  readonly activation: number;
}

/** What a backend does per second: a training step's rates, a forward pass's (evaluation), and building a model. */
export interface Throughput {
  /** The backend the rates were measured on (`wasm`, `tensorflow`, ...), or the prior's name. */
  readonly backend: string;
  readonly train: KernelRates;
  readonly forward: KernelRates;
  /** Seconds to build (and later checkpoint, export) one layer of a model. */
  readonly perLayerSetup: number;
}

const RATE_KEYS = ['perLayer', 'dense', 'conv', 'depthwise', 'activation'] as const;

/** The work a batch of `batch` examples does, in the units of `KernelRates` (same key order). */
export function batchWork(cost: NetworkCost, batch: number): number[] {
  return [cost.layers, batch * cost.denseFlops, batch * cost.convFlops, batch * cost.depthwiseFlops, batch * cost.activations];
}

/** Seconds of one batch at these rates. */
export function batchSeconds(cost: NetworkCost, batch: number, rates: KernelRates): number {
  const w = batchWork(cost, batch);
  return RATE_KEYS.reduce((s, k, i) => s + rates[k] * w[i]!, 0);
}

/**
 * Non-negative rates that best explain measured batches (least squares on
 * relative error, so a 1 ms probe counts as much as a 1 s one), by cyclic
 * coordinate descent: five unknowns, a handful of probes.
 */
export function fitRates(samples: readonly { readonly work: readonly number[]; readonly seconds: number }[]): KernelRates {
  const rows = samples.filter((s) => s.seconds > 0).map((s) => ({ a: s.work.map((w) => w / s.seconds), b: 1 }));
  const n = RATE_KEYS.length;
  // Columns scaled to unit norm, so one step size suits every rate.
  const scale = Array.from({ length: n }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + r.a[j]! ** 2, 0)) || 1);
  const x = new Array<number>(n).fill(0);
  const residual = rows.map((r) => r.b);
  for (let sweep = 0; sweep < 2000; sweep++) {
    let moved = 0;
    for (let j = 0; j < n; j++) {
      const col = rows.map((r) => r.a[j]! / scale[j]!);
      const norm = col.reduce((s, c) => s + c * c, 0);
      if (norm === 0) continue;
      const g = col.reduce((s, c, i) => s + c * residual[i]!, 0);
      const next = Math.max(0, x[j]! + g / norm);
      const d = next - x[j]!;
      if (d === 0) continue;
      col.forEach((c, i) => (residual[i]! -= c * d));
      x[j] = next;
      moved = Math.max(moved, Math.abs(d));
    }
    if (moved < 1e-12) break;
  }
  return Object.fromEntries(RATE_KEYS.map((k, j) => [k, x[j]! / scale[j]!])) as unknown as KernelRates;
}

/** Seconds of one pass over `rows` examples in batches of `batch` (the last one partial), by rate (`KernelRates` key order). */
export function passParts(cost: NetworkCost, rows: number, batch: number, rates: KernelRates): number[] {
  if (rows <= 0) return RATE_KEYS.map(() => 0);
  const perExample = batchWork(cost, 1);
  return RATE_KEYS.map((k, i) => rates[k] * (i === 0 ? Math.ceil(rows / batch) * cost.layers : rows * perExample[i]!));
}

/** Seconds of one pass over `rows` examples in batches of `batch` at these rates. */
export function passSeconds(cost: NetworkCost, rows: number, batch: number, rates: KernelRates): number {
  return passParts(cost, rows, batch, rates).reduce((a, b) => a + b, 0);
}
