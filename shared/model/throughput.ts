/**
 * How fast this backend trains, measured: a few real training steps (the
 * trainer's own `trainStep`) and forward passes of small probe networks, each
 * dominated by one kind of work (layer dispatch, matrix products,
 * convolutions, depthwise convolutions, element-wise layers), fitted to the
 * per-kind rates of `KernelRates`. About four seconds; once per process and backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_TRAINING, type ChainLayer, type ChainNetwork } from '../space/network.js';
import { makeOptimizer, stepContext, trainStep } from '../train/step.js';
import { buildModel, logitsModel } from './build.js';
import { batchWork, fitRates, networkCost, type Throughput } from './network-cost.js';

interface Probe {
  readonly shape: readonly number[];
  readonly layers: readonly ChainLayer[];
  readonly batch: number;
}

const dense = (width: number, n: number): ChainLayer[] => Array.from({ length: n }, () => ({ type: 'dense', width, activation: 'linear' }));

/** Each probe leans on one rate (the compute probes' batches make their work outweigh the per-layer cost); together they separate all five. */
const PROBES: readonly Probe[] = [
  { shape: [8], layers: dense(8, 2), batch: 8 },
  { shape: [8], layers: dense(8, 10), batch: 8 },
  { shape: [512], layers: dense(512, 2), batch: 64 },
  { shape: [16, 16, 8], layers: [{ type: 'conv2d', width: 32, kernel: 3, activation: 'linear' }], batch: 32 },
  { shape: [16, 16, 32], layers: [{ type: 'sepconv2d', width: 8, kernel: 5, activation: 'linear' }], batch: 16 },
  { shape: [16, 16, 16], layers: [{ type: 'batchnorm' }, { type: 'conv2d', width: 16, kernel: 1, activation: 'relu', batchNorm: true }, { type: 'maxpool', kernel: 2 }], batch: 32 },
  { shape: [16, 16, 8], layers: [{ type: 'conv2d', width: 16, kernel: 3, activation: 'relu', batchNorm: true }, { type: 'dense', width: 64, activation: 'relu' }], batch: 32 },
  // The layers image searches start with: a full-resolution, one-channel input (many activations for few FLOPs), then a 5×5 convolution at
  // half resolution. Without them the fit under-priced a search's first convolutional trials 1.5–2× (Fashion-MNIST, 72 first epochs of
  // session 7's runs: median |log(measured / estimated)| 0.46 → 0.14, within 2× 61 → 71; docs/cost-estimate.md).
  { shape: [28, 28, 1], layers: [{ type: 'conv2d', width: 32, kernel: 3, activation: 'relu' }, { type: 'maxpool', kernel: 2 }], batch: 32 },
  { shape: [14, 14, 16], layers: [{ type: 'conv2d', width: 16, kernel: 5, activation: 'relu' }, { type: 'maxpool', kernel: 2 }], batch: 32 },
];

/** Examples per forward probe: evaluation runs in large batches (512), where compute, not dispatch, dominates. */
const FORWARD_BATCH = 128;

/** Median seconds of `fn` over `runs` runs after `warmup` unmeasured ones. */
function timeIt(fn: () => void, warmup: number, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    fn();
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

interface ProbeTimes {
  readonly train: { work: number[]; seconds: number }[];
  readonly forward: { work: number[]; seconds: number }[];
  /** Seconds to build a model, per layer, one per probe. */
  readonly setup: number[];
}

/** Times every probe once: training steps, forward passes and the build. */
function timeProbes(): ProbeTimes {
  const times: ProbeTimes = { train: [], forward: [], setup: [] };
  for (const p of PROBES) {
    const net: ChainNetwork = { kind: 'chain', layers: p.layers, training: DEFAULT_TRAINING };
    const input = { shape: p.shape, numClasses: 4 };
    const cost = networkCost(net, input);
    const t0 = performance.now();
    const model = buildModel(net, input, { seed: 1 });
    times.setup.push((performance.now() - t0) / 1000 / cost.layers);
    const logits = logitsModel(model);
    const optimizer = makeOptimizer(net);
    const x = tf.randomNormal([p.batch, ...p.shape]);
    const xf = tf.randomNormal([FORWARD_BATCH, ...p.shape]);
    const y = tf.tensor1d(Array.from({ length: p.batch }, (_, i) => i % 4), 'int32');
    try {
      const ctx = stepContext(model, logits, optimizer, 4, 0);
      times.train.push({
        work: batchWork(cost, p.batch),
        seconds: timeIt(() => {
          const { loss, hits } = trainStep(ctx, x, y);
          loss.dataSync();
          tf.dispose([loss, hits]);
        }, 2, 7),
      });
      times.forward.push({
        work: batchWork(cost, FORWARD_BATCH),
        seconds: timeIt(() => tf.tidy(() => (logits.predict(xf) as tf.Tensor).dataSync()), 1, 3),
      });
    } finally {
      tf.dispose([x, xf, y]);
      optimizer.dispose();
      model.dispose();
    }
  }
  return times;
}

/**
 * Measures the current TensorFlow.js backend (initialised by the caller) and
 * fits its rates. The probes run twice and only the second pass counts: in a
 * fresh process the first pass times kernels that V8 has not yet tiered up
 * from its baseline WebAssembly compiler (and a heap still growing), which
 * the trials, run later in the same process, never see. Measured against 62
 * recorded first epochs in fresh processes on a quiet machine, three times
 * each: one pass 37–53 within 2× (median |log(measured / estimated)| 0.55–0.64),
 * the second pass 62/62 every time (0.12–0.22; docs/cost-estimate.md).
 */
export function calibrateThroughput(): Throughput {
  timeProbes();
  const { train, forward, setup } = timeProbes();
  setup.sort((a, b) => a - b);
  return { backend: tf.getBackend(), train: fitRates(train), forward: fitRates(forward), perLayerSetup: setup[setup.length >> 1]! };
}
