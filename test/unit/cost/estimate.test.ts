/** The cost model learns from recorded epochs and trials, the same way from the worker pool's stream and from the store. */
import { describe, expect, it } from 'vitest';
import type { Trial } from '../../../shared/experiment/model.js';
import { batchWork, fitRates, type Throughput } from '../../../shared/model/network-cost.js';
import { Rng } from '../../../shared/rng.js';
import type { Architecture } from '../../../shared/space/space.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { costModelOf, dataSizeOf, estimatorFor, INITIAL_SECONDS_PER_EPOCH, TrialCostModel } from '../../../shared/steps/estimate.js';

const TABLE = '../shared/benchmarks/nb201-cifar10.csv';

const raw = {
  name: 'm',
  dataset: { source: 'mnist', fraction: 0.1 },
  space: { kind: 'chain', depth: { int: [1, 3] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 64] }, pool: 'max' }, batchSize: 64 },
  epochs: 2,
  budget: { trials: 50 },
};
const spec = parseExperimentSpec(raw);

const rates: Throughput = {
  backend: 'test',
  train: { perLayer: 1e-3, dense: 1e-9, conv: 2e-9, depthwise: 8e-9, activation: 1e-8 },
  forward: { perLayer: 2e-4, dense: 3e-10, conv: 6e-10, depthwise: 2e-9, activation: 3e-9 },
  perLayerSetup: 2e-3,
};

const archs: Architecture[] = (() => {
  const rng = Rng.seeded(4);
  return Array.from({ length: 30 }, () => spec.compiledSpace.sample(rng));
})();
const trainRows = dataSizeOf(spec.dataset as never)!.train;

/** One training epoch of `arch` as the trainer records it, `factor` × the calibrated prediction. */
function epochRecord(arch: Architecture, factor: number): Record<string, number> {
  const seconds = factor * costModelOf(spec, rates).breakdown(1, arch).train;
  return { epoch_seconds: seconds, samples_per_sec: trainRows / seconds, val_accuracy: 0.9 };
}

let seq = 0;
/** A COMPLETED trial as the store holds it: two epochs at `factor` × the prediction. */
function stored(arch: Architecture, factor: number): Trial {
  seq++;
  return {
    id: `m-t${seq}`,
    experimentId: 'm',
    seq,
    arch,
    hash: spec.compiledSpace.hash(arch),
    state: 'COMPLETED',
    fidelity: 2,
    finishedSeq: seq,
    curve: [1, 2].map((epoch) => ({ epoch, metrics: epochRecord(arch, factor) })),
    createdAt: new Date(0).toISOString(),
  };
}

describe('TrialCostModel', () => {
  it('epochs measured at 3× the calibrated rates triple the training estimate, for architectures it never saw too', () => {
    const model = costModelOf(spec, rates);
    const unseen = archs[29]!;
    const before = model.breakdown(2, unseen);
    model.learnFrom(archs.slice(0, 6).map((a) => stored(a, 3)));
    const after = model.breakdown(2, unseen);
    expect(model.observed.epochs).toBe(12);
    expect(after.train / before.train).toBeGreaterThan(2.7);
    expect(after.train / before.train).toBeLessThan(3.3);
    // Validation and fixed work follow the training ratio until they are measured themselves.
    expect(after.validation / before.validation).toBeCloseTo(3, 6);
  });

  it('recent epochs outweigh older ones: the machine got faster, the estimate follows', () => {
    const model = costModelOf(spec, rates).learnFrom([...archs.slice(0, 10).map((a) => stored(a, 3)), ...archs.slice(10, 18).map((a) => stored(a, 1))]);
    const ratio = model.breakdown(1, archs[29]!).train / costModelOf(spec, rates).breakdown(1, archs[29]!).train;
    expect(ratio).toBeGreaterThan(0.95);
    expect(ratio).toBeLessThan(1.1);
  });

  it('one epoch slowed 100× by something else on the machine does not move the estimate', () => {
    const trials = archs.slice(0, 10).map((a) => stored(a, 2));
    const last = trials[9]!;
    const clean = costModelOf(spec, rates).learnFrom([...trials.slice(0, 9), { ...last, curve: [last.curve![0]!] }]).breakdown(1, archs[29]!).train;
    trials[9] = { ...last, curve: [last.curve![0]!, { epoch: 2, metrics: epochRecord(last.arch, 200) }] };
    expect(costModelOf(spec, rates).learnFrom(trials).breakdown(1, archs[29]!).train).toBe(clean);
    expect(clean / costModelOf(spec, rates).breakdown(1, archs[29]!).train).toBeCloseTo(2, 1);
  });

  it('learns each kind of work apart: convolutions 4× slower and matrix products 2× faster than calibrated, as dense and convolutional nets show', () => {
    const truth = { perLayer: 1, dense: 0.5, conv: 4, depthwise: 1, activation: 4 };
    const truly = (arch: Architecture) => {
      const t = costModelOf(spec, { ...rates, train: Object.fromEntries(Object.entries(rates.train).map(([k, v]) => [k, v * truth[k as keyof typeof truth]])) as never });
      return t.breakdown(1, arch).train;
    };
    const model = costModelOf(spec, rates);
    for (const a of archs.slice(0, 20)) model.observeEpoch(a, { epoch_seconds: truly(a), samples_per_sec: trainRows / truly(a) });
    const common = costModelOf(spec, rates);
    common.learnFrom(archs.slice(0, 20).map((a) => ({ ...stored(a, 1), curve: [{ epoch: 1, metrics: { epoch_seconds: truly(a), samples_per_sec: trainRows / truly(a) } }] })));
    for (const a of archs.slice(20)) {
      expect(model.breakdown(1, a).train / truly(a)).toBeGreaterThan(0.85);
      expect(model.breakdown(1, a).train / truly(a)).toBeLessThan(1.15);
    }
  });

  it('convolutional epochs say little about matrix products: a tiny MLP after conv nets is estimated near its own rate, and its first epoch corrects it', () => {
    // The bench's image space: the probes underrate convolutions 3.5× (as measured on MNIST), dense work runs as calibrated.
    const image = parseExperimentSpec({ ...raw, dataset: { source: 'mnist', fraction: 0.02, validation: 0.02 }, space: { kind: 'chain', depth: { int: [2, 3] }, layer: { type: { choice: ['conv2d', 'sepconv2d', 'dense'] }, width: { choice: [16, 32, 64] }, kernel: { choice: [3, 5] }, pool: 'max' }, batchSize: 64 }, epochs: 1 });
    const truth = { ...rates, train: { ...rates.train, conv: 3.5 * rates.train.conv, depthwise: 3.5 * rates.train.depthwise } };
    const truly = (a: Architecture) => costModelOf(image, truth).breakdown(1, a).train;
    const rng = Rng.seeded(7);
    const sample = Array.from({ length: 300 }, () => image.compiledSpace.sample(rng));
    const mlp = sample.filter((a) => !JSON.stringify(a.values).includes('conv'));
    const conv = sample.filter((a) => Object.entries(a.values).some(([k, v]) => k === 'layers.0.type' && v !== 'dense')).slice(0, 10);
    const model = costModelOf(image, rates);
    const rows = dataSizeOf(image.dataset as never)!.train;
    conv.forEach((a, i) => {
      const s = truly(a) * (1 + 0.1 * Math.sin(i));
      model.observeEpoch(a, { epoch_seconds: s, samples_per_sec: rows / s });
    });
    for (const a of conv.slice(0, 3)) expect(model.breakdown(1, a).train / truly(a)).toBeCloseTo(1, 0);
    const off = (a: Architecture) => model.breakdown(1, a).train / truly(a);
    expect(off(mlp[0]!)).toBeLessThan(2);
    model.observeEpoch(mlp[0]!, { epoch_seconds: truly(mlp[0]!), samples_per_sec: rows / truly(mlp[0]!) });
    for (const a of mlp.slice(1, 6)) expect(Math.abs(Math.log(off(a)))).toBeLessThan(Math.log(1.25));
  });

  it('the machine slows down after the calibration: a few epochs at twice the seconds double the estimate', () => {
    const model = costModelOf(spec, rates);
    const rows = trainRows;
    const epoch = (a: Architecture, factor: number) => {
      const s = factor * costModelOf(spec, rates).breakdown(1, a).train;
      model.observeEpoch(a, { epoch_seconds: s, samples_per_sec: rows / s });
    };
    for (const a of archs.slice(0, 12)) epoch(a, 1);
    for (const a of archs.slice(12, 16)) epoch(a, 2);
    for (const a of archs.slice(20)) expect(model.breakdown(1, a).train / costModelOf(spec, rates).breakdown(1, a).train).toBeGreaterThan(1.6);
  });

  it('finished trials teach the validation passes, the fixed work and the per-trial overhead', () => {
    const model = costModelOf(spec, rates);
    const arch = archs[0]!;
    const before = model.breakdown(2, arch, 2);
    for (let i = 0; i < 5; i++) {
      model.observeTrial({
        arch,
        epochs: 2,
        seconds: before.train + 2 * before.validation + 4 * before.fixed + 0.5 + 1,
        metrics: { eval_seconds: 2 * before.validation, setup_seconds: before.fixed, checkpoint_seconds: before.fixed, final_seconds: 2 * before.fixed, test_accuracy: 0.9, trial_seconds: before.train + 2 * before.validation + 4 * before.fixed + 0.5 },
      });
    }
    const after = model.breakdown(2, arch, 2);
    expect(after.validation / before.validation).toBeCloseTo(2, 6);
    expect(after.fixed / before.fixed).toBeCloseTo(4, 6);
    expect(after.overhead).toBeCloseTo(1, 6);
  });

  it('a low rung does not pay for the test set; the top rung does', () => {
    const asha = parseExperimentSpec({ ...raw, fidelity: { scheduler: 'asha', resource: 'epochs', min: 1, max: 3, eta: 3 } });
    const model = costModelOf(asha, rates);
    const arch = asha.compiledSpace.sample(Rng.seeded(1));
    expect(model.breakdown(2, arch, 3).fixed).toBeGreaterThan(model.breakdown(2, arch, 1).fixed + 0.1);
  });

  it('a Lambda (estimatorFor over the stored trials) estimates what the worker pool (fed epoch by epoch) estimates', () => {
    const trials = archs.slice(0, 8).map((a, i) => ({ ...stored(a, 1 + i / 4), metrics: { eval_seconds: 0.4, setup_seconds: 0.01, checkpoint_seconds: 0.02, final_seconds: 0.3, trial_seconds: 3 }, cost: { reservedHours: 0, reservedDollars: 0, hours: 3.5 / 3600, dollars: 0 } }));
    const pool = costModelOf(spec);
    for (const t of trials) {
      for (const e of t.curve!) pool.observeEpoch(t.arch, e.metrics);
      pool.observeTrial({ arch: t.arch, metrics: t.metrics, seconds: 3.5, epochs: 2 });
    }
    const lambda = estimatorFor(spec, trials);
    for (const a of archs.slice(20)) expect(lambda(2, a, 2)).toBeCloseTo(pool.estimateSeconds(2, a, 2), 9);
    expect(lambda(2)).toBeCloseTo(pool.estimateSeconds(2), 9);
  });

  it('without an architecture (the submit-time check): the cheapest of a seeded sample of the space', () => {
    const model = costModelOf(spec, rates);
    const cheapest = model.estimateSeconds(2);
    const sample = archs.map((a) => model.estimateSeconds(2, a)).sort((x, y) => x - y);
    expect(cheapest).toBeGreaterThan(0);
    expect(cheapest).toBeLessThanOrEqual(sample[Math.floor(sample.length / 4)]!);
    const rng = Rng.seeded(spec.seed);
    expect(cheapest).toBe(Math.min(...Array.from({ length: 16 }, () => model.estimateSeconds(2, spec.compiledSpace.sample(rng)))));
  });

  it('a table costs its simulated seconds per epoch', () => {
    const table = parseExperimentSpec({ name: 't', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0.25 }, space: { kind: 'cell' }, epochs: 200, budget: { trials: 3 } });
    expect(estimatorFor(table, [])(12)).toBe(3);
  });

  it('data it cannot read (a Lambda; the trainer reads the CSV): the conservative prior, then per epoch from whole trials', () => {
    const csv = parseExperimentSpec({ name: 'c', dataset: { source: 'csv', path: '/nonexistent/rows.csv' }, space: { kind: 'chain', depth: 1, layer: { type: 'dense', width: 8 } }, epochs: 30, budget: { minutes: 2 } });
    const arch = csv.compiledSpace.sample(Rng.seeded(1));
    expect(estimatorFor(csv, [])(30, arch)).toBe(30 * INITIAL_SECONDS_PER_EPOCH);
    const done: Trial = { id: 'c-t1', experimentId: 'c', seq: 1, arch, hash: 'h', state: 'COMPLETED', fidelity: 30, finishedSeq: 1, metrics: { val_accuracy: 0.8 }, cost: { reservedHours: 1, reservedDollars: 0, hours: 0.6 / 3600, dollars: 0 }, createdAt: '' };
    expect(estimatorFor(csv, [done])(30, arch)).toBeCloseTo(0.6, 9);
  });

  it('data sizes: MNIST from the split settings, a CSV from its rows and columns', () => {
    expect(dataSizeOf({ source: 'mnist', fraction: 0.1, validation: 0.1 })).toEqual({ train: 5400, validation: 6000, test: 10_000, shape: [28, 28, 1], numClasses: 10 });
    expect(dataSizeOf({ source: 'csv', path: 'examples/tabular.csv', validation: 0.2 })).toMatchObject({ train: 114, validation: 28, shape: [13], numClasses: 3 });
  });
});

describe('fitRates', () => {
  it('recovers the rates that produced exact batch timings', () => {
    const truth = { perLayer: 2e-4, dense: 1e-9, conv: 3e-9, depthwise: 9e-9, activation: 2e-8 };
    const cost = (layers: number, dense: number, conv: number, dw: number, act: number) => ({ layers, denseFlops: dense, convFlops: conv, depthwiseFlops: dw, activations: act, flops: dense + conv + dw, params: 0 });
    const probes = [cost(4, 100, 0, 0, 20), cost(12, 200, 0, 0, 60), cost(4, 5e5, 0, 0, 1000), cost(5, 1e3, 2e6, 0, 8e3), cost(5, 1e3, 2e5, 4e5, 8e3), cost(7, 100, 0, 0, 3e4)];
    const samples = probes.map((c) => ({ work: batchWork(c, 16), seconds: batchWork(c, 16).reduce((s, w, i) => s + w * Object.values(truth)[i]!, 0) }));
    const fitted = fitRates(samples);
    for (const [k, v] of Object.entries(truth)) expect(fitted[k as keyof typeof truth] / v).toBeCloseTo(1, 2);
  });
});

describe('TrialCostModel.calibrate', () => {
  it('measured rates replace the prior', () => {
    const model = new TrialCostModel({ dataset: spec.dataset, space: spec.compiledSpace });
    expect(model.rates.backend).toBe('prior:local');
    model.calibrate(rates);
    expect(model.rates).toBe(rates);
  });
});
