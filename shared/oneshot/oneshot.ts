/**
 * One-shot search of a space on a data set, start to finish up to the
 * finalists: build the space's supernet, train it by single-path uniform
 * sampling (resuming from its checkpoint), then run evolution over the
 * candidates' one-shot scores (validation accuracy with the supernet's
 * weights, batch norm recalibrated per candidate). The finalists are then
 * trained alone as ordinary trials by the caller (the `oneshot` strategy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SpecError } from '../errors.js';
import { permutation, type DataSplits, type Dataset } from '../data/dataset.js';
import type { InputSpec } from '../model/build.js';
import { Rng } from '../rng.js';
import type { CellNetwork } from '../space/network.js';
import { CELL_EDGES, CELL_OPS, type CellOp } from '../space/network.js';
import type { Architecture, Space } from '../space/space.js';
import type { ArtifactStore } from '../train/ports.js';
import { CellSupernet, isParameterFree, type CellPath } from './cell-supernet.js';
import { scorePath } from './score.js';
import { evolveOnScores, type Scored } from './search.js';
import type { Supernet } from './supernet.js';
import { trainSupernet, type DeviceSplit } from './train.js';

/** A space's supernet, with how an architecture becomes a path and how paths are drawn. */
export interface SpaceSupernet<P> {
  readonly net: Supernet<P>;
  pathOf(arch: Architecture): P;
  /** A path drawn uniformly: each choice independently uniform over its candidates. */
  sample(rng: Rng): P;
  /** Paths that together take every candidate of every choice once (FairNAS's strict fairness), in random pairings. */
  fairPaths(rng: Rng): P[];
  /** Whether the path is all parameter-free operations (the known one-shot collapse). */
  parameterFree(path: P): boolean;
}

/** The supernet of a cell space: the macro fields (channels, stages, cells per stage) must be fixed. */
export function cellSupernetOf(space: Space, input: InputSpec, seed: number): SpaceSupernet<CellPath> {
  const macroFixed = ['channels', 'stages', 'cellsPerStage'].filter((f) => space.decision(f) !== undefined);
  if (macroFixed.length) {
    throw new SpecError([{ path: `space.${macroFixed[0]}`, message: 'strategy oneshot shares weights within one macro skeleton: channels, stages and cellsPerStage must be fixed values, not decisions' }]);
  }
  const edgeOps: CellOp[][] = CELL_EDGES.map((e) => {
    const d = space.decision(e);
    if (!d) return [space.fixed[e] as CellOp];
    return d.domain.type === 'choice' ? (d.domain.values as CellOp[]) : (CELL_OPS.slice() as CellOp[]);
  });
  const ops = CELL_OPS.filter((op) => edgeOps.some((list) => list.includes(op)));
  const probe = space.network(space.sample(Rng.seeded(seed))) as CellNetwork;
  const net = new CellSupernet({ channels: probe.channels, stages: probe.stages, cellsPerStage: probe.cellsPerStage }, input, ops, seed);
  return {
    net,
    pathOf: (arch) => (space.network(arch) as CellNetwork).ops,
    sample: (rng) => edgeOps.map((list) => list[rng.int(list.length)]!),
    fairPaths: (rng) => {
      const m = Math.max(...edgeOps.map((l) => l.length));
      const perms = edgeOps.map((l) => permutation(m, rng).map((i) => i % l.length));
      return Array.from({ length: m }, (_, k) => edgeOps.map((l, e) => l[perms[e]![k]!]!));
    },
    parameterFree: isParameterFree,
  };
}

/** The supernet of a space (cell spaces; chain spaces are not supported yet). */
export function supernetOf(space: Space, input: InputSpec, seed: number): SpaceSupernet<unknown> {
  if (space.kind !== 'cell') throw new SpecError([{ path: 'strategy', message: 'strategy oneshot supports cell spaces (kind: cell); a chain space has no supernet yet' }]);
  return cellSupernetOf(space, input, seed) as SpaceSupernet<unknown>;
}

/** Path sampling while the supernet trains. */
export type Sampling = 'uniform' | 'fair';

export interface OneShotOptions {
  readonly supernetEpochs: number;
  /** Distinct candidates the evolution scores. */
  readonly candidates: number;
  /** Candidates handed back (best first). */
  readonly finalists: number;
  /** Training batches the batch-norm statistics of a candidate are recalibrated on (default 4). */
  readonly calibrationBatches?: number;
  /**
   * How each batch trains the supernet: `uniform` (SPOS, one path) or `fair`
   * (every candidate op once per batch, gradients summed; as many forward
   * passes per batch as an edge has candidates). Default `uniform`.
   */
  readonly sampling?: Sampling;
  /**
   * Leading supernet epochs trained with FairNAS sampling whatever `sampling`
   * is (every op of every edge trains on every batch, so no convolution
   * starts the uniform phase untrained); counted in `supernetEpochs` (default 0).
   */
  readonly warmupEpochs?: number;
  /** Learning rate over the supernet's epochs: `constant` or `cosine` annealing (default constant). */
  readonly schedule?: 'constant' | 'cosine';
  /** Validation examples a candidate is scored on (default: the whole validation split). */
  readonly scoreExamples?: number;
  readonly seed: number;
}

export interface OneShotEnv {
  readonly checkpoint?: { readonly store: ArtifactStore; readonly key: string };
  readonly signal?: AbortSignal;
  readonly onEpoch?: (epoch: number, loss: number, seconds: number) => Promise<void> | void;
  readonly onProgress?: (scored: number) => Promise<void> | void;
}

export interface OneShotResult {
  /** Best first. */
  readonly finalists: readonly Scored[];
  readonly scored: number;
  readonly epochsDone: number;
  readonly interrupted: boolean;
  readonly supernetSeconds: number;
  readonly searchSeconds: number;
  /** Whether the top candidate is all parameter-free. */
  readonly collapsed: boolean;
}

/**
 * The paths each training batch of an epoch trains: FairNAS's (every
 * candidate of every choice once) in the first `warmupEpochs` epochs and
 * throughout with `fair` sampling; otherwise one uniform path (SPOS).
 */
export function pathsOf<P>(s: SpaceSupernet<P>, sampling: Sampling, warmupEpochs: number): (rng: Rng, epoch: number) => P[] {
  return (rng, epoch) => (sampling === 'fair' || epoch < warmupEpochs ? s.fairPaths(rng) : [s.sample(rng)]);
}

/** A split on the backend (the caller disposes it). */
export function toDevice(ds: Dataset, limit = ds.size): DeviceSplit {
  const n = Math.min(limit, ds.size);
  const per = ds.shape.reduce((a, b) => a * b, 1);
  return { x: tf.tensor(ds.x.subarray(0, n * per), [n, ...ds.shape]), y: tf.tensor1d(ds.y.subarray(0, n), 'int32'), size: n };
}

/** Training batches to recalibrate on: the first `count` batches of the training split. */
export function calibrationBatches(train: DeviceSplit, count: number, batchSize: number): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  for (let i = 0; i < count && i * batchSize < train.size; i++) out.push(tf.slice(train.x, i * batchSize, Math.min(batchSize, train.size - i * batchSize)));
  return out;
}

/**
 * Trains the supernet (continuing its checkpoint) and, unless interrupted,
 * runs the evolution over one-shot scores. Learning rate and batch size are
 * the space's training fields (their values in the first sampled architecture).
 */
export async function runOneShot(space: Space, splits: DataSplits, o: OneShotOptions, env: OneShotEnv = {}): Promise<OneShotResult> {
  const input = { shape: splits.train.shape, numClasses: splits.train.numClasses };
  const s = supernetOf(space, input, o.seed);
  const training = space.network(space.sample(Rng.seeded(o.seed))).training;
  const train = toDevice(splits.train);
  const validation = toDevice(splits.validation, o.scoreExamples);
  const calibration = calibrationBatches(train, o.calibrationBatches ?? 4, Math.max(training.batchSize, 128));
  try {
    const t0 = performance.now();
    const trained = await trainSupernet(s.net, pathsOf(s, o.sampling ?? 'uniform', o.warmupEpochs ?? 0), train, input.numClasses, {
      epochs: o.supernetEpochs,
      batchSize: training.batchSize,
      learningRate: training.learningRate,
      ...(o.schedule ? { schedule: o.schedule } : {}),
      seed: o.seed,
      ...(env.checkpoint ? { checkpoint: env.checkpoint } : {}),
      ...(env.signal ? { signal: env.signal } : {}),
      ...(env.onEpoch ? { onEpoch: env.onEpoch } : {}),
    });
    const supernetSeconds = (performance.now() - t0) / 1000;
    if (trained.interrupted) return { finalists: [], scored: 0, epochsDone: trained.epochsDone, interrupted: true, supernetSeconds, searchSeconds: 0, collapsed: false };
    const t1 = performance.now();
    const all = await evolveOnScores(space, (arch) => scorePath(s.net, s.pathOf(arch), calibration, validation), {
      candidates: o.candidates,
      seed: o.seed + 1,
      ...(env.onProgress ? { onProgress: env.onProgress } : {}),
      ...(env.signal ? { signal: env.signal } : {}),
    });
    // Stopped while scoring: the supernet's checkpoint is whole; a resume trains nothing and scores again.
    if (env.signal?.aborted === true) return { finalists: [], scored: 0, epochsDone: trained.epochsDone, interrupted: true, supernetSeconds, searchSeconds: (performance.now() - t1) / 1000, collapsed: false };
    const finalists = all.slice(0, o.finalists);
    return {
      finalists,
      scored: all.length,
      epochsDone: trained.epochsDone,
      interrupted: false,
      supernetSeconds,
      searchSeconds: (performance.now() - t1) / 1000,
      collapsed: finalists[0] !== undefined && s.parameterFree(s.pathOf(finalists[0].arch)),
    };
  } finally {
    tf.dispose([train.x, train.y, validation.x, validation.y, ...calibration]);
    s.net.dispose();
  }
}
