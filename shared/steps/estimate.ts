/**
 * The one estimate of what a trial costs, used for the submit-time budget
 * check and for every reservation, locally and in the Lambda steps.
 *
 * A trained trial's seconds = training passes + validation passes + fixed
 * work (build, checkpoints, latency, test set, export) + per-trial overhead,
 * each computed from the data's size, the architecture's FLOPs, activations
 * and layers (`networkCost`, from the description: nothing is built or
 * timed) and a backend's per-kernel rates (`Throughput`): measured on the
 * local worker (`calibrateThroughput`), or a per-instance prior where
 * nothing can be measured (a Lambda). Every finished epoch corrects the
 * training rates (`ThroughputFilter`: a fixed correction per kernel family
 * and a drifting load), every finished trial the other parts (a
 * recent-weighted median of measured / predicted), so the estimate follows
 * the machine it runs on. A table search costs
 * its simulated `secondsPerEpoch` per epoch.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Trial } from '../experiment/model.js';
import { batchSeconds, networkCost, passParts, passSeconds, type NetworkCost, type Throughput } from '../model/network-cost.js';
import { Rng } from '../rng.js';
import type { Network } from '../space/network.js';
import type { Architecture, Space } from '../space/space.js';
import { fidelityOf, type ExperimentSpec } from '../spec/experiment.js';
import { startEpochOf } from './inherit.js';
import { isSupernetArch, supernetWork, type SupernetWork } from './supernet.js';

/**
 * Estimated seconds to train `epochs` more epochs of `arch` in a trial that
 * trains to `fidelity` epochs (default `epochs`: a new trial). Without `arch`:
 * the cheapest of a seeded sample of the space — what the checks that ask
 * "can one trial start at all?" need (the budget at submission, the caps).
 */
export type EstimateSeconds = (epochs: number, arch?: Architecture, fidelity?: number) => number;

/** Seconds per epoch assumed when nothing is known about the data or the model (a trained epoch of a small CNN on MNIST on a CPU). */
export const INITIAL_SECONDS_PER_EPOCH = 30;

/** Batch size of the trainer's evaluation passes (`evaluate` in trainer.ts). */
const EVAL_BATCH = 512;
/** Batch size of a supernet candidate's validation pass (`accuracy` in shared/oneshot/score.ts), and the least of its recalibration batches. */
const SCORE_BATCH = 500;
const CALIBRATION_BATCH = 128;
/** Architectures whose mean prices a supernet's sampled path. */
const PATH_SAMPLE = 64;
/** Batch-1 predictions of the latency measurement (3 warm-up + 15 runs, `measureLatency`). */
const LATENCY_RUNS = 18;
/** Observations a ratio keeps, and how much less each older one weighs than the next. */
const KEEP = 48;
const DECAY = 0.93;

/** Examples per split and one example's shape, as a trial sees them. */
export interface DataSize {
  readonly train: number;
  readonly validation: number;
  readonly test: number;
  readonly shape: readonly number[];
  readonly numClasses: number;
}

type TrainedDataset = Exclude<ExperimentSpec['dataset'], { source: 'table' }>;

function csvRows(path: string): { rows: number; features: number; classes: number } | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const features = lines[0]!.split(',').length - 1;
  // Distinct values of the last column: the classes when the label is the default column.
  const classes = new Set(lines.slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1).trim())).size;
  return { rows: lines.length - 1, features, classes };
}

function idxHeader(path: string): number[] | undefined {
  if (!existsSync(path)) return undefined;
  const b = readFileSync(path).subarray(0, 4 + 4 * 8);
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) return undefined;
  const rank = b[3] as number;
  return Array.from({ length: rank }, (_, i) => b.readUInt32BE(4 + 4 * i));
}

/**
 * The data's sizes from the spec: fixed for MNIST and Fashion-MNIST, read
 * from the files for CSV and IDX. Undefined when the files are not here
 * (a Lambda: the trainer reads them), then the measured epochs tell.
 */
export function dataSizeOf(d: TrainedDataset): DataSize | undefined {
  let all: number;
  let test = 0;
  let shape: number[];
  let numClasses = 10;
  if (d.source === 'mnist' || d.source === 'fashion-mnist') {
    all = 60_000;
    test = 10_000;
    shape = [28, 28, 1];
  } else if (d.source === 'csv') {
    const main = csvRows(d.path);
    if (!main) return undefined;
    all = main.rows;
    shape = [main.features];
    numClasses = Math.max(2, main.classes);
    test = d.testPath !== undefined ? (csvRows(d.testPath)?.rows ?? 0) : 0;
  } else {
    const dims = idxHeader(d.images);
    if (!dims || dims.length < 2) return undefined;
    all = dims[0]!;
    shape = dims.length === 3 ? [dims[1]!, dims[2]!, 1] : dims.slice(1);
    test = d.testImages !== undefined ? (idxHeader(d.testImages)?.[0] ?? 0) : 0;
  }
  const validation = Math.max(1, Math.round(all * (d.validation ?? 0.1)));
  const train = Math.max(1, Math.round((all - validation) * (d.fraction ?? 1)));
  return { train, validation, test, shape, numClasses };
}

/**
 * Rates assumed before anything is measured, by instance family: GPU
 * instances (tfjs-node-gpu on AWS Batch) and anything else (a CPU running
 * WebAssembly). Deliberately slow — an estimate that is too high reserves
 * too much for the first trials; one that is too low stops them at their
 * reservation — and replaced by measurements after the first epoch.
 */
export function priorThroughput(instanceType: string): Throughput {
  if (/^(g4|g5|g6|p3|p4|p5)/.test(instanceType)) {
    return {
      backend: `prior:${instanceType}`,
      train: { perLayer: 5e-4, dense: 2e-12, conv: 2e-12, depthwise: 2e-11, activation: 2e-10 },
      forward: { perLayer: 1.5e-4, dense: 1e-12, conv: 1e-12, depthwise: 1e-11, activation: 1e-10 },
      perLayerSetup: 5e-3,
    };
  }
  // About twice what calibrateThroughput measured for the wasm backend on a shared 2-core x86 server.
  return {
    backend: `prior:${instanceType}`,
    train: { perLayer: 2e-3, dense: 1.5e-9, conv: 1.5e-9, depthwise: 2e-8, activation: 6e-8 },
    forward: { perLayer: 5e-4, dense: 3e-10, conv: 1.5e-10, depthwise: 2.5e-9, activation: 3e-8 },
    perLayerSetup: 3e-3,
  };
}

/** The last `KEEP` values (measured / predicted ratios, or seconds), summarised by a recent-weighted median. */
class RecentMedian {
  private readonly values: number[] = [];
  add(value: number): void {
    if (!(value >= 0 && Number.isFinite(value))) return;
    this.values.unshift(value);
    if (this.values.length > KEEP) this.values.pop();
  }
  /** Adds measured / predicted. */
  ratio(measured: number, predicted: number): void {
    if (measured > 0 && predicted > 0) this.add(measured / predicted);
  }
  get size(): number {
    return this.values.length;
  }
  /** The weighted median (weight DECAY^age), or `fallback` with nothing observed. */
  value(fallback = 1): number {
    if (!this.values.length) return fallback;
    const w = this.values.map((v, age) => ({ v, w: DECAY ** age })).sort((a, b) => a.v - b.v);
    const half = w.reduce((s, x) => s + x.w, 0) / 2;
    let acc = 0;
    for (const x of w) {
      acc += x.w;
      if (acc >= half) return x.v;
    }
    return w[w.length - 1]!.v;
  }
}

/**
 * Standard deviations, in log space, of the training-throughput model
 * (`ThroughputFilter`): one epoch's seconds about what the model expects
 * (timer, other work on the machine); a kernel family's real rate about its
 * calibrated one (the probes are not the search's networks: about e^±1), as
 * a part all families share (the backend runs real networks slower or
 * faster than the probes) and a larger part of its own; the
 * machine's speed at the first epoch against the calibration's (measured a
 * moment before, on the same worker); and how far that speed may drift from
 * one epoch to the next (other jobs come and go).
 */
const EPOCH_NOISE = 0.25;
const FAMILY_SHARED = 0.5;
const FAMILY_OWN = 0.85;
const LOAD_PRIOR = 0.1;
const LOAD_DRIFT = 0.15;
/** An epoch this many predictive standard deviations off is set aside (something else slowed it), unless the next one is too (the machine changed). */
const GATE = 3;

/**
 * What a training epoch costs on this worker: measured seconds = load ×
 * Σ_k correction_k × calibrated seconds of kernel family k (per-layer
 * dispatch, matrix products, convolutions, depthwise convolutions,
 * element-wise layers). The corrections are fixed (how the backend runs real
 * networks unlike the probes); the load drifts (a random walk). Both are
 * tracked by an iterated extended Kalman filter in log space, one epoch at a
 * time. An epoch updates each family by its share of the epoch's time and its
 * uncertainty, so convolutional epochs say little about matrix products and
 * the first dense net's epoch corrects them at once; a rise in speed or
 * slowness shared by every family is the load, which follows the recent
 * epochs.
 */
class ThroughputFilter {
  /** [log load, log correction of each family]. */
  private x: number[];
  private P: number[][];
  private gated = false;

  constructor(families: number) {
    const n = families + 1;
    this.x = new Array<number>(n).fill(0);
    const prior = (i: number, j: number) => (i === 0 || j === 0 ? (i === j ? LOAD_PRIOR ** 2 : 0) : FAMILY_SHARED ** 2 + (i === j ? FAMILY_OWN ** 2 : 0));
    this.P = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => prior(i, j)));
  }

  /** Training seconds of an epoch whose calibrated seconds by family are `parts`. */
  predict(parts: readonly number[], x = this.x): number {
    return Math.exp(x[0]!) * parts.reduce((s, p, k) => s + p * Math.exp(x[k + 1]!), 0);
  }

  observe(parts: readonly number[], measured: number): void {
    if (!(measured > 0) || !(this.predict(parts) > 0)) return;
    const n = this.x.length;
    this.P[0]![0]! += LOAD_DRIFT ** 2;
    const prior = this.x;
    let x = prior;
    let gain: number[] = [];
    let PH: number[] = [];
    for (let iteration = 0; iteration < 4; iteration++) {
      const h = this.predict(parts, x);
      const H = [1, ...parts.map((p, k) => (p * Math.exp(x[0]! + x[k + 1]!)) / h)];
      PH = this.P.map((row) => row.reduce((s, v, j) => s + v * H[j]!, 0));
      const S = H.reduce((s, v, i) => s + v * PH[i]!, 0) + EPOCH_NOISE ** 2;
      const innovation = Math.log(measured) - Math.log(h) - H.reduce((s, v, i) => s + v * (prior[i]! - x[i]!), 0);
      if (iteration === 0 && Math.abs(innovation) > GATE * Math.sqrt(S)) {
        if (!this.gated) {
          this.gated = true;
          this.P[0]![0]! -= LOAD_DRIFT ** 2;
          return;
        }
        // The second epoch in a row this far off: the machine's speed changed; let the load jump.
        this.P[0]![0]! += innovation ** 2;
        iteration--;
        this.gated = false;
        continue;
      }
      gain = PH.map((v) => v / S);
      x = prior.map((v, i) => v + gain[i]! * innovation);
    }
    this.gated = false;
    this.x = x;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) this.P[i]![j]! -= gain[i]! * PH[j]!;
  }
}

/** What an estimate is made from: the spec's dataset, space and instance, or the parts a worker pool has. */
export interface CostModelInput {
  readonly dataset: ExperimentSpec['dataset'];
  /** Without a space, estimates are per epoch, learned from whole trials. */
  readonly space?: Space;
  /** The top fidelity: only trials that reach it evaluate the test set. */
  readonly finalEpochs?: number;
  /** Picks the prior rates (`priorThroughput`) until calibrated; default `local`. */
  readonly instanceType?: string;
  /** Seeds the sample of typical architectures. */
  readonly seed?: number;
  /** A one-shot search's supernet job (`supernetWork`): its trial is priced from this work, not as one network. */
  readonly supernet?: SupernetWork;
}

/** The parts of a trial's estimate, in seconds. */
export interface CostBreakdown {
  readonly train: number;
  readonly validation: number;
  readonly fixed: number;
  readonly overhead: number;
  readonly total: number;
}

/** A finished training run of one trial, as a worker or the store reports it. */
export interface TrialRun {
  readonly arch: Architecture;
  /** The trainer's final metrics (eval_seconds, setup_seconds, checkpoint_seconds, final_seconds, trial_seconds, test_accuracy). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Compute seconds the run was charged (what its cost is settled on). */
  readonly seconds: number;
  /** Epochs it trained (a promotion: past its parent's). */
  readonly epochs: number;
}

/**
 * The learning cost estimator (see the module comment). One per search:
 * the worker pool feeds it each epoch and trial it runs; a Lambda builds one
 * from the stored trials (`learnFrom`).
 */
export class TrialCostModel {
  private throughput: Throughput;
  private readonly data: DataSize | undefined;
  private readonly costs = new Map<string, { cost: NetworkCost; net: Network } | null>();
  private readonly trainRatio = new RecentMedian();
  private readonly training = new ThroughputFilter(5);
  private readonly evalRatio = new RecentMedian();
  private readonly fixedRatio = new RecentMedian();
  /** Seconds a run is charged beyond the trainer's own clock (process messages, loading the data). */
  private readonly overhead = new RecentMedian();
  /** Whole-trial seconds per epoch, for estimates without a model of the network. */
  private readonly perEpoch = new RecentMedian();
  private sample: Architecture[] | undefined;
  private paths: Array<{ cost: NetworkCost; net: Network }> | undefined;

  constructor(
    private readonly input: CostModelInput,
    throughput?: Throughput,
  ) {
    this.throughput = throughput ?? priorThroughput(input.instanceType ?? 'local');
    this.data = input.dataset.source === 'table' ? undefined : dataSizeOf(input.dataset);
  }

  /** The rates in use: measured (`calibrate`) or the prior. */
  get rates(): Throughput {
    return this.throughput;
  }

  /** Replaces the prior by rates measured on this worker's backend. */
  calibrate(throughput: Throughput): void {
    this.throughput = throughput;
  }

  private costOf(arch: Architecture): { cost: NetworkCost; net: Network } | undefined {
    const space = this.input.space;
    if (!space || !this.data) return undefined;
    const key = space.hash(arch);
    let hit = this.costs.get(key);
    if (hit === undefined) {
      try {
        const net = space.network(arch);
        hit = { cost: networkCost(net, { shape: this.data.shape, numClasses: this.data.numClasses }), net };
      } catch {
        hit = null; // not a network of this data: the trial fails at once
      }
      if (this.costs.size > 4096) this.costs.clear();
      this.costs.set(key, hit);
    }
    return hit ?? undefined;
  }

  /** Building, exporting and each epoch's checkpoint (they scale with the layers), and the latency runs (batch-1 predictions). */
  private setupSeconds(cost: NetworkCost, epochs: number): number {
    return (2 + epochs) * this.throughput.perLayerSetup * cost.layers + LATENCY_RUNS * batchSeconds(cost, 1, this.throughput.forward);
  }

  /** The test set's pass (a forward pass like validation's, so it takes the validation ratio), at the top rung only. */
  private testSeconds(cost: NetworkCost, withTest: boolean): number {
    return withTest && this.data ? passSeconds(cost, this.data.test, EVAL_BATCH, this.throughput.forward) * this.evalRatio.value(this.trainRatio.value()) : 0;
  }

  /** The estimate in parts (all in `train` for a table, or when the network cannot be modelled: then per epoch, learned from whole trials). */
  breakdown(epochs: number, arch?: Architecture, fidelity = epochs): CostBreakdown {
    const d = this.input.dataset;
    if (d.source === 'table') {
      const total = epochs * (d.secondsPerEpoch ?? 0.01);
      return { train: total, validation: 0, fixed: 0, overhead: 0, total };
    }
    if (epochs <= 0) return { train: 0, validation: 0, fixed: 0, overhead: 0, total: 0 };
    if (arch !== undefined && this.input.supernet && isSupernetArch(arch)) return this.supernetBreakdown(this.input.supernet, Math.min(1, epochs / fidelity));
    const c = arch === undefined ? undefined : this.costOf(arch);
    if (arch === undefined && this.input.space && this.data) return this.cheapestBreakdown(epochs, fidelity);
    if (!c || !this.data) {
      const total = epochs * this.perEpoch.value(INITIAL_SECONDS_PER_EPOCH);
      return { train: total, validation: 0, fixed: 0, overhead: 0, total };
    }
    const t = this.throughput;
    const train = epochs * this.training.predict(passParts(c.cost, this.data.train, c.net.training.batchSize, t.train));
    // Validation and fixed work take the training ratio until they were measured themselves.
    const validation = epochs * passSeconds(c.cost, this.data.validation, EVAL_BATCH, t.forward) * this.evalRatio.value(this.trainRatio.value());
    const withTest = this.input.finalEpochs === undefined || fidelity >= this.input.finalEpochs;
    const fixed = this.setupSeconds(c.cost, epochs) * this.fixedRatio.value(this.trainRatio.value()) + this.testSeconds(c.cost, withTest);
    const overhead = this.overhead.value(0);
    return { train, validation, fixed, overhead, total: train + validation + fixed + overhead };
  }

  /** The cheapest estimate over a seeded sample of the space (before an architecture is chosen). */
  private cheapestBreakdown(epochs: number, fidelity: number): CostBreakdown {
    const space = this.input.space as Space;
    if (!this.sample) {
      const rng = Rng.seeded(this.input.seed ?? 0);
      this.sample = Array.from({ length: 16 }, () => space.sample(rng));
    }
    const all = this.sample.map((a) => this.breakdown(epochs, a, fidelity)).sort((a, b) => a.total - b.total);
    return all[0]!;
  }

  /**
   * A supernet job, priced from the work it does rather than as the one
   * network its trial's architecture names: `epochs` passes over its data
   * fraction where each batch trains one uniformly sampled path (SPOS; a
   * FairNAS epoch trains `fairPaths` paths per batch), at the mean training
   * cost of a path (a uniform path is a uniform architecture of the space:
   * the mean over a seeded sample of them); then the scoring, forward only:
   * per candidate its recalibration batches and a validation pass along its
   * path; and a checkpoint of every op's weights per epoch. `share`: the
   * part of its training still to do (a resumed job scores in full).
   */
  private supernetBreakdown(w: SupernetWork, share: number): CostBreakdown {
    const pathEpochs = share * (w.epochs - w.fairEpochs + w.fairEpochs * w.fairPaths);
    const data = dataSizeOf(w.dataset);
    const space = this.input.space;
    if (!data || !space) {
      const total = pathEpochs * this.perEpoch.value(INITIAL_SECONDS_PER_EPOCH);
      return { train: total, validation: 0, fixed: 0, overhead: 0, total };
    }
    if (!this.paths) {
      const rng = Rng.seeded((this.input.seed ?? 0) + 1);
      this.paths = [];
      for (let i = 0; i < PATH_SAMPLE; i++) {
        const c = this.costOf(space.sample(rng));
        if (c) this.paths.push(c);
      }
    }
    const mean = (f: (c: { cost: NetworkCost; net: Network }) => number): number => (this.paths!.length ? this.paths!.reduce((s, c) => s + f(c), 0) / this.paths!.length : 0);
    const t = this.throughput;
    const train = pathEpochs * mean((c) => this.training.predict(passParts(c.cost, data.train, c.net.training.batchSize, t.train)));
    const scoreOne = mean((c) => {
      const batch = Math.max(c.net.training.batchSize, CALIBRATION_BATCH);
      return passSeconds(c.cost, Math.min(w.calibrationBatches * batch, data.train), batch, t.forward) + passSeconds(c.cost, data.validation, SCORE_BATCH, t.forward);
    });
    const validation = w.candidates * scoreOne * this.evalRatio.value(this.trainRatio.value());
    // The supernet holds about `fairPaths` paths' layers: built once, checkpointed every epoch.
    const fixed = (1 + share * w.epochs) * t.perLayerSetup * w.fairPaths * mean((c) => c.cost.layers) * this.fixedRatio.value(this.trainRatio.value());
    const overhead = this.overhead.value(0);
    return { train, validation, fixed, overhead, total: train + validation + fixed + overhead };
  }

  /** See `EstimateSeconds`. */
  readonly estimateSeconds: EstimateSeconds = (epochs, arch, fidelity) => this.breakdown(epochs, arch, fidelity).total;

  /** One finished epoch of `arch` (its `epoch_seconds` and `samples_per_sec` as the trainer reports them). */
  observeEpoch(arch: Architecture, metrics: Readonly<Record<string, number>>): void {
    // A supernet epoch is no epoch of the network its trial's architecture names.
    if (isSupernetArch(arch)) return;
    const seconds = metrics['epoch_seconds'];
    const c = this.costOf(arch);
    if (seconds === undefined || !c || !this.data) return;
    const rate = metrics['samples_per_sec'];
    const seen = rate !== undefined && rate > 0 ? Math.round(rate * seconds) : this.data.train;
    const parts = passParts(c.cost, seen, c.net.training.batchSize, this.throughput.train);
    this.trainRatio.ratio(seconds, parts.reduce((a, b) => a + b, 0));
    this.training.observe(parts, seconds);
  }

  /** One finished (COMPLETED) run: refines validation, fixed work and overhead, and the per-epoch fallback. */
  observeTrial(run: TrialRun): void {
    if (isSupernetArch(run.arch)) return;
    if (run.epochs > 0) this.perEpoch.add(run.seconds / run.epochs);
    const c = this.costOf(run.arch);
    if (!c || !this.data) return;
    const m = run.metrics;
    const evalSeconds = m['eval_seconds'];
    if (evalSeconds !== undefined && run.epochs > 0) this.evalRatio.ratio(evalSeconds, run.epochs * passSeconds(c.cost, this.data.validation, EVAL_BATCH, this.throughput.forward));
    const fixed = (m['setup_seconds'] ?? 0) + (m['checkpoint_seconds'] ?? 0) + (m['final_seconds'] ?? 0);
    if (m['final_seconds'] !== undefined) this.fixedRatio.ratio(fixed - this.testSeconds(c.cost, m['test_accuracy'] !== undefined), this.setupSeconds(c.cost, run.epochs));
    const own = m['trial_seconds'];
    if (own !== undefined) this.overhead.add(Math.max(0, run.seconds - own));
  }

  /**
   * Learns from the stored trials (a cold Lambda): every recorded epoch, and
   * every COMPLETED trial's final metrics and settled seconds, oldest first.
   */
  learnFrom(trials: readonly Trial[]): this {
    const byId = new Map(trials.map((t) => [t.id, t]));
    const order = [...trials].sort((a, b) => (a.finishedSeq ?? Infinity) - (b.finishedSeq ?? Infinity) || a.seq - b.seq);
    for (const t of order) {
      for (const e of t.curve ?? []) this.observeEpoch(t.arch, e.metrics);
      if (t.state !== 'COMPLETED' || t.cost?.hours === undefined || !t.metrics) continue;
      const parent = t.parentId ? byId.get(t.parentId) : undefined;
      this.observeTrial({ arch: t.arch, metrics: t.metrics, seconds: t.cost.hours * 3600, epochs: t.fidelity - startEpochOf(t, parent) });
    }
    return this;
  }

  /** Observations so far, by kind (for reports and tests). */
  get observed(): { epochs: number; trials: number } {
    return { epochs: this.trainRatio.size, trials: this.perEpoch.size };
  }
}

/** The cost model of a spec, at the prior rates of its instance. */
export function costModelOf(spec: ExperimentSpec, throughput?: Throughput): TrialCostModel {
  const rungs = fidelityOf(spec).rungs;
  const supernet = supernetWork(spec);
  return new TrialCostModel({ dataset: spec.dataset, space: spec.compiledSpace, finalEpochs: Math.max(...rungs), instanceType: spec.instance.type, seed: spec.seed, ...(supernet ? { supernet } : {}) }, throughput);
}

/** `estimateSeconds` for the steps: the spec's cost model, taught by the stored trials. */
export function estimatorFor(spec: ExperimentSpec, trials: readonly Trial[]): EstimateSeconds {
  return costModelOf(spec).learnFrom(trials).estimateSeconds;
}
