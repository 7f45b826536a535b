/**
 * An `ExperimentStore` in one process's memory, for tests and the table
 * benchmark. Every method runs to completion without awaiting in between, so
 * each is atomic with respect to the others.
 */
import { ConditionFailedError, ExperimentAlreadyExistsError, LeaseHeldError, LeaseLostError, NotFoundError, StoreError, TrialAlreadyExistsError } from '../errors.js';
import type { EpochRecord, Experiment, SchedulerDecision, Trial, TrialState } from '../experiment/model.js';
import {
  checkBudget,
  checkCost,
  checkPositive,
  checkQuery,
  checkTransition,
  compareExperimentsNewestFirst,
  compareTrials,
  creationKey,
  decodeCursor,
  encodeCursor,
  isFinished,
  jsonCopy,
  withEpoch,
} from './common.js';
import type {
  BudgetLimits,
  Cost,
  ExperimentCondition,
  ExperimentPatch,
  ExperimentStore,
  Lease,
  NewExperiment,
  Now,
  Reservation,
  TrialPage,
  TrialPatch,
  TrialQuery,
} from './experiment-store.js';

interface StoredTrial {
  trial: Trial;
  creationKey: string;
}

export class MemoryExperimentStore implements ExperimentStore {
  private readonly experiments = new Map<string, Experiment>();
  private readonly trials = new Map<string, StoredTrial>();
  private readonly ledger = new Map<string, Reservation>();
  private readonly leases = new Map<string, Lease>();
  private readonly finishedCounters = new Map<string, number>();
  private closed = false;
  private readonly now: Now;

  constructor(options: { readonly now?: Now } = {}) {
    this.now = options.now ?? Date.now;
  }

  private open(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }

  private experiment(id: string): Experiment {
    const e = this.experiments.get(id);
    if (e === undefined) throw new NotFoundError('experiment', id);
    return e;
  }

  private stored(id: string): StoredTrial {
    const t = this.trials.get(id);
    if (t === undefined) throw new NotFoundError('trial', id);
    return t;
  }

  private liveLease(experimentId: string): Lease | undefined {
    const l = this.leases.get(experimentId);
    return l !== undefined && l.expiresAt > this.now() ? l : undefined;
  }

  private nextFinishedSeq(experimentId: string): number {
    const n = (this.finishedCounters.get(experimentId) ?? 0) + 1;
    this.finishedCounters.set(experimentId, n);
    return n;
  }

  async createExperiment(experiment: NewExperiment): Promise<Experiment> {
    this.open();
    if (this.experiments.has(experiment.id)) throw new ExperimentAlreadyExistsError(experiment.id);
    const e: Experiment = { ...jsonCopy(experiment), spent: { trials: 0, hours: 0, dollars: 0 }, reserved: { hours: 0, dollars: 0 } };
    this.experiments.set(e.id, e);
    return jsonCopy(e);
  }

  async getExperiment(id: string): Promise<Experiment | undefined> {
    this.open();
    const e = this.experiments.get(id);
    return e === undefined ? undefined : jsonCopy(e);
  }

  async listExperiments(options: { readonly limit?: number } = {}): Promise<Experiment[]> {
    this.open();
    const all = [...this.experiments.values()].sort(compareExperimentsNewestFirst);
    return jsonCopy(options.limit === undefined ? all : all.slice(0, options.limit));
  }

  async updateExperiment(id: string, patch: ExperimentPatch, condition: ExperimentCondition = {}): Promise<Experiment> {
    this.open();
    const e = this.experiment(id);
    if (condition.states !== undefined && !condition.states.includes(e.state)) {
      throw new ConditionFailedError(`experiment ${id} is ${e.state}, expected one of ${condition.states.join(', ')}`);
    }
    if (condition.leaseOwner !== undefined && this.liveLease(id)?.owner !== condition.leaseOwner) {
      throw new ConditionFailedError(`experiment ${id}: ${condition.leaseOwner} does not hold its lease`);
    }
    const { id: _i, createdAt: _c, spec: _s, spent: _sp, reserved: _r, ...allowed } = patch as Partial<Experiment>;
    const next: Experiment = jsonCopy({ ...e, ...allowed });
    this.experiments.set(id, next);
    return jsonCopy(next);
  }

  async createTrial(trial: Trial): Promise<Trial> {
    this.open();
    const key = creationKey(trial);
    const existing = this.trials.get(trial.id);
    if (existing !== undefined) {
      if (existing.creationKey !== key) throw new TrialAlreadyExistsError(trial.id);
      return jsonCopy(existing.trial);
    }
    this.experiment(trial.experimentId);
    const { finishedSeq: _f, ...rest } = jsonCopy(trial);
    const t: Trial = isFinished(rest.state) ? { ...rest, finishedSeq: this.nextFinishedSeq(rest.experimentId) } : rest;
    this.trials.set(t.id, { trial: t, creationKey: key });
    return jsonCopy(t);
  }

  async getTrial(id: string): Promise<Trial | undefined> {
    this.open();
    const t = this.trials.get(id);
    return t === undefined ? undefined : jsonCopy(t.trial);
  }

  async transitionTrial(id: string, from: readonly TrialState[], patch: TrialPatch): Promise<Trial> {
    this.open();
    const s = this.stored(id);
    checkTransition(s.trial, from);
    const { id: _i, experimentId: _e, seq: _s, arch: _a, hash: _h, createdAt: _c, finishedSeq: _f, curve: _cu, decision: _d, ...allowed } =
      patch as Partial<Trial>;
    let next: Trial = jsonCopy({ ...s.trial, ...allowed });
    if (isFinished(next.state)) next = { ...next, finishedSeq: this.nextFinishedSeq(next.experimentId) };
    s.trial = next;
    return jsonCopy(next);
  }

  async appendEpoch(trialId: string, record: EpochRecord): Promise<Trial> {
    this.open();
    const s = this.stored(trialId);
    const curve = withEpoch(s.trial, record);
    if (curve !== 'unchanged') s.trial = { ...s.trial, curve };
    return jsonCopy(s.trial);
  }

  async setDecision(trialId: string, decision: SchedulerDecision): Promise<Trial> {
    this.open();
    const s = this.stored(trialId);
    s.trial = { ...s.trial, decision };
    return jsonCopy(s.trial);
  }

  async listTrials(experimentId: string, query: TrialQuery = {}): Promise<TrialPage> {
    this.open();
    checkQuery(query);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const matching = [...this.trials.values()]
      .map((s) => s.trial)
      .filter((t) => t.experimentId === experimentId && (query.states === undefined || query.states.includes(t.state)))
      .filter((t) => after === undefined || compareTrials(t, after) > 0)
      .sort(compareTrials)
      .slice(query.offset ?? 0);
    const trials = query.limit === undefined ? matching : matching.slice(0, query.limit);
    const last = trials[trials.length - 1];
    const more = trials.length < matching.length && last !== undefined;
    return { trials: jsonCopy(trials), ...(more ? { nextCursor: encodeCursor(last) } : {}) };
  }

  async countTrials(experimentId: string, states?: readonly TrialState[]): Promise<number> {
    this.open();
    let n = 0;
    for (const { trial } of this.trials.values()) {
      if (trial.experimentId === experimentId && (states === undefined || states.includes(trial.state))) n++;
    }
    return n;
  }

  async reserve(experimentId: string, trialId: string, cost: Cost, limits: BudgetLimits): Promise<Experiment> {
    this.open();
    checkCost(cost, 'reservation');
    const e = this.experiment(experimentId);
    const existing = this.ledger.get(trialId);
    if (existing !== undefined) {
      if (existing.experimentId !== experimentId) {
        throw new ConditionFailedError(`trial ${trialId} already has a reservation in experiment ${existing.experimentId}`);
      }
      return jsonCopy(e);
    }
    const open = [...this.ledger.values()].filter((r) => r.experimentId === experimentId && r.actual === undefined).length;
    checkBudget(e, open, cost, limits);
    this.ledger.set(trialId, { trialId, experimentId, reserved: { hours: cost.hours, dollars: cost.dollars } });
    return this.recomputeLedger(experimentId);
  }

  async settle(trialId: string, actual: Cost): Promise<Experiment> {
    this.open();
    checkCost(actual, 'settlement');
    const r = this.ledger.get(trialId);
    if (r === undefined) throw new NotFoundError('reservation', trialId);
    if (r.actual === undefined) this.ledger.set(trialId, { ...r, actual: { hours: actual.hours, dollars: actual.dollars } });
    return this.recomputeLedger(r.experimentId);
  }

  /** Spent and reserved summed from the ledger, as the SQLite adapter does, so no rounding drift accumulates. */
  private recomputeLedger(experimentId: string): Experiment {
    const spent = { trials: 0, hours: 0, dollars: 0 };
    const reserved = { hours: 0, dollars: 0 };
    for (const r of this.ledger.values()) {
      if (r.experimentId !== experimentId) continue;
      if (r.actual === undefined) {
        reserved.hours += r.reserved.hours;
        reserved.dollars += r.reserved.dollars;
      } else {
        spent.trials += 1;
        spent.hours += r.actual.hours;
        spent.dollars += r.actual.dollars;
      }
    }
    const next: Experiment = { ...this.experiment(experimentId), spent, reserved };
    this.experiments.set(experimentId, next);
    return jsonCopy(next);
  }

  async getReservation(trialId: string): Promise<Reservation | undefined> {
    this.open();
    const r = this.ledger.get(trialId);
    return r === undefined ? undefined : jsonCopy(r);
  }

  async acquireLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    this.open();
    checkPositive(ttlMs, 'ttlMs', 'lease');
    this.experiment(experimentId);
    const live = this.liveLease(experimentId);
    if (live !== undefined && live.owner !== owner) throw new LeaseHeldError(experimentId, live.owner, live.expiresAt);
    const lease: Lease = { experimentId, owner, expiresAt: this.now() + ttlMs };
    this.leases.set(experimentId, lease);
    return { ...lease };
  }

  async renewLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    this.open();
    checkPositive(ttlMs, 'ttlMs', 'lease');
    const current = this.leases.get(experimentId);
    if (current === undefined || current.owner !== owner) {
      throw new LeaseLostError(experimentId, owner, current !== undefined && current.expiresAt > this.now() ? current.owner : undefined);
    }
    const lease: Lease = { experimentId, owner, expiresAt: this.now() + ttlMs };
    this.leases.set(experimentId, lease);
    return { ...lease };
  }

  async releaseLease(experimentId: string, owner: string): Promise<void> {
    this.open();
    if (this.leases.get(experimentId)?.owner === owner) this.leases.delete(experimentId);
  }

  async getLease(experimentId: string): Promise<Lease | undefined> {
    this.open();
    const l = this.liveLease(experimentId);
    return l === undefined ? undefined : { ...l };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
