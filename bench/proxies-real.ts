/**
 * Zero-cost proxies on real data: for MNIST and Fashion-MNIST, a seeded
 * sample of architectures from the chain space of examples/mnist.yaml is
 * scored by every proxy (the data proxies on 64 real training examples) and
 * trained for one epoch through the trainer (`trainTrial`); the JSON gives
 * each proxy's Spearman ρ against the 1-epoch validation accuracy.
 *
 *   npx tsx bench/proxies-real.ts [--archs 50] [--datasets mnist,fashion-mnist] [--fraction 1] --out FILE.json
 *
 * `--fraction` trains on that share of the training split (a shorter run:
 * say so when quoting it). Results are written after every architecture.
 */
import { renameSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../shared/backend/index.js';
import { loadData } from '../shared/data/sources.js';
import { PROXY_NAMES, scoreNetwork, spearman } from '../shared/proxies/index.js';
import { Rng } from '../shared/rng.js';
import { Space } from '../shared/space/space.js';
import { MemoryArtifactStore } from '../shared/train/ports.js';
import { trainTrial } from '../shared/train/trainer.js';
import { benchArgs, usageError } from './args.js';

const { values: a } = benchArgs({
  usage: '  npx tsx bench/proxies-real.ts [--archs 50] [--datasets mnist,fashion-mnist] [--fraction 1] [--seed 0] --out FILE.json',
  options: { archs: { type: 'string', default: '50' }, datasets: { type: 'string', default: 'mnist,fashion-mnist' }, fraction: { type: 'string', default: '1' }, seed: { type: 'string', default: '0' }, out: { type: 'string' } },
  numbers: ['archs', 'fraction', 'seed'],
});
if (!a.out) usageError('--out FILE.json is required');
const archs = Number(a.archs);
const fraction = Number(a.fraction);
const seed = Number(a.seed);
const backend = await initBackend('auto');
const space = Space.fromSpec({
  kind: 'chain',
  depth: { int: [2, 3] },
  layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32, 64] }, kernel: { choice: [3, 5] }, activation: { choice: ['relu', 'swish'] }, pool: 'max', batchNorm: { choice: [true, false] } },
  learningRate: { float: [0.0007, 0.004], log: true },
  batchSize: 64,
  optimizer: 'adam',
});
const out: Record<string, unknown> = { archs, fraction, seed, backend: backend.name, epochs: 1, datasets: {} };
const save = (): void => {
  writeFileSync(`${a.out}.tmp`, JSON.stringify(out, null, 1) + '\n');
  renameSync(`${a.out}.tmp`, a.out as string);
};
for (const source of (a.datasets as string).split(',') as ('mnist' | 'fashion-mnist')[]) {
  const data = loadData({ source, validation: 0.1, seed, ...(fraction < 1 ? { fraction } : {}) });
  const rng = Rng.seeded(seed);
  const per = data.train.shape.reduce((x, y) => x * y, 1);
  const rows = Array.from({ length: 64 }, () => rng.int(data.train.y.length));
  const x = new Float32Array(rows.length * per);
  rows.forEach((r, i) => x.set(data.train.x.subarray(r * per, (r + 1) * per), i * per));
  const batch = { x: tf.tensor(x, [rows.length, ...data.train.shape]), labels: tf.tensor1d(Int32Array.from(rows, (r) => data.train.y[r] as number), 'int32'), numClasses: data.train.numClasses };
  const seen = new Set<string>();
  const results: { arch: string; valAccuracy: number; scores: Record<string, number>; ms: Record<string, number>; trainSeconds: number }[] = [];
  const entry: Record<string, unknown> = { results };
  (out.datasets as Record<string, unknown>)[source] = entry;
  while (results.length < archs) {
    const arch = space.sample(rng);
    const key = space.key(arch);
    if (seen.has(key)) continue;
    seen.add(key);
    const net = space.network(arch);
    const s = scoreNetwork(net, { shape: data.train.shape, numClasses: data.train.numClasses }, PROXY_NAMES, { seed, batch });
    const t0 = performance.now();
    const r = await trainTrial({ id: key, network: net, data: { source, validation: 0.1, seed, ...(fraction < 1 ? { fraction } : {}) }, epochs: 1, seed }, { sink: { report: () => {} }, store: new MemoryArtifactStore(), backend, data });
    const acc = r.status === 'COMPLETED' ? (r.metrics['val_accuracy'] as number) : Number.NaN;
    results.push({ arch: key, valAccuracy: acc, scores: s.scores as Record<string, number>, ms: s.ms as Record<string, number>, trainSeconds: (performance.now() - t0) / 1000 });
    const ok = results.filter((q) => Number.isFinite(q.valAccuracy));
    entry.spearman = Object.fromEntries(PROXY_NAMES.map((p) => [p, Math.round(spearman(ok.map((q) => q.scores[p] as number), ok.map((q) => q.valAccuracy)) * 1e4) / 1e4]));
    entry.msPerArch = Object.fromEntries(PROXY_NAMES.map((p) => [p, Math.round((results.reduce((t, q) => t + (q.ms[p] as number), 0) / results.length) * 10) / 10]));
    entry.trained = results.length;
    save();
    process.stderr.write(`${source} ${results.length}/${archs}: val ${acc.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  tf.dispose([batch.x, batch.labels]);
}
