/**
 * The supernet job kind (`strategy: oneshot`): the job file `propose` writes
 * for the supernet trial, instead of a training job. Every driver runs it
 * through the same function (`runSupernetJob`, `shared/oneshot/job.ts`): the
 * local worker pool, the trainer container on AWS Batch (one job; its
 * checkpoint makes it spot-safe), and tests. Its result carries the
 * finalists, which the `oneshot` strategy proposes as ordinary trials.
 */
import { z } from 'zod';
import type { Trial } from '../experiment/model.js';
import { isSupernetArch } from '../oneshot/finalists.js';
import { oneshotSettings } from '../oneshot/strategy.js';
import { CELL_EDGES, CELL_OPS } from '../space/network.js';
import type { ExperimentSpec } from '../spec/experiment.js';

export { isSupernetArch } from '../oneshot/finalists.js';

/** The job file of a supernet trial. */
export const supernetJobSchema = z.object({
  id: z.string().min(1),
  experimentId: z.string().min(1).optional(),
  kind: z.literal('supernet'),
  /** The spec's `space` section (a cell space). */
  space: z.unknown(),
  /** The data set, its split seed, and the fraction of the training split the supernet trains on. */
  data: z.looseObject({ source: z.enum(['mnist', 'fashion-mnist', 'csv', 'idx']) }),
  epochs: z.int().positive(),
  candidates: z.int().positive(),
  finalists: z.int().positive(),
  /** Path sampling: one uniform path per batch (SPOS) or every op once per batch (FairNAS). Absent: uniform. */
  sampling: z.enum(['uniform', 'fair']).optional(),
  /** Leading epochs (of `epochs`) trained with FairNAS sampling before `sampling` takes over. Absent: 0. */
  warmupEpochs: z.int().min(0).optional(),
  /** Learning rate over the epochs. Absent: constant. */
  schedule: z.enum(['constant', 'cosine']).optional(),
  /** Training batches each candidate's batch norm is recalibrated on. Absent: 4. */
  calibrationBatches: z.int().positive().optional(),
  seed: z.int(),
});
export type SupernetJob = z.infer<typeof supernetJobSchema>;

/** Whether a trial is the supernet trial of a one-shot search. */
export function isSupernetTrial(trial: Pick<Trial, 'arch'>): boolean {
  return isSupernetArch(trial.arch);
}

function settingsOf(spec: ExperimentSpec): ReturnType<typeof oneshotSettings> {
  return oneshotSettings(typeof spec.strategy === 'object' ? spec.strategy.options : undefined);
}

/** The supernet's data: the spec's dataset with the `dataFraction` of its training split. */
function supernetData(spec: ExperimentSpec, o: ReturnType<typeof oneshotSettings>): SupernetJob['data'] {
  return { ...(spec.dataset as SupernetJob['data']), seed: spec.seed, ...(o.dataFraction < 1 ? { fraction: o.dataFraction } : {}) };
}

/** The supernet job of `trial` (same seeds as a training trial: data split by the spec seed). */
export function supernetJob(spec: ExperimentSpec, rawSpace: unknown, trial: Trial): SupernetJob {
  const o = settingsOf(spec);
  return {
    id: trial.id,
    experimentId: trial.experimentId,
    kind: 'supernet',
    space: rawSpace,
    data: supernetData(spec, o),
    epochs: o.supernetEpochs,
    candidates: o.candidates,
    finalists: o.finalists,
    sampling: o.fair === 1 ? 'fair' : 'uniform',
    ...(o.warmupEpochs > 0 ? { warmupEpochs: o.warmupEpochs } : {}),
    ...(o.cosine === 1 ? { schedule: 'cosine' as const } : {}),
    calibrationBatches: o.calibrationBatches,
    seed: spec.seed * 100003 + trial.seq,
  };
}

/**
 * What a supernet job trains and scores, for its cost estimate
 * (`TrialCostModel`): the work `runSupernetJob` does, described without
 * building it.
 */
export interface SupernetWork {
  /** The job's data (its training split is the `dataFraction`). */
  readonly dataset: Exclude<ExperimentSpec['dataset'], { source: 'table' }>;
  /** Supernet epochs in all, and of those the ones that train every op once per batch (FairNAS: `fair: 1`, or the warm-up). */
  readonly epochs: number;
  readonly fairEpochs: number;
  /** Paths a FairNAS batch trains (the most candidates of an edge); a SPOS batch trains one. */
  readonly fairPaths: number;
  /** Training batches (of max(batch size, 128)) each candidate's batch norm is recalibrated on. */
  readonly calibrationBatches: number;
  /** Candidates scored (at most the space's distinct networks): each a recalibration and a validation pass along its path. */
  readonly candidates: number;
}

/** The supernet job's work in a `strategy: oneshot` spec; undefined for any other spec. */
export function supernetWork(spec: ExperimentSpec): SupernetWork | undefined {
  const name = typeof spec.strategy === 'string' ? spec.strategy : spec.strategy.name;
  if (name !== 'oneshot' || spec.dataset.source === 'table') return undefined;
  const o = settingsOf(spec);
  const space = spec.compiledSpace;
  const ops = CELL_EDGES.map((e) => {
    const d = space.decision(e);
    return d === undefined ? 1 : d.domain.type === 'choice' ? d.domain.values.length : CELL_OPS.length;
  });
  return {
    dataset: supernetData(spec, o) as SupernetWork['dataset'],
    epochs: o.supernetEpochs,
    fairEpochs: o.fair === 1 ? o.supernetEpochs : Math.min(o.warmupEpochs, o.supernetEpochs),
    fairPaths: Math.max(1, ...ops),
    calibrationBatches: o.calibrationBatches,
    candidates: Math.min(o.candidates, space.size()),
  };
}
