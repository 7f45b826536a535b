/**
 * The trainer entrypoint: trains one trial, as an AWS Batch job in the GPU
 * container or as a local worker process.
 *
 *   node entrypoint.js --trial-id <id>        (or NASFLOW_TRIAL_ID=<id>)
 *
 * Environment: NASFLOW_ARTIFACTS (`s3://bucket/prefix` or a folder; default
 * ./artifacts), NASFLOW_BACKEND (auto | native | wasm | cpu; default auto),
 * NASFLOW_TABLE_TIME_SCALE (table trials: real seconds waited per simulated
 * second; default 0).
 *
 * It reads `trials/<id>/trial.json` from the store (written by the `propose`
 * step: a network to train, or a table trial answered from a NAS-Bench-201
 * table), runs it, and writes `trials/<id>/reports.json` (every epoch),
 * `trials/<id>/result.json` (with the compute seconds of all attempts) and
 * the exported model. Exit codes tell the job queue what to do next:
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { artifactStoreFromUrl, experimentStoreFromEnv } from '../../shared/aws/index.js';
import { epochStep } from '../../shared/steps/epoch.js';
import { ENV, EXIT_INTERRUPTED } from '../../shared/contract.js';
import { trialJobSchema, type TrainJob } from '../../shared/steps/job.js';
import type { SupernetJob } from '../../shared/steps/supernet.js';
import { ArtifactReportSink, continueFromParent, getJson, MemoryArtifactStore, putJson, trialKeys, type ArtifactStore, type EpochReport, type ReportSink } from '../../shared/train/ports.js';
import type { TrialResult, TrialSpec } from '../../shared/train/trainer.js';
import { runTableJob } from './table-job.js';

/** Exit codes. Only `INTERRUPTED` is retryable (AWS Batch: `evaluateOnExit` onExitCode "75" → RETRY). */
export const EXIT = {
  /** The trial trained to its fidelity (or, a table trial, to its reserved time); result and model written. */
  COMPLETED: 0,
  /** The trial FAILED (NaN loss, too large, an error in training); result written; retrying will not help. */
  FAILED: 1,
  /** Bad arguments or a missing/invalid trial: nothing to retry. */
  INVALID: 2,
  /** SIGTERM/SIGINT (spot reclaim): checkpoint written; run again to resume. (EX_TEMPFAIL) */
  INTERRUPTED: EXIT_INTERRUPTED,
} as const;

const Args = z.object({
  trialId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  artifacts: z.string().min(1),
  backend: z.enum(['auto', 'native', 'wasm', 'cpu']),
  timeScale: z.coerce.number().nonnegative(),
});

/** Compute seconds a job's earlier attempts used (kept across spot reclaims, so the budget pays for all of them). */
const usageKey = (id: string) => trialKeys(id).usage;

async function priorSeconds(store: ArtifactStore, id: string): Promise<number> {
  const u = await getJson<{ seconds?: unknown }>(store, usageKey(id)).catch(() => undefined);
  return typeof u?.seconds === 'number' && Number.isFinite(u.seconds) ? u.seconds : 0;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): z.infer<typeof Args> {
  let trialId = env['NASFLOW_TRIAL_ID'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--trial-id') trialId = argv[++i];
    else if (a.startsWith('--trial-id=')) trialId = a.slice('--trial-id='.length);
    else if (!a.startsWith('-') && trialId === undefined) trialId = a;
  }
  return Args.parse({ trialId, artifacts: env[ENV.trainerArtifacts] ?? 'artifacts', backend: env[ENV.trainerBackend] ?? 'auto', timeScale: env['NASFLOW_TABLE_TIME_SCALE'] ?? '0' });
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
}

/**
 * The epoch step over the experiment store (TABLE_EXPERIMENTS, TABLE_TRIALS:
 * on Batch, DynamoDB): each epoch goes to the trial's curve and the
 * scheduler says whether training goes on (median stopping). Without the
 * store (a trainer run on its own), no one is asked and training goes on.
 */
function epochReporter(env: NodeJS.ProcessEnv, experimentId: string | undefined, trialId: string): ((epoch: number, metrics: Readonly<Record<string, number>>) => Promise<'continue' | 'stop'>) | undefined {
  if (!experimentId || !env[ENV.tableExperiments] || !env[ENV.tableTrials]) return undefined;
  const ports = { store: experimentStoreFromEnv(env), artifacts: new MemoryArtifactStore(), now: Date.now };
  return async (epoch, metrics) => {
    try {
      return (await epochStep(ports, { experimentId, trialId, epoch, metrics })).decision;
    } catch (e) {
      // The store not answering costs a decision, not the training.
      log({ event: 'epoch-step-failed', trial: trialId, epoch, error: (e as Error).message });
      return 'continue';
    }
  };
}

/** Runs one trial and returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args: z.infer<typeof Args>;
  try {
    args = parseArgs(argv, env);
  } catch (e) {
    log({ event: 'invalid', error: e instanceof z.ZodError ? z.prettifyError(e) : String(e) });
    return EXIT.INVALID;
  }
  let store: ArtifactStore;
  try {
    store = artifactStoreFromUrl(args.artifacts);
  } catch (e) {
    log({ event: 'invalid', error: (e as Error).message });
    return EXIT.INVALID;
  }
  const keys = trialKeys(args.trialId);
  const trialKey = keys.trial;
  let job: z.infer<typeof trialJobSchema>;
  try {
    const raw = await getJson<unknown>(store, trialKey);
    if (raw === undefined) throw new Error(`${trialKey} not found in ${args.artifacts}`);
    job = trialJobSchema.parse(raw);
    if (job.id !== args.trialId) throw new Error(`${trialKey} holds trial '${job.id}'`);
  } catch (e) {
    log({ event: 'invalid', trial: args.trialId, error: e instanceof z.ZodError ? `${trialKey}: ${z.prettifyError(e)}` : (e as Error).message });
    return EXIT.INVALID;
  }

  const controller = new AbortController();
  const onSignal = (signal: string): void => {
    log({ event: 'signal', signal, trial: job.id });
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const started = Date.now();
  const prior = await priorSeconds(store, job.id);
  const decide = epochReporter(env, job.experimentId, job.id);
  try {
    if (job.kind === 'table') {
      log({ event: 'start', trial: job.id, backend: 'table', fidelity: job.fidelity });
      const result = await runTableJob(job, store, { timeScale: args.timeScale, signal: controller.signal, ...(decide ? { onEpoch: decide } : {}) });
      log({ event: 'end', trial: job.id, status: result.status, reason: result.reason, seconds: result.seconds });
      return result.status === 'INTERRUPTED' ? EXIT.INTERRUPTED : result.status === 'FAILED' ? EXIT.FAILED : EXIT.COMPLETED;
    }
    if (job.kind === 'supernet') return await runSupernet(job, store, args.backend, controller.signal, prior, started);
    const trial = job as TrainJob as unknown as TrialSpec;
    // TensorFlow.js is loaded only for training jobs: a table job starts in half the time.
    const [{ initBackend }, { trainTrial }] = await Promise.all([import('../../shared/backend/index.js'), import('../../shared/train/trainer.js')]);
    const backend = await initBackend(args.backend);
    log({ event: 'start', trial: trial.id, backend: backend.name, epochs: trial.epochs });
    // A promotion continues its parent's checkpoint (unless this job already checkpointed itself).
    if (job.parentId) await continueFromParent(store, trial.id, job.parentId);
    const reports = new ArtifactReportSink(store, `trials/${trial.id}/reports.json`);
    await reports.load();
    // The scheduler's answer to an epoch is read before the next one starts: a stop ends the
    // trial at that epoch's checkpoint, STOPPED (not interrupted: nothing to retry).
    const stopped = new AbortController();
    const sink: ReportSink = {
      report: async (r: EpochReport) => {
        await reports.report(r);
        log({ event: 'epoch', epoch: r.epoch, ...r.metrics });
        if (decide && (await decide(r.epoch, r.metrics)) === 'stop') {
          log({ event: 'stopped', trial: trial.id, epoch: r.epoch });
          stopped.abort();
        }
      },
    };
    let result: TrialResult;
    try {
      result = await trainTrial(trial, { sink, store, backend, signal: AbortSignal.any([controller.signal, stopped.signal]) });
    } catch (e) {
      result = { id: trial.id, status: 'FAILED', reason: `error: ${(e as Error).message}`, epochsCompleted: 0, metrics: {}, backend: backend.name };
    }
    // Interrupted by the scheduler's stop, not by a signal: a trial STOPPED at its last epoch.
    const byScheduler = result.status === 'INTERRUPTED' && stopped.signal.aborted && !controller.signal.aborted;
    const seconds = prior + (Date.now() - started) / 1000;
    if (result.status === 'INTERRUPTED' && !byScheduler) await putJson(store, usageKey(trial.id), { seconds });
    else await putJson(store, keys.result, { ...result, ...(byScheduler ? { status: 'STOPPED', reason: 'stopped by the scheduler' } : {}), seconds });
    log({ event: 'end', trial: trial.id, status: byScheduler ? 'STOPPED' : result.status, reason: byScheduler ? 'stopped by the scheduler' : result.reason, epochs: result.epochsCompleted });
    return result.status === 'COMPLETED' || byScheduler ? EXIT.COMPLETED : result.status === 'INTERRUPTED' ? EXIT.INTERRUPTED : EXIT.FAILED;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** A one-shot search's supernet job (`strategy: oneshot`): resumes from its checkpoint; an interruption is retried as a training job's is. */
async function runSupernet(job: SupernetJob, store: ArtifactStore, backendChoice: z.infer<typeof Args>['backend'], signal: AbortSignal, prior: number, started: number): Promise<number> {
  const [{ initBackend }, { runSupernetJob }] = await Promise.all([import('../../shared/backend/index.js'), import('../../shared/oneshot/job.js')]);
  const backend = await initBackend(backendChoice);
  log({ event: 'start', trial: job.id, backend: backend.name, kind: 'supernet', epochs: job.epochs });
  const reports = new ArtifactReportSink(store, `trials/${job.id}/reports.json`);
  await reports.load();
  const sink: ReportSink = {
    report: async (r: EpochReport) => {
      await reports.report(r);
      log({ event: 'epoch', epoch: r.epoch, ...r.metrics });
    },
  };
  const result = await runSupernetJob(job, { store, backend, sink, signal });
  const seconds = prior + (Date.now() - started) / 1000;
  if (result.status === 'INTERRUPTED') await putJson(store, usageKey(job.id), { seconds });
  else await putJson(store, trialKeys(job.id).result, { ...result, seconds });
  log({ event: 'end', trial: job.id, status: result.status, reason: result.reason, epochs: result.epochsCompleted });
  return result.status === 'COMPLETED' ? EXIT.COMPLETED : result.status === 'INTERRUPTED' ? EXIT.INTERRUPTED : EXIT.FAILED;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e: unknown) => {
      log({ event: 'crash', error: String(e) });
      process.exit(EXIT.FAILED);
    },
  );
}
