/**
 * One search, step by step: submit → repeat [propose → train → record →
 * decide] → finalize. Each step reads what it needs from the store and
 * writes what it decided, so a search killed at any moment resumes where it
 * stopped: finished trials are never trained again, trials that were
 * running resume from their checkpoints, and the budget ledger never lets
 * reserved plus spent exceed a limit.
 *
 * Workers are asynchronous: whenever a slot is free the scheduler says what
 * to run next (a new architecture from the strategy, told which trials are
 * pending, or a promotion) and it starts at once.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LeaseHeldError, NasError } from '../errors.js';
import { FINISHED_STATES, type Experiment, type Trial } from '../experiment/model.js';
import { parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';
import { repairFinished, SearchState } from '../steps/state.js';
import type { Evaluator, EvalOutcome } from './evaluator.js';

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
  readonly onEvent?: (e: RunnerEvent) => void;
  /** Lease owner id (default host:pid:random). */
  readonly owner?: string;
  readonly now?: () => number;
}

const LEASE_MS = 10_000;

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
 * died (kill -9) is waited out (at most its TTL); a live holder is an error.
 */
async function acquireOrTakeOver(store: ExperimentStore, id: string, owner: string, now: () => number): Promise<void> {
  for (;;) {
    try {
      await store.acquireLease(id, owner, LEASE_MS);
      return;
    } catch (e) {
      if (!(e instanceof LeaseHeldError) || !deadLocalOwner(e.holder)) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, e.expiresAt - now() + 20))));
    }
  }
}

/** Runs (or resumes) an experiment until its budget or its space is used up, or a stop is requested. */
export async function runExperiment(experimentId: string, deps: RunnerDeps): Promise<Experiment> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const exp0 = await store.getExperiment(experimentId);
  if (!exp0) throw new NasError(`no experiment ${experimentId}`);
  const spec = parseExperimentSpec(exp0.spec);
  await acquireOrTakeOver(store, experimentId, owner, now);
  const renew = setInterval(() => void store.renewLease(experimentId, owner, LEASE_MS).catch(() => undefined), LEASE_MS / 3);
  renew.unref();
  try {
    return await new Search(experimentId, spec, deps, owner, now).run();
  } finally {
    clearInterval(renew);
    await store.releaseLease(experimentId, owner).catch(() => undefined);
  }
}

/**
 * The local driver of the search steps: it keeps one `SearchState` in memory
 * for the whole run (the state-machine path rebuilds it per call) and owns
 * the worker slots, the evaluator and the clock.
 */
class Search {
  private readonly store: ExperimentStore;
  private readonly evaluator: Evaluator;
  private state!: SearchState;
  private readonly running = new Map<string, Promise<void>>();
  private readonly deadline: number | undefined;
  private readonly workers: number;
  private budgetFull = false;
  private stopRequested = false;

  constructor(
    private readonly id: string,
    private readonly spec: ExperimentSpec,
    private readonly deps: RunnerDeps,
    private readonly owner: string,
    private readonly now: () => number,
  ) {
    this.store = deps.store;
    this.evaluator = deps.evaluator;
    const b = spec.budget;
    this.workers = spec.parallel ?? deps.workers;
    this.deadline = b.minutes !== undefined ? now() + b.minutes * 60_000 : undefined;
  }

  async run(): Promise<Experiment> {
    let exp = (await this.store.getExperiment(this.id)) as Experiment;
    let all = await this.allTrials();
    const resumed = all.length > 0;
    if (exp.state === 'COMPLETED' || exp.state === 'STOPPED') return exp;
    exp = await this.store.updateExperiment(this.id, { state: 'RUNNING', ...(exp.startedAt ? {} : { startedAt: new Date(this.now()).toISOString() }) }, { leaseOwner: this.owner });
    this.deps.onEvent?.({ type: 'started', experiment: exp, resumed });
    all = await repairFinished(this.store, this.spec, all, () => this.allTrials());
    this.state = SearchState.rebuild(this.spec, exp, all);
    // Trials that were in flight when the last process died resume from their checkpoints.
    for (const t of all.filter((x) => !FINISHED_STATES.includes(x.state)).sort((a, b) => a.seq - b.seq)) this.start(t);
    await this.loop();
    const stopped = this.stopRequested || (await this.store.getExperiment(this.id))?.stopRequestedAt !== undefined;
    exp = await this.store.updateExperiment(
      this.id,
      { state: stopped ? 'STOPPED' : 'COMPLETED', finishedAt: new Date(this.now()).toISOString(), reason: stopped ? 'stop requested' : this.stopReason() },
      { leaseOwner: this.owner },
    );
    this.deps.onEvent?.({ type: 'finished', experiment: exp });
    return exp;
  }

  private stopReason(): string {
    if (this.deadline !== undefined && this.now() >= this.deadline) return 'wall-clock budget used';
    if (this.budgetFull) return 'budget used';
    if (this.state.exhausted) return 'search space exhausted';
    return 'done';
  }

  private allTrials(): Promise<Trial[]> {
    return listAllTrials(this.store, this.id);
  }

  private async loop(): Promise<void> {
    for (;;) {
      while (this.running.size < this.workers && !this.budgetFull && !this.stopRequested && !this.state.exhausted && !this.pastDeadline()) {
        const started = await this.proposeAndStart();
        if (!started) break;
      }
      if (this.running.size === 0) return;
      await Promise.race(this.running.values());
    }
  }

  private pastDeadline(): boolean {
    return this.deadline !== undefined && this.now() >= this.deadline;
  }

  /** propose (the shared step), then start the trial. False when nothing can start. */
  private async proposeAndStart(): Promise<boolean> {
    if ((await this.store.getExperiment(this.id))?.stopRequestedAt !== undefined) {
      this.stopRequested = true;
      return false;
    }
    const p = await this.state.propose({
      store: this.store,
      now: this.now,
      estimateSeconds: (epochs, arch, fidelity) => this.evaluator.estimateSeconds(epochs, arch, fidelity),
      inFlight: this.running.size,
      ...(this.deadline !== undefined ? { deadline: this.deadline } : {}),
      leaseOwner: this.owner,
    });
    if (p.kind === 'done') {
      if (p.reason === 'budget') this.budgetFull = true;
      return false;
    }
    this.start(p.trial);
    return true;
  }

  /** train → record → decide, for one trial. */
  private start(trial: Trial): void {
    const p = this.train(trial).finally(() => this.running.delete(trial.id));
    this.running.set(trial.id, p);
  }

  private async train(t0: Trial): Promise<void> {
    let trial = t0.state === 'RUNNING' ? t0 : await this.store.transitionTrial(t0.id, ['PENDING', 'RUNNING'], { state: 'RUNNING', startedAt: new Date(this.now()).toISOString() });
    this.state.update(trial);
    this.deps.onEvent?.({ type: 'trial-started', trial });
    const parent = trial.parentId ? this.state.trials.get(trial.parentId) : undefined;
    const reservation = await this.state.ensureReserved(this.store, trial, (e, a, f) => this.evaluator.estimateSeconds(e, a, f), this.now);
    if (!reservation) {
      // Created just before a crash, never reserved, and the budget cannot pay for it now.
      this.budgetFull = true;
      return;
    }
    const metric = this.spec.objectives[0]?.metric ?? 'val_accuracy';
    let outcome: EvalOutcome;
    try {
      outcome = await this.evaluator.run(
        { trial, network: this.spec.compiledSpace.network(trial.arch), startEpoch: parent?.fidelity ?? 0, ...(parent ? { parent } : {}), deadlineSeconds: reservation.reserved.hours * 3600 },
        {
          onEpoch: async (epoch, metrics) => {
            trial = await this.store.appendEpoch(trial.id, { epoch, metrics: { ...metrics } });
            this.state.trials.set(trial.id, trial);
            this.deps.onEvent?.({ type: 'epoch', trial, epoch, metrics });
            const v = metrics[metric];
            return v === undefined ? 'continue' : this.state.scheduler.onEpoch(trial.id, epoch, v);
          },
        },
      );
    } catch (e) {
      outcome = { status: 'FAILED', metrics: {}, reason: (e as Error).message, backend: 'unknown', seconds: 0 };
    }
    const recorded = await this.state.record(this.store, trial, outcome, reservation, this.now);
    this.deps.onEvent?.({ type: 'trial-finished', trial: recorded.trial, experiment: recorded.experiment });
  }
}
