/**
 * Training throughput benchmark: `npm run bench:train -- [--out FILE]
 * [--seconds S] [--repeats R] [--backend wasm|cpu|native|auto] [--profile]
 * [--no-torch]`.
 *
 * Measures samples/s of the trainer's own step (`trainStep`) on real MNIST
 * batches for an MLP 784-256-128-10, a small CNN conv16-pool-conv32-pool-dense10
 * and a NAS-Bench-201 cell network, at batch 64 and 256, and the same models
 * in PyTorch (`bench/train_torch.py`) when the system Python has torch
 * (Debian's python3-torch), run with OPENBLAS_NUM_THREADS=1 and 2 torch
 * threads. Each figure is the best of `repeats` timed windows, for both sides.
 * Prints JSON; `--out FILE` writes it too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendChoice } from '../shared/backend/index.js';
import { take } from '../shared/data/dataset.js';
import { loadMnist } from '../shared/data/sources.js';
import { buildModel, logitsModel } from '../shared/model/build.js';
import { DEFAULT_TRAINING, type CellOp, type Network } from '../shared/space/network.js';
import { makeOptimizer, stepContext, trainStep } from '../shared/train/step.js';

const NB201_OPS: CellOp[] = ['nor_conv_3x3', 'skip_connect', 'nor_conv_3x3', 'skip_connect', 'nor_conv_1x1', 'avg_pool_3x3'];
const NB201 = { channels: 8, cellsPerStage: 1, stages: 3 };

const MODELS: Record<string, Network> = {
  mlp: { kind: 'chain', layers: [{ type: 'dense', width: 256 }, { type: 'dense', width: 128 }], training: DEFAULT_TRAINING },
  cnn: {
    kind: 'chain',
    layers: [
      { type: 'conv2d', width: 16, kernel: 3 },
      { type: 'maxpool', kernel: 2 },
      { type: 'conv2d', width: 32, kernel: 3 },
      { type: 'maxpool', kernel: 2 },
    ],
    training: DEFAULT_TRAINING,
  },
  nb201: { kind: 'cell', ops: NB201_OPS, ...NB201, training: DEFAULT_TRAINING },
};
const BATCHES = [64, 256];

interface Row {
  model: string;
  batch: number;
  backend: string;
  samplesPerSec: number;
  torchSamplesPerSec: number | null;
  ratio: number | null;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** Samples/s of `trainStep` over a timed window, batches gathered on the backend as the trainer does. */
function measure(net: Network, batch: number, x: tf.Tensor, y: tf.Tensor1D, seconds: number, repeats: number): number {
  const model = buildModel(net, { shape: x.shape.slice(1), numClasses: 10 }, { seed: 1 });
  const ctx = stepContext(model, logitsModel(model), makeOptimizer(net), 10, 0);
  const n = x.shape[0];
  let offset = 0;
  const step = (): void => {
    tf.tidy(() => {
      const idx = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => (offset + i) % n), 'int32');
      offset = (offset + batch) % n;
      const { loss } = trainStep(ctx, tf.gather(x, idx), tf.gather(y, idx));
      loss.dataSync();
    });
  };
  for (let i = 0; i < 3; i++) step();
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    let steps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      step();
      steps++;
    }
    best = Math.max(best, (steps * batch * 1000) / (performance.now() - t0));
  }
  ctx.optimizer.dispose();
  model.dispose();
  return best;
}

/** Kernel time by kernel name for one step, and the step's wall time: what is left is per-step overhead. */
async function profile(net: Network, batch: number, x: tf.Tensor, y: tf.Tensor1D): Promise<Record<string, unknown>> {
  const model = buildModel(net, { shape: x.shape.slice(1), numClasses: 10 }, { seed: 1 });
  const ctx = stepContext(model, logitsModel(model), makeOptimizer(net), 10, 0);
  const run = (): void => {
    tf.tidy(() => {
      const idx = tf.range(0, batch, 1, 'int32') as tf.Tensor1D;
      trainStep(ctx, tf.gather(x, idx), tf.gather(y, idx)).loss.dataSync();
    });
  };
  for (let i = 0; i < 3; i++) run();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) run();
  const stepMs = (performance.now() - t0) / 10;
  const info = await tf.profile(run);
  const byKernel: Record<string, number> = {};
  let kernelMs = 0;
  for (const k of info.kernels) {
    // `name__op` entries and custom-gradient scopes wrap the kernels they run: counting them would count twice.
    if (k.name.endsWith('__op') || k.name === 'unnamed scope') continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byKernel[k.name] = (byKernel[k.name] ?? 0) + ms;
    kernelMs += ms;
  }
  const top = Object.entries(byKernel).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, ms]) => ({ name, ms: +ms.toFixed(2) }));
  ctx.optimizer.dispose();
  model.dispose();
  return { stepMs: +stepMs.toFixed(2), kernelMs: +kernelMs.toFixed(2), kernels: info.kernels.filter((k) => !k.name.endsWith('__op') && k.name !== 'unnamed scope').length, overheadMs: +(stepMs - kernelMs).toFixed(2), top };
}

function torch(seconds: number, repeats: number): Map<string, number> | null {
  const python = '/usr/bin/python3';
  if (flag('no-torch') || !existsSync(python)) return null;
  const jobs = Object.keys(MODELS).flatMap((model) => BATCHES.map((batch) => ({ model, batch, ops: NB201_OPS, ...NB201 })));
  const script = join(import.meta.dirname, 'train_torch.py');
  const best = new Map<string, number>();
  for (let r = 0; r < repeats; r++) {
    const p = spawnSync(python, [script, JSON.stringify({ seconds, threads: 2, jobs })], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (p.status !== 0) {
      process.stderr.write(`torch unavailable: ${(p.stderr ?? '').trim().split('\n').pop() ?? ''}\n`);
      return null;
    }
    const out = JSON.parse(p.stdout) as { results: Array<{ model: string; batch: number; samplesPerSec: number }> };
    for (const row of out.results) {
      const key = `${row.model}/${row.batch}`;
      best.set(key, Math.max(best.get(key) ?? 0, row.samplesPerSec));
    }
  }
  return best;
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds') ?? 3);
  const repeats = Number(arg('repeats') ?? 2);
  const backend = await initBackend((arg('backend') ?? 'auto') as BackendChoice);
  const data = take(loadMnist('train'), Array.from({ length: 4096 }, (_, i) => i));
  const x = tf.tensor(data.x, [data.size, 28, 28, 1]);
  const y = tf.tensor1d(data.y, 'int32');
  const rows: Row[] = [];
  const profiles: Record<string, unknown> = {};
  for (const [name, net] of Object.entries(MODELS)) {
    for (const batch of BATCHES) {
      const sps = measure(net, batch, x, y, seconds, repeats);
      rows.push({ model: name, batch, backend: backend.name, samplesPerSec: Math.round(sps), torchSamplesPerSec: null, ratio: null });
      process.stderr.write(`${name} batch ${batch}: ${Math.round(sps)} samples/s on ${backend.name}\n`);
      if (flag('profile')) profiles[`${name}/${batch}`] = await profile(net, batch, x, y);
    }
  }
  tf.dispose([x, y]);
  const t = torch(seconds, repeats);
  for (const row of rows) {
    const ts = t?.get(`${row.model}/${row.batch}`);
    if (ts !== undefined) {
      row.torchSamplesPerSec = Math.round(ts);
      row.ratio = +(row.samplesPerSec / ts).toFixed(3);
    }
  }
  const out = {
    results: rows,
    ...(flag('profile') ? { profile: profiles } : {}),
    setup: { simd: backend.simd ?? null, seconds, repeats, nb201: { ops: NB201_OPS, ...NB201 }, node: process.version },
  };
  const json = JSON.stringify(out, null, 2);
  process.stdout.write(`${json}\n`);
  const file = arg('out');
  if (file !== undefined) writeFileSync(file, `${json}\n`);
}

await main();
