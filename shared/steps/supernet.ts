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

/** The supernet job of `trial` (same seeds as a training trial: data split by the spec seed). */
export function supernetJob(spec: ExperimentSpec, rawSpace: unknown, trial: Trial): SupernetJob {
  const o = oneshotSettings(typeof spec.strategy === 'object' ? spec.strategy.options : undefined);
  return {
    id: trial.id,
    experimentId: trial.experimentId,
    kind: 'supernet',
    space: rawSpace,
    data: { ...(spec.dataset as SupernetJob['data']), seed: spec.seed, ...(o.dataFraction < 1 ? { fraction: o.dataFraction } : {}) },
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
