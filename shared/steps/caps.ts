/**
 * The account caps the `scheduler` function checks before it starts an
 * experiment's execution: running experiments, GPUs (worker slots) and the
 * monthly dollar budget. "Not now" (`wait`: retried later) is told apart
 * from "never" (`never`: the spec cannot run under these caps whatever else
 * finishes, so it goes to the dead-letter queue with the reason). A queued
 * experiment whose stop was requested ends STOPPED here.
 *
 * Admission is atomic: an experiment that may start is admitted in the
 * account's admission ledger by a conditional write, and holds its GPUs and
 * its place until it finishes and is released (`releaseAdmission`, by
 * Finalize, the `fail` function, or the scheduler for one that ended
 * before it started). The ledger also keeps the month's released dollars,
 * so no check reads every experiment ever stored.
 */
import { FINISHED_EXPERIMENT_STATES } from '../contract.js';
import { SpecError, StoreBusyError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import { fidelityOf, parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { costModelOf } from './estimate.js';

export interface Caps {
  readonly maxRunningExperiments: number;
  readonly maxGpus: number;
  readonly monthlyBudgetDollars: number;
}

export type CapsVerdict =
  | { readonly verdict: 'start'; readonly slots: readonly number[] }
  | { readonly verdict: 'wait'; readonly reason: string }
  | { readonly verdict: 'never'; readonly reason: string }
  /** Nothing to start: already running or finished (a message delivered twice). */
  | { readonly verdict: 'skip'; readonly reason: string };

/** GPUs (worker slots) a spec asks for. */
export const gpusOf = (spec: Pick<ExperimentSpec, 'parallel'>): number => spec.parallel ?? 1;

/** Dollars of a typical first-rung trial of a spec at the instance price (the search's cost model, before anything ran). */
export function firstTrialDollars(spec: ExperimentSpec): number {
  return (costModelOf(spec).estimateSeconds(fidelityOf(spec).rungs[0] as number) / 3600) * spec.instance.pricePerHour;
}

/** The calendar month (UTC) of an epoch-ms time, `YYYY-MM`. */
export const monthOf = (now: number): string => new Date(now).toISOString().slice(0, 7);

const monthOfIso = (iso: string | undefined) => (iso ?? '').slice(0, 7);

/**
 * Dollars of the experiments started (else created) in the calendar month (UTC)
 * of `now`: spent, plus reserved when `withReserved`. An experiment that runs
 * across a month's end counts in the month it started. Reads what it is given:
 * the AWS handlers pass only the admitted experiments (see `committedDollars`).
 */
export function monthToDateDollars(experiments: readonly Experiment[], now: number, withReserved: boolean): number {
  const month = monthOf(now);
  return experiments.filter((e) => monthOfIso(e.startedAt ?? e.createdAt) === month).reduce((s, e) => s + dollarsOf(e, withReserved), 0);
}

/** An experiment's spent dollars, plus its reserved ones when `withReserved` and its reservations are bounded. */
export function dollarsOf(e: Experiment, withReserved: boolean): number {
  return e.spent.dollars + (withReserved && hasComputeLimit(e) ? e.reserved.dollars : 0);
}

/**
 * Whether an experiment's reservations are bounded by a compute or dollar
 * limit. Without one a trial reserves "unbounded" compute (only the job
 * timeout ends it), which says nothing about what it will cost: such
 * reservations are left out of the month's committed dollars.
 */
function hasComputeLimit(e: Experiment): boolean {
  const b = (e.spec as { budget?: { hours?: unknown; dollars?: unknown } } | null)?.budget;
  return typeof b?.hours === 'number' || typeof b?.dollars === 'number';
}

/** One experiment holding an admission: its GPUs, the month (UTC) it was admitted in, the dollars of its first trial. */
export interface Admitted {
  readonly gpus: number;
  readonly month: string;
  /**
   * Dollars its first trial costs: counted as committed until its own
   * reservations pass them, so two searches admitted in a row cannot both
   * plan on the same last dollars of the month.
   */
  readonly dollars: number;
}

/** The account's admissions, read as one versioned record. */
export interface AdmissionSnapshot {
  /** Changes with every admission and release. */
  readonly version: number;
  /** Experiments admitted and not released yet, by id: the running ones. */
  readonly admitted: Readonly<Record<string, Admitted>>;
  /** Final dollars of released experiments, by the month they were admitted in. */
  readonly releasedDollars: Readonly<Record<string, number>>;
}

/**
 * The account's admission ledger (one item on DynamoDB: `shared/aws/admission.ts`).
 * Admission is optimistic: read the snapshot, decide, and write on condition
 * that nothing changed since — so two schedulers can never both take the
 * last room, whatever their number.
 */
export interface AdmissionLedger {
  read(): Promise<AdmissionSnapshot>;
  /** Admits the experiment if the ledger is still at `version`; false if it changed meanwhile (read again). */
  tryAdmit(version: number, experimentId: string, admitted: Admitted): Promise<boolean>;
  /** Ends the experiment's admission and books its final dollars in its month; a no-op if it holds none. */
  release(experimentId: string, dollars: number): Promise<void>;
}

/**
 * Dollars of the month of `now` over the admitted experiments: those
 * released (final), plus those still admitted (read one by one: at most
 * `maxRunningExperiments` reads, whatever the number of experiments ever
 * stored). `withReserved`: committed rather than spent — reservations count,
 * and an admitted experiment counts at least its first trial (but `self`,
 * the experiment asking, only its own reservations).
 */
export async function committedDollars(store: ExperimentStore, snapshot: AdmissionSnapshot, now: number, withReserved: boolean, self?: string): Promise<number> {
  const month = monthOf(now);
  let total = snapshot.releasedDollars[month] ?? 0;
  for (const [id, a] of Object.entries(snapshot.admitted)) {
    if (a.month !== month) continue;
    const e = await store.getExperiment(id);
    const own = e ? dollarsOf(e, withReserved) : 0;
    total += withReserved && id !== self ? Math.max(own, a.dollars) : own;
  }
  return total;
}

/** How many times an admission is tried again after a concurrent admission or release changed the ledger. */
const ADMIT_ATTEMPTS = 50;

/**
 * The scheduler's decision for a queued experiment: `never` and `skip` from
 * the experiment alone; otherwise the experiment is admitted atomically in
 * the ledger (`start`) while running experiments, GPUs and the month's
 * committed dollars leave room for it, else `wait`. Admitting twice is
 * `start` again (a message delivered twice, a retry after a failed start).
 */
export async function capsCheck(store: ExperimentStore, ledger: AdmissionLedger, experimentId: string, caps: Caps, now: number): Promise<CapsVerdict> {
  const exp = await store.getExperiment(experimentId);
  if (!exp) return { verdict: 'never', reason: `no experiment ${experimentId}` };
  if (exp.state !== 'QUEUED') return { verdict: 'skip', reason: `experiment ${experimentId} is ${exp.state}` };
  if (exp.stopRequestedAt !== undefined) {
    // Stopped while it waited in the queue: it ends here, without an execution.
    await store.updateExperiment(experimentId, { state: 'STOPPED', finishedAt: new Date(now).toISOString(), reason: 'stop requested before it started' }, { states: ['QUEUED'] });
    return { verdict: 'skip', reason: `experiment ${experimentId} was stopped before it started` };
  }
  let spec: ExperimentSpec;
  try {
    spec = parseExperimentSpec(exp.spec);
  } catch (e) {
    if (e instanceof SpecError) return { verdict: 'never', reason: e.message };
    throw e;
  }
  const gpus = gpusOf(spec);
  if (gpus > caps.maxGpus) return { verdict: 'never', reason: `spec.parallel is ${gpus}, above the account's ${caps.maxGpus} GPUs (MAX_GPUS)` };
  const first = firstTrialDollars(spec);
  if (first > caps.monthlyBudgetDollars) return { verdict: 'never', reason: `one trial costs about $${first.toFixed(2)}, above the monthly budget of $${caps.monthlyBudgetDollars} (MONTHLY_BUDGET_DOLLARS)` };

  const start: CapsVerdict = { verdict: 'start', slots: Array.from({ length: gpus }, (_, i) => i) };
  for (let attempt = 0; attempt < ADMIT_ATTEMPTS; attempt++) {
    const snap = await ledger.read();
    if (snap.admitted[exp.id] !== undefined) return start;
    const running = Object.values(snap.admitted);
    if (running.length >= caps.maxRunningExperiments) return { verdict: 'wait', reason: `${running.length} experiments running, the cap is ${caps.maxRunningExperiments}` };
    const busy = running.reduce((n, a) => n + a.gpus, 0);
    if (busy + gpus > caps.maxGpus) return { verdict: 'wait', reason: `${busy} of ${caps.maxGpus} GPUs in use, this search needs ${gpus}` };
    const spent = await committedDollars(store, snap, now, true);
    if (spent + first > caps.monthlyBudgetDollars) return { verdict: 'wait', reason: `$${spent.toFixed(2)} of the $${caps.monthlyBudgetDollars} monthly budget spent or reserved; next month` };
    if (await ledger.tryAdmit(snap.version, exp.id, { gpus, month: monthOf(now), dollars: first })) return start;
  }
  throw new StoreBusyError(`the admission ledger changed ${ADMIT_ATTEMPTS} times while experiment ${experimentId} was being admitted; try again`);
}

/**
 * Ends an experiment's admission once it has finished (COMPLETED, FAILED or
 * STOPPED): its GPUs and its place among the running experiments are free
 * again, its dollars booked in its month. A no-op for an experiment still
 * queued or running, or one that holds no admission.
 */
export async function releaseAdmission(store: ExperimentStore, ledger: AdmissionLedger, experimentId: string): Promise<void> {
  const exp = await store.getExperiment(experimentId);
  if (exp && !(FINISHED_EXPERIMENT_STATES as readonly string[]).includes(exp.state)) return;
  await ledger.release(experimentId, exp ? dollarsOf(exp, true) : 0);
}
