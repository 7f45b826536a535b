/**
 * Full-data accuracy runs: `npm run bench:train-accuracy -- [--out FILE]
 * [--models mlp,cnn] [--epochs-mlp N] [--epochs-cnn N]`.
 *
 * Trains, through the trainer itself (`trainTrial`), an MLP from the chain
 * space (784-256-128-10) and the small CNN (conv16-pool-conv32-pool-dense10)
 * on MNIST (54,000 training images, 6,000 held out for validation) and
 * reports the test accuracy on the 10,000 test images, epochs and time.
 * Goals: MLP ≥ 97.5 %, CNN ≥ 98.5 %.
 */
import { writeFileSync } from 'node:fs';
import { initBackend, type BackendChoice } from '../shared/backend/index.js';
import { loadData } from '../shared/data/sources.js';
import { MemoryArtifactStore, MemoryReportSink } from '../shared/train/ports.js';
import { trainTrial } from '../shared/train/trainer.js';
import { DEFAULT_TRAINING, type Network } from '../shared/space/network.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const MODELS: Record<string, { network: Network; epochs: number; goal: number }> = {
  mlp: {
    network: { kind: 'chain', layers: [{ type: 'dense', width: 256 }, { type: 'dense', width: 128 }], training: { ...DEFAULT_TRAINING, batchSize: 64 } },
    epochs: Number(arg('epochs-mlp') ?? 10),
    goal: 0.975,
  },
  cnn: {
    network: {
      kind: 'chain',
      layers: [{ type: 'conv2d', width: 16, kernel: 3 }, { type: 'maxpool', kernel: 2 }, { type: 'conv2d', width: 32, kernel: 3 }, { type: 'maxpool', kernel: 2 }],
      training: { ...DEFAULT_TRAINING, batchSize: 64 },
    },
    epochs: Number(arg('epochs-cnn') ?? 6),
    goal: 0.985,
  },
};

const backend = await initBackend((arg('backend') ?? 'auto') as BackendChoice);
const data = loadData({ source: 'mnist', validation: 0.1, seed: 0 });
const results = [];
for (const name of (arg('models') ?? 'mlp,cnn').split(',')) {
  const m = MODELS[name];
  if (m === undefined) throw new Error(`unknown model ${name}`);
  const sink = new MemoryReportSink();
  const t0 = performance.now();
  const r = await trainTrial(
    { id: name, network: m.network, data: { source: 'mnist' }, epochs: m.epochs, seed: 0, evaluateTest: true },
    { sink: { report: (rep) => { sink.report(rep); process.stderr.write(`${name} epoch ${rep.epoch}: ${JSON.stringify(rep.metrics)}\n`); } }, store: new MemoryArtifactStore(), backend, data },
  );
  const row = {
    model: name,
    backend: backend.name,
    epochs: r.epochsCompleted,
    batch: m.network.training.batchSize,
    testAccuracy: r.metrics['test_accuracy'],
    valAccuracy: r.metrics['val_accuracy'],
    goal: m.goal,
    met: (r.metrics['test_accuracy'] ?? 0) >= m.goal,
    trainSeconds: r.metrics['train_seconds'],
    wallSeconds: (performance.now() - t0) / 1000,
    params: r.metrics['params'],
    flops: r.metrics['flops'],
    latencyMs: r.metrics['latency_ms'],
    peakRssBytes: r.metrics['peak_rss_bytes'],
    perEpoch: sink.reports.map((x) => ({ epoch: x.epoch, val_accuracy: x.metrics['val_accuracy'], loss: x.metrics['loss'], seconds: x.metrics['epoch_seconds'] })),
  };
  results.push(row);
}
const json = JSON.stringify({ results }, null, 2);
process.stdout.write(`${json}\n`);
const out = arg('out');
if (out !== undefined) writeFileSync(out, `${json}\n`);
