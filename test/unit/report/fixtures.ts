/**
 * Hand-made experiments and trials for the report tests and the screenshot
 * script: a small chain search with params, latency and learning curves,
 * and a NAS-Bench-201 cell search.
 */
import type { Experiment, Trial, TrialState } from '../../../shared/experiment/model.js';
import type { Objective } from '../../../shared/objectives/objectives.js';
import { Rng } from '../../../shared/rng.js';
import { Space } from '../../../shared/space/space.js';

export const T0 = Date.parse('2025-03-01T10:00:00.000Z');
export const iso = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

export const CHAIN_SPACE = {
  kind: 'chain',
  depth: { int: [1, 4] },
  layer: {
    type: { choice: ['conv2d', 'sepconv2d', 'dense'] },
    width: { choice: [16, 32, 64] },
    kernel: { choice: [3, 5] },
    activation: { choice: ['relu', 'swish'] },
    pool: { choice: ['none', 'max'] },
    batchNorm: { choice: [false, true] },
    skip: { choice: [false, true] },
  },
  learningRate: { float: [0.0003, 0.01], log: true },
};

export const CELL_SPACE = { kind: 'cell', channels: 16, cellsPerStage: 5, stages: 3 };

export function experiment(over: Partial<Experiment> = {}): Experiment {
  return {
    id: 'exp-1',
    name: 'mnist-small-cnn',
    spec: { space: CHAIN_SPACE, objectives: [{ metric: 'val_accuracy', goal: 'max' }], budget: { trials: 40, hours: 0.25, dollars: 0 } },
    state: 'COMPLETED',
    createdAt: iso(0),
    startedAt: iso(0),
    finishedAt: iso(3600),
    spent: { trials: 0, hours: 0, dollars: 0 },
    reserved: { hours: 0, dollars: 0 },
    ...over,
  };
}

/** A finished trial with sensible defaults; `metrics` are the final ones. */
export function trial(seq: number, over: Partial<Trial> & { metrics?: Record<string, number> } = {}): Trial {
  const state: TrialState = over.state ?? 'COMPLETED';
  return {
    id: `exp-1/t${String(seq).padStart(4, '0')}`,
    experimentId: 'exp-1',
    seq,
    arch: { values: { depth: 1, 'layers.0.type': 'dense' } },
    hash: `h${seq}`,
    state,
    fidelity: 3,
    feasible: state === 'COMPLETED' ? true : undefined,
    createdAt: iso(seq * 10),
    startedAt: iso(seq * 10),
    finishedAt: state === 'RUNNING' || state === 'PENDING' ? undefined : iso(seq * 10 + 60),
    finishedSeq: state === 'RUNNING' || state === 'PENDING' ? undefined : seq,
    cost: { reservedHours: 0.01, reservedDollars: 0, hours: 0.01, dollars: 0 },
    ...over,
  } as Trial;
}

/** A plausible chain search: `n` trials, some failed and stopped, with curves, params, latency and test accuracy. */
export function chainSearch(n = 30, seed = 7): { experiment: Experiment; trials: Trial[]; objectives: Objective[]; space: Space } {
  const space = Space.fromSpec(CHAIN_SPACE);
  const rng = Rng.seeded(seed);
  const objectives: Objective[] = [
    { metric: 'val_accuracy', goal: 'max' },
    { metric: 'latency_ms', goal: 'min' },
  ];
  const trials: Trial[] = [];
  let t = 0;
  let hours = 0;
  for (let seq = 1; seq <= n; seq++) {
    const arch = space.sample(rng);
    const net = space.network(arch);
    const layers = net.kind === 'chain' ? net.layers : [];
    const width = layers.reduce((s, l) => s + (l.width ?? 0), 0);
    const convs = layers.filter((l) => l.type === 'conv2d' || l.type === 'sepconv2d').length;
    const params = Math.round(8_000 + width * (convs ? 900 : 7_800) * (0.7 + rng.next() * 0.6));
    const latency = Number((0.15 + params / 90_000 + convs * 0.35 + rng.next() * 0.2).toFixed(3));
    const ceiling = 0.965 + 0.02 * Math.min(1, convs / 2) + 0.01 * Math.log10(params / 8_000) / 2 - rng.next() * 0.01;
    const epochs = 6;
    const duration = 60 + rng.next() * 120;
    const startedAt = t;
    t += duration / 2; // two workers
    const state: TrialState = seq === 5 || seq === 17 ? 'FAILED' : seq === 11 || seq === 23 ? 'STOPPED' : 'COMPLETED';
    const stopAt = state === 'STOPPED' ? 2 : state === 'FAILED' ? 1 : epochs;
    const curve = Array.from({ length: stopAt }, (_, i) => {
      const acc = ceiling - (ceiling - 0.82) * Math.exp(-(i + 0.6) * 0.85);
      return { epoch: i + 1, metrics: { val_accuracy: Number(acc.toFixed(4)), loss: Number((0.6 * Math.exp(-(i + 1) * 0.6) + 0.04).toFixed(4)) } };
    });
    const last = curve[curve.length - 1]?.metrics.val_accuracy ?? 0;
    const h = duration / 3600;
    hours += h;
    const metrics = state === 'FAILED' ? undefined : { val_accuracy: last, test_accuracy: Number((last - 0.002 + rng.next() * 0.003).toFixed(4)), params, latency_ms: latency, flops: params * 14 };
    trials.push({
      id: `exp-1/t${String(seq).padStart(4, '0')}`,
      experimentId: 'exp-1',
      seq,
      arch,
      hash: space.hash(arch),
      state,
      fidelity: stopAt,
      ...(metrics ? { metrics, values: [metrics.val_accuracy, metrics.latency_ms] } : {}),
      ...(state === 'COMPLETED' ? { feasible: params <= 300_000 } : {}),
      curve,
      cost: { reservedHours: h, reservedDollars: 0, hours: h, dollars: 0 },
      ...(state === 'FAILED' ? { reason: 'NaN loss at epoch 1' } : state === 'STOPPED' ? { reason: 'median stopping at epoch 2' } : {}),
      backend: 'wasm',
      finishedSeq: seq,
      createdAt: iso(startedAt),
      startedAt: iso(startedAt),
      finishedAt: iso(startedAt + duration),
    });
  }
  const exp = experiment({
    spec: { space: CHAIN_SPACE, objectives, constraints: ['params <= 300000'], budget: { trials: 40, hours: 1.5, dollars: 0 } },
    spent: { trials: n, hours, dollars: 0 },
    finishedAt: iso(t + 120),
  });
  return { experiment: exp, trials, objectives, space };
}

/** A NAS-Bench-201 cell search with table metrics. */
export function cellSearch(n = 12, seed = 3): { experiment: Experiment; trials: Trial[]; objectives: Objective[]; space: Space } {
  const space = Space.fromSpec(CELL_SPACE);
  const rng = Rng.seeded(seed);
  const objectives: Objective[] = [{ metric: 'val_accuracy', goal: 'max' }];
  const trials: Trial[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const arch = space.sample(rng);
    const acc = Number((80 + rng.next() * 12).toFixed(2));
    trials.push(
      trial(seq, {
        arch,
        hash: space.hash(arch),
        fidelity: 200,
        metrics: { val_accuracy: acc, test_accuracy: Number((acc - 0.4).toFixed(2)), params: Math.round(400_000 + rng.next() * 900_000), latency_ms: Number((8 + rng.next() * 10).toFixed(2)) },
        values: [acc],
        backend: 'table',
        curve: [12, 50, 100, 200].map((epoch) => ({ epoch, metrics: { val_accuracy: Number((acc - 30 / Math.sqrt(epoch)).toFixed(2)) } })),
      }),
    );
  }
  return { experiment: experiment({ name: 'nb201-cifar10', spec: { space: CELL_SPACE, objectives }, spent: { trials: n, hours: n * 0.01, dollars: 0 } }), trials, objectives, space };
}
