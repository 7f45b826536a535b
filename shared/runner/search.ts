/**
 * The local driver of the search steps: worker slots each loop propose →
 * evaluate (epochs reported through the epoch step) → record, then finalize
 * ends the search — the loop the state machine runs on AWS, with the same
 * steps, here over a warm in-process state (`WarmSearch`) under the
 * experiment's lease. The backend (an evaluator) and the clock are injected:
 * the CLI runs worker processes on the real clock, `nasflow bench` the table
 * on a simulated one. Every rule — budget, deadline, stop request, orphans,
 * the end and its reason, the report — is the steps'.
 *
 * A search killed at any moment resumes where it stopped: finished trials
 * are never trained again, the trials its slots held resume from their
 * checkpoints. A search that fails (a strategy that throws, a lost lease)
 * ends FAILED with the reason; `resume` continues it. An interrupted one
 * (`signal`: Ctrl-C, SIGTERM) proposes nothing more, stops its running
 * trials at their next batch with a checkpoint and ends STOPPED, those
 * trials waiting for `resume` (`../steps/interrupt.ts`).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LeaseHeldError, LeaseLostError, NasError } from '../errors.js';
import type { Experiment, Trial } from '../experiment/model.js';
import { parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import { epochStep } from '../steps/epoch.js';
import { finalizeStep } from '../steps/finalize.js';
import { interruptStep, reopenStep } from '../steps/interrupt.js';
import { startEpochOf } from '../steps/inherit.js';
import type { StepPorts } from '../steps/ports.js';
import { proposeStep, specOf, type StepOptions } from '../steps/propose.js';
import { jobKeys } from '../steps/job.js';
import { recordStep } from '../steps/record.js';
import { isSupernetTrial, supernetJobSchema } from '../steps/supernet.js';
import { WarmSearch } from '../steps/warm.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { getJson, MemoryArtifactStore, type ArtifactStore } from '../train/ports.js';
import type { EvalJob, Evaluator, EvalOutcome } from './evaluator.js';

/** What the runner tells a progress display. */
export type RunnerEvent =
  | { readonly type: 'started'; readonly experiment: Experiment; readonly resumed: boolean }
  | { readonly type: 'trial-started'; readonly trial: Trial }
  | { readonly type: 'epoch'; readonly trial: Trial; readonly epoch: number; readonly metrics: Readonly<Record<string, number>> }
  | { readonly type: 'trial-finished'; readonly trial: Trial; readonly experiment: Experiment }
  | { readonly type: 'finished'; readonly experiment: Experiment };

export interface RunnerDeps {
  readonly store: ExperimentStore;
  readonly evaluator: Evaluator;
  /** Concurrent trials (the spec's `parallel`, else this, else 1). */
  readonly workers: number;
  /** Progress; a promise it returns is awaited before the slot goes on (a benchmark may stop the search there). */
  readonly onEvent?: (e: RunnerEvent) => void | Promise<void>;
  /** Lease owner id (default host:pid:random). */
  readonly owner?: string;
  /** The steps' clock, epoch ms (default `Date.now`; the benchmark's simulated clock, whose time the evaluator also waits on). */
  readonly now?: () => number;
  /** Where the steps write trial jobs and the final report (default: in memory). */
  readonly artifacts?: ArtifactStore;
  /** The warm state of the search (default a new one); a caller may read it afterwards (the benchmark's proposal cost). */
  readonly warm?: WarmSearch;
  /**
   * The user interrupts the search (the CLI on SIGINT/SIGTERM; the abort
   * reason, e.g. `interrupted (SIGINT)`, becomes the experiment's reason):
   * nothing new is proposed, running trials stop at their next batch with a
   * checkpoint and are not recorded, and the search ends STOPPED.
   */
  readonly signal?: AbortSignal;
  /** A STOPPED search is continued, its stop request withdrawn (`nasflow resume`); otherwise it is returned as it is. */
  readonly resumeStopped?: boolean;
}

/**
 * The runner's lease on its experiment. One process holds it for the whole
 * search and a holder of this host that died is taken over at once
 * (`deadLocalOwner`), so it can be long: a renewal made late by a starved
 * event loop (2 cores under full training load, a long synchronous step)
 * does not lose it. A holder on another host sharing the store is taken
 * over a minute after it died. (On AWS each step takes its own lease.)
 */
const LEASE_MS = 60_000;

/**
 * Besides the timer (every third of the lease), the main loop renews before
 * each step once the last renewal is this old: a timer waits for the event
 * loop, a step's write does not, and a renewal before it keeps the lease
 * live for the step however long the loop was starved.
 */
const RENEW_BEFORE_STEP_MS = 5_000;

/** Keeps the runner's lease live: `renew` from the timer, `beforeStep` from the main loop. */
class LeaseKeeper {
  private renewedAt = Date.now();
  /** Why the lease is gone (another process took it over), once it is. */
  lost: string | undefined;

  constructor(
    private readonly store: ExperimentStore,
    private readonly experimentId: string,
    private readonly owner: string,
  ) {}

  /** Renews now. An expired lease nobody took is still ours (`renewLease`); one taken over is lost for good. */
  async renew(): Promise<void> {
    try {
      await this.store.renewLease(this.experimentId, this.owner, LEASE_MS);
      this.renewedAt = Date.now();
    } catch (e) {
      if (e instanceof LeaseLostError) this.lost ??= `lost the experiment's lease (${e.message}): another process may run it now`;
      throw e;
    }
  }

  /** Before a step: renewed unless that was done a moment ago; a lease lost is the search's failure. */
  async beforeStep(): Promise<void> {
    if (this.lost !== undefined) throw new NasError(this.lost);
    if (Date.now() - this.renewedAt >= RENEW_BEFORE_STEP_MS) await this.renew();
  }
}

/** True when `owner` names a process on this host that no longer exists. */
function deadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Takes the experiment's lease. A lease left by a process of this host that
 * died (kill -9) is released first: nobody can renew it; a live holder is an error.
 */
async function acquireOrTakeOver(store: ExperimentStore, id: string, owner: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await store.acquireLease(id, owner, LEASE_MS);
      return;
    } catch (e) {
      if (!(e instanceof LeaseHeldError) || !deadLocalOwner(e.holder) || attempt > 3) throw e;
      await store.releaseLease(id, e.holder);
    }
  }
}

/** Runs (or resumes) an experiment until its budget or its space is used up, or a stop is requested; a search that fails ends FAILED. */
export async function runExperiment(experimentId: string, deps: RunnerDeps): Promise<Experiment> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const exp0 = await store.getExperiment(experimentId);
  if (!exp0) throw new NasError(`no experiment ${experimentId}`);
  if (exp0.state === 'COMPLETED' || (exp0.state === 'STOPPED' && deps.resumeStopped !== true)) return exp0;
  await acquireOrTakeOver(store, experimentId, owner);
  const lease = new LeaseKeeper(store, experimentId, owner);
  const renew = setInterval(() => void lease.renew().catch(() => undefined), LEASE_MS / 3);
  renew.unref();
  try {
    // The steps price a wall-clock budget's warm-up on the workers that train at once (StepPorts.slots).
    const slots = specOf(exp0).parallel ?? deps.workers;
    const ports: StepPorts = { store, artifacts: deps.artifacts ?? new MemoryArtifactStore(), now, warm: deps.warm ?? new WarmSearch(experimentId), ...(slots !== undefined ? { slots } : {}) };
    return await drive(ports, experimentId, deps, owner, lease);
  } catch (e) {
    return await failSearch(store, experimentId, owner, e instanceof Error ? e.message : String(e), now);
  } finally {
    clearInterval(renew);
    await store.releaseLease(experimentId, owner).catch(() => undefined);
  }
}

/**
 * Ends a search FAILED with its reason, under its lease: `owner`'s, or taken
 * again if it lapsed and nobody holds it. A search another process has taken
 * over is its to end: it is returned as it is.
 */
export async function failSearch(store: ExperimentStore, id: string, owner: string, reason: string, now: () => number = Date.now): Promise<Experiment> {
  const patch = { state: 'FAILED' as const, reason: `search failed: ${reason}`, finishedAt: new Date(now()).toISOString() };
  try {
    return await store.updateExperiment(id, patch, { leaseOwner: owner });
  } catch {
    try {
      await store.acquireLease(id, owner, LEASE_MS);
    } catch (e) {
      if (e instanceof LeaseHeldError) return (await store.getExperiment(id)) as Experiment;
      throw e;
    }
    try {
      return await store.updateExperiment(id, patch, { leaseOwner: owner });
    } finally {
      await store.releaseLease(id, owner).catch(() => undefined);
    }
  }
}

/** The worker slots' loop, then finalize; generation by generation, as the state machine runs it. */
async function drive(ports: StepPorts, id: string, deps: RunnerDeps, owner: string, lease: LeaseKeeper): Promise<Experiment> {
  const { store } = ports;
  let exp = (await store.getExperiment(id)) as Experiment;
  const spec = parseExperimentSpec(exp.spec);
  const resumed = (await store.countTrials(id)) > 0;
  // A STOPPED search resumes on the user's word only (interrupted, or stopped by request).
  if (exp.state === 'STOPPED') exp = await reopenStep(ports, id, { leaseOwner: owner });
  // A FAILED search resumes (it crashed; nobody asked it to stop); a QUEUED one starts now.
  if (exp.state !== 'RUNNING') exp = await store.updateExperiment(id, { state: 'RUNNING', ...(exp.startedAt ? {} : { startedAt: new Date(ports.now()).toISOString() }) }, { leaseOwner: owner });
  await deps.onEvent?.({ type: 'started', experiment: exp, resumed });
  const workers = spec.parallel ?? deps.workers;
  const slots = Array.from({ length: workers }, (_, i) => i);
  // The local driver has no history limit: it never drains for one.
  // The backend's own estimate (a worker pool's calibrated cost model) prices every reservation.
  const options: StepOptions = { leaseOwner: owner, maxTrialsPerExecution: Infinity, estimateSeconds: (e, a, f) => deps.evaluator.estimateSeconds(e, a, f) };
  let error: unknown;
  const slot = async (index: number, generation: number): Promise<void> => {
    while (error === undefined) {
      // Interrupted: nothing new starts (the trial a slot holds waits, unfinished, for a resume).
      if (deps.signal?.aborted) return;
      await lease.beforeStep();
      const p = await proposeStep(ports, { experimentId: id, slot: index, generation }, options);
      if (p.action === 'done') return;
      const trial = await trialOf(ports, p.trialId);
      await deps.onEvent?.({ type: 'trial-started', trial });
      const outcome = await evaluate(ports, deps, spec, trial, options, lease);
      // Stopped (or its worker ended) by the interrupt: not a result. It stays unfinished, its checkpoint kept, for `resume`.
      if (deps.signal?.aborted && outcome.status !== 'COMPLETED') return;
      await lease.beforeStep();
      await recordStep(ports, { experimentId: id, trialId: trial.id, outcome }, options);
      if (deps.onEvent) await deps.onEvent({ type: 'trial-finished', trial: await trialOf(ports, trial.id), experiment: (await store.getExperiment(id)) as Experiment });
    }
  };
  let generation = (exp.strategyState as { generation?: number } | undefined)?.generation ?? 0;
  for (;;) {
    // A slot that fails lets the others finish their trials (nothing new starts), then the search fails.
    await Promise.all(slots.map((i) => slot(i, generation).catch((e: unknown) => void (error ??= e))));
    if (error !== undefined) throw error;
    if (deps.signal?.aborted) {
      await lease.beforeStep();
      const stopped = await interruptStep(ports, { experimentId: id, reason: interruptReason(deps.signal) }, options);
      await deps.onEvent?.({ type: 'finished', experiment: stopped });
      return stopped;
    }
    await lease.beforeStep();
    const f = await finalizeStep(ports, { experimentId: id, generation, slots }, options);
    if (f.action === 'done') break;
    generation = f.generation;
  }
  const done = (await store.getExperiment(id)) as Experiment;
  await deps.onEvent?.({ type: 'finished', experiment: done });
  return done;
}

/** The experiment's reason for an interrupt: the abort reason when it is a message (`interrupted (SIGINT)`). */
function interruptReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'interrupted';
}

/** A trial as the warm state has it (else as stored: a step that failed dropped the state). */
async function trialOf(ports: StepPorts, id: string): Promise<Trial> {
  return ports.warm?.current?.state.trials.get(id) ?? ((await ports.store.getTrial(id)) as Trial);
}

/** Trains (or answers) one trial on the backend, its epochs through the epoch step; an error is a FAILED outcome. */
async function evaluate(ports: StepPorts, deps: RunnerDeps, spec: ExperimentSpec, trial: Trial, options: StepOptions, lease: LeaseKeeper): Promise<EvalOutcome> {
  const parent = trial.parentId ? await trialOf(ports, trial.parentId) : undefined;
  const reservation = await ports.store.getReservation(trial.id);
  if (deps.signal?.aborted) return { status: 'STOPPED', metrics: {}, reason: interruptReason(deps.signal), backend: 'none', seconds: 0 };
  try {
    const job: EvalJob = {
      trial,
      // Built only if the evaluator reads it (the table evaluator does not).
      get network() {
        return spec.compiledSpace.network(trial.arch);
      },
      startEpoch: startEpochOf(trial, parent),
      ...(parent ? { parent } : {}),
      deadlineSeconds: (reservation?.reserved.hours ?? 0) * 3600,
      ...(isSupernetTrial(trial) ? { supernet: supernetJobSchema.parse(await getJson(ports.artifacts, jobKeys(trial.id).trial)) } : {}),
    };
    return await deps.evaluator.run(
      job,
      {
        ...(deps.signal ? { signal: deps.signal } : {}),
        onEpoch: async (epoch, metrics) => {
          // A lease taken over ends the trial here (nothing more is written); the slot then fails the search.
          if (!(await lease.beforeStep().then(() => true, () => false))) return 'stop';
          const { decision } = await epochStep(ports, { experimentId: trial.experimentId, trialId: trial.id, epoch, metrics }, options);
          const current = ports.warm?.current?.state.trials.get(trial.id) ?? trial;
          await deps.onEvent?.({ type: 'epoch', trial: current, epoch, metrics });
          return decision;
        },
      },
    );
  } catch (e) {
    return { status: 'FAILED', metrics: {}, reason: (e as Error).message, backend: 'unknown', seconds: 0 };
  }
}
