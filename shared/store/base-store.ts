/**
 * Every rule of the `ExperimentStore` port, once, over a handful of storage
 * primitives an adapter provides — the shape of Powertools' idempotency
 * `BasePersistenceLayer`, whose public methods keep the rules over
 * `_getRecord`/`_putRecord`/`_updateRecord`. An adapter stores, reads and
 * makes each primitive atomic; it decides nothing. This class decides:
 * - which arguments are valid (a `SpecError` naming the field);
 * - what a patch may change, and that a finished trial never changes except
 *   for its decision: the change functions it hands to `modifyTrial` and
 *   `modifyExperiment` throw, and then nothing is written;
 * - idempotency: a repeated create by its content, a repeated reserve by trial id;
 * - the budget: the ceilings a reservation must fit under, and the error
 *   naming the resource that ran out;
 * - leases: who may take, renew and release one, and when it has expired;
 * - pages and cursors.
 *
 * What every adapter's primitives promise:
 * - Each primitive is atomic: its read, the change function it is given and
 *   its write are one step (a SQLite `BEGIN IMMEDIATE` transaction, one
 *   conditional DynamoDB write redone on a lost race, one synchronous block
 *   in memory), so several processes may share a store.
 * - A trial written finished without a `finishedSeq` gets the next one of its
 *   experiment (1, 2, ...: unique and gapless under concurrent writers). Only
 *   a finishing trial is ever written so (a finished one never changes).
 * - An experiment's `spent`/`reserved` are exactly its ledger's sums.
 * - What a primitive returns is the caller's to change (a copy); vendor
 *   errors leave as `StoreError`s.
 * In turn the change functions this class hands over never mutate their
 * arguments and return records that share nothing with the port's caller,
 * so an adapter may store what they return as it is.
 */
import {
  BudgetExceededError,
  ConditionFailedError,
  ExperimentAlreadyExistsError,
  LeaseHeldError,
  LeaseLostError,
  NotFoundError,
  SpecError,
  StoreBusyError,
  StoreError,
  TrialAlreadyExistsError,
} from '../errors.js';
import { FINISHED_STATES, type EpochRecord, type Experiment, type SchedulerDecision, type Trial, type TrialState } from '../experiment/model.js';
import {
  BUDGET_TOLERANCE,
  type BudgetLimits,
  type Cost,
  type ExperimentCondition,
  type ExperimentPatch,
  type ExperimentStore,
  type Lease,
  type NewExperiment,
  type Now,
  type Reservation,
  type TrialPage,
  type TrialPatch,
  type TrialQuery,
} from './experiment-store.js';

/** An experiment's committed budget: settled plus open reservations (trials count 1 each). */
export interface Committed {
  readonly trials: number;
  readonly hours: number;
  readonly dollars: number;
}

/** The most each committed total may be for a new reservation to fit (its limit, less the reservation); absent is no limit. */
export type LedgerCaps = Partial<Committed>;

/** What `addReservation` did: added it, found the trial's reservation already there, or found no room. */
export type ReserveOutcome = { readonly added: Experiment } | { readonly existing: Reservation } | { readonly refused: Committed };

/** A lease write goes through if `owner` holds the stored lease, or (with `orFreeAt`) no lease is live at that time. */
export interface LeaseCondition {
  readonly owner: string;
  readonly orFreeAt?: number;
}

/** Which trials `queryTrials` returns, in `seq` then `id` order. */
export interface TrialRange {
  /** Only these states (never empty; all when absent). */
  readonly states?: readonly TrialState[];
  /** Only trials after this position. */
  readonly after?: CursorPosition;
  /** Skip this many (after `after`). */
  readonly offset: number;
  /** At most this many (all when absent). */
  readonly limit?: number;
}

/** Position after which a page starts: the last trial of the previous page. */
export interface CursorPosition {
  readonly seq: number;
  readonly id: string;
}

/** Optimistic primitives (DynamoDB's) redo a lost race this often before `StoreBusyError`. */
export const MAX_ATTEMPTS = 100;

const ZERO_SPENT = { trials: 0, hours: 0, dollars: 0 } as const;
const ZERO_RESERVED = { hours: 0, dollars: 0 } as const;

export abstract class BaseExperimentStore implements ExperimentStore {
  /** The clock leases are read against (epoch milliseconds). */
  protected readonly now: Now;
  private closed = false;

  protected constructor(now: Now = Date.now) {
    this.now = now;
  }

  // ---- the primitives an adapter provides -------------------------------------

  /** Stores a new experiment (its ledger empty); false if the id is taken. */
  protected abstract putExperimentIfAbsent(experiment: NewExperiment): Promise<boolean>;
  /** The experiment with its ledger sums, or `undefined`. */
  protected abstract readExperiment(id: string): Promise<Experiment | undefined>;
  /** Experiments newest first (`createdAt` descending, then `id` descending), at most `limit` (> 0) of them. */
  protected abstract readExperiments(limit: number | undefined): Promise<Experiment[]>;
  /** Writes `change(stored, its lease as stored)` over the experiment, atomically; `undefined` if there is none. */
  protected abstract modifyExperiment(id: string, change: (current: NewExperiment, lease: Lease | undefined) => NewExperiment): Promise<Experiment | undefined>;

  /**
   * Stores a new trial (no `finishedSeq`) with its creation key, unless the
   * id is taken: then the stored trial if it was created with the same key,
   * else `'taken'`. `undefined` if its experiment does not exist.
   */
  protected abstract putTrialIfAbsent(trial: Trial, creationKey: string): Promise<Trial | 'taken' | undefined>;
  /** The trial, or `undefined`. */
  protected abstract readTrial(id: string): Promise<Trial | undefined>;
  /** Writes `change(stored)` over the trial, atomically (nothing when it returns `undefined`); the trial after, or `undefined` if there is none. */
  protected abstract modifyTrial(id: string, change: (current: Trial) => Trial | undefined): Promise<Trial | undefined>;
  /** An experiment's trials in a range, in `seq` then `id` order. */
  protected abstract queryTrials(experimentId: string, range: TrialRange): Promise<Trial[]>;
  /** How many trials of the experiment are in one of `states` (never empty; all when absent). */
  protected abstract countTrialsIn(experimentId: string, states: readonly TrialState[] | undefined): Promise<number>;

  /**
   * Adds the trial's reservation to the experiment's ledger, atomically, if
   * the trial has none (else `existing`, in whichever experiment) and each
   * committed total is at most its cap (else `refused` with the totals).
   * `undefined` if the experiment does not exist.
   */
  protected abstract addReservation(experimentId: string, trialId: string, cost: Cost, caps: LedgerCaps): Promise<ReserveOutcome | undefined>;
  /** Records the actual cost of an open reservation (a settled one keeps its first); the experiment after, or `undefined` if the trial has no reservation. */
  protected abstract settleReservation(trialId: string, actual: Cost): Promise<Experiment | undefined>;
  /** The trial's ledger entry, or `undefined`. */
  protected abstract readReservation(trialId: string): Promise<Reservation | undefined>;

  /** Sets (or with `undefined` removes) the experiment's lease if `condition` holds, atomically. */
  protected abstract writeLease(experimentId: string, lease: Lease | undefined, condition: LeaseCondition): Promise<'written' | 'refused' | 'no-experiment'>;
  /** The lease as stored, live or expired, or `undefined`. */
  protected abstract readLease(experimentId: string): Promise<Lease | undefined>;

  /** Releases the adapter's resources (`close` has already made the store refuse further calls). */
  protected abstract closeResources(): Promise<void>;

  // ---- the port ----------------------------------------------------------------

  private open(): void {
    if (this.closed) throw new StoreError('the store is closed');
  }

  async createExperiment(experiment: NewExperiment): Promise<Experiment> {
    this.open();
    const { spent: _s, reserved: _r, ...doc } = jsonCopy(experiment) as Partial<Experiment> & NewExperiment;
    if (!(await this.putExperimentIfAbsent(doc))) throw new ExperimentAlreadyExistsError(doc.id);
    return { ...jsonCopy(doc), spent: { ...ZERO_SPENT }, reserved: { ...ZERO_RESERVED } };
  }

  async getExperiment(id: string): Promise<Experiment | undefined> {
    this.open();
    return this.readExperiment(id);
  }

  async listExperiments(options: { readonly limit?: number } = {}): Promise<Experiment[]> {
    this.open();
    const { limit } = options;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
      throw new SpecError([{ path: 'limit', message: `must be an integer ≥ 0, got ${limit}` }], 'experiment listing');
    }
    return limit === 0 ? [] : this.readExperiments(limit);
  }

  async updateExperiment(id: string, patch: ExperimentPatch, condition: ExperimentCondition = {}): Promise<Experiment> {
    this.open();
    const { id: _i, createdAt: _c, spec: _s, owner: _o, spent: _sp, reserved: _r, ...allowed } = patch as Partial<Experiment>;
    const updated = await this.modifyExperiment(id, (current, lease) => {
      if (condition.states !== undefined && !condition.states.includes(current.state)) {
        throw new ConditionFailedError(`experiment ${id} is ${current.state}, expected one of ${condition.states.join(', ')}`);
      }
      if (condition.leaseOwner !== undefined && this.live(lease)?.owner !== condition.leaseOwner) {
        throw new ConditionFailedError(`experiment ${id}: ${condition.leaseOwner} does not hold its lease`);
      }
      return jsonCopy({ ...current, ...allowed });
    });
    if (updated === undefined) throw new NotFoundError('experiment', id);
    return updated;
  }

  async createTrial(trial: Trial): Promise<Trial> {
    this.open();
    if (!(Number.isInteger(trial.seq) && trial.seq >= 0)) throw new SpecError([{ path: 'seq', message: `must be an integer ≥ 0, got ${trial.seq}` }], 'trial');
    const key = creationKey(trial);
    // A trial created finished is numbered by the adapter, as a finishing transition is.
    const { finishedSeq: _f, ...fresh } = jsonCopy(trial);
    const stored = await this.putTrialIfAbsent(fresh, key);
    if (stored === undefined) throw new NotFoundError('experiment', trial.experimentId);
    if (stored === 'taken') throw new TrialAlreadyExistsError(trial.id);
    return stored;
  }

  async getTrial(id: string): Promise<Trial | undefined> {
    this.open();
    return this.readTrial(id);
  }

  async transitionTrial(id: string, from: readonly TrialState[], patch: TrialPatch): Promise<Trial> {
    this.open();
    const { id: _i, experimentId: _e, seq: _s, arch: _a, hash: _h, createdAt: _c, finishedSeq: _f, curve: _cu, decision: _d, ...allowed } =
      patch as Partial<Trial>;
    return this.mustTrial(
      id,
      await this.modifyTrial(id, (t) => {
        if (isFinished(t.state)) throw new ConditionFailedError(`trial ${id} is ${t.state}: a finished trial never changes`);
        if (!from.includes(t.state)) throw new ConditionFailedError(`trial ${id} is ${t.state}, expected one of ${from.join(', ')}`);
        return jsonCopy({ ...t, ...allowed });
      }),
    );
  }

  async appendEpoch(trialId: string, record: EpochRecord): Promise<Trial> {
    this.open();
    if (!(Number.isInteger(record.epoch) && record.epoch >= 0)) {
      throw new SpecError([{ path: 'epoch', message: `must be an integer ≥ 0, got ${record.epoch}` }], 'epoch record');
    }
    const entry = jsonCopy(record);
    return this.mustTrial(
      trialId,
      await this.modifyTrial(trialId, (t) => {
        const curve = t.curve ?? [];
        const old = curve.find((r) => r.epoch === entry.epoch);
        if (old !== undefined && canonicalJson(old) === canonicalJson(entry)) return undefined;
        if (isFinished(t.state)) throw new ConditionFailedError(`trial ${trialId} is ${t.state}: its curve cannot change (epoch ${entry.epoch})`);
        // A trial resumed from a checkpoint reports some epochs again: the later record replaces the earlier.
        return { ...t, curve: [...curve.filter((r) => r.epoch !== entry.epoch), entry].sort((a, b) => a.epoch - b.epoch) };
      }),
    );
  }

  async setDecision(trialId: string, decision: SchedulerDecision): Promise<Trial> {
    this.open();
    return this.mustTrial(
      trialId,
      await this.modifyTrial(trialId, (t) => (t.decision === decision ? undefined : { ...t, decision })),
    );
  }

  async listTrials(experimentId: string, query: TrialQuery = {}): Promise<TrialPage> {
    this.open();
    const issues = (['offset', 'limit'] as const)
      .filter((k) => query[k] !== undefined && !(Number.isInteger(query[k]) && (query[k] as number) >= 0))
      .map((k) => ({ path: k, message: `must be an integer ≥ 0, got ${query[k]}` }));
    if (issues.length > 0) throw new SpecError(issues, 'trial query');
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.states !== undefined && query.states.length === 0) return { trials: [] };
    // One trial more than asked tells whether another page follows.
    const trials = await this.queryTrials(experimentId, {
      ...(query.states === undefined ? {} : { states: query.states }),
      ...(after === undefined ? {} : { after }),
      offset: query.offset ?? 0,
      ...(query.limit === undefined ? {} : { limit: query.limit + 1 }),
    });
    if (query.limit === undefined || trials.length <= query.limit) return { trials };
    trials.length = query.limit;
    const last = trials[trials.length - 1];
    return last === undefined ? { trials } : { trials, nextCursor: encodeCursor(last) };
  }

  async countTrials(experimentId: string, states?: readonly TrialState[]): Promise<number> {
    this.open();
    return states !== undefined && states.length === 0 ? 0 : this.countTrialsIn(experimentId, states);
  }

  async reserve(experimentId: string, trialId: string, cost: Cost, limits: BudgetLimits): Promise<Experiment> {
    this.open();
    checkCost(cost, 'reservation');
    const amount = { hours: cost.hours, dollars: cost.dollars };
    const caps = ledgerCaps(amount, limits);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const outcome = await this.addReservation(experimentId, trialId, amount, caps);
      if (outcome === undefined) throw new NotFoundError('experiment', experimentId);
      if ('added' in outcome) return outcome.added;
      if ('existing' in outcome) {
        // A retry after an unknown outcome: it stands even if the budget is full now.
        const held = outcome.existing.experimentId;
        if (held !== experimentId) throw new ConditionFailedError(`trial ${trialId} already has a reservation in experiment ${held}`);
        const e = await this.readExperiment(experimentId);
        if (e !== undefined) return e;
        throw new NotFoundError('experiment', experimentId);
      }
      const refused = budgetExceeded(outcome.refused, amount, caps, limits);
      if (refused !== undefined) throw refused;
      // Room was freed (a settlement) between the refusal and the totals read with it: try again.
    }
    throw new StoreBusyError(`reservation of ${trialId}: too many concurrent updates`);
  }

  async settle(trialId: string, actual: Cost): Promise<Experiment> {
    this.open();
    checkCost(actual, 'settlement');
    const e = await this.settleReservation(trialId, { hours: actual.hours, dollars: actual.dollars });
    if (e === undefined) throw new NotFoundError('reservation', trialId);
    return e;
  }

  async getReservation(trialId: string): Promise<Reservation | undefined> {
    this.open();
    return this.readReservation(trialId);
  }

  async acquireLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    this.open();
    checkPositive(ttlMs, 'ttlMs', 'lease');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.now();
      const lease: Lease = { experimentId, owner, expiresAt: now + ttlMs };
      const written = await this.writeLease(experimentId, lease, { owner, orFreeAt: now });
      if (written === 'written') return lease;
      if (written === 'no-experiment') throw new NotFoundError('experiment', experimentId);
      const holder = this.live(await this.readLease(experimentId));
      if (holder !== undefined && holder.owner !== owner) throw new LeaseHeldError(experimentId, holder.owner, holder.expiresAt);
      // Released or expired between the refused write and the read: try again.
    }
    throw new StoreBusyError(`lease of ${experimentId}: too many concurrent updates`);
  }

  async renewLease(experimentId: string, owner: string, ttlMs: number): Promise<Lease> {
    this.open();
    checkPositive(ttlMs, 'ttlMs', 'lease');
    // An expired lease nobody took is still the owner's to renew: the condition is ownership only.
    const lease: Lease = { experimentId, owner, expiresAt: this.now() + ttlMs };
    if ((await this.writeLease(experimentId, lease, { owner })) === 'written') return lease;
    throw new LeaseLostError(experimentId, owner, this.live(await this.readLease(experimentId))?.owner);
  }

  async releaseLease(experimentId: string, owner: string): Promise<void> {
    this.open();
    await this.writeLease(experimentId, undefined, { owner });
  }

  async getLease(experimentId: string): Promise<Lease | undefined> {
    this.open();
    return this.live(await this.readLease(experimentId));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.closeResources();
  }

  private live(lease: Lease | undefined): Lease | undefined {
    return lease !== undefined && lease.expiresAt > this.now() ? lease : undefined;
  }

  private mustTrial(id: string, trial: Trial | undefined): Trial {
    if (trial === undefined) throw new NotFoundError('trial', id);
    return trial;
  }
}

/** Whether a trial in this state has finished (and so never changes again). */
export function isFinished(state: TrialState): boolean {
  return FINISHED_STATES.includes(state);
}

/** A deep copy through JSON: what a store holds is exactly what JSON can hold. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Whether committed totals leave room under every cap (the check an adapter makes atomically with its write). */
export function fitsCaps(committed: Committed, caps: LedgerCaps): boolean {
  return (['trials', 'hours', 'dollars'] as const).every((k) => caps[k] === undefined || committed[k] <= caps[k]);
}

/** Orders trials by `seq`, then `id`. */
export function compareTrials(a: CursorPosition, b: CursorPosition): number {
  return a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Orders experiments newest first: `createdAt` descending, then `id` descending. */
export function compareExperimentsNewestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** JSON with object keys sorted and `undefined` dropped, so equal records compare equal as strings. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/** The part of a trial that decides whether a repeated `createTrial` is the same trial. */
function creationKey(trial: Trial): string {
  const { finishedSeq: _ignored, ...rest } = trial;
  return canonicalJson(rest);
}

function checkCost(cost: Cost, what: string): void {
  const issues = (['hours', 'dollars'] as const)
    .filter((k) => !(Number.isFinite(cost[k]) && cost[k] >= 0))
    .map((k) => ({ path: k, message: `must be a finite number ≥ 0, got ${cost[k]}` }));
  if (issues.length > 0) throw new SpecError(issues, what);
}

function checkPositive(value: number, path: string, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) throw new SpecError([{ path, message: `must be a finite number > 0, got ${value}` }], what);
}

/** Each limit less what the reservation adds, with a relative tolerance so that 0.1 + 0.2 fits a limit of 0.3. */
function ledgerCaps(cost: Cost, limits: BudgetLimits): LedgerCaps {
  const cap = (limit: number | undefined, adds: number) => (limit === undefined ? undefined : limit + BUDGET_TOLERANCE * Math.max(1, Math.abs(limit)) - adds);
  const caps = { trials: cap(limits.trials, 1), hours: cap(limits.hours, cost.hours), dollars: cap(limits.dollars, cost.dollars) };
  return Object.fromEntries(Object.entries(caps).filter(([, v]) => v !== undefined)) as LedgerCaps;
}

/** The error for the first limit the committed totals leave no room under, if any. */
function budgetExceeded(committed: Committed, cost: Cost, caps: LedgerCaps, limits: BudgetLimits): BudgetExceededError | undefined {
  const adds: Committed = { trials: 1, ...cost };
  for (const k of ['trials', 'hours', 'dollars'] as const) {
    const cap = caps[k];
    if (cap !== undefined && committed[k] > cap) return new BudgetExceededError(k, limits[k]!, committed[k] + adds[k]);
  }
  return undefined;
}

function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify([p.seq, p.id])).toString('base64url');
}

function decodeCursor(cursor: string): CursorPosition {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string') return { seq: v[0], id: v[1] };
  } catch {
    // fall through to the error below
  }
  throw new SpecError([{ path: 'cursor', message: 'not a cursor this store returned' }], 'trial query');
}
