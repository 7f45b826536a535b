/**
 * The trainer entrypoint: trains one trial, as an AWS Batch job in the GPU
 * container or as a local worker process.
 *
 *   node entrypoint.js --trial-id <id>        (or NASFLOW_TRIAL_ID=<id>)
 *
 * Environment: NASFLOW_ARTIFACTS (artifacts folder; default ./artifacts),
 * NASFLOW_BACKEND (auto | native | wasm | cpu; default auto).
 *
 * It reads `trials/<id>/trial.json` from the store, trains, and writes
 * `trials/<id>/reports.json` (every epoch), `trials/<id>/result.json` and the
 * exported model. Exit codes tell the job queue what to do next:
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { initBackend } from '../../shared/backend/index.js';
import { ArtifactReportSink, FsArtifactStore, getJson, putJson, type EpochReport, type ReportSink } from '../../shared/train/ports.js';
import { trainTrial, trialKeys, type TrialResult, type TrialSpec } from '../../shared/train/trainer.js';

/** Exit codes. Only `INTERRUPTED` is retryable (AWS Batch: `evaluateOnExit` onExitCode "75" → RETRY). */
export const EXIT = {
  /** The trial trained to its fidelity; result and model written. */
  COMPLETED: 0,
  /** The trial FAILED (NaN loss, too large, an error in training); result written; retrying will not help. */
  FAILED: 1,
  /** Bad arguments or a missing/invalid trial: nothing to retry. */
  INVALID: 2,
  /** SIGTERM/SIGINT (spot reclaim): checkpoint written; run again to resume. (EX_TEMPFAIL) */
  INTERRUPTED: 75,
} as const;

const Args = z.object({
  trialId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
  artifacts: z.string().min(1),
  backend: z.enum(['auto', 'native', 'wasm', 'cpu']),
});

/** What trial.json holds; the network and data are checked by the model builder and data loaders. */
const TrialFile = z.object({
  id: z.string(),
  network: z.looseObject({ kind: z.enum(['chain', 'cell']), training: z.looseObject({}) }),
  data: z.looseObject({ source: z.enum(['mnist', 'fashion-mnist', 'csv', 'idx']) }),
  epochs: z.int().positive(),
  seed: z.int(),
  maxMemoryBytes: z.number().positive().optional(),
  evaluateTest: z.boolean().optional(),
});

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): z.infer<typeof Args> {
  let trialId = env['NASFLOW_TRIAL_ID'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--trial-id') trialId = argv[++i];
    else if (a.startsWith('--trial-id=')) trialId = a.slice('--trial-id='.length);
    else if (!a.startsWith('-') && trialId === undefined) trialId = a;
  }
  return Args.parse({ trialId, artifacts: env['NASFLOW_ARTIFACTS'] ?? 'artifacts', backend: env['NASFLOW_BACKEND'] ?? 'auto' });
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
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
  const store = new FsArtifactStore(args.artifacts);
  const keys = trialKeys(args.trialId);
  const trialKey = `trials/${args.trialId}/trial.json`;
  let trial: TrialSpec;
  try {
    const raw = await getJson<unknown>(store, trialKey);
    if (raw === undefined) throw new Error(`${trialKey} not found in ${store.root}`);
    trial = TrialFile.parse(raw) as unknown as TrialSpec;
    if (trial.id !== args.trialId) throw new Error(`${trialKey} holds trial '${trial.id}'`);
  } catch (e) {
    log({ event: 'invalid', trial: args.trialId, error: e instanceof z.ZodError ? `${trialKey}: ${z.prettifyError(e)}` : (e as Error).message });
    return EXIT.INVALID;
  }

  const controller = new AbortController();
  const onSignal = (signal: string): void => {
    log({ event: 'signal', signal, trial: trial.id });
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const backend = await initBackend(args.backend);
    log({ event: 'start', trial: trial.id, backend: backend.name, epochs: trial.epochs });
    const reports = new ArtifactReportSink(store, `trials/${trial.id}/reports.json`);
    await reports.load();
    const sink: ReportSink = {
      report: async (r: EpochReport) => {
        await reports.report(r);
        log({ event: 'epoch', epoch: r.epoch, ...r.metrics });
      },
    };
    let result: TrialResult;
    try {
      result = await trainTrial(trial, { sink, store, backend, signal: controller.signal });
    } catch (e) {
      result = { id: trial.id, status: 'FAILED', reason: `error: ${(e as Error).message}`, epochsCompleted: 0, metrics: {}, backend: backend.name };
    }
    if (result.status !== 'INTERRUPTED') await putJson(store, keys.result, result);
    log({ event: 'end', trial: trial.id, status: result.status, reason: result.reason, epochs: result.epochsCompleted });
    return result.status === 'COMPLETED' ? EXIT.COMPLETED : result.status === 'INTERRUPTED' ? EXIT.INTERRUPTED : EXIT.FAILED;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
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
