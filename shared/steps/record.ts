/**
 * The `record` step: a training job ended; its outcome (from
 * `trials/<id>/result.json`, else from the job's error) goes on the trial,
 * the budget is settled on the compute it used, and the scheduler's decision
 * is stored (earlier undecided trials decided again). Idempotent: a finished
 * trial is never recorded twice — a repeated call returns what was recorded.
 */
import { EXIT_INTERRUPTED } from '../contract.js';
import { NotFoundError } from '../errors.js';
import { FINISHED_STATES, type SchedulerDecision, type Trial, type TrialState } from '../experiment/model.js';
import type { ArtifactStore } from '../train/ports.js';
import { getJson } from '../train/ports.js';
import { jobKeys, jobReportsSchema, jobResultSchema } from './job.js';
import { withExperimentLease, type StepPorts } from './ports.js';
import { loadSearch, type StepOptions } from './propose.js';
import type { TrialOutcome } from '../experiment/outcome.js';

export interface RecordInput {
  readonly experimentId: string;
  readonly trialId: string;
  /** The Batch job's state output (`{ status }`) when it succeeded. */
  readonly job?: { readonly status?: string | undefined } | undefined;
  /** The state machine's Catch output when the job failed: `Cause` is the Batch job description as JSON. */
  readonly jobError?: { readonly Error?: string | undefined; readonly Cause?: string | undefined } | undefined;
  /** The outcome itself, from a driver that ran the trial in-process (its epochs already reported through `epochStep`). */
  readonly outcome?: TrialOutcome;
}

export interface RecordOutput {
  readonly trialId: string;
  readonly state: TrialState;
  readonly decision?: SchedulerDecision;
}

interface BatchAttempt {
  readonly Container?: { readonly ExitCode?: number; readonly Reason?: string };
  readonly StatusReason?: string;
  readonly StartedAt?: number;
  readonly StoppedAt?: number;
}

/** A Batch attempt ended by a spot reclaim or an interrupted trainer. */
function isReclaim(a: BatchAttempt): boolean {
  return (a.StatusReason ?? '').startsWith('Host EC2') || a.Container?.ExitCode === EXIT_INTERRUPTED;
}

/** What a failed job's error says: the reason to record and the compute seconds its attempts used. */
export function describeJobError(jobError: NonNullable<RecordInput['jobError']>): { reason: string; seconds: number } {
  let job: { Status?: string; StatusReason?: string; Attempts?: BatchAttempt[] } | undefined;
  try {
    const parsed = JSON.parse(jobError.Cause ?? '') as unknown;
    if (parsed && typeof parsed === 'object') job = parsed as typeof job;
  } catch {
    job = undefined;
  }
  const attempts = Array.isArray(job?.Attempts) ? job.Attempts : [];
  const seconds = attempts.reduce((s, a) => s + (typeof a.StartedAt === 'number' && typeof a.StoppedAt === 'number' && a.StoppedAt > a.StartedAt ? (a.StoppedAt - a.StartedAt) / 1000 : 0), 0);
  const last = attempts[attempts.length - 1];
  if (last && isReclaim(last)) {
    const why = last.StatusReason?.startsWith('Host EC2') ? last.StatusReason : `trainer exited ${EXIT_INTERRUPTED} (interrupted)`;
    return { reason: `spot reclaim: interrupted on all ${attempts.length} Batch attempt${attempts.length === 1 ? '' : 's'}, retries exhausted (last: ${why})`, seconds };
  }
  if (last) {
    const code = last.Container?.ExitCode;
    return { reason: `Batch job failed: ${last.StatusReason ?? job?.StatusReason ?? 'no reason given'}${code !== undefined ? ` (exit code ${code})` : ''}`, seconds };
  }
  return { reason: `training job failed: ${jobError.Error ?? 'error'}${job?.StatusReason ? `: ${job.StatusReason}` : jobError.Cause ? `: ${jobError.Cause.slice(0, 500)}` : ''}`, seconds };
}

/** The outcome of a trial's job from its result file, else from the job's error or status. */
export async function readOutcome(artifacts: ArtifactStore, trial: Trial, input: Pick<RecordInput, 'job' | 'jobError'>, now: number): Promise<TrialOutcome> {
  const elapsed = trial.startedAt ? Math.max(0, (now - Date.parse(trial.startedAt)) / 1000) : 0;
  let raw: unknown;
  try {
    raw = await getJson<unknown>(artifacts, jobKeys(trial.id).result);
  } catch (e) {
    return { status: 'FAILED', metrics: {}, reason: `result.json is not JSON: ${(e as Error).message}`, backend: 'unknown', seconds: elapsed };
  }
  if (raw !== undefined) {
    const r = jobResultSchema.safeParse(raw);
    if (!r.success) return { status: 'FAILED', metrics: {}, reason: `result.json is invalid: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, backend: 'unknown', seconds: elapsed };
    const res = r.data;
    if (res.status !== 'INTERRUPTED') {
      const seconds = res.seconds ?? res.metrics['train_seconds'] ?? elapsed;
      return { status: res.status, metrics: res.metrics, ...(res.reason ? { reason: res.reason } : {}), backend: res.backend, seconds };
    }
  }
  if (input.jobError) {
    const { reason, seconds } = describeJobError(input.jobError);
    return { status: 'FAILED', metrics: {}, reason, backend: 'unknown', seconds: seconds || elapsed };
  }
  return { status: 'FAILED', metrics: {}, reason: `the training job ended (${input.job?.status ?? 'status unknown'}) without writing ${jobKeys(trial.id).result}`, backend: 'unknown', seconds: elapsed };
}

export async function recordStep(ports: StepPorts, input: RecordInput, options: StepOptions = {}): Promise<RecordOutput> {
  const { store } = ports;
  return withExperimentLease(ports, input.experimentId, options.leaseOwner, async () => {
    const { state } = await loadSearch(ports, input.experimentId, false);
    // The experiment's trials: a trial of another experiment is not found here.
    let trial = state.trials.get(input.trialId);
    if (!trial) throw new NotFoundError('trial', input.trialId);
    if (FINISHED_STATES.includes(trial.state)) return { trialId: trial.id, state: trial.state, ...(trial.decision ? { decision: trial.decision } : {}) };
    const outcome = input.outcome ?? (await readOutcome(ports.artifacts, trial, input, ports.now()));
    if (!input.outcome) {
      // The learning curve the job reported, before the trial is finished (a finished trial's curve is fixed).
      const reports = jobReportsSchema.safeParse((await getJson<unknown>(ports.artifacts, jobKeys(trial.id).reports).catch(() => undefined)) ?? []);
      if (reports.success) for (const r of reports.data) trial = await store.appendEpoch(trial.id, r);
      state.update(trial);
    }
    let reservation = await store.getReservation(trial.id);
    if (!reservation) {
      // Handed over without a reservation cannot happen through `propose`; record it at no reserved cost.
      await store.reserve(input.experimentId, trial.id, { hours: 0, dollars: 0 }, {});
      reservation = await store.getReservation(trial.id);
    }
    const { trial: done } = await state.record(store, trial, outcome, reservation, ports.now);
    return { trialId: done.id, state: done.state, ...(done.decision ? { decision: done.decision } : {}) };
  });
}
