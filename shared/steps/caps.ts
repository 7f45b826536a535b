/**
 * The account caps the `scheduler` function checks before it starts an
 * experiment's execution: running experiments, GPUs (worker slots) and the
 * monthly dollar budget. "Not now" (`wait`: retried later) is told apart
 * from "never" (`never`: the spec cannot run under these caps whatever else
 * finishes, so it goes to the dead-letter queue with the reason). A queued
 * experiment whose stop was requested ends STOPPED here.
 */
import { SpecError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import { parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { INITIAL_SECONDS_PER_EPOCH } from './estimate.js';
import { fidelityOf } from './state.js';

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

/** Dollars of the cheapest trial a spec can start (its first rung at the instance price). */
export function firstTrialDollars(spec: ExperimentSpec): number {
  const d = spec.dataset;
  const perEpoch = d.source === 'table' ? (d.secondsPerEpoch ?? 0.01) : INITIAL_SECONDS_PER_EPOCH;
  return ((perEpoch * (fidelityOf(spec).rungs[0] as number)) / 3600) * spec.instance.pricePerHour;
}

const monthOf = (iso: string | undefined) => (iso ?? '').slice(0, 7);

/**
 * Dollars of the experiments started (else created) in the calendar month (UTC)
 * of `now`: spent, plus reserved when `withReserved`. An experiment that runs
 * across a month's end counts in the month it started.
 */
export function monthToDateDollars(experiments: readonly Experiment[], now: number, withReserved: boolean): number {
  const month = new Date(now).toISOString().slice(0, 7);
  return experiments.filter((e) => monthOf(e.startedAt ?? e.createdAt) === month).reduce((s, e) => s + e.spent.dollars + (withReserved && hasComputeLimit(e) ? e.reserved.dollars : 0), 0);
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

export async function capsCheck(store: ExperimentStore, experimentId: string, caps: Caps, now: number): Promise<CapsVerdict> {
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

  const all = await store.listExperiments();
  const running = all.filter((e) => e.id !== exp.id && (e.state === 'RUNNING' || e.state === 'STOPPING'));
  if (running.length >= caps.maxRunningExperiments) return { verdict: 'wait', reason: `${running.length} experiments running, the cap is ${caps.maxRunningExperiments}` };
  const busy = running.reduce((n, e) => n + gpusOfStored(e), 0);
  if (busy + gpus > caps.maxGpus) return { verdict: 'wait', reason: `${busy} of ${caps.maxGpus} GPUs in use, this search needs ${gpus}` };
  const spent = monthToDateDollars(all, now, true);
  if (spent + first > caps.monthlyBudgetDollars) return { verdict: 'wait', reason: `$${spent.toFixed(2)} of the $${caps.monthlyBudgetDollars} monthly budget spent or reserved; next month` };
  return { verdict: 'start', slots: Array.from({ length: gpus }, (_, i) => i) };
}

function gpusOfStored(e: Experiment): number {
  const p = (e.spec as { parallel?: unknown } | null)?.parallel;
  return typeof p === 'number' && p > 0 ? p : 1;
}
