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
import { existsSync } from 'node:fs';
import { BudgetExceededError, LeaseHeldError, NasError, SpecError, type SpecIssue } from '../errors.js';
import { FINISHED_STATES, type Experiment, type Trial } from '../experiment/model.js';
import { feasible } from '../objectives/objectives.js';
import { createScheduler, parseFidelitySpec, schedulerFromTrials, shouldTell, type Scheduler } from '../schedulers/index.js';
import { parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import type { Architecture } from '../space/space.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';
import { createStrategy, restoreStrategy, type Strategy, type StrategyState } from '../strategies/index.js';
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
/** A reservation that no limit bounds (a year of compute). */
const UNBOUNDED_HOURS = 24 * 365;

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

/** A readable, sortable experiment id: name, UTC time, random suffix. */
export function newExperimentId(name: string, now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${name}-${t}-${randomBytes(2).toString('hex')}`;
}

/**
 * Validates the spec (throws SpecError listing every problem), checks that
 * the files it names exist and that the budget pays for at least one trial
 * (given the evaluator's estimate), and only then stores a QUEUED experiment.
 */
export async function submitExperiment(
  rawSpec: unknown,
  store: ExperimentStore,
  options: { readonly id?: string; readonly estimateSeconds?: (epochs: number) => number } = {},
): Promise<Experiment> {
  const spec = parseExperimentSpec(rawSpec);
  const fidelity = parseFidelitySpec(spec.fidelity ?? { scheduler: 'none', resource: 'epochs', min: spec.epochs, max: spec.epochs, eta: 3 });
  const issues: SpecIssue[] = [];
  const d = spec.dataset;
  const files: [string, string | undefined][] =
    d.source === 'csv' ? [['dataset.path', d.path], ['dataset.testPath', d.testPath]]
    : d.source === 'idx' ? [['dataset.images', d.images], ['dataset.labels', d.labels], ['dataset.testImages', d.testImages], ['dataset.testLabels', d.testLabels]]
    : d.source === 'table' ? [['dataset.path', d.path]]
    : [];
  for (const [path, file] of files) if (file !== undefined && !existsSync(file)) issues.push({ path, message: `file not found: ${file}` });
  if (options.estimateSeconds) {
    const first = options.estimateSeconds(fidelity.rungs[0] as number);
    const b = spec.budget;
    if (b.hours !== undefined && b.hours * 3600 < first) issues.push({ path: 'budget.hours', message: `too small for one trial: a first-rung trial (${fidelity.rungs[0]} epochs) is estimated at ${(first / 3600).toPrecision(3)} compute-hours` });
    if (b.minutes !== undefined && b.minutes * 60 < first) issues.push({ path: 'budget.minutes', message: `too small for one trial: a first-rung trial (${fidelity.rungs[0]} epochs) is estimated at ${(first / 60).toPrecision(3)} minutes` });
    const price = spec.instance.pricePerHour;
    if (b.dollars !== undefined && price > 0 && b.dollars < (first / 3600) * price) issues.push({ path: 'budget.dollars', message: `too small for one trial: a first-rung trial costs about $${((first / 3600) * price).toFixed(4)} at $${price}/hour` });
  }
  if (issues.length) throw new SpecError(issues);
  return store.createExperiment({ id: options.id ?? newExperimentId(spec.name), name: spec.name, spec: rawSpec, state: 'QUEUED', createdAt: new Date().toISOString() });
}

interface SnapshotEnvelope {
  readonly strategy: StrategyState;
  /** Observations told before the snapshot was taken (in finishedSeq order). */
  readonly told: number;
  /** Seq of the last trial created from this strategy's proposals. */
  readonly lastSeq: number;
}

/** Runs (or resumes) an experiment until its budget or its space is used up. */
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

class Search {
  private readonly store: ExperimentStore;
  private readonly evaluator: Evaluator;
  private strategy!: Strategy;
  private scheduler!: Scheduler;
  private trials = new Map<string, Trial>();
  private told = new Set<string>();
  private toldCount = 0;
  private lastSeq = 0;
  private exhausted = false;
  private readonly running = new Map<string, Promise<void>>();
  private readonly limits: { trials?: number; hours?: number; dollars?: number };
  private readonly deadline: number | undefined;
  private readonly workers: number;
  private readonly goal: 'max' | 'min';
  private budgetFull = false;

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
    this.limits = { ...(b.trials !== undefined ? { trials: b.trials } : {}), ...(b.hours !== undefined ? { hours: b.hours } : {}), ...(b.dollars !== undefined ? { dollars: b.dollars } : {}) };
    this.workers = spec.parallel ?? deps.workers;
    this.goal = spec.objectives[0]?.goal ?? 'max';
    this.deadline = b.minutes !== undefined ? now() + b.minutes * 60_000 : undefined;
  }

  private fidelitySpec() {
    return parseFidelitySpec(this.spec.fidelity ?? { scheduler: 'none', resource: 'epochs', min: this.spec.epochs, max: this.spec.epochs, eta: 3 });
  }

  async run(): Promise<Experiment> {
    let exp = (await this.store.getExperiment(this.id)) as Experiment;
    let all = await this.allTrials();
    const resumed = all.length > 0;
    if (exp.state === 'COMPLETED' || exp.state === 'STOPPED') return exp;
    exp = await this.store.updateExperiment(this.id, { state: 'RUNNING', ...(exp.startedAt ? {} : { startedAt: new Date(this.now()).toISOString() }) }, { leaseOwner: this.owner });
    this.deps.onEvent?.({ type: 'started', experiment: exp, resumed });
    all = await this.repair(all);
    this.rebuild(exp, all);
    // Trials that were in flight when the last process died resume from their checkpoints.
    for (const t of all.filter((x) => !FINISHED_STATES.includes(x.state)).sort((a, b) => a.seq - b.seq)) this.start(t);
    await this.loop();
    exp = (await this.store.getExperiment(this.id)) as Experiment;
    exp = await this.store.updateExperiment(this.id, { state: 'COMPLETED', finishedAt: new Date(this.now()).toISOString(), reason: this.stopReason() }, { leaseOwner: this.owner });
    this.deps.onEvent?.({ type: 'finished', experiment: exp });
    return exp;
  }

  private stopReason(): string {
    if (this.deadline !== undefined && this.now() >= this.deadline) return 'wall-clock budget used';
    if (this.budgetFull) return 'budget used';
    if (this.exhausted) return 'search space exhausted';
    return 'done';
  }

  private allTrials(): Promise<Trial[]> {
    return listAllTrials(this.store, this.id);
  }

  /**
   * Finishes what a crash interrupted between a trial's last write and the
   * next: a finished trial whose cost was not settled or whose decision was
   * not stored gets both now (in finishing order), so it is told to the
   * strategy and counted against the budget exactly once.
   */
  private async repair(all: Trial[]): Promise<Trial[]> {
    const broken = all.filter((t) => FINISHED_STATES.includes(t.state) && t.decision === undefined).sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0));
    if (!broken.length) return all;
    this.scheduler = schedulerFromTrials(this.fidelitySpec(), { goal: this.goal }, all);
    for (const t of broken) {
      if (await this.store.getReservation(t.id)) await this.settleAndDecide(t);
      else this.trials.set(t.id, await this.store.setDecision(t.id, this.scheduler.decide(t.id)));
    }
    return this.allTrials();
  }

  /** Strategy and scheduler from the stored trials plus the strategy snapshot. */
  private rebuild(exp: Experiment, all: readonly Trial[]): void {
    const ctx = { space: this.spec.compiledSpace, objectives: this.spec.objectives, seed: this.spec.seed, ...(typeof this.spec.strategy === 'object' && this.spec.strategy.options ? { options: this.spec.strategy.options } : {}) };
    const name = typeof this.spec.strategy === 'string' ? this.spec.strategy : this.spec.strategy.name;
    const env = exp.strategyState as SnapshotEnvelope | undefined;
    this.strategy = env ? restoreStrategy(env.strategy, ctx) : createStrategy(name, ctx);
    this.lastSeq = env?.lastSeq ?? 0;
    this.scheduler = all.length ? schedulerFromTrials(this.fidelitySpec(), { goal: this.goal }, all) : createScheduler(this.fidelitySpec(), { goal: this.goal });
    for (const t of all) this.trials.set(t.id, t);
    const finished = all.filter((t) => FINISHED_STATES.includes(t.state)).sort((a, b) => (a.finishedSeq ?? 0) - (b.finishedSeq ?? 0));
    // Replay in the original order: what was told before the snapshot, the
    // asks made after it (before a crash recorded them), then the rest.
    const toldBefore = env?.told ?? 0;
    const tellable = finished.filter((t) => t.decision !== undefined || t.state !== 'COMPLETED');
    let i = 0;
    for (; i < tellable.length && this.toldCount < toldBefore; i++) this.maybeTell(tellable[i] as Trial, (tellable[i] as Trial).decision ?? 'stop');
    for (const t of all.filter((x) => x.seq > this.lastSeq && x.parentId === undefined).sort((a, b) => a.seq - b.seq)) {
      const pending = all.filter((x) => x.seq < t.seq && !this.told.has(x.id)).map((x) => x.arch);
      this.strategy.ask(1, pending);
      this.lastSeq = t.seq;
    }
    for (; i < tellable.length; i++) this.maybeTell(tellable[i] as Trial, (tellable[i] as Trial).decision ?? 'stop');
  }

  private maybeTell(t: Trial, decision: Trial['decision'] & string): void {
    if (!shouldTell('first', t, decision, (x) => this.told.has(x.id))) return;
    this.told.add(t.id);
    this.toldCount++;
    // A trial stopped early (median stopping) still has values: they are its result.
    if ((t.state === 'COMPLETED' || t.state === 'STOPPED') && t.values) this.strategy.tell({ arch: t.arch, status: 'completed', values: t.values, ...(t.feasible === false ? { feasible: false } : {}) });
    else this.strategy.tell({ arch: t.arch, status: 'failed' });
  }

  private pending(): Architecture[] {
    return [...this.trials.values()].filter((t) => !FINISHED_STATES.includes(t.state)).map((t) => t.arch);
  }

  private async loop(): Promise<void> {
    for (;;) {
      while (this.running.size < this.workers && !this.budgetFull && !this.exhausted && !this.pastDeadline()) {
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

  /** propose: one new trial (or promotion), its budget reserved, started. False when nothing can start. */
  private async proposeAndStart(): Promise<boolean> {
    const next = this.scheduler.next();
    let arch: Architecture;
    let parent: Trial | undefined;
    if (next.kind === 'promote') {
      parent = this.trials.get(next.parentId);
      if (!parent) throw new NasError(`scheduler promoted unknown trial ${next.parentId}`);
      arch = parent.arch;
    } else {
      const p = this.strategy.ask(1, this.pending());
      if (p === 'exhausted') {
        this.exhausted = true;
        return false;
      }
      arch = p[0] as Architecture;
    }
    const seq = Math.max(0, ...[...this.trials.values()].map((t) => t.seq)) + 1;
    const startEpoch = parent?.fidelity ?? 0;
    const estimate = this.evaluator.estimateSeconds(next.fidelity - startEpoch);
    const trial: Trial = {
      id: `${this.id}-t${String(seq).padStart(4, '0')}`,
      experimentId: this.id,
      seq,
      arch,
      hash: this.spec.compiledSpace.hash(arch),
      state: 'PENDING',
      fidelity: next.fidelity,
      rung: next.rung,
      ...(next.bracket !== undefined ? { bracket: next.bracket } : {}),
      ...(parent ? { parentId: parent.id } : {}),
      createdAt: new Date(this.now()).toISOString(),
    };
    // Nothing starts that the budget cannot pay for: reserve twice the estimate
    // (the trial is stopped when it reaches its reservation), or what is left if
    // that still covers the estimate.
    const exp = (await this.store.getExperiment(this.id)) as Experiment;
    if (this.limits.trials !== undefined && exp.spent.trials + this.running.size >= this.limits.trials) return this.full();
    const price = this.spec.instance.pricePerHour;
    // With a compute budget the reservation is twice the estimate (the trial stops when it
    // runs out); with none, only the wall-clock deadline bounds a trial.
    let hours = this.limits.hours !== undefined || (this.limits.dollars !== undefined && price > 0) ? (2 * estimate) / 3600 : UNBOUNDED_HOURS;
    if (this.limits.hours !== undefined) {
      const left = this.limits.hours - exp.spent.hours - exp.reserved.hours;
      if (left < estimate / 3600) return this.full();
      hours = Math.min(hours, left);
    }
    if (this.limits.dollars !== undefined && price > 0) {
      const leftDollars = this.limits.dollars - exp.spent.dollars - exp.reserved.dollars;
      if (leftDollars < (estimate / 3600) * price) return this.full();
      hours = Math.min(hours, leftDollars / price);
    }
    if (this.deadline !== undefined) hours = Math.min(hours, Math.max(0, (this.deadline - this.now()) / 3_600_000));
    try {
      await this.store.createTrial(trial);
      await this.store.reserve(this.id, trial.id, { hours, dollars: hours * price }, this.limits);
    } catch (e) {
      if (e instanceof BudgetExceededError) {
        await this.store.transitionTrial(trial.id, ['PENDING'], { state: 'STOPPED', reason: 'budget: could not reserve its estimated cost', finishedAt: new Date(this.now()).toISOString() });
        this.trials.set(trial.id, (await this.store.getTrial(trial.id)) as Trial);
        return this.full();
      }
      throw e;
    }
    this.trials.set(trial.id, trial);
    this.scheduler.observe(trial);
    if (next.kind === 'new') {
      this.lastSeq = seq;
      const envelope: SnapshotEnvelope = { strategy: this.strategy.toJSON(), told: this.toldCount, lastSeq: seq };
      await this.store.updateExperiment(this.id, { strategyState: envelope }, { leaseOwner: this.owner });
    }
    this.start(trial);
    return true;
  }

  private full(): false {
    this.budgetFull = true;
    return false;
  }

  /** train → record → decide, for one trial. */
  private start(trial: Trial): void {
    const p = this.train(trial).finally(() => this.running.delete(trial.id));
    this.running.set(trial.id, p);
  }

  private async train(t0: Trial): Promise<void> {
    let trial = t0.state === 'RUNNING' ? t0 : await this.store.transitionTrial(t0.id, ['PENDING', 'RUNNING'], { state: 'RUNNING', startedAt: new Date(this.now()).toISOString() });
    this.trials.set(trial.id, trial);
    this.scheduler.observe(trial);
    this.deps.onEvent?.({ type: 'trial-started', trial });
    const parent = trial.parentId ? this.trials.get(trial.parentId) : undefined;
    let reservation = await this.store.getReservation(trial.id);
    if (!reservation) {
      // Created just before a crash, never reserved: reserve now or stop it.
      const hours = (2 * this.evaluator.estimateSeconds(trial.fidelity - (parent?.fidelity ?? 0))) / 3600;
      try {
        await this.store.reserve(this.id, trial.id, { hours, dollars: hours * this.spec.instance.pricePerHour }, this.limits);
        reservation = await this.store.getReservation(trial.id);
      } catch (e) {
        if (!(e instanceof BudgetExceededError)) throw e;
        this.budgetFull = true;
        trial = await this.store.transitionTrial(trial.id, ['RUNNING'], { state: 'STOPPED', reason: 'budget: could not reserve its estimated cost', finishedAt: new Date(this.now()).toISOString() });
        this.trials.set(trial.id, trial);
        return;
      }
    }
    const metric = this.spec.objectives[0]?.metric ?? 'val_accuracy';
    let outcome: EvalOutcome;
    try {
      outcome = await this.evaluator.run(
        { trial, network: this.spec.compiledSpace.network(trial.arch), startEpoch: parent?.fidelity ?? 0, ...(parent ? { parent } : {}), deadlineSeconds: (reservation?.reserved.hours ?? Infinity) * 3600 },
        {
          onEpoch: async (epoch, metrics) => {
            trial = await this.store.appendEpoch(trial.id, { epoch, metrics: { ...metrics } });
            this.trials.set(trial.id, trial);
            this.deps.onEvent?.({ type: 'epoch', trial, epoch, metrics });
            const v = metrics[metric];
            return v === undefined ? 'continue' : this.scheduler.onEpoch(trial.id, epoch, v);
          },
        },
      );
    } catch (e) {
      outcome = { status: 'FAILED', metrics: {}, reason: (e as Error).message, backend: 'unknown', seconds: 0 };
    }
    // record (the actual cost goes on the trial in the same write, so a crash before
    // `settle` can be repaired from the trial alone)
    const values = this.spec.objectives.map((o) => outcome.metrics[o.metric]);
    const complete = values.every((v) => v !== undefined && Number.isFinite(v));
    const price = this.spec.instance.pricePerHour;
    const reservedHours = reservation?.reserved.hours ?? 0;
    const hours = Math.min(outcome.seconds / 3600, reservation?.reserved.hours ?? Infinity);
    trial = await this.store.transitionTrial(trial.id, ['RUNNING'], {
      state: outcome.status === 'COMPLETED' && !complete ? 'FAILED' : outcome.status,
      metrics: outcome.metrics,
      ...(complete ? { values: values as number[], feasible: feasible(outcome.metrics, this.spec.constraints) } : {}),
      ...(outcome.reason ? { reason: outcome.reason } : outcome.status === 'COMPLETED' && !complete ? { reason: `missing objective metric(s): ${this.spec.objectives.filter((_, i) => values[i] === undefined).map((o) => o.metric).join(', ')}` } : {}),
      backend: outcome.backend,
      cost: { reservedHours, reservedDollars: reservedHours * price, hours, dollars: hours * price },
      finishedAt: new Date(this.now()).toISOString(),
    });
    const exp = await this.settleAndDecide(trial);
    trial = this.trials.get(trial.id) as Trial;
    const decision = trial.decision as NonNullable<Trial['decision']>;
    this.maybeTell(trial, decision);
    await this.decidePending(trial.id);
    this.deps.onEvent?.({ type: 'trial-finished', trial, experiment: exp });
  }

  /** settle → decide for a finished trial; safe to repeat (both steps are idempotent). */
  private async settleAndDecide(trial: Trial): Promise<Experiment> {
    const c = trial.cost;
    const exp = await this.store.settle(trial.id, { hours: c?.hours ?? 0, dollars: c?.dollars ?? 0 });
    this.scheduler.observe(trial);
    const updated = await this.store.setDecision(trial.id, this.scheduler.decide(trial.id));
    this.trials.set(trial.id, updated);
    return exp;
  }

  /** Earlier trials whose rung just completed may now be decided too. */
  private async decidePending(exceptId: string): Promise<void> {
    // Earlier trials whose rung just completed may now be decided too.
    for (const other of this.trials.values()) {
      if (other.id === exceptId || !FINISHED_STATES.includes(other.state) || other.decision !== 'continue') continue;
      const d = this.scheduler.decide(other.id);
      if (d !== other.decision) this.trials.set(other.id, await this.store.setDecision(other.id, d));
    }
  }
}
