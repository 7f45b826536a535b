/**
 * What passes between the steps and a training job through the artifact
 * store: `trials/<id>/trial.json` (written by `propose`, read by the trainer
 * entrypoint), `trials/<id>/result.json` and `trials/<id>/reports.json`
 * (written by the trainer, read by `record`). Both sides parse with these
 * schemas. Also the names the state machine uses (job and execution names).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Trial } from '../experiment/model.js';
import { trialArtifactKeys } from '../contract.js';
import type { ExperimentSpec } from '../spec/experiment.js';
import { isSupernetTrial, supernetJob, supernetJobSchema } from './supernet.js';

/** Artifact keys of a trial's job (the contract's `trialArtifactKeys`). */
export const jobKeys = trialArtifactKeys;

const finite = z.number().refine(Number.isFinite, 'expected a finite number');

/** A trial answered from a NAS-Bench-201-format table (simulated training). */
export const tableJobSchema = z.object({
  id: z.string().min(1),
  /** The trial's experiment: a trainer with the experiment store reports each epoch through the epoch step. */
  experimentId: z.string().min(1).optional(),
  kind: z.literal('table'),
  /** Trial seq and the experiment seed: the noise stream of a noisy table is seeded by both. */
  seq: z.int().positive(),
  seed: z.int(),
  /** A re-measure (`Trial.replicate`): the seq of the architecture's first measurement and this one's number. */
  replicate: z.object({ of: z.int().positive(), n: z.int().min(2) }).optional(),
  arch: z.unknown(),
  /** The spec's `space` section (a cell space). */
  space: z.unknown(),
  table: z.object({
    path: z.string().min(1),
    metrics: z.record(z.string(), z.string()),
    noisy: z.record(z.string(), z.string()).optional(),
    fidelities: z.record(z.string(), z.record(z.string(), z.string())).optional(),
    secondsPerEpoch: z.number().nonnegative().optional(),
  }),
  fidelity: finite,
  /** Epochs its parent already trained (a promotion simulates only the rest). */
  startEpoch: finite,
  /** Reserved compute seconds; a longer simulated run is STOPPED at this point. Absent: unbounded. */
  deadlineSeconds: z.number().positive().optional(),
});

/** A trial trained by the real trainer (`shared/train/trainer.ts`); the network and data are checked there. */
export const trainJobSchema = z.object({
  id: z.string().min(1),
  /** The trial's experiment: a trainer with the experiment store reports each epoch through the epoch step. */
  experimentId: z.string().min(1).optional(),
  kind: z.literal('train').optional(),
  network: z.looseObject({ kind: z.enum(['chain', 'cell']), training: z.looseObject({}) }),
  data: z.looseObject({ source: z.enum(['mnist', 'fashion-mnist', 'csv', 'idx']) }),
  epochs: z.int().positive(),
  seed: z.int(),
  maxMemoryBytes: z.number().positive().optional(),
  evaluateTest: z.boolean().optional(),
  /** A promotion continues this trial's checkpoint. */
  parentId: z.string().optional(),
  /** Weight inheritance (`Trial.inherit`): start from this trial's weights through a function-preserving transform. */
  inherit: z.object({ parentId: z.string().min(1), transform: z.string(), startEpoch: z.int().nonnegative() }).optional(),
});

export const trialJobSchema = z.union([tableJobSchema, trainJobSchema, supernetJobSchema]);
export type TableJob = z.infer<typeof tableJobSchema>;
export type TrainJob = z.infer<typeof trainJobSchema>;
export type TrialJob = z.infer<typeof trialJobSchema>;

/** What `result.json` holds (the trainer's `TrialResult`, plus the compute seconds it used). */
export const jobResultSchema = z.looseObject({
  status: z.enum(['COMPLETED', 'FAILED', 'STOPPED', 'INTERRUPTED']),
  reason: z.string().optional(),
  metrics: z.record(z.string(), z.number()).default({}),
  backend: z.string().default('unknown'),
  /** Compute seconds the job used, over all its attempts. */
  seconds: z.number().nonnegative().optional(),
  epochsCompleted: z.number().optional(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

/** One epoch report as `reports.json` lists them. */
export const jobReportsSchema = z.array(z.object({ epoch: z.number(), metrics: z.record(z.string(), z.number()) }));

/** The job file of a trial of `spec` (`parent`: the trial a promotion continues). */
export function trialJob(spec: ExperimentSpec, rawSpace: unknown, trial: Trial, parent: Trial | undefined, reservedHours: number | undefined): TrialJob {
  const d = spec.dataset;
  if (d.source === 'table') {
    const seconds = reservedHours === undefined ? undefined : reservedHours * 3600;
    return {
      id: trial.id,
      experimentId: trial.experimentId,
      kind: 'table',
      seq: trial.seq,
      seed: spec.seed,
      ...(trial.replicate ? { replicate: trial.replicate } : {}),
      arch: trial.arch,
      space: rawSpace,
      table: { path: d.path, metrics: d.metrics, ...(d.noisy ? { noisy: d.noisy } : {}), ...(d.fidelities ? { fidelities: d.fidelities } : {}), ...(d.secondsPerEpoch !== undefined ? { secondsPerEpoch: d.secondsPerEpoch } : {}) },
      fidelity: trial.fidelity,
      startEpoch: parent?.fidelity ?? 0,
      ...(seconds !== undefined && seconds > 0 && seconds < 1e9 ? { deadlineSeconds: seconds } : {}),
    };
  }
  if (isSupernetTrial(trial)) return supernetJob(spec, rawSpace, trial);
  // Same seeds as the local worker pool: data split by the spec seed, weights by seed × 100003 + seq.
  return {
    id: trial.id,
    experimentId: trial.experimentId,
    kind: 'train',
    network: spec.compiledSpace.network(trial.arch) as unknown as TrainJob['network'],
    data: { ...d, seed: spec.seed } as TrainJob['data'],
    epochs: trial.fidelity,
    seed: spec.seed * 100003 + trial.seq,
    evaluateTest: true,
    ...(parent ? { parentId: parent.id } : {}),
    ...(trial.inherit ? { inherit: trial.inherit } : {}),
  };
}

/** Batch job names: up to 128 letters, digits, hyphens and underscores. */
export function jobNameOf(trialId: string): string {
  return trialId.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128);
}

/**
 * The execution name of an experiment's generation: `<experimentId>-g<generation>`
 * (so a message delivered twice starts one execution). Step Functions allows
 * 80 characters; a longer id is cut and keeps a hash of the whole.
 */
export function executionNameOf(experimentId: string, generation: number): string {
  const suffix = `-g${generation}`;
  const base = experimentId.replace(/[^A-Za-z0-9_-]/g, '-');
  if (base.length + suffix.length <= 80) return base + suffix;
  const hash = createHash('sha256').update(experimentId).digest('hex').slice(0, 8);
  return `${base.slice(0, 80 - suffix.length - 9)}-${hash}${suffix}`;
}
