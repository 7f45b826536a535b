/**
 * A trial answered from a NAS-Bench-201-format table, as a training job: the
 * same `TableTrialEvaluator` the local runner uses gives the metrics and the
 * simulated training seconds (what the budget is settled on); the job waits
 * those seconds scaled by `timeScale` (0: answer at once), so a table search
 * run through the Batch state behaves like one that trains.
 */
import type { Trial } from '../../shared/experiment/model.js';
import { TableTrialEvaluator } from '../../shared/runner/table-evaluator.js';
import type { Network } from '../../shared/space/network.js';
import { Space } from '../../shared/space/space.js';
import { jobKeys, type JobResult, type TableJob } from '../../shared/steps/job.js';
import { putJson, type ArtifactStore } from '../../shared/train/ports.js';

/** Loaded tables by path, seed and space (a worker process answers many trials from one table). */
const evaluators = new Map<string, TableTrialEvaluator>();

function evaluatorFor(job: TableJob): TableTrialEvaluator {
  const key = JSON.stringify([job.table, job.seed, job.space]);
  let ev = evaluators.get(key);
  if (!ev) {
    ev = new TableTrialEvaluator(job.table, Space.fromSpec(job.space), job.seed, { clock: false });
    evaluators.set(key, ev);
  }
  return ev;
}

export interface TableJobOptions {
  /** Real seconds waited per simulated second (default 0). */
  readonly timeScale?: number;
  /** Aborting ends the wait: the job is INTERRUPTED and writes nothing (run it again). */
  readonly signal?: AbortSignal;
  /** Each epoch as it is reached, and whether the trial goes on (the `epoch` step's decision). */
  readonly onEpoch?: (epoch: number, metrics: Readonly<Record<string, number>>) => Promise<'continue' | 'stop'>;
}

/** Runs a table trial: writes `reports.json` and `result.json` (unless interrupted) and returns the result. */
export async function runTableJob(job: TableJob, artifacts: ArtifactStore, options: TableJobOptions = {}): Promise<JobResult & { id: string }> {
  const ev = evaluatorFor(job);
  const trial = { id: job.id, seq: job.seq, arch: job.arch, fidelity: job.fidelity, ...(job.replicate ? { replicate: job.replicate } : {}) } as unknown as Trial;
  const reports: { epoch: number; metrics: Record<string, number> }[] = [];
  const out = await ev.run(
    { trial, network: undefined as unknown as Network, startEpoch: job.startEpoch, deadlineSeconds: job.deadlineSeconds ?? Infinity },
    {
      onEpoch: async (epoch, metrics) => {
        reports.push({ epoch, metrics: { ...metrics } });
        return (await options.onEpoch?.(epoch, metrics)) ?? 'continue';
      },
    },
  );
  const last = reports[reports.length - 1];
  const wait = out.seconds * (options.timeScale ?? 0) * 1000;
  if (wait > 0) {
    const interrupted = await new Promise<boolean>((resolve) => {
      if (options.signal?.aborted) return resolve(true);
      const timer = setTimeout(() => resolve(false), wait);
      options.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve(true)), { once: true });
    });
    if (interrupted) return { id: job.id, status: 'INTERRUPTED', metrics: {}, backend: 'table', epochsCompleted: job.startEpoch };
  }
  const keys = jobKeys(job.id);
  if (reports.length) await putJson(artifacts, keys.reports, reports);
  const result = {
    id: job.id,
    status: out.status,
    ...(out.reason ? { reason: out.reason } : {}),
    epochsCompleted: last ? last.epoch : job.startEpoch,
    metrics: { ...out.metrics },
    backend: 'table',
    seconds: out.seconds,
  };
  await putJson(artifacts, keys.result, result);
  return result;
}
